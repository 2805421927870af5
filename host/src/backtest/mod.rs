//! Backtests: the same market state, broker and plugin host as live, fed by replay files
//! and driven in lock-step on market time, so that the same inputs give the same fills.
//!
//! Each batch of trades goes through the engine [`Core`] driven by a [`Lockstep`], which
//! waits for every plugin's answer, so the answer is the same at every batch size. Plugins
//! run on the engine thread (no hand-off per batch), see market time through `now` (and the
//! WASI clocks), and their random numbers are seeded. Trades come from memory or, read on a
//! thread of their own while the engine runs, from a [`trade_stream::TradeStream`].
//! Wall-clock limits are relaxed so that load cannot change results. With [`BacktestPredictions`], a [`ReplayTrainer`] forecasts at
//! every completed bar from a model folder or walk-forward retraining, and the forecasts
//! reach the plugins as live.

pub mod diagnosis;
pub mod equity_svg;
pub mod forecast_score;
pub mod report;
pub mod sweep;
pub mod trade_cache;
pub mod trade_stream;

use crate::broker::{BrokerConfig, BrokerError, FsyncPolicy, PaperBroker};
use crate::data::{DataError, TradeReader};
use crate::engine::core::{Core, Forecasts};
use crate::engine::lockstep::Lockstep;
use crate::engine::snapshot::{Clock, SnapshotWriter};
use crate::market::{MarketConfig, MarketState};
use crate::plugins::{PluginConfig, PluginError, PluginHost, SymbolTable};
use crate::trainer::{ReplayModels, ReplayTrainer, TrainerConfig, TrainerError};
use crate::types::{TimestampMs, Trade};
use report::{BacktestReport, EquityTracker, PluginResult};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shortest per-call deadline in a backtest (see [`run`]).
pub const BACKTEST_MIN_CALL_DEADLINE: Duration = Duration::from_secs(1);

/// What to replay and where to put the results.
#[derive(Debug, Clone)]
pub struct BacktestConfig {
    /// Trade files (`.csv` / `.csv.gz`), merged in time order.
    pub data: Vec<PathBuf>,
    /// A plugin file, or a folder of them.
    pub plugins: PathBuf,
    /// Skip trades before this time.
    pub from_ms: Option<TimestampMs>,
    /// Skip trades at or after this time.
    pub to_ms: Option<TimestampMs>,
    /// Trades per batch across the plugin boundary.
    pub batch_size: usize,
    /// Where the journal, `report.json` and `equity.svg` go.
    pub out_dir: PathBuf,
    /// Forecasts for the plugins, if any.
    pub predictions: Option<BacktestPredictions>,
    /// Run plugins on the backtest's thread (true) or each on its own thread; the results
    /// are the same.
    pub inline: bool,
}

/// Where a backtest's forecasts come from.
#[derive(Debug, Clone)]
pub struct BacktestPredictions {
    /// The trainer's settings (window, horizon, model, gate), as live.
    pub trainer: TrainerConfig,
    /// A model folder, walk-forward retraining, or both.
    pub models: ReplayModels,
}

/// A backtest could not run.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// A data file could not be read (the error names the file and line).
    #[error(transparent)]
    Data(#[from] DataError),
    /// The plugins could not be loaded.
    #[error(transparent)]
    Plugins(#[from] PluginError),
    /// The broker's journal could not be written.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The models asked for cannot be used.
    #[error(transparent)]
    Trainer(#[from] TrainerError),
    /// No plugin could be loaded.
    #[error("no plugin loaded from {}: nothing to backtest{}", path.display(), report::NotLoaded::list(not_loaded))]
    NoPlugins {
        /// The plugin file or folder.
        path: PathBuf,
        /// Each plugin that failed, and why.
        not_loaded: Vec<report::NotLoaded>,
    },
    /// A plugin stopped answering.
    #[error(transparent)]
    Stalled(#[from] crate::engine::lockstep::Stalled),
    /// The output folder could not be written.
    #[error("cannot write backtest results to {path}: {source}")]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Read every trade of `files` with the streaming trade reader, merged in time
/// order (stable: file order breaks ties). A bad row stops the backtest, naming file and line.
pub fn load_trades(
    files: &[PathBuf],
    from: Option<TimestampMs>,
    to: Option<TimestampMs>,
) -> Result<Vec<Trade>, DataError> {
    load_trades_with(files, from, to, None)
}

/// [`load_trades`], taking each file's parsed trades from `cache` when it holds that exact
/// file (the same trades, bit for bit, without parsing).
pub fn load_trades_with(
    files: &[PathBuf],
    from: Option<TimestampMs>,
    to: Option<TimestampMs>,
    cache: Option<&trade_cache::TradeCache>,
) -> Result<Vec<Trade>, DataError> {
    let mut all = Vec::new();
    for f in files {
        match cache {
            // One file: its trades as they are, not copied.
            Some(cache) if files.len() == 1 => all = cache.load(f)?,
            Some(cache) => all.extend(cache.load(f)?),
            None => {
                for trade in TradeReader::open(f)? {
                    all.push(trade?);
                }
            }
        }
    }
    if files.len() > 1 {
        all.sort_by_key(|t| t.time_ms);
    }
    all.retain(|t| from.is_none_or(|f| t.time_ms >= f) && to.is_none_or(|e| t.time_ms < e));
    Ok(all)
}

/// Market time between two equity samples: the curve (and the Sharpe ratio, drawdown and
/// exposure computed from it) is sampled on this grid, so it does not depend on batching.
pub const EQUITY_SAMPLE_MS: i64 = 1_000;

/// Replay `trades` through `plugins` with the given broker and market settings.
pub fn run(
    bt: &BacktestConfig,
    trades: &[Trade],
    plugin_config: PluginConfig,
    broker_config: BrokerConfig,
    market_config: &MarketConfig,
) -> Result<BacktestReport, BacktestError> {
    run_replay(
        bt,
        Plugins::Configured,
        Replay::Memory(trades),
        plugin_config,
        broker_config,
        market_config,
        Outputs::Full,
    )
}

/// What a backtest writes besides its journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outputs {
    /// `report.json`, `equity.svg` and `report.html` (with the per-plugin diagnosis).
    Full,
    /// The journal only (a sweep's sets: their figures go to `sweep.json`).
    JournalOnly,
}

/// [`run`] with the plugins of `files` (each with its settings file beside it)
/// instead of `bt.plugins`, writing `writes` besides the journal: a sweep's sets, side by
/// side over one pass of the market. A file that cannot be loaded is listed in
/// [`BacktestReport::not_loaded`] and the others run; when none can, the error lists them
/// all. The journal and the returned figures do not depend on `writes`.
pub fn run_files(
    bt: &BacktestConfig,
    files: &[PathBuf],
    trades: &[Trade],
    plugin_config: PluginConfig,
    broker_config: BrokerConfig,
    market_config: &MarketConfig,
    writes: Outputs,
) -> Result<BacktestReport, BacktestError> {
    run_replay(
        bt,
        Plugins::Files(files),
        Replay::Memory(trades),
        plugin_config,
        broker_config,
        market_config,
        writes,
    )
}

/// [`run`] on trades still being read: the backtest runs on each chunk as it arrives.
/// The journal, the report and every figure are those of [`run`] on the whole file.
pub fn run_streaming(
    bt: &BacktestConfig,
    trades: trade_stream::TradeStream,
    plugin_config: PluginConfig,
    broker_config: BrokerConfig,
    market_config: &MarketConfig,
) -> Result<BacktestReport, BacktestError> {
    run_replay(
        bt,
        Plugins::Configured,
        Replay::Stream(trades),
        plugin_config,
        broker_config,
        market_config,
        Outputs::Full,
    )
}

/// Which plugins a backtest runs.
enum Plugins<'a> {
    /// `BacktestConfig::plugins`: one file, or every plugin of a folder.
    Configured,
    /// These files, each with its settings file.
    Files(&'a [PathBuf]),
}

/// Where a backtest's trades come from.
enum Replay<'a> {
    /// All in memory.
    Memory(&'a [Trade]),
    /// Arriving in chunks from a reading thread.
    Stream(trade_stream::TradeStream),
}

fn run_replay(
    bt: &BacktestConfig,
    plugins: Plugins<'_>,
    mut replay: Replay<'_>,
    mut plugin_config: PluginConfig,
    mut broker_config: BrokerConfig,
    market_config: &MarketConfig,
    writes: Outputs,
) -> Result<BacktestReport, BacktestError> {
    // The market clock starts at the first trade: a stream's first chunk is awaited here
    // (it is small), the rest is read while the plugins load and the engine runs.
    let first_chunk = match &mut replay {
        Replay::Memory(_) => None,
        Replay::Stream(s) => s.next().transpose()?,
    };
    let first_time = match &replay {
        Replay::Memory(t) => t.first(),
        Replay::Stream(_) => first_chunk.as_ref().and_then(|c| c.first()),
    }
    .map_or(0, |t| t.time_ms);
    let output = |path: PathBuf, source| BacktestError::Output { path, source };
    std::fs::create_dir_all(&bt.out_dir).map_err(|e| output(bt.out_dir.clone(), e))?;
    let journal = bt.out_dir.join("journal.bin");
    // A backtest starts flat: a previous run's journal would be replayed into positions.
    let _ = std::fs::remove_file(&journal);
    broker_config.journal_path = journal;
    // The journal of a backtest is an output: written in blocks, synced at the end.
    broker_config.fsync = FsyncPolicy::Deferred;

    let only_file = match plugins {
        Plugins::Configured => bt.plugins.is_file().then(|| bt.plugins.clone()),
        Plugins::Files(files) => files.first().cloned(),
    };
    plugin_config.dir = match &only_file {
        Some(f) => f
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        None => bt.plugins.clone(),
    };
    // Where the plugins were looked for, for messages.
    let place = match plugins {
        Plugins::Configured => bt.plugins.clone(),
        Plugins::Files(_) => plugin_config.dir.clone(),
    };
    plugin_config.watch = false;
    plugin_config.block_when_full = true;
    // Plugins run on the backtest's thread unless asked otherwise: the lockstep waits for
    // every answer anyway (see `plugins::mailbox`). Results are the same either way.
    plugin_config.inline_workers = bt.inline;
    // Wall-clock limits would make results depend on the machine's load: a call preempted
    // past a 10 ms deadline faulted, and events went unseen for the wall-clock backoff
    // (measured: 2,117 fills instead of 3,789 on a busy machine). Runaway guests are still
    // stopped, after a second; a faulted plugin is rebuilt for the next batch.
    plugin_config.min_call_deadline = BACKTEST_MIN_CALL_DEADLINE;
    plugin_config.restart_backoff = Duration::ZERO;

    let (broker, _) = PaperBroker::open(broker_config)?;
    let market = MarketState::new(market_config);
    let clock = Clock::market(first_time);
    let mut snapshot = SnapshotWriter::new(market_config.history_bars, market.period_secs());
    snapshot.positions_from(&broker);
    snapshot.publish();
    let view = Arc::new(snapshot.reader(clock.clone()));
    let replay_trainer = match &bt.predictions {
        Some(p) => {
            if p.models.walk_forward_every.is_some() {
                // Version numbers reach the plugins: start them at 1 on every run.
                let _ = std::fs::remove_dir_all(&p.models.store_dir);
            }
            let trainer = ReplayTrainer::new(p.trainer.clone(), &p.models)?;
            Some(Arc::new(Mutex::new(trainer)))
        }
        None => None,
    };
    let (tx, outputs) = crossbeam_channel::unbounded();
    let host = Arc::new(PluginHost::new(
        plugin_config,
        view,
        SymbolTable::new(),
        tx,
    )?);
    let loaded = match (&plugins, &only_file) {
        (Plugins::Files(files), _) => files
            .iter()
            .map(|f| (f.clone(), host.load_file(f, None)))
            .collect(),
        (Plugins::Configured, Some(f)) => {
            host.load_file(f, None)?;
            Vec::new()
        }
        (Plugins::Configured, None) => host.load_dir(&|_| None, &|_| false),
    };
    let mut not_loaded = Vec::new();
    for (path, result) in loaded {
        if let Err(e) = result {
            tracing::error!("{} not loaded: {e}", path.display());
            not_loaded.push(report::NotLoaded {
                file: path,
                error: e.to_string(),
            });
        }
    }
    if host.names().is_empty() {
        return Err(BacktestError::NoPlugins {
            path: place,
            not_loaded,
        });
    }
    let scorer = Arc::new(Mutex::new(forecast_score::ForecastScorer::default()));
    let forecasts = match &replay_trainer {
        Some(trainer) => {
            let trainer = trainer.clone();
            let scorer = scorer.clone();
            Forecasts::Replay(Box::new(move |bar| {
                let made = trainer
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .on_bar(bar);
                let mut scorer = scorer.lock().unwrap_or_else(|p| p.into_inner());
                scorer.bar(bar);
                if let Some(p) = &made {
                    scorer.forecast(p);
                }
                made
            }))
        }
        None => Forecasts::Off,
    };
    let mut core = Core::new(
        market,
        broker,
        host.clone(),
        outputs,
        snapshot,
        clock,
        forecasts,
    )
    .keeping_for_report();
    let names = host.names();
    let equity = Arc::new(Mutex::new(EquitySampler::new(&names, EQUITY_SAMPLE_MS)));
    let sampler = equity.clone();
    // The next grid time, kept here too: the lock is taken only when a trade reaches it.
    let mut due: Option<i64> = None;
    core.before_commit = Some(Box::new(move |broker, trade| {
        if due.is_some_and(|t| trade.time_ms < t) {
            return;
        }
        due = Some(
            sampler
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .before(broker, trade),
        );
    }));
    let mut lockstep = Lockstep::new(Duration::from_secs(30));
    let started = Instant::now();
    let batch = bt.batch_size.max(1);
    // A stream's chunks are kept for the report (its price chart).
    let mut read: Vec<Vec<Trade>> = Vec::new();
    let parts: Vec<&[Trade]> = match replay {
        Replay::Memory(trades) => {
            for chunk in trades.chunks(batch) {
                lockstep.run(&mut core, chunk)?;
            }
            vec![trades]
        }
        Replay::Stream(stream) => {
            for part in first_chunk.map(Ok).into_iter().chain(stream) {
                let part = part?;
                for chunk in part.chunks(batch) {
                    lockstep.run(&mut core, chunk)?;
                }
                read.push(part);
            }
            read.iter().map(Vec::as_slice).collect()
        }
    };
    let n_trades: usize = parts.iter().map(|p| p.len()).sum();
    let first_trade = parts.iter().find_map(|p| p.first());
    let last_trade = parts.iter().rev().find_map(|p| p.last());
    let last_time = last_trade.map_or(0, |t| t.time_ms);
    lockstep.finish(&mut core, last_time)?;
    core.before_commit = None;
    let mut equity = equity.lock().unwrap_or_else(|p| p.into_inner());
    equity.finish(&core.broker, last_time);
    let elapsed = started.elapsed().as_secs_f64();
    let names = host.names();
    let statuses = host.statuses(); // For report.html: the plugins' symbols and counters.
    host.shutdown();
    let fills = core.kept_fills.take().unwrap_or_default();
    let broker = &mut core.broker;
    broker.flush()?;
    let curves = std::mem::take(&mut equity.tracker).finish();
    let mut per_plugin: BTreeMap<String, PluginResult> = BTreeMap::new();
    for fill in &fills {
        let r = per_plugin.entry(fill.plugin.to_string()).or_default();
        r.fills += 1;
        r.volume += fill.quantity;
        r.fees += fill.fee;
    }
    for entry in broker.positions() {
        let r = per_plugin.entry(entry.plugin.to_string()).or_default();
        r.realised_pnl += entry.position.realised_pnl;
        r.unrealised_pnl += entry.position.unrealised_pnl;
    }
    for name in names {
        per_plugin.entry(name).or_default();
    }
    let plugins = per_plugin
        .into_iter()
        .map(|(name, mut r)| {
            r.plugin = name.clone();
            if let Some((dd, sharpe, exposure, curve)) = curves.get(&name) {
                r.max_drawdown = *dd;
                r.sharpe = *sharpe;
                r.exposure = *exposure;
                r.equity = curve.clone();
            }
            r
        })
        .collect();
    let mut report = BacktestReport {
        trades: n_trades as u64,
        range_ms: (first_trade.map_or(0, |t| t.time_ms), last_time),
        elapsed_secs: elapsed,
        ticks_per_sec: n_trades as f64 / elapsed.max(1e-9),
        plugins,
        training: replay_trainer
            .map(|t| {
                t.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .summary()
                    .clone()
            })
            .unwrap_or_default(),
        forecast_scores: scorer.lock().unwrap_or_else(|p| p.into_inner()).finish(),
        fill_log: fills,
        not_loaded,
        currency: report::CURRENCY.to_string(),
        ..Default::default()
    };
    if writes == Outputs::JournalOnly {
        return Ok(report);
    }
    // What report.html shows beyond the numbers: prices, fills, why each plugin traded.
    diagnosis::diagnose(
        &mut report,
        &parts,
        &statuses,
        &bt.out_dir.join("journal.bin"),
    );
    let json_path = bt.out_dir.join("report.json");
    let json = serde_json::to_vec_pretty(&report)
        .map_err(|e| output(json_path.clone(), std::io::Error::other(e)))?;
    std::fs::write(&json_path, &json).map_err(|e| output(json_path, e))?;
    let svg_path = bt.out_dir.join("equity.svg");
    std::fs::write(&svg_path, report::equity_svg(&report)).map_err(|e| output(svg_path, e))?;
    let html_path = bt.out_dir.join("report.html");
    let html = crate::dashboard::report_page::render_one(&bt.out_dir, &json)
        .map_err(|e| output(html_path.clone(), std::io::Error::other(e)))?;
    std::fs::write(&html_path, html).map_err(|e| output(html_path, e))?;
    Ok(report)
}

/// Samples every plugin's equity on a fixed grid of market time, whatever the batching:
/// just before the broker processes the first trade at or after a grid time, it holds the
/// equity as of that time.
struct EquitySampler {
    names: Vec<String>,
    every_ms: i64,
    next_ms: Option<i64>,
    tracker: EquityTracker,
    /// Each plugin's latest (equity, exposed), reused between samples.
    equities: Vec<(f64, bool)>,
    /// Each plugin's place in the broker's ledger, once it has one.
    slots: Vec<Option<usize>>,
}

impl EquitySampler {
    fn new(names: &[String], every_ms: i64) -> Self {
        let mut tracker = EquityTracker::default();
        for name in names {
            tracker.index(name);
        }
        EquitySampler {
            names: names.to_vec(),
            every_ms: every_ms.max(1),
            next_ms: None,
            tracker,
            equities: Vec::with_capacity(names.len()),
            slots: Vec::new(),
        }
    }

    /// The broker is about to process `trade`; returns the next grid time.
    fn before(&mut self, broker: &PaperBroker, trade: &Trade) -> i64 {
        let every = self.every_ms;
        let next = *self
            .next_ms
            .get_or_insert(trade.time_ms - trade.time_ms.rem_euclid(every) + every);
        if trade.time_ms >= next {
            self.sample(broker, next);
            let passed = (trade.time_ms - next) / every + 1;
            self.next_ms = Some(next + passed * every);
        }
        self.next_ms.unwrap_or(next)
    }

    /// The last sample, at the end of the run.
    fn finish(&mut self, broker: &PaperBroker, time_ms: i64) {
        self.sample(broker, time_ms);
    }

    /// Every plugin's equity at `time`: the tracker's curves are in the order of `names`.
    fn sample(&mut self, broker: &PaperBroker, time: TimestampMs) {
        broker.equities_into(&self.names, &mut self.slots, &mut self.equities);
        for (i, &(equity, exposed)) in self.equities.iter().enumerate() {
            self.tracker.sample_at(i, time, equity, exposed);
        }
    }
}
