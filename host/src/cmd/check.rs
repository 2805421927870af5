//! `tradehost check`: validate a plugin file as the daemon would load it. `tradehost build`
//! validates what it built with the same [`validate`] and [`print_info`].

use clap::Args;
use std::path::{Path, PathBuf};
use tradehost::config::Config;
use tradehost::plugins::{PluginError, PluginInfo};

/// Flags of `tradehost check`.
#[derive(Args)]
pub struct CheckArgs {
    /// The `.wasm` component.
    file: PathBuf,
}

impl CheckArgs {
    /// Print what the plugin declares, or why it is refused (exit status 1).
    pub fn execute(self) -> anyhow::Result<()> {
        match validate(&self.file)? {
            Ok(info) => {
                print_info(&self.file, &info);
                Ok(())
            }
            Err(e) => {
                eprintln!("refused: {e}");
                std::process::exit(1);
            }
        }
    }
}

/// Loads `file` (and the `NAME.toml` beside it) as the daemon would, with the demo's
/// settings and no compile cache; the outer error is a setup failure, the inner one the
/// plugin's refusal.
pub fn validate(file: &Path) -> anyhow::Result<Result<PluginInfo, PluginError>> {
    let config = Config::load(None, &[("PLUGIN_CACHE_DIR".into(), "off".into())], true)?;
    let _logs = super::console_logs(&config)?;
    Ok(tradehost::plugins::check_file(config.plugins, file))
}

/// Prints what a valid plugin declares.
pub fn print_info(file: &Path, info: &PluginInfo) {
    println!("{} is a valid tradehost strategy", file.display());
    println!("  strategy:  {} {}", info.strategy, info.version);
    println!("  about:     {}", info.description);
    println!("  interface: tradehost:strategy@{}", info.interface_version);
    if let Some(built) = std::fs::read(file)
        .ok()
        .and_then(|bytes| tradehost::plugins::producers::producers(&bytes))
    {
        println!("  built by:  {}", built.summary());
    }
    println!("  symbols:   {}", info.symbols.join(", "));
    for (k, v) in &info.config {
        println!("  setting:   {k} = {v}");
    }
    println!("  compiled in {:.1} ms", info.compile_ms);
}
