//! A broker host's broker on the market stream: orders fill only at trades after the stream
//! position they were placed at, and a broker reopened from its journal reads the stream
//! again from the journal's last position without filling anything twice or early.

use super::*;
use crate::broker::TradePoint;
use crate::broker::journal::Journal;
use crate::broker::record::JournalRecord;
use crate::types::{Fill, OrderKind, Side};
use std::sync::Arc;

/// A bus order's journal origin.
fn origin(n: u32) -> Arc<str> {
    format!("s1/p/0/p{n}").into()
}

/// Trades at stream positions `positions`, one each, at `price`.
fn trades_at(
    b: &mut PaperBroker,
    positions: std::ops::RangeInclusive<u64>,
    price: f64,
) -> Vec<Fill> {
    positions
        .flat_map(|p| {
            b.at_market_position(p);
            b.on_trade(&trade("SPY", price, T0 + p as i64))
        })
        .collect()
}

#[test]
fn an_order_fills_only_after_its_cause_and_the_brokers_position() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (mut b, _) = open(&cfg);
    assert!(trades_at(&mut b, 1..=5, 100.0).is_empty());
    // The strategy host had handled position 8; the broker is at 5.
    let buy = place(Side::Buy, "SPY", 1.0, OrderKind::Market, 1);
    b.submit_from(&origin(1), Some(TradePoint::new(8, 0)), "p", buy, T0);
    assert!(
        trades_at(&mut b, 6..=8, 100.0).is_empty(),
        "filled before its cause"
    );
    let fills = trades_at(&mut b, 9..=9, 101.0);
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].price, 101.0);
    // The broker ahead of the cause, without the trades since: it fills at the next trade.
    let sell = place(Side::Sell, "SPY", 1.0, OrderKind::Market, 2);
    b.submit_from(&origin(2), Some(TradePoint::new(3, 0)), "p", sell, T0);
    assert!(b.take_late_fills().is_empty());
    assert_eq!(b.orders_beyond_history(), 1);
    assert_eq!(trades_at(&mut b, 10..=10, 102.0).len(), 1);
    assert_eq!(b.journaled_market_position(), 10);
    let records = Journal::read_all(&cfg.journal_path).unwrap().records;
    let positions: Vec<(Option<u64>, Option<u64>)> = records
        .iter()
        .map(|r| match r {
            JournalRecord::Order {
                market_position,
                cause,
                ..
            } => (*market_position, *cause),
            JournalRecord::Fill {
                market_position, ..
            } => (*market_position, None),
            _ => (None, None),
        })
        .collect();
    // (the broker's read position, the cause when it was later)
    assert_eq!(
        positions,
        [
            (Some(5), Some(8)),
            (Some(9), None),
            (Some(9), None),
            (Some(10), None)
        ]
    );
}

#[test]
fn a_restart_reads_again_from_the_brokers_own_position_not_a_later_cause() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (mut b, _) = open(&cfg);
    assert!(trades_at(&mut b, 49..=50, 100.0).is_empty());
    let bid = place(Side::Buy, "SPY", 1.0, OrderKind::Limit(99.0), 1);
    b.submit_from(&origin(1), Some(TradePoint::new(50, 0)), "p", bid, T0);
    assert!(trades_at(&mut b, 51..=100, 100.0).is_empty());
    // A strategy host ahead of the broker: its order waits for position 121.
    let buy = place(Side::Buy, "SPY", 1.0, OrderKind::Market, 2);
    b.submit_from(&origin(2), Some(TradePoint::new(120, 0)), "p", buy, T0);
    drop(b);

    let (mut b, _) = open(&cfg);
    assert_eq!(b.journaled_market_position(), 100);
    // The bid meets the trades after 100 that the broker had not read.
    let bid_fill = trades_at(&mut b, 101..=101, 98.0);
    assert_eq!(bid_fill.iter().map(|f| f.tag).collect::<Vec<_>>(), [1]);
    assert!(trades_at(&mut b, 102..=120, 100.0).is_empty());
    assert_eq!(trades_at(&mut b, 121..=121, 100.0).len(), 1);
}

#[test]
fn a_reopened_broker_reads_the_stream_again_without_double_or_early_fills() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (mut b, _) = open(&cfg);
    assert!(trades_at(&mut b, 1..=4, 100.0).is_empty());
    // Two buy limits at 99, placed after positions 4 and 7.
    let limit = |tag| place(Side::Buy, "SPY", 1.0, OrderKind::Limit(99.0), tag);
    b.submit_from(&origin(1), Some(TradePoint::new(4, 0)), "p", limit(1), T0);
    assert!(trades_at(&mut b, 5..=6, 100.0).is_empty());
    let first = trades_at(&mut b, 7..=7, 98.0);
    assert_eq!(first.iter().map(|f| f.tag).collect::<Vec<_>>(), [1]);
    b.submit_from(&origin(2), Some(TradePoint::new(7, 0)), "p", limit(2), T0);
    // The broker then reads positions 8..=9 (no fill) and is killed.
    assert!(trades_at(&mut b, 8..=9, 100.0).is_empty());
    drop(b);

    let (mut b, _) = open(&cfg);
    assert_eq!(
        b.journaled_market_position(),
        7,
        "the order placed after 7 is the last"
    );
    // Read again from 7: the trade at 7 filled order 1 already and comes before order 2.
    assert!(trades_at(&mut b, 7..=7, 98.0).is_empty());
    assert!(trades_at(&mut b, 8..=9, 100.0).is_empty());
    // While it was down the price went through the limit at 10: order 2 fills there.
    let missed = trades_at(&mut b, 10..=10, 98.5);
    assert_eq!(missed.iter().map(|f| f.tag).collect::<Vec<_>>(), [2]);
    assert_eq!(missed[0].price, 98.5);
}

#[test]
fn an_operators_order_is_recovered_as_placed_after_the_positions_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (mut b, _) = open(&cfg);
    assert!(trades_at(&mut b, 1..=5, 100.0).is_empty());
    let buy = place(Side::Buy, "SPY", 1.0, OrderKind::Market, 1);
    b.submit_from(&origin(1), Some(TradePoint::new(5, 0)), "p", buy, T0);
    assert_eq!(trades_at(&mut b, 6..=6, 100.0).len(), 1);
    // A flatten on the broker host: no origin, journaled without a position.
    b.at_market_position(20);
    let close = place(Side::Sell, "SPY", 1.0, OrderKind::Market, u32::MAX);
    b.submit("p", vec![close], T0);
    drop(b);
    let (mut b, _) = open(&cfg);
    // Recovered as placed after position 6, the last journaled before it.
    assert!(trades_at(&mut b, 6..=6, 100.0).is_empty());
    assert_eq!(trades_at(&mut b, 7..=7, 100.0).len(), 1);
}

#[test]
fn forgetting_positions_lets_orders_fill_on_a_new_stream() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (mut b, _) = open(&cfg);
    assert!(trades_at(&mut b, 499..=500, 100.0).is_empty());
    let buy = place(Side::Buy, "SPY", 1.0, OrderKind::Market, 1);
    b.submit_from(&origin(1), Some(TradePoint::new(500, 0)), "p", buy, T0);
    // The stream is recreated: its positions start again from 1.
    b.forget_market_positions();
    assert_eq!(b.journaled_market_position(), 0);
    assert_eq!(trades_at(&mut b, 1..=1, 100.0).len(), 1);
    drop(b);
    // The journal's latest position is the new stream's, not the old stream's largest.
    let (b, _) = open(&cfg);
    assert_eq!(b.journaled_market_position(), 1);
}

#[test]
fn a_late_order_fills_as_of_its_cause_at_the_trades_the_broker_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (mut b, _) = open(&cfg);
    b.keep_recent_trades(16);
    // Positions 1..=5, prices 100, 101, ..., 104; the broker is at 5.
    for p in 1..=5u64 {
        trades_at(&mut b, p..=p, 99.0 + p as f64);
    }
    // Caused at position 2: it fills at position 3's trade, the first after its cause.
    let buy = place(Side::Buy, "SPY", 1.0, OrderKind::Market, 1);
    b.submit_from(&origin(1), Some(TradePoint::new(2, 0)), "p", buy, T0);
    let late = b.take_late_fills();
    assert_eq!(late.len(), 1);
    assert_eq!((late[0].price, late[0].time_ms), (102.0, T0 + 3));
    assert!(b.take_late_fills().is_empty(), "taken once");
    // A limit the kept trades do not reach rests, and fills at a later trade that does.
    let bid = place(Side::Buy, "SPY", 1.0, OrderKind::Limit(100.5), 2);
    b.submit_from(&origin(2), Some(TradePoint::new(2, 0)), "p", bid, T0);
    assert!(b.take_late_fills().is_empty());
    assert!(trades_at(&mut b, 6..=6, 101.0).is_empty());
    assert_eq!(trades_at(&mut b, 7..=7, 100.0).len(), 1);
    assert_eq!(b.orders_beyond_history(), 0);
    // The journal holds the late fill like any other: a reopened broker has the position.
    drop(b);
    let (b, _) = open(&cfg);
    assert_eq!(b.position("p", "SPY").quantity, 2.0);
}
