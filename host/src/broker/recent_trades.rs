//! The trades the broker processed last, so that an order which reaches it late still fills
//! as of the trade that caused it.
//!
//! An order caused at point *c* may reach the broker after it has processed later trades: the
//! plugin ran on its own thread, or on another host, while the broker went on. Filling it at
//! the next trade instead would make the result depend on how fast the plugin's thread or
//! the bus was; so the broker walks the trades after *c* it kept here, and fills the order at
//! the first that fills it, as if it had been there in time. The model of delay is the
//! broker's latency setting, in market time, not the machine's speed. Only the last
//! [`KEPT_TRADES`] trades are kept: an order later than that fills from the oldest kept
//! trade on, and the broker says so.

use super::trade_point::TradePoint;
use crate::types::{Symbol, TimestampMs};
use std::collections::VecDeque;

/// How many trades are kept (about 3 MiB): at 20,000 trades a second, the last three seconds.
pub const KEPT_TRADES: usize = 65_536;

/// A processed trade, as the fill rule needs it.
#[derive(Debug, Clone)]
pub struct PastTrade {
    /// Its place in the stream.
    pub point: TradePoint,
    /// The instrument.
    pub symbol: Symbol,
    /// Its price.
    pub price: f64,
    /// Its market time.
    pub time_ms: TimestampMs,
}

/// The last trades processed, oldest first, points increasing. Off (keeping nothing) by
/// default: a backtest's orders are never late.
#[derive(Debug, Default)]
pub struct RecentTrades {
    trades: VecDeque<PastTrade>,
    capacity: usize,
    /// The point of the newest trade dropped for room, if any.
    dropped_upto: Option<TradePoint>,
}

impl RecentTrades {
    /// Keeps at most `capacity` trades (none: off).
    pub fn with_capacity(capacity: usize) -> Self {
        RecentTrades {
            trades: VecDeque::new(),
            capacity,
            dropped_upto: None,
        }
    }

    /// A trade was processed. A point not after the newest kept one means the stream is read
    /// again (a restarted broker host) or was recreated: what was kept is forgotten.
    pub fn push(&mut self, trade: PastTrade) {
        if self.capacity == 0 {
            return;
        }
        if self.trades.back().is_some_and(|t| t.point >= trade.point) {
            self.trades.clear();
            self.dropped_upto = None;
        }
        if self.trades.len() == self.capacity
            && let Some(old) = self.trades.pop_front()
        {
            self.dropped_upto = Some(old.point);
        }
        self.trades.push_back(trade);
    }

    /// The kept trades after `cause`, oldest first, and whether none after it was dropped.
    pub fn after(&self, cause: TradePoint) -> (impl Iterator<Item = &PastTrade>, bool) {
        let from = self.trades.partition_point(|t| t.point <= cause);
        let complete = self.capacity > 0 && self.dropped_upto.is_none_or(|d| d <= cause);
        (self.trades.range(from..), complete)
    }

    /// The market time of the trade at `point`, if it is kept.
    pub fn time_of(&self, point: TradePoint) -> Option<TimestampMs> {
        let at = self.trades.partition_point(|t| t.point < point);
        self.trades
            .get(at)
            .filter(|t| t.point == point)
            .map(|t| t.time_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(position: u64, index: u64, symbol: &str, price: f64) -> PastTrade {
        PastTrade {
            point: TradePoint::new(position, index),
            symbol: symbol.into(),
            price,
            time_ms: (position * 100 + index) as i64,
        }
    }

    fn prices(recent: &RecentTrades, cause: TradePoint) -> (Vec<f64>, bool) {
        let (trades, complete) = recent.after(cause);
        (trades.map(|t| t.price).collect(), complete)
    }

    #[test]
    fn the_trades_after_a_cause_come_in_order_with_their_times() {
        let mut recent = RecentTrades::with_capacity(8);
        for (i, p) in [1.0, 2.0, 3.0].into_iter().enumerate() {
            recent.push(trade(5, i as u64, "A", p));
        }
        recent.push(trade(6, 0, "B", 4.0));
        assert_eq!(
            prices(&recent, TradePoint::new(5, 0)),
            (vec![2.0, 3.0, 4.0], true)
        );
        assert_eq!(prices(&recent, TradePoint::new(5, 2)), (vec![4.0], true));
        assert_eq!(prices(&recent, TradePoint::new(6, 0)), (vec![], true));
        assert_eq!(recent.time_of(TradePoint::new(5, 1)), Some(501));
        assert_eq!(recent.time_of(TradePoint::new(5, 7)), None);
    }

    #[test]
    fn a_cause_older_than_what_is_kept_is_said_to_be_incomplete() {
        let mut recent = RecentTrades::with_capacity(2);
        for i in 1..=4 {
            recent.push(trade(0, i, "A", i as f64));
        }
        assert_eq!(
            prices(&recent, TradePoint::new(0, 1)),
            (vec![3.0, 4.0], false)
        );
        assert_eq!(
            prices(&recent, TradePoint::new(0, 2)),
            (vec![3.0, 4.0], true)
        );
    }

    #[test]
    fn off_it_keeps_nothing_and_says_so() {
        let mut recent = RecentTrades::default();
        recent.push(trade(0, 1, "A", 1.0));
        assert_eq!(prices(&recent, TradePoint::START), (vec![], false));
    }

    #[test]
    fn reading_the_stream_again_forgets_what_was_kept() {
        let mut recent = RecentTrades::with_capacity(4);
        recent.push(trade(9, 0, "A", 1.0));
        recent.push(trade(9, 1, "A", 2.0));
        recent.push(trade(8, 0, "A", 3.0));
        assert_eq!(prices(&recent, TradePoint::START), (vec![3.0], true));
    }
}
