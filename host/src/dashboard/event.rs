//! What the dashboard's event stream carries: small typed views of bars, fills, orders,
//! refusals, forecasts and notices, and the [`Snapshot`] a (re)connecting browser starts from.
//!
//! Each event is one Server-Sent Event whose name is [`LiveEvent::name`] and whose data is
//! the JSON of the view; `docs/api.md` lists them.

use crate::broker::CancelReason;
use crate::status::StatusReport;
use crate::types::{Fill, OrderKind, Prediction, Rejection, Side, TimestampMs};
use serde::Serialize;
use std::collections::BTreeMap;

/// One bar of trades, possibly still forming.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BarView {
    /// The symbol.
    pub symbol: String,
    /// Start of its period (market time, ms).
    pub start_ms: TimestampMs,
    /// First price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price.
    pub close: f64,
    /// Quantity traded.
    pub volume: f64,
    /// Trades in it.
    pub trades: u64,
}

/// A paper fill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillView {
    /// The strategy (plugin) whose order filled.
    pub plugin: String,
    /// Broker order id.
    pub order_id: u64,
    /// The strategy's tag.
    pub tag: u32,
    /// The symbol.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: SideView,
    /// Quantity.
    pub quantity: f64,
    /// Price, slippage included.
    pub price: f64,
    /// Fee paid.
    pub fee: f64,
    /// Market time of the trade that filled it.
    pub time_ms: TimestampMs,
}

/// Buy or sell, in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SideView {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl From<Side> for SideView {
    fn from(s: Side) -> Self {
        match s {
            Side::Buy => SideView::Buy,
            Side::Sell => SideView::Sell,
        }
    }
}

impl From<&Fill> for FillView {
    fn from(f: &Fill) -> Self {
        FillView {
            plugin: f.plugin.to_string(),
            order_id: f.order_id,
            tag: f.tag,
            symbol: f.symbol.to_string(),
            side: f.side.into(),
            quantity: f.quantity,
            price: f.price,
            fee: f.fee,
            time_ms: f.time_ms,
        }
    }
}

/// An order the broker accepted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderView {
    /// The strategy.
    pub plugin: String,
    /// Broker order id.
    pub order_id: u64,
    /// The strategy's tag.
    pub tag: u32,
    /// The symbol.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: SideView,
    /// Quantity.
    pub quantity: f64,
    /// The limit price; none for a market order.
    pub limit: Option<f64>,
    /// When it was accepted (engine time, ms).
    pub time_ms: TimestampMs,
}

impl OrderView {
    /// The view of an accepted order.
    pub fn new(
        plugin: &str,
        order_id: u64,
        request: &crate::types::OrderRequest,
        time_ms: TimestampMs,
    ) -> Self {
        OrderView {
            plugin: plugin.to_string(),
            order_id,
            tag: request.tag,
            symbol: request.symbol.to_string(),
            side: request.side.into(),
            quantity: request.quantity,
            limit: match request.kind {
                OrderKind::Market => None,
                OrderKind::Limit(p) => Some(p),
            },
            time_ms,
        }
    }
}

/// An order the broker refused, or a resting order it cancelled on its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefusalView {
    /// The strategy.
    pub plugin: String,
    /// The strategy's tag.
    pub tag: u32,
    /// The symbol.
    pub symbol: String,
    /// Why, in words.
    pub reason: String,
    /// When (engine time, ms).
    pub time_ms: TimestampMs,
}

impl From<&Rejection> for RefusalView {
    fn from(r: &Rejection) -> Self {
        RefusalView {
            plugin: r.plugin.to_string(),
            tag: r.tag,
            symbol: r.symbol.to_string(),
            reason: r.reason.clone(),
            time_ms: r.time_ms,
        }
    }
}

/// Why the broker cancelled an order, in words.
pub fn cancel_reason(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::Requested => "cancelled at the strategy's request",
        CancelReason::KillSwitch => "cancelled: the kill switch was engaged",
        CancelReason::PluginRemoved => "cancelled: the strategy stopped running",
        CancelReason::Flattened => "cancelled: an operator flattened the strategy",
    }
}

/// A model's forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionView {
    /// The symbol.
    pub symbol: String,
    /// Expected log return over `horizon_bars` bars.
    pub expected_return: f64,
    /// Bars ahead.
    pub horizon_bars: u32,
    /// Length of a bar in seconds.
    pub bar_secs: u32,
    /// The model version that made it.
    pub model_version: u32,
    /// When it was made (ms).
    pub time_ms: TimestampMs,
}

impl From<&Prediction> for PredictionView {
    fn from(p: &Prediction) -> Self {
        PredictionView {
            symbol: p.symbol.to_string(),
            expected_return: p.expected_return,
            horizon_bars: p.horizon_bars,
            bar_secs: p.bar_secs,
            model_version: p.model_version,
            time_ms: p.time_ms,
        }
    }
}

/// Every strategy's equity (realised + unrealised PnL) at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EquityView {
    /// Wall-clock time of the sample (ms).
    pub time_ms: TimestampMs,
    /// PnL per strategy.
    pub equity: BTreeMap<String, f64>,
}

/// How much a notice matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Routine.
    Info,
    /// Needs a look.
    Warning,
    /// Something stopped working.
    Error,
}

/// Something that happened to the daemon: an operator action, a plugin or model change, the
/// feed's link, the kill switch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    /// Wall-clock time (ms).
    pub time_ms: TimestampMs,
    /// How much it matters.
    pub level: Level,
    /// What it is about: `plugin`, `model`, `feed`, `kill_switch`, `control`, `health`.
    pub subject: String,
    /// What happened, in words.
    pub text: String,
}

/// One event of the stream.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum LiveEvent {
    /// A bar changed or closed.
    Bar(BarView),
    /// A fill.
    Fill(FillView),
    /// An accepted order.
    Order(OrderView),
    /// A refused order or an order the broker cancelled on its own.
    Refusal(RefusalView),
    /// A forecast.
    Prediction(PredictionView),
    /// Strategies' equity.
    Equity(EquityView),
    /// A notice.
    Notice(Notice),
    /// The whole status document (every second).
    Status(Box<StatusReport>),
    /// Everything at once (first event, and after the client fell behind).
    Snapshot(Box<Snapshot>),
}

impl LiveEvent {
    /// The Server-Sent Event name.
    pub fn name(&self) -> &'static str {
        match self {
            LiveEvent::Bar(_) => "bar",
            LiveEvent::Fill(_) => "fill",
            LiveEvent::Order(_) => "order",
            LiveEvent::Refusal(_) => "refusal",
            LiveEvent::Prediction(_) => "prediction",
            LiveEvent::Equity(_) => "equity",
            LiveEvent::Notice(_) => "notice",
            LiveEvent::Status(_) => "status",
            LiveEvent::Snapshot(_) => "snapshot",
        }
    }
}

/// Everything a browser needs to draw the page from nothing.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// The status document.
    pub status: StatusReport,
    /// Bar length in seconds.
    pub bar_secs: u32,
    /// Recent bars per symbol, oldest first; the last may be forming.
    pub bars: BTreeMap<String, Vec<BarView>>,
    /// Recent fills, oldest first.
    pub fills: Vec<FillView>,
    /// Recent accepted orders, oldest first.
    pub orders: Vec<OrderView>,
    /// Recent refusals and broker cancellations, oldest first.
    pub refusals: Vec<RefusalView>,
    /// Recent forecasts per symbol, oldest first.
    pub predictions: BTreeMap<String, Vec<PredictionView>>,
    /// Equity samples, oldest first.
    pub equity: Vec<EquityView>,
    /// Recent notices, oldest first.
    pub notices: Vec<Notice>,
}
