//! The plugins' window on the market: [`MarketView`] over the engine's shared state.
//!
//! Host functions read through it while the engine thread writes; every access holds a
//! lock only for a copy, so a plugin call never waits long.

use crate::broker::PaperBroker;
use crate::market::MarketState;
use crate::plugins::MarketView;
use crate::trainer::PredictionBoard;
use crate::types::{Bar, Position, Prediction, TimestampMs};
use std::sync::{Arc, Mutex, RwLock};

pub use super::snapshot::Clock;

/// Shared engine state as seen by plugins.
pub struct EngineView {
    /// Bars and last trades.
    pub market: Arc<RwLock<MarketState>>,
    /// The paper broker (positions).
    pub broker: Arc<Mutex<PaperBroker>>,
    /// Latest predictions.
    pub board: PredictionBoard,
    /// The clock plugins see.
    pub clock: Clock,
}

impl MarketView for EngineView {
    fn now_ms(&self) -> TimestampMs {
        self.clock.now_ms()
    }

    fn market_time(&self) -> bool {
        matches!(self.clock, Clock::Market(_))
    }

    fn prediction(&self, symbol: &str) -> Option<Prediction> {
        self.board.latest(symbol)
    }

    fn position(&self, plugin: &str, symbol: &str) -> Position {
        self.broker
            .lock()
            .map(|b| b.position(plugin, symbol))
            .unwrap_or_default()
    }

    fn recent_bars(&self, symbol: &str, period_secs: u32, count: usize) -> Vec<Bar> {
        self.market
            .read()
            .map(|m| m.recent_bars_of(symbol, period_secs, count))
            .unwrap_or_default()
    }
    fn last_price(&self, symbol: &str) -> Option<f64> {
        self.market
            .read()
            .ok()
            .and_then(|m| m.last_trade(symbol).map(|t| t.price))
    }
}
