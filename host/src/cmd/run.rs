//! `tradehost run`: the daemon.

use super::{SettingsFile, shutdown_signal};
use anyhow::Context;
use clap::{Args, ValueEnum};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tradehost::bus::Bus;
use tradehost::engine::Wiring;
use tradehost::logging::LogGuard;

/// What this process does in a deployment (`docs/scale-out.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunRole {
    /// Everything in one process; no bus.
    All,
    /// The market-data feed and the trainer, published to the bus (one holds the lease).
    Feed,
    /// Plugins on market data from the bus; orders to the broker host.
    Strategies,
    /// The journal: orders from the bus, fills and outcomes back.
    Broker,
}

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
    /// This process's part of a scale-out deployment over NATS (BUS_URL, BUS_HOST, ...);
    /// `all` needs no bus.
    #[arg(long, value_enum, default_value = "all")]
    role: RunRole,
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
        let logs = tradehost::logging::init(&config.log).context("cannot open the log files")?;
        let logs = Arc::new(Mutex::new(Some(logs)));
        let runtime = tokio::runtime::Runtime::new()?;
        let role = self.role;
        let limit = config.shutdown_timeout;
        let deadline_logs = logs.clone();
        let result = runtime.block_on(async move {
            let shutdown = with_deadline(shutdown_signal(), limit, deadline_logs);
            if role == RunRole::All {
                return tradehost::engine::run(config, shutdown).await;
            }
            let bus = Bus::connect(config.bus.clone()).await?;
            match role {
                RunRole::Feed => tradehost::engine::feed_host::run(config, bus, shutdown).await,
                RunRole::Broker => tradehost::engine::broker_host::run(config, bus, shutdown).await,
                _ => {
                    let wiring = Wiring::Strategies(bus);
                    tradehost::engine::run_with(config, wiring, shutdown).await
                }
            }
        });
        // A blocking task still running now would hold the process up at the runtime's drop.
        runtime.shutdown_timeout(Duration::from_secs(1));
        // The guard itself, not this handle: the deadline's thread holds another handle while
        // it sleeps, and the last lines reach the log files only when the guard drops.
        drop(logs.lock().unwrap_or_else(PoisonError::into_inner).take());
        Ok(result?)
    }
}

/// Completes when `signal` does, and from then on bounds the clean stop: if the process has
/// not exited `limit` later, it says so, flushes the logs and exits with code 1. Nothing is
/// lost that a `kill -9` would not lose: the journal is durable per record, and plugin state
/// and positions come back from the last save at the next start.
async fn with_deadline(
    signal: impl Future<Output = ()>,
    limit: Duration,
    logs: Arc<Mutex<Option<LogGuard>>>,
) {
    signal.await;
    let watchdog = std::thread::Builder::new()
        .name("shutdown-deadline".into())
        .spawn(move || {
            std::thread::sleep(limit);
            tracing::error!(
                "the clean stop did not finish within {limit:?} (SHUTDOWN_TIMEOUT_SECS): \
                 exiting now; the next start recovers from the journal and the last saved state"
            );
            drop(logs.lock().unwrap_or_else(PoisonError::into_inner).take());
            std::process::exit(1);
        });
    if let Err(e) = watchdog {
        tracing::warn!("no shutdown deadline ({e}): the clean stop is not bounded");
    }
}
