//! `tradehost feed`: print the feed's events, to check a key, a symbol or the network.

use super::{SettingsFile, console_logs, shutdown_signal};
use clap::Args;

/// Flags of `tradehost feed`.
#[derive(Args)]
pub struct FeedArgs {
    /// Symbols in user notation, comma-separated (`STOCK:AAPL,FOREX:EUR/USD`).
    #[arg(long, value_delimiter = ',', required = true)]
    symbols: Vec<String>,
    /// Use the local demo server instead of Finnhub.
    #[arg(long)]
    demo: bool,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    settings: SettingsFile,
}

impl FeedArgs {
    /// Print every event until interrupted, then a summary.
    pub fn execute(self) -> anyhow::Result<()> {
        let config = self
            .settings
            .load(&[("REAL_TIME_MODE".into(), "true".into())], self.demo)?;
        let _logs = console_logs(&config)?;
        let runtime = tokio::runtime::Runtime::new()?;
        // The signal handlers are installed at once, inside the runtime.
        let _inside = runtime.enter();
        let mut stdout = std::io::stdout().lock();
        let stats = runtime.block_on(tradehost::feed::print_events(
            config.feed,
            &self.symbols,
            self.demo,
            self.json,
            &mut stdout,
            shutdown_signal(),
        ))?;
        eprintln!(
            "{} trades in {} frames, {} malformed, {} reconnects",
            stats.trades, stats.frames, stats.malformed_frames, stats.reconnects
        );
        Ok(())
    }
}
