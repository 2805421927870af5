//! Plain values that cross between subsystems: trades, bars, predictions, orders, fills.
//!
//! Subsystems do not know each other; they exchange these types through channels owned by
//! the engine. Symbols are the user's notation (`AAPL`, `FOREX:EUR/USD`) as shared strings.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A symbol in the user's notation, cheap to clone.
pub type Symbol = Arc<str>;

/// A map keyed by symbol, for per-tick lookups: hashbrown with foldhash, seeded per process
/// like std's SipHash but several times cheaper on short keys (SipHash of a symbol measured
/// ≈180 instructions, and a tick made four such lookups), and `entry_ref`, which clones the
/// key only when it inserts.
pub type SymbolMap<V> = hashbrown::HashMap<Symbol, V>;

/// A symbol to look up in a [`SymbolMap`]: equal keys are found by pointer first (the
/// readers and the feed share one `Arc` per symbol, so the text is rarely compared), and a
/// key inserted through `entry_ref` is a clone of the `Arc`.
#[derive(Debug, Clone, Copy)]
pub struct SymbolKey<'a>(pub &'a Symbol);

impl std::hash::Hash for SymbolKey<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `Arc<str>` hashes: like its text.
        self.0.hash(state)
    }
}

impl hashbrown::Equivalent<Symbol> for SymbolKey<'_> {
    fn equivalent(&self, key: &Symbol) -> bool {
        Arc::ptr_eq(self.0, key) || **self.0 == **key
    }
}

impl From<&SymbolKey<'_>> for Symbol {
    fn from(key: &SymbolKey<'_>) -> Symbol {
        key.0.clone()
    }
}

/// Milliseconds since the Unix epoch, UTC.
pub type TimestampMs = i64;

/// `ms` as ISO 8601 UTC with milliseconds (`2013-10-07T13:30:00.007Z`), or the number itself
/// when it is out of chrono's range.
pub fn format_time_ms(ms: TimestampMs) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// One trade print from any source (live feed, demo, replay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// The instrument, in the user's notation.
    pub symbol: Symbol,
    /// Price per unit.
    pub price: f64,
    /// Quantity traded.
    pub size: f64,
    /// Exchange time of the trade.
    pub time_ms: TimestampMs,
}

/// An OHLCV bar; `start_ms` is the start of its period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// The instrument, in the user's notation.
    pub symbol: Symbol,
    /// Start of the bar's period.
    pub start_ms: TimestampMs,
    /// Length of the period in seconds.
    pub period_secs: u32,
    /// First price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price.
    pub close: f64,
    /// Traded quantity.
    pub volume: f64,
    /// Filled in for a period without data (never a training target).
    pub imputed: bool,
}

/// A model forecast for one symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The instrument.
    pub symbol: Symbol,
    /// Expected log return over `horizon_bars` bars.
    pub expected_return: f64,
    /// Bars ahead.
    pub horizon_bars: u32,
    /// Deployed model version that made it.
    pub model_version: u32,
    /// When it was made.
    pub time_ms: TimestampMs,
    /// Length of one bar in seconds, so consumers can tell when the forecast is stale.
    pub bar_secs: u32,
}

impl Prediction {
    /// True when the forecast is older than its horizon plus one bar at `now_ms`.
    ///
    /// The bar after the horizon is grace: when a bar closes, the forecast made at it is
    /// still being computed, and without the grace every forecast would turn stale at each
    /// bar close and fresh a moment later (strategies flapping between "stale" and "trading").
    pub fn is_stale(&self, now_ms: TimestampMs) -> bool {
        let bar_ms = i64::from(self.bar_secs) * 1000;
        let horizon_ms = i64::from(self.horizon_bars) * bar_ms;
        now_ms - self.time_ms > horizon_ms + bar_ms
    }
}

/// Direction of an order or fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl Side {
    /// +1 for buys, -1 for sells.
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }
}

/// How an order is priced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum OrderKind {
    /// At the next trade.
    Market,
    /// At this price or better.
    Limit(f64),
}

/// An order as a strategy asked for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// The instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Positive quantity.
    pub quantity: f64,
    /// Market or limit.
    pub kind: OrderKind,
    /// The strategy's reference, echoed back.
    pub tag: u32,
}

/// What a strategy asked for in one call: a new order or a cancellation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PluginAction {
    /// Place an order.
    Place(OrderRequest),
    /// Cancel resting orders with this tag.
    Cancel(u32),
}

/// A paper fill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    /// The plugin whose order filled.
    pub plugin: Arc<str>,
    /// Broker-assigned order id.
    pub order_id: u64,
    /// The strategy's tag.
    pub tag: u32,
    /// The instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Filled quantity.
    pub quantity: f64,
    /// Price including slippage.
    pub price: f64,
    /// Fee charged.
    pub fee: f64,
    /// When it filled (market time).
    pub time_ms: TimestampMs,
}

/// An order the broker refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// The plugin whose order was refused.
    pub plugin: Arc<str>,
    /// The strategy's tag.
    pub tag: u32,
    /// The instrument.
    pub symbol: Symbol,
    /// Why, in words.
    pub reason: String,
    /// When (market time).
    pub time_ms: TimestampMs,
}

/// What a strategy hears of besides trades, in the order it happened: the engine places these
/// among the trades of a batch, and the plugin layer turns them into WIT events.
#[derive(Debug, Clone, PartialEq)]
pub enum StrategyEvent {
    /// A completed bar.
    Bar(Bar),
    /// A forecast, with whether it is already stale where it is delivered.
    Prediction {
        /// The forecast.
        prediction: Prediction,
        /// True when it is older than its horizon at delivery.
        stale: bool,
    },
    /// A fill of one of the strategy's orders.
    Fill(Fill),
    /// A refusal of one of the strategy's orders (or a cancellation by the host).
    Rejection(Rejection),
}

impl StrategyEvent {
    /// The symbol the event is about.
    pub fn symbol(&self) -> &Symbol {
        match self {
            StrategyEvent::Bar(b) => &b.symbol,
            StrategyEvent::Prediction { prediction, .. } => &prediction.symbol,
            StrategyEvent::Fill(f) => &f.symbol,
            StrategyEvent::Rejection(r) => &r.symbol,
        }
    }

    /// True for events every strategy of the symbol receives (bars, forecasts); false for
    /// a strategy's own (fills, refusals).
    pub fn is_market(&self) -> bool {
        matches!(
            self,
            StrategyEvent::Bar(_) | StrategyEvent::Prediction { .. }
        )
    }
}

/// A position of one plugin in one symbol.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Signed quantity: positive long, negative short.
    pub quantity: f64,
    /// Average entry price of the open quantity.
    pub average_price: f64,
    /// Realised PnL, fees included.
    pub realised_pnl: f64,
    /// Unrealised PnL at the last price.
    pub unrealised_pnl: f64,
}

impl Position {
    /// Unrealised PnL at `price` (zero while no price is known, or when flat).
    pub fn unrealised_at(&self, price: Option<f64>) -> f64 {
        match price {
            Some(p) if self.quantity != 0.0 => self.quantity * (p - self.average_price),
            _ => 0.0,
        }
    }
}
