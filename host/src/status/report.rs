//! The daemon's status as one serialisable report: what `/api/status` returns, what
//! `/metrics` renders and what the dashboard shows. Plain typed JSON; its schema is written
//! down in `docs/api.md`.

use super::feed::{FeedLink, RejectedSymbol};
use super::health::HealthReport;
use crate::plugins::PluginStatus;
use crate::trainer::CycleOutcome;
use serde::Serialize;

/// Where the daemon's market data comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Finnhub's live feed.
    #[default]
    Live,
    /// The bundled real trades through the local demo server.
    Demo,
    /// A backtest on market time.
    Backtest,
}

/// Everything the status API shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusReport {
    /// When the daemon started (wall clock, ms): a new value means it restarted.
    pub started_ms: i64,
    /// Seconds since the daemon started.
    pub uptime_secs: f64,
    /// Live, demo or backtest.
    pub mode: RunMode,
    /// Whether the daemon can do its job, and if not why (the `/health` verdict).
    pub health: HealthReport,
    /// The market-data feed.
    pub feed: FeedReport,
    /// Per-symbol market state.
    pub market: Vec<SymbolReport>,
    /// Loaded plugins with their counters.
    pub plugins: Vec<PluginStatus>,
    /// The engine's counters and tick-to-order latency.
    pub engine: EngineReport,
    /// The paper broker.
    pub broker: BrokerReport,
    /// Deployed models and their last cycle.
    pub models: Vec<ModelReport>,
    /// Every host of a scale-out deployment, from the bus's health board (empty for a
    /// single process).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deployment: Vec<crate::bus::HostView>,
}

/// The feed's connection and counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedReport {
    /// The link now, with its details (`state`: off, connecting, connected, disconnected,
    /// reconnecting, stopped).
    pub link: FeedLink,
    /// When the link last changed (wall clock, ms).
    pub since_ms: i64,
    /// Since when the feed has been down (none while connected, or without a feed).
    pub down_since_ms: Option<i64>,
    /// Reconnection attempts since start.
    pub reconnects: u64,
    /// Connections lost since start: each is a gap in the trades.
    pub gaps: u64,
    /// Trades received.
    pub trades_in: u64,
    /// Trades received per second, over the last few seconds.
    pub trades_per_sec: f64,
    /// Frames that could not be parsed.
    pub malformed_frames: u64,
    /// Events dropped because a consumer was too slow.
    pub dropped_events: u64,
    /// Symbols subscribed.
    pub subscriptions: Vec<String>,
    /// Symbols the client or the server refused, with why.
    pub rejected: Vec<RejectedSymbol>,
    /// The last server error that named no symbol.
    pub server_error: Option<String>,
}

/// Market state of one symbol.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SymbolReport {
    /// The symbol.
    pub symbol: String,
    /// Last trade price.
    pub last_price: Option<f64>,
    /// Time of the last trade (ms since epoch).
    pub last_trade_ms: Option<i64>,
    /// Completed bars held.
    pub bars: usize,
    /// Latest prediction: expected log return.
    pub prediction: Option<f64>,
    /// Model version of that prediction.
    pub prediction_model: Option<u32>,
    /// Bars ahead that prediction looks.
    pub prediction_horizon_bars: Option<u32>,
    /// Length of those bars in seconds.
    pub prediction_bar_secs: Option<u32>,
    /// When it was made (ms since epoch).
    pub prediction_time_ms: Option<i64>,
}

/// What went through the engine.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EngineReport {
    /// Trades processed.
    pub trades: u64,
    /// Bars completed.
    pub bars: u64,
    /// Predictions forwarded to plugins.
    pub predictions: u64,
    /// Batches dispatched to plugins.
    pub batches: u64,
    /// From a feed frame read off the socket to an order it caused reaching the broker.
    pub tick_to_order: LatencyReport,
    /// From a feed frame read off the socket to an order it caused being journaled (written,
    /// and synced as `JOURNAL_FSYNC` says), before anyone hears of it (none on a strategy
    /// host: its broker host journals).
    pub tick_to_journaled: LatencyReport,
    /// From a feed frame read off the socket to the engine thread taking it up.
    pub feed_to_engine: LatencyReport,
}

/// Percentiles of the latency, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencyReport {
    /// Samples: answers with orders, matched to the frame that caused them.
    pub samples: u64,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Slowest.
    pub max_us: f64,
}

/// Broker totals and positions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BrokerReport {
    /// Orders accepted.
    pub orders: u64,
    /// Fills.
    pub fills: u64,
    /// Orders refused by risk checks.
    pub refusals: u64,
    /// Of those, malformed orders (non-finite, dust, absurd), never journaled (since start).
    pub malformed: u64,
    /// Of those, refusals past a plugin's per-minute journal budget (since start).
    pub unjournaled_refusals: u64,
    /// Resting orders cancelled.
    pub cancels: u64,
    /// Orders resting now.
    pub resting_orders: usize,
    /// Realised PnL over all plugins.
    pub realised_pnl: f64,
    /// Unrealised PnL over all plugins.
    pub unrealised_pnl: f64,
    /// Whether trading is halted, since when and why.
    pub kill_switch: super::KillSwitchView,
    /// Positions per plugin and symbol.
    pub positions: Vec<PositionReport>,
    /// The journal every order and fill is written to first.
    pub journal: JournalReport,
}

/// The broker's journal.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JournalReport {
    /// The file.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Writes that failed since start.
    pub write_errors: u64,
    /// Why it stopped accepting records, if it did (then nothing is placed or filled).
    pub failure: Option<String>,
}

/// One plugin's position in one symbol.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PositionReport {
    /// The plugin.
    pub plugin: String,
    /// The symbol.
    pub symbol: String,
    /// Signed quantity.
    pub quantity: f64,
    /// Average entry price.
    pub average_price: f64,
    /// Realised PnL.
    pub realised_pnl: f64,
    /// Unrealised PnL.
    pub unrealised_pnl: f64,
}

/// The deployed model of one symbol.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelReport {
    /// The symbol.
    pub symbol: String,
    /// Deployed version (None when no model is deployed yet).
    pub version: Option<u32>,
    /// Held-out mean squared error of the deployed model.
    pub mse: Option<f64>,
    /// Held-out directional accuracy of the deployed model.
    pub directional_accuracy: Option<f64>,
    /// Held-out rows the deployed model was scored on.
    pub scored_rows: Option<usize>,
    /// Bars the trainer holds for this symbol.
    pub bars: usize,
    /// Forecasts published.
    pub predictions: u64,
    /// How the last training cycle ended (none before the first).
    pub last_cycle: Option<ModelCycle>,
}

/// The end of one training cycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCycle {
    /// When it ended (wall clock, ms).
    pub ended_ms: i64,
    /// The decision, with its numbers (`outcome`: deployed, refused, not_enough_data, failed).
    #[serde(flatten)]
    pub outcome: CycleOutcome,
}
