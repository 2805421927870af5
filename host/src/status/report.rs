//! The daemon's status as one serialisable report: what `/api/status` returns and what
//! `/metrics` renders.

use crate::plugins::PluginStatus;
use serde::Serialize;

/// Everything the status API shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusReport {
    /// Seconds since the daemon started.
    pub uptime_secs: f64,
    /// `live`, `demo` or `backtest`.
    pub mode: String,
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
}

/// The feed's connection and counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedReport {
    /// `connected`, `disconnected`, `reconnecting`, `stopped`.
    pub state: String,
    /// Last status message (reason of a disconnect, for instance).
    pub detail: String,
    /// Reconnections since start.
    pub reconnects: u64,
    /// Trades received.
    pub trades_in: u64,
    /// Frames that could not be parsed.
    pub malformed_frames: u64,
    /// Events dropped because a consumer was too slow.
    pub dropped_events: u64,
    /// Symbols subscribed.
    pub subscriptions: Vec<String>,
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
    /// Realised PnL over all plugins.
    pub realised_pnl: f64,
    /// Unrealised PnL over all plugins.
    pub unrealised_pnl: f64,
    /// Whether trading is halted, since when and why.
    pub kill_switch: super::KillSwitchView,
    /// Positions per plugin and symbol.
    pub positions: Vec<PositionReport>,
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
    /// Outcome of the last training cycle, in words.
    pub last_cycle: String,
}
