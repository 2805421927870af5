//! `tradehost run`: the daemon.

use super::{SettingsFile, shutdown_signal};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Flags of `tradehost run`.
#[derive(Args)]
pub struct RunArgs {
    /// Use the bundled real trades through a local Finnhub-compatible server
    /// (no API key, no network).
    #[arg(long)]
    demo: bool,
    #[command(flatten)]
    settings: SettingsFile,
    /// Plugin folder (overrides PLUGIN_DIR).
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,
    /// Status API address (overrides STATUS_ADDR), or `off`.
    #[arg(long, value_name = "ADDR")]
    status_addr: Option<String>,
}

impl RunArgs {
    /// Run until SIGINT or SIGTERM.
    pub fn execute(self) -> anyhow::Result<()> {
        let mut overrides = Vec::new();
        if let Some(dir) = self.plugins {
            overrides.push(("PLUGIN_DIR".to_string(), dir.display().to_string()));
        }
        if let Some(addr) = self.status_addr {
            overrides.push(("STATUS_ADDR".to_string(), addr));
        }
        let config = self.settings.load(&overrides, self.demo)?;
        let _logs = tradehost::logging::init(&config.log).context("cannot open the log files")?;
        let runtime = tokio::runtime::Runtime::new()?;
        runtime.block_on(async move { tradehost::engine::run(config, shutdown_signal()).await })?;
        Ok(())
    }
}
