//! `tradehost cut` and `tradehost bars`: data snippets from trade files (a time window of
//! trades, or the bars the daemon's aggregator makes of them).

use super::{SettingsFile, TradeWindow};
use clap::Args;
use std::path::PathBuf;

/// Flags of `tradehost cut`.
#[derive(Args)]
pub struct CutArgs {
    /// The trades (every file with the same header) and the window.
    #[command(flatten)]
    trades: TradeWindow,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

impl CutArgs {
    /// Write the window's trades, rows verbatim.
    pub fn execute(self) -> anyhow::Result<()> {
        let rows = tradehost::market::snippet::cut_trades(
            &self.trades.data,
            self.trades.window()?,
            &self.out,
        )?;
        println!("{rows} trades -> {}", self.out.display());
        Ok(())
    }
}

/// Flags of `tradehost bars`.
#[derive(Args)]
pub struct BarsArgs {
    /// The trades and the window.
    #[command(flatten)]
    trades: TradeWindow,
    /// Bar length in seconds (default: UPDATE_INTERVAL).
    #[arg(long, value_name = "SECS")]
    period: Option<u32>,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    settings: SettingsFile,
}

impl BarsArgs {
    /// Write one bar file per symbol.
    pub fn execute(self) -> anyhow::Result<()> {
        let config = self.settings.load(&[], true)?;
        let period = self.period.unwrap_or(config.market.update_interval_secs);
        anyhow::ensure!(period > 0, "--period must be at least 1 second");
        let written = tradehost::market::snippet::write_bars(
            &self.trades.data,
            self.trades.window()?,
            period,
            &self.out,
        )?;
        for file in written {
            println!(
                "{} {} bars -> {}",
                file.symbol,
                file.bars,
                file.path.display()
            );
        }
        Ok(())
    }
}
