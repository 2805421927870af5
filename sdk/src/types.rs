//! The plain data types of the WIT interface, re-exported under short names, with helpers.
//!
//! They are generated from `wit/strategy.wit` by `wit-bindgen`; the SDK only adds methods.
//! All of them derive `Clone`, `Debug`, `PartialEq` and serde's `Serialize`/`Deserialize`, so a
//! strategy can keep them in its state.

use crate::bindings::tradehost::strategy::types as wit;

pub use wit::{
    Action, Bar, BatchOutcome, Event, EventBatch, Fill, LogLevel, OrderKind, OrderRequest,
    Parameter as ParameterInfo, PlacedEvent, Position, Prediction, Rejection, Side, StrategyInfo,
    SymbolId, TimestampMs, Trade, TradeColumns,
};

impl Side {
    /// +1.0 for a buy, -1.0 for a sell: multiply a quantity by it to get a signed change.
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }

    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

impl Fill {
    /// The signed change of position this fill caused (positive for buys).
    pub fn signed_quantity(&self) -> f64 {
        self.side.sign() * self.quantity
    }
}

impl Position {
    /// A flat position in `symbol`, as the host reports when the strategy holds none.
    pub fn flat(symbol: SymbolId) -> Position {
        Position {
            symbol,
            quantity: 0.0,
            average_price: 0.0,
            realised_pnl: 0.0,
            unrealised_pnl: 0.0,
        }
    }

    /// True when the position is (numerically) zero.
    pub fn is_flat(&self) -> bool {
        self.quantity.abs() < crate::context::QUANTITY_EPSILON
    }
}

impl Bar {
    /// The bar's typical price, (high + low + close) / 3.
    pub fn typical_price(&self) -> f64 {
        (self.high + self.low + self.close) / 3.0
    }

    /// End of the bar's period (exclusive), in milliseconds since the epoch.
    pub fn end(&self) -> TimestampMs {
        self.start + i64::from(self.period_secs) * 1000
    }
}

impl Event {
    /// The symbol the event is about.
    pub fn symbol(&self) -> SymbolId {
        match self {
            Event::Trade(t) => t.symbol,
            Event::Bar(b) => b.symbol,
            Event::Prediction(p) => p.symbol,
            Event::Fill(f) => f.symbol,
            Event::Rejected(r) => r.symbol,
        }
    }
}

impl OrderRequest {
    /// The signed quantity this order asks for (positive for buys).
    pub fn signed_quantity(&self) -> f64 {
        self.side.sign() * self.quantity
    }
}
