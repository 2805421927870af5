//! A turn's orders journaled as one group ([`PaperBroker::hold_journal`]): the journal and the
//! answers are those of journaling them one at a time, and a group the disk refuses takes
//! its orders back.

use super::*;

/// One turn of several plugins' submissions, as the live engine makes it after a frame:
/// orders, a refusal, a cancellation, and an order caused before trades already processed.
fn turn(b: &mut PaperBroker) -> Vec<Vec<BrokerOutcome>> {
    let limit = |side, price, tag| place(side, "SPY", 1.0, OrderKind::Limit(price), tag);
    let at = |index| TradePoint::new(0, index);
    vec![
        b.submit_caused("a", vec![market(Side::Buy, 2.0, 1)], T0 + 3, at(3)),
        b.submit_caused("b", vec![limit(Side::Buy, 99.0, 2)], T0 + 3, at(3)),
        // Over the maximum order notional: refused, and the refusal journaled.
        b.submit_caused("b", vec![market(Side::Buy, 1e9, 3)], T0 + 3, at(3)),
        b.submit_caused("b", vec![PluginAction::Cancel(2)], T0 + 3, at(3)),
        // Caused at the first trade: fills at the second, on arrival.
        b.submit_caused("c", vec![market(Side::Sell, 1.0, 4)], T0 + 3, at(1)),
        b.submit_caused("a", vec![limit(Side::Sell, 105.0, 5)], T0 + 3, at(3)),
    ]
}

/// A broker in `dir` that has seen three trades and keeps them.
fn broker_after_three_trades(dir: &Path) -> (BrokerConfig, PaperBroker) {
    let cfg = config(dir);
    let (mut b, _) = open(&cfg);
    b.keep_recent_trades(16);
    for (i, price) in [100.0, 101.0, 102.0].into_iter().enumerate() {
        b.on_trade(&trade("SPY", price, T0 + i as i64));
    }
    (cfg, b)
}

#[test]
fn a_held_turn_journals_the_same_bytes_and_answers_as_one_order_at_a_time() {
    let (one, grouped) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (one_cfg, mut b1) = broker_after_three_trades(one.path());
    let (grouped_cfg, mut b2) = broker_after_three_trades(grouped.path());
    let expected = turn(&mut b1);
    b2.hold_journal();
    let outcomes = turn(&mut b2);
    assert!(b2.release_journal().is_empty());
    assert_eq!(outcomes, expected);
    assert_eq!(b2.take_late_fills(), b1.take_late_fills());
    assert_eq!(b1.take_late_fills(), []);
    let kinds: Vec<bool> = expected.iter().flat_map(|o| accepted(o)).collect();
    assert_eq!(
        kinds,
        [true, true, false, false, true, true],
        "{expected:?}"
    );
    // Trades after the turn fill both the same way.
    for b in [&mut b1, &mut b2] {
        assert_eq!(b.on_trade(&trade("SPY", 106.0, T0 + 4)).len(), 2);
    }
    drop((b1, b2));
    let bytes = |cfg: &BrokerConfig| std::fs::read(&cfg.journal_path).unwrap();
    assert_eq!(bytes(&grouped_cfg), bytes(&one_cfg));
}

#[test]
fn a_group_the_disk_refuses_takes_its_orders_back_as_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, mut b) = broker_after_three_trades(dir.path());
    let before = Journal::read_all(&cfg.journal_path).unwrap().records;
    b.hold_journal();
    let out = b.submit_caused(
        "a",
        vec![market(Side::Buy, 1.0, 1)],
        T0 + 3,
        TradePoint::new(0, 3),
    );
    let limit = place(Side::Buy, "SPY", 1.0, OrderKind::Limit(90.0), 2);
    b.submit_caused("b", vec![limit], T0 + 3, TradePoint::new(0, 3));
    assert_eq!(accepted(&out), [true]);
    assert_eq!(b.totals().resting_orders, 2);
    b.journal_mut().break_writes();
    let back = b.release_journal();
    assert_eq!(back.len(), 2);
    for ((order_id, refusal), (plugin, tag)) in back.iter().zip([("a", 1), ("b", 2)]) {
        assert!(*order_id > 0);
        assert_eq!((&*refusal.plugin, refusal.tag), (plugin, tag));
        assert!(
            refusal
                .reason
                .starts_with("the order could not be journaled, so it was not placed"),
            "{}",
            refusal.reason
        );
    }
    let totals = b.totals();
    assert_eq!(
        (totals.orders, totals.resting_orders, totals.refusals),
        (0, 0, 2)
    );
    assert!(totals.journal_errors > 0);
    // Nothing of the group reached the file, and nothing fills the orders taken back.
    assert!(b.on_trade(&trade("SPY", 80.0, T0 + 4)).is_empty());
    drop(b);
    assert_eq!(
        Journal::read_all(&cfg.journal_path).unwrap().records,
        before
    );
}
