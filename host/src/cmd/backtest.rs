//! `tradehost backtest`: replay trade files through plugins on market time.

use super::{SettingsFile, TradeWindow, console_logs};
use clap::Args;
use std::path::PathBuf;

/// Where plugins run during a backtest.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Execution {
    /// On the backtest's own thread.
    Inline,
    /// Each on a thread of its own.
    Threads,
}

/// Flags of `tradehost backtest`.
#[derive(Args)]
pub struct BacktestArgs {
    /// The trades and the window.
    #[command(flatten)]
    trades: TradeWindow,
    /// A plugin file or a folder of plugins.
    #[arg(long, value_name = "DIR|FILE")]
    plugins: PathBuf,
    /// Most trades per call across the plugin boundary (a speed setting: the journal is the
    /// same at every size); calls also end at a plugin's orders and fills and at bar closes.
    #[arg(long, default_value_t = 65_536)]
    batch: usize,
    /// Run plugins on the backtest's thread (`inline`) or each on a thread of its own
    /// (`threads`); the journal is the same either way.
    #[arg(long, value_enum, default_value_t = Execution::Inline)]
    execution: Execution,
    /// Forecast with the deployed models of this folder (a daemon's MODELS_DIR).
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
    /// Retrain each symbol's model every BARS completed bars, on the bars so far (no
    /// look-ahead), deploying through the same gate as live.
    #[arg(long, value_name = "BARS")]
    walk_forward: Option<usize>,
    /// Output folder.
    #[arg(long, default_value = "backtest-out")]
    out: PathBuf,
    /// Parse the trade files instead of using the parsed copies cached in
    /// ~/.cache/tradehost/trades (the results are the same).
    #[arg(long)]
    no_cache: bool,
    #[command(flatten)]
    settings: SettingsFile,
}

impl BacktestArgs {
    /// Run the backtest and print its summary.
    pub fn execute(self) -> anyhow::Result<()> {
        let config = self.settings.load_for_backtest()?;
        let _logs = console_logs(&config)?;
        let window = self.trades.window()?;
        let out = self.out;
        let bt = tradehost::backtest::BacktestConfig {
            data: self.trades.data,
            plugins: self.plugins,
            from_ms: window.from,
            to_ms: window.to,
            batch_size: self.batch,
            predictions: (self.models.is_some() || self.walk_forward.is_some()).then(|| {
                tradehost::backtest::BacktestPredictions {
                    trainer: config.trainer.clone(),
                    models: tradehost::trainer::ReplayModels {
                        from_dir: self.models,
                        walk_forward_every: self.walk_forward,
                        store_dir: out.join("models"),
                    },
                }
            }),
            out_dir: out,
            inline: matches!(self.execution, Execution::Inline),
        };
        let started = std::time::Instant::now();
        let cache = (!self.no_cache)
            .then(tradehost::backtest::trade_cache::TradeCache::user_default)
            .flatten();
        let (report, loading) = match (&cache, bt.data.as_slice()) {
            // One file: it is read (parsed, or taken from the cache) on a thread of its own
            // while the engine runs.
            (cache, [file]) => {
                let stream = match cache {
                    Some(cache) => cache.stream(file, bt.from_ms, bt.to_ms)?,
                    None => tradehost::backtest::trade_stream::TradeStream::open(
                        file, bt.from_ms, bt.to_ms,
                    )?,
                };
                let report = tradehost::backtest::run_streaming(
                    &bt,
                    stream,
                    config.plugins,
                    config.broker,
                    &config.market,
                )?;
                (report, "reading overlapped with the run".to_string())
            }
            _ => {
                let trades = tradehost::backtest::load_trades_with(
                    &bt.data,
                    bt.from_ms,
                    bt.to_ms,
                    cache.as_ref(),
                )?;
                let loaded = started.elapsed();
                let report = tradehost::backtest::run(
                    &bt,
                    &trades,
                    config.plugins,
                    config.broker,
                    &config.market,
                )?;
                (report, format!("loading {:.2} s", loaded.as_secs_f64()))
            }
        };
        println!("{report}");
        println!(
            "{loading}, whole run {:.2} s; results in {}",
            started.elapsed().as_secs_f64(),
            bt.out_dir.display()
        );
        Ok(())
    }
}
