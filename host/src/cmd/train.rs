//! `tradehost train`: one offline training cycle on a file of bars or trades.

use super::{SettingsFile, console_logs};
use clap::Args;
use std::path::PathBuf;

/// Flags of `tradehost train`.
#[derive(Args)]
pub struct TrainArgs {
    /// Bars (`timestamp,open,high,low,close,volume`) or trades
    /// (`timestamp,symbol,price,size,...`), `.csv` or `.csv.gz`.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// The symbol (default: from the file).
    #[arg(long)]
    symbol: Option<String>,
    #[command(flatten)]
    settings: SettingsFile,
}

impl TrainArgs {
    /// Train, gate and print the evaluation table.
    pub fn execute(self) -> anyhow::Result<()> {
        let config = self.settings.load(&[], true)?;
        let _logs = console_logs(&config)?;
        let report = tradehost::trainer::train_offline(
            &config.trainer,
            &self.data,
            self.symbol.as_deref(),
            &config.models_dir,
        )?;
        println!("{report}");
        Ok(())
    }
}
