//! What a strategy may read of the world through host imports.
//!
//! Plugins never see the feed, the trainer or the broker directly. The engine implements
//! [`MarketView`] over its market state, prediction board and positions, and the host
//! functions (`prediction`, `position`, `recent-bars`, `now`) read from it. Every method
//! must return promptly: host code cannot be interrupted by epoch deadlines.

use crate::types::{Bar, Position, Prediction, TimestampMs};

/// Read access to market state for plugin host functions. Must never block for long.
pub trait MarketView: Send + Sync + 'static {
    /// The current time: wall clock live, market time in replay and backtest.
    fn now_ms(&self) -> TimestampMs;
    /// The latest prediction for a symbol.
    fn prediction(&self, symbol: &str) -> Option<Prediction>;
    /// A plugin's position in a symbol.
    fn position(&self, plugin: &str, symbol: &str) -> Position;
    /// Up to `count` most recent completed bars of `period_secs` (0: the host's own period),
    /// oldest first.
    fn recent_bars(&self, symbol: &str, period_secs: u32, count: usize) -> Vec<Bar>;
    /// The last trade price of a symbol the host has seen.
    fn last_price(&self, symbol: &str) -> Option<f64>;
    /// True when `now_ms` is market time (replay, backtest): the guests' WASI clocks then
    /// read it too, so a run does not depend on when it ran.
    fn market_time(&self) -> bool {
        false
    }
}

/// A view with no market data and the wall clock: for `tradehost check` and tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmptyView;

impl MarketView for EmptyView {
    fn now_ms(&self) -> TimestampMs {
        wall_clock_ms()
    }
    fn prediction(&self, _symbol: &str) -> Option<Prediction> {
        None
    }
    fn position(&self, _plugin: &str, _symbol: &str) -> Position {
        Position::default()
    }
    fn recent_bars(&self, _symbol: &str, _period_secs: u32, _count: usize) -> Vec<Bar> {
        Vec::new()
    }
    fn last_price(&self, _symbol: &str) -> Option<f64> {
        None
    }
}

/// Milliseconds since the Unix epoch by the system clock.
pub fn wall_clock_ms() -> TimestampMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
