//! `tradehost check`: validate a plugin file as the daemon would load it.

use clap::Args;
use std::path::PathBuf;
use tradehost::config::Config;

/// Flags of `tradehost check`.
#[derive(Args)]
pub struct CheckArgs {
    /// The `.wasm` component.
    file: PathBuf,
}

impl CheckArgs {
    /// Print what the plugin declares, or why it is refused (exit status 1).
    pub fn execute(self) -> anyhow::Result<()> {
        let config = Config::load(None, &[("PLUGIN_CACHE_DIR".into(), "off".into())], true)?;
        let _logs = super::console_logs(&config)?;
        let file = self.file;
        match tradehost::plugins::check_file(config.plugins, &file) {
            Ok(info) => {
                println!("{} is a valid tradehost strategy", file.display());
                println!("  strategy:  {} {}", info.strategy, info.version);
                println!("  about:     {}", info.description);
                println!("  interface: tradehost:strategy@{}", info.interface_version);
                if let Some(built) = std::fs::read(&file)
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
                Ok(())
            }
            Err(e) => {
                eprintln!("refused: {e}");
                std::process::exit(1);
            }
        }
    }
}
