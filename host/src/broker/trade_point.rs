//! Where a trade stands in the market stream: the point an order is caused at, and the
//! points of the trades that may fill it.
//!
//! The broker numbers every trade it is given. On a broker host a trade's point is its
//! message's stream position and its index in that message, the same numbers the strategy
//! host that caused an order saw; in one process the position is 0 and the index counts
//! trades from 1. An order caused at point *c* fills only at trades of later points,
//! however late it reaches the broker (see [`super::recent_trades`]).

/// A trade's place in the market stream, ordered by position, then index.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct TradePoint {
    /// The market stream position of the trade's message (0 off a stream).
    pub position: u64,
    /// The trade's index in that message (off a stream: the count of trades before it).
    pub index: u64,
}

impl TradePoint {
    /// Before every trade: an order placed after it fills at any trade.
    pub const START: TradePoint = TradePoint {
        position: 0,
        index: 0,
    };

    /// The point of trade `index` of the message at stream `position`.
    pub fn new(position: u64, index: u64) -> TradePoint {
        TradePoint { position, index }
    }

    /// After every trade of the message at `position` (an order recovered from the journal
    /// with only that position is placed after the whole message); [`START`](Self::START)
    /// for position 0.
    pub fn after_message(position: u64) -> TradePoint {
        match position {
            0 => TradePoint::START,
            p => TradePoint::new(p, u64::MAX),
        }
    }

    /// The trade `n` places further in the same message.
    pub fn plus(self, n: u64) -> TradePoint {
        TradePoint::new(self.position, self.index.saturating_add(n))
    }
}

impl std::fmt::Display for TradePoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.position, self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_order_by_position_then_index() {
        assert!(TradePoint::new(3, 9) < TradePoint::new(4, 0));
        assert!(TradePoint::new(4, 0) < TradePoint::new(4, 1));
        assert!(TradePoint::START < TradePoint::new(0, 1));
        assert!(TradePoint::after_message(4) < TradePoint::new(5, 0));
        assert!(TradePoint::after_message(4) > TradePoint::new(4, 1_000_000));
        assert_eq!(TradePoint::after_message(0), TradePoint::START);
        assert_eq!(TradePoint::new(2, 3).plus(4), TradePoint::new(2, 7));
    }
}
