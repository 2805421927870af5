//! The engine's answer to the status API: a [`StatusReport`] assembled from the live
//! subsystems on demand.

use super::broker_board::BrokerBoard;
use super::pipeline::PipelineStats;
use super::snapshot::SnapshotReader;
use crate::broker::PaperBroker;
use crate::feed::FeedStats;
use crate::plugins::PluginHost;
use crate::status::report::{
    BrokerReport, EngineReport, FeedReport, JournalReport, ModelCycle, ModelReport, PositionReport,
    RunMode, SymbolReport,
};
use crate::status::{StatusReport, StatusSource};
use crate::trainer::{PredictionBoard, TrainerStatus};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

// The typed feed state lives with the status API, which defines what it shows.
pub use crate::status::feed::FeedState;

/// Everything the status report is built from.
pub struct EngineStatus {
    /// When the daemon started.
    pub started: Instant,
    /// Wall-clock start time (ms), so clients tell a restart apart.
    pub started_ms: i64,
    /// Live, demo or backtest.
    pub mode: RunMode,
    /// Feed counters.
    pub feed_stats: Arc<FeedStats>,
    /// Feed connection state.
    pub feed_state: Arc<Mutex<FeedState>>,
    /// Pipeline counters.
    pub pipeline: Arc<PipelineStats>,
    /// What the engine last published (last trades, bars).
    pub snapshot: SnapshotReader,
    /// The broker's figures, as the engine last published them.
    pub broker: BrokerBoard,
    /// The plugins.
    pub plugins: Arc<PluginHost>,
    /// Latest predictions.
    pub board: PredictionBoard,
    /// The trainer's status, when training runs.
    pub trainer: Option<Box<dyn Fn() -> TrainerStatus + Send + Sync>>,
    /// The deployment's hosts, as last read from the bus (strategy hosts).
    pub deployment: Option<super::deployment::Deployment>,
}

impl EngineStatus {
    /// Every symbol the engine has seen a trade or a bar of, in name order.
    fn market_report(&self) -> Vec<SymbolReport> {
        let snapshot = self.snapshot.load();
        let mut symbols: Vec<&crate::types::Symbol> = snapshot
            .last_prices
            .keys()
            .chain(snapshot.bars.keys())
            .collect();
        symbols.sort();
        symbols.dedup();
        symbols
            .into_iter()
            .map(|s| {
                let prediction = self.board.latest(s);
                SymbolReport {
                    symbol: s.to_string(),
                    last_price: snapshot.last_prices.get(s).copied(),
                    last_trade_ms: snapshot.last_trade_ms.get(s).copied(),
                    bars: snapshot.bar_count(s),
                    prediction: prediction.as_ref().map(|p| p.expected_return),
                    prediction_model: prediction.as_ref().map(|p| p.model_version),
                    prediction_horizon_bars: prediction.as_ref().map(|p| p.horizon_bars),
                    prediction_bar_secs: prediction.as_ref().map(|p| p.bar_secs),
                    prediction_time_ms: prediction.as_ref().map(|p| p.time_ms),
                }
            })
            .collect()
    }
}

impl StatusSource for EngineStatus {
    fn report(&self) -> StatusReport {
        let feed = self.feed_stats.snapshot();
        let now_ms = crate::plugins::view::wall_clock_ms();
        let (state, trades_per_sec) = self
            .feed_state
            .lock()
            .map(|mut s| {
                let rate = s.sample_trades(feed.trades, now_ms);
                (s.clone(), rate)
            })
            .unwrap_or_default();
        let market = self.market_report();
        let broker = self.broker.figures().report.clone();
        let models = self
            .trainer
            .as_ref()
            .map(|status| model_reports(&status()))
            .unwrap_or_default();
        StatusReport {
            started_ms: self.started_ms,
            uptime_secs: self.started.elapsed().as_secs_f64(),
            mode: self.mode,
            // Judged by the status API, which knows the policy.
            health: Default::default(),
            feed: feed_report(state, feed, trades_per_sec),
            market,
            plugins: self.plugins.statuses(),
            engine: EngineReport {
                trades: self.pipeline.trades.load(Ordering::Relaxed),
                bars: self.pipeline.bars.load(Ordering::Relaxed),
                predictions: self.pipeline.predictions.load(Ordering::Relaxed),
                batches: self.pipeline.batches.load(Ordering::Relaxed),
                tick_to_order: self.pipeline.tick_to_order.report(),
                tick_to_journaled: self.pipeline.tick_to_journaled.report(),
                feed_to_engine: self.pipeline.feed_to_engine.report(),
            },
            broker,
            models,
            deployment: self
                .deployment
                .as_ref()
                .map(|d| d.hosts())
                .unwrap_or_default(),
        }
    }
}

/// The feed section of a status report: the link's state, the connection's counters and
/// the trade rate.
pub(super) fn feed_report(
    state: FeedState,
    feed: crate::feed::FeedStatsSnapshot,
    trades_per_sec: f64,
) -> FeedReport {
    FeedReport {
        link: state.link,
        since_ms: state.since_ms,
        down_since_ms: state.down_since_ms,
        reconnects: state.reconnects,
        gaps: state.gaps,
        trades_in: feed.trades,
        trades_per_sec,
        malformed_frames: feed.malformed_frames,
        dropped_events: feed.dropped_trades,
        subscriptions: state.subscriptions,
        rejected: state.rejected,
        server_error: state.server_error,
    }
}

/// What the status API shows of a broker.
pub fn broker_report(b: &PaperBroker) -> BrokerReport {
    let t = b.totals();
    BrokerReport {
        orders: t.orders,
        fills: t.fills,
        refusals: t.refusals,
        malformed: t.malformed,
        unjournaled_refusals: t.unjournaled_refusals,
        cancels: t.cancels,
        resting_orders: t.resting_orders,
        realised_pnl: t.realised_pnl,
        unrealised_pnl: t.unrealised_pnl,
        kill_switch: b.kill_switch_state().into(),
        positions: b
            .positions()
            .into_iter()
            .map(|p| PositionReport {
                plugin: p.plugin.to_string(),
                symbol: p.symbol.to_string(),
                quantity: p.position.quantity,
                average_price: p.position.average_price,
                realised_pnl: p.position.realised_pnl,
                unrealised_pnl: p.position.unrealised_pnl,
            })
            .collect(),
        journal: JournalReport {
            path: b.config().journal_path.display().to_string(),
            bytes: t.journal_bytes,
            write_errors: t.journal_errors,
            failure: b.journal_failure().map(str::to_string),
        },
    }
}

pub(super) fn model_reports(status: &TrainerStatus) -> Vec<ModelReport> {
    status
        .symbols
        .iter()
        .map(|(symbol, s)| ModelReport {
            symbol: symbol.clone(),
            version: s.deployed_version,
            mse: s.deployed_metrics.as_ref().map(|m| m.mse),
            directional_accuracy: s.deployed_metrics.as_ref().map(|m| m.directional_accuracy),
            scored_rows: s.deployed_metrics.as_ref().map(|m| m.samples),
            bars: s.bars,
            predictions: s.predictions,
            last_cycle: s.last_cycle.as_ref().map(|(ended_ms, outcome)| ModelCycle {
                ended_ms: *ended_ms,
                outcome: outcome.clone(),
            }),
        })
        .collect()
}
