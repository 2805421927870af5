//! `tradehost sweep`: many parameter sets of one plugin over one read of the data, ranked.

use super::{SettingsFile, TradeWindow, console_logs, parse_time};
use clap::Args;
use std::path::PathBuf;
use tradehost::backtest::sweep::{Grid, SweepConfig, SweepReport};
use tradehost::human::Money;

/// Flags of `tradehost sweep`.
#[derive(Args)]
pub struct SweepArgs {
    /// The trades and the window.
    #[command(flatten)]
    trades: TradeWindow,
    /// The plugin file.
    #[arg(long, value_name = "FILE")]
    plugin: PathBuf,
    /// A parameter and its values, `NAME=V1,V2,...`; repeat for each parameter. Every
    /// combination is run.
    #[arg(long, value_name = "NAME=V1,V2,...", required = true)]
    grid: Vec<String>,
    /// Choose on the trades before this time (RFC 3339) and also report each set on the
    /// trades after it, starting flat.
    #[arg(long, value_name = "TIME")]
    split: Option<String>,
    /// Backtests run at once (default: the machine's cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Most trades per call across the plugin boundary (a speed setting: results are the
    /// same at every size); calls also end at a set's orders and fills and at bar closes.
    #[arg(long, default_value_t = 65_536)]
    batch: usize,
    /// Rows printed (every row is in sweep.json).
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Parse the trade files instead of using the cached parsed copies (same results).
    #[arg(long)]
    no_cache: bool,
    /// Output folder: sweep.json, each set's plugin and settings in `sets/`, and each group's journals.
    #[arg(long, default_value = "sweep-out")]
    out: PathBuf,
    #[command(flatten)]
    settings: SettingsFile,
}

impl SweepArgs {
    /// Run the sweep and print the ranking.
    pub fn execute(self) -> anyhow::Result<()> {
        let config = self.settings.load_for_backtest()?;
        let _logs = console_logs(&config)?;
        let window = self.trades.window()?;
        let cfg = SweepConfig {
            plugin: self.plugin,
            grid: Grid::parse(&self.grid)?,
            split_ms: parse_time(&self.split)?,
            threads: self
                .threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            batch_size: self.batch,
            out_dir: self.out,
        };
        let started = std::time::Instant::now();
        let cache = (!self.no_cache)
            .then(tradehost::backtest::trade_cache::TradeCache::user_default)
            .flatten();
        let trades = tradehost::backtest::load_trades_with(
            &self.trades.data,
            window.from,
            window.to,
            cache.as_ref(),
        )?;
        let report = tradehost::backtest::sweep::run(
            &cfg,
            &trades,
            &config.plugins,
            &config.broker,
            &config.market,
        )?;
        let json = cfg.out_dir.join("sweep.json");
        std::fs::write(&json, serde_json::to_vec_pretty(&report)?)?;
        print!("{}", table(&report, self.top));
        println!(
            "{} sets in {:.1} s on {} threads; every set in {}",
            report.rows.len(),
            started.elapsed().as_secs_f64(),
            cfg.threads,
            json.display()
        );
        Ok(())
    }
}

/// The ranking as a text table.
fn table(report: &SweepReport, top: usize) -> String {
    let mut out = format!(
        "{:>4}  {:<32} {:>12} {:>7} {:>10} {:>6}  {:>12} {:>6}\n",
        "rank", "parameters", "PnL", "Sharpe", "drawdown", "fills", "after split", "fills"
    );
    for (rank, row) in report.rows.iter().take(top).enumerate() {
        let params = row
            .parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        match (&row.in_sample, &row.error) {
            (Some(s), _) => {
                let (after, after_fills) =
                    row.out_of_sample.map_or(("-".into(), "-".into()), |o| {
                        (Money(o.pnl).to_string(), o.fills.to_string())
                    });
                out.push_str(&format!(
                    "{:>4}  {:<32} {:>12} {:>7.2} {:>10} {:>6}  {:>12} {:>6}\n",
                    rank + 1,
                    params,
                    Money(s.pnl).to_string(),
                    s.sharpe,
                    Money(s.max_drawdown).to_string(),
                    s.fills,
                    after,
                    after_fills
                ));
            }
            (None, error) => out.push_str(&format!(
                "{:>4}  {:<32} failed: {}\n",
                rank + 1,
                params,
                error.as_deref().unwrap_or("?")
            )),
        }
    }
    out
}
