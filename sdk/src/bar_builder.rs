//! [`BarBuilder`]: turns a symbol's trades into fixed-interval OHLCV bars inside the strategy.
//!
//! Useful when a strategy wants bars of its own period, independent of the bars the host
//! sends. A bar is complete when the first trade of a later interval arrives; intervals without
//! trades produce no bar.

use crate::types::{Bar, TimestampMs, Trade};
use serde::{Deserialize, Serialize};

/// Aggregates one symbol's trades into bars of `period_secs` seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarBuilder {
    period_ms: i64,
    current: Option<Bar>,
}

impl Default for BarBuilder {
    /// One-minute bars.
    fn default() -> Self {
        BarBuilder::new(60)
    }
}

impl BarBuilder {
    /// A builder of bars `period_secs` long (at least 1 s), aligned to multiples of the period.
    pub fn new(period_secs: u32) -> BarBuilder {
        BarBuilder {
            period_ms: i64::from(period_secs.max(1)) * 1000,
            current: None,
        }
    }

    /// Adds a trade; returns the previous bar when this trade starts a new interval.
    /// Trades older than the current bar are ignored.
    pub fn push(&mut self, trade: &Trade) -> Option<Bar> {
        let start = self.interval_start(trade.time);
        match &mut self.current {
            Some(bar) if start == bar.start => {
                bar.high = bar.high.max(trade.price);
                bar.low = bar.low.min(trade.price);
                bar.close = trade.price;
                bar.volume += trade.size;
                None
            }
            Some(bar) if start < bar.start => None,
            _ => self.current.replace(self.open(trade, start)),
        }
    }

    /// The bar being built, not yet complete.
    pub fn current(&self) -> Option<&Bar> {
        self.current.as_ref()
    }

    fn interval_start(&self, time: TimestampMs) -> TimestampMs {
        time.div_euclid(self.period_ms) * self.period_ms
    }

    fn open(&self, trade: &Trade, start: TimestampMs) -> Bar {
        Bar {
            symbol: trade.symbol,
            start,
            period_secs: (self.period_ms / 1000) as u32,
            open: trade.price,
            high: trade.price,
            low: trade.price,
            close: trade.price,
            volume: trade.size,
            imputed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(time: i64, price: f64) -> Trade {
        Trade {
            symbol: 7,
            price,
            size: 10.0,
            time,
        }
    }

    #[test]
    fn completes_a_bar_when_the_next_interval_starts() {
        let mut b = BarBuilder::new(10);
        assert_eq!(b.push(&trade(1_000, 5.0)), None);
        assert_eq!(b.push(&trade(4_000, 7.0)), None);
        assert_eq!(b.push(&trade(9_999, 4.0)), None);
        assert_eq!(
            b.push(&trade(2_000, 100.0)),
            None,
            "late trades in the same bar still count"
        );
        let bar = b.push(&trade(25_000, 6.0)).expect("first bar complete");
        assert_eq!((bar.start, bar.period_secs), (0, 10));
        assert_eq!(
            (bar.open, bar.high, bar.low, bar.close, bar.volume),
            (5.0, 100.0, 4.0, 100.0, 40.0)
        );
        assert_eq!(b.current().map(|c| c.start), Some(20_000));
        assert_eq!(
            b.push(&trade(15_000, 1.0)),
            None,
            "a trade older than the current bar is ignored"
        );
        assert_eq!(b.current().map(|c| c.low), Some(6.0));
    }
}
