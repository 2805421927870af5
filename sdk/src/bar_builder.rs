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
    #[inline]
    pub fn push(&mut self, trade: &Trade) -> Option<Bar> {
        if let Some(bar) = &mut self.current
            && trade.time >= bar.start
            && (trade.time.wrapping_sub(bar.start) as u64) < self.period_ms as u64
        {
            // Most trades fall in the current bar: no division needed to tell, and this
            // part is small enough to inline into the strategy.
            extend(bar, trade);
            return None;
        }
        self.push_new_interval(trade)
    }

    /// The rest of `push`: a trade outside the current bar.
    #[inline(never)]
    fn push_new_interval(&mut self, trade: &Trade) -> Option<Bar> {
        let start = self.interval_start(trade.time);
        match &mut self.current {
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

/// Adds a trade of the bar's interval to it.
#[inline]
fn extend(bar: &mut Bar, trade: &Trade) {
    // `f64::max`/`min` become calls in WebAssembly (their NaN rule); these comparisons keep
    // that rule (a NaN never wins over a number) in two instructions.
    if trade.price > bar.high || bar.high.is_nan() {
        bar.high = trade.price;
    }
    if trade.price < bar.low || bar.low.is_nan() {
        bar.low = trade.price;
    }
    bar.close = trade.price;
    bar.volume += trade.size;
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

    /// The definition: bucket by `div_euclid`, extend with `f64::max`/`min`.
    fn reference_push(current: &mut Option<Bar>, period_ms: i64, t: &Trade) -> Option<Bar> {
        let start = t.time.div_euclid(period_ms) * period_ms;
        match current {
            Some(bar) if start == bar.start => {
                bar.high = bar.high.max(t.price);
                bar.low = bar.low.min(t.price);
                bar.close = t.price;
                bar.volume += t.size;
                None
            }
            Some(bar) if start < bar.start => None,
            _ => current.replace(Bar {
                symbol: t.symbol,
                start,
                period_secs: (period_ms / 1000) as u32,
                open: t.price,
                high: t.price,
                low: t.price,
                close: t.price,
                volume: t.size,
                imputed: false,
            }),
        }
    }

    #[test]
    fn agrees_with_the_definition_on_jumbled_trades_and_nans() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut fast, mut reference) = (BarBuilder::new(3), None);
        let mut time = -20_000i64;
        for _ in 0..20_000 {
            // Mostly forward, sometimes back, across zero; now and then a NaN price.
            time += (next() % 2_500) as i64 - 400;
            let price = if next() % 97 == 0 {
                f64::NAN
            } else {
                (next() % 1_000) as f64 / 10.0
            };
            let t = trade(time, price);
            let (a, b) = (fast.push(&t), reference_push(&mut reference, 3_000, &t));
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "at {time}");
            assert_eq!(
                format!("{:?}", fast.current()),
                format!("{:?}", reference.as_ref())
            );
        }
    }
}
