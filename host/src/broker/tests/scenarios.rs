//! Scenario tests: hand-computed fills and PnL, risk limits at their boundaries, kill switch,
//! cancellation, restart, torn tail, determinism, journal failures.

use super::*;
use crate::broker::journal::Journal;
use crate::broker::record::{CancelReason, JournalRecord};
use crate::broker::*;
use crate::types::{OrderKind, PluginAction, Side};

#[test]
fn orders_become_fills_in_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = BrokerConfig {
        slippage_bps: 10.0,
        fee_bps: 2.0,
        fee_per_share: 0.01,
        ..config(dir.path())
    };
    let (mut b, report) = open(&cfg);
    assert!(report.created && report.records == 0);
    assert!(b.on_trade(&trade("SPY", 100.0, T0)).is_empty());
    let out = b.submit("sma", vec![market(Side::Buy, 10.0, 7)], T0 + 1);
    assert_eq!(
        out,
        [BrokerOutcome::Accepted {
            plugin: "sma".into(),
            order_id: 1,
            tag: 7,
            symbol: "SPY".into()
        }]
    );
    // Journaled before it was returned: readable without a flush.
    let on_disk = Journal::read_all(&cfg.journal_path).unwrap().records;
    assert!(matches!(
        &on_disk[..],
        [JournalRecord::Order { order_id: 1, .. }]
    ));

    let fills = b.on_trade(&trade("SPY", 100.0, T0 + 2));
    assert_eq!(fills.len(), 1);
    let f = &fills[0];
    // 100 + 10 bps = 100.1; fee 10 × (100.1 × 2 bps + 0.01) = 0.3002.
    assert!(close(f.price, 100.1) && close(f.fee, 0.3002), "{f:?}");
    assert_eq!(
        (f.order_id, f.tag, f.quantity, f.time_ms, &*f.plugin),
        (1, 7, 10.0, T0 + 2, "sma")
    );
    let on_disk = Journal::read_all(&cfg.journal_path).unwrap().records;
    assert_eq!(
        on_disk.last(),
        Some(&JournalRecord::Fill {
            fill: f.clone(),
            market_position: None
        })
    );
    // Filled orders do not fill twice.
    assert!(b.on_trade(&trade("SPY", 100.0, T0 + 3)).is_empty());

    b.submit("sma", vec![market(Side::Sell, 15.0, 8)], T0 + 4);
    let f = b.on_trade(&trade("SPY", 110.0, T0 + 5)).remove(0);
    // 110 − 10 bps = 109.89; fee 15 × (109.89 × 2 bps + 0.01) = 0.47967.
    assert!(close(f.price, 109.89) && close(f.fee, 0.47967), "{f:?}");
    let p = b.position("sma", "SPY");
    // Flip: 10 closed at +9.79 each, minus both fees; 5 short opened at 109.89.
    assert!(close(p.realised_pnl, 97.9 - 0.3002 - 0.47967), "{p:?}");
    assert!(
        close(p.quantity, -5.0) && close(p.average_price, 109.89),
        "{p:?}"
    );
    assert!(close(p.unrealised_pnl, -5.0 * (110.0 - 109.89)), "{p:?}");
    let t = b.totals();
    assert_eq!(
        (t.orders, t.fills, t.refusals, t.resting_orders),
        (2, 2, 0, 0)
    );
    assert!(close(t.realised_pnl, p.realised_pnl) && close(t.unrealised_pnl, p.unrealised_pnl));
}

#[test]
fn limit_orders_fill_only_through_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut b, _) = open(&BrokerConfig {
        slippage_bps: 10.0,
        ..config(dir.path())
    });
    b.on_trade(&trade("SPY", 100.0, T0));
    let out = b.submit(
        "mr",
        vec![
            place(Side::Buy, "SPY", 4.0, OrderKind::Limit(99.0), 1),
            place(Side::Sell, "SPY", 3.0, OrderKind::Limit(101.0), 2),
        ],
        T0,
    );
    assert_eq!(accepted(&out), [true, true]);
    for p in [100.0, 99.0, 101.0] {
        assert!(
            b.on_trade(&trade("SPY", p, T0 + 1)).is_empty(),
            "filled at {p}"
        );
    }
    let buy = b.on_trade(&trade("SPY", 98.5, T0 + 2));
    assert_eq!(buy.len(), 1);
    assert!(close(buy[0].price, 98.5 * 1.001), "{:?}", buy[0]);
    let sell = b.on_trade(&trade("SPY", 101.05, T0 + 3));
    // 101.05 − 10 bps is below the limit: capped at 101.
    assert!(close(sell[0].price, 101.0), "{:?}", sell[0]);
    // Other symbols do not fill SPY orders, and non-prices are ignored.
    assert!(b.on_trade(&trade("IBM", f64::NAN, T0)).is_empty());
    assert_eq!(b.last_price("IBM"), None);
}

#[test]
fn nothing_is_allocated_when_a_trade_fills_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut b, _) = open(&config(dir.path()));
    b.on_trade(&trade("SPY", 100.0, T0));
    b.submit(
        "mr",
        vec![place(Side::Buy, "SPY", 1.0, OrderKind::Limit(90.0), 1)],
        T0,
    );
    for i in 0..100 {
        let fills = b.on_trade(&trade(
            "SPY",
            100.0 + f64::from(i) * 0.01,
            T0 + i64::from(i),
        ));
        assert_eq!(fills.capacity(), 0);
    }
}

#[test]
fn risk_refusals_happen_at_the_configured_limits() {
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::settings::Settings::from_pairs([
        ("RISK_MAX_POSITION", "100"),
        ("RISK_MAX_ORDER_QTY", "60"),
        ("RISK_MAX_ORDER_NOTIONAL", "3000"),
        ("JOURNAL_PATH", dir.path().join("j.bin").to_str().unwrap()),
    ]);
    let cfg = BrokerConfig::from_settings(&settings).unwrap();
    let (mut b, _) = open(&cfg);
    let out = b.submit("p", vec![market(Side::Buy, 1.0, 0)], T0);
    assert!(
        matches!(&out[0], BrokerOutcome::Rejected(r) if r.reason.contains("no trade seen yet in SPY"))
    );
    b.on_trade(&trade("SPY", 50.0, T0));
    let out = b.submit(
        "p",
        vec![
            market(Side::Buy, 60.5, 1),  // past the order size
            market(Side::Buy, 60.0, 2),  // at it; notional 3000 at the limit
            market(Side::Buy, 40.0, 3),  // resting 60 + 40 = the position limit
            market(Side::Buy, 0.5, 4),   // past it, counting resting orders
            market(Side::Sell, 60.0, 5), // selling is within limits
        ],
        T0 + 10,
    );
    assert_eq!(accepted(&out), [false, true, true, false, true]);
    b.on_trade(&trade("SPY", 50.0625, T0 + 20));
    let out = b.submit("q", vec![market(Side::Buy, 60.0, 6)], T0 + 20);
    assert!(
        matches!(&out[0], BrokerOutcome::Rejected(r) if r.reason.contains("RISK_MAX_ORDER_NOTIONAL")),
        "{out:?}"
    );
    // After the fills the position is 40: 60 more (resting included) is allowed, no more.
    let limit = |qty, tag| place(Side::Buy, "SPY", qty, OrderKind::Limit(50.0), tag);
    let out = b.submit(
        "p",
        vec![limit(59.5, 7), limit(0.5, 8), limit(0.25, 9)],
        T0 + 30,
    );
    assert_eq!(accepted(&out), [true, true, false]);
    assert!(
        matches!(&out[2], BrokerOutcome::Rejected(r) if r.reason.contains("RISK_MAX_POSITION")),
        "{out:?}"
    );
    assert_eq!(b.position("p", "SPY").quantity, 40.0);

    // Every refusal is in the journal with its reason.
    let journal = Journal::read_all(&cfg.journal_path).unwrap().records;
    let refused: Vec<u32> = journal
        .iter()
        .filter_map(|r| match r {
            JournalRecord::Rejected { rejection, .. } => Some(rejection.tag),
            _ => None,
        })
        .collect();
    assert_eq!(refused, [0, 1, 4, 6, 9]);
    assert_eq!(b.totals().refusals, 5);
}

#[test]
fn malformed_orders_are_refused_without_a_journal_record() {
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::settings::Settings::from_pairs([
        ("RISK_MIN_ORDER_QTY", "0.01"),
        ("JOURNAL_PATH", dir.path().join("j.bin").to_str().unwrap()),
    ]);
    let cfg = BrokerConfig::from_settings(&settings).unwrap();
    let (mut b, _) = open(&cfg);
    b.on_trade(&trade("SPY", 50.0, T0));
    let limit = |qty, price, tag| place(Side::Buy, "SPY", qty, OrderKind::Limit(price), tag);
    let hostile = vec![
        market(Side::Buy, f64::NAN, 1),
        market(Side::Buy, f64::INFINITY, 2),
        market(Side::Sell, f64::NEG_INFINITY, 3),
        market(Side::Buy, -5.0, 4),
        market(Side::Buy, 0.0, 5),
        market(Side::Buy, 1e308, 6),
        limit(5e-324, 1e308, 7),
        market(Side::Buy, 0.009, 8),
        limit(1.0, f64::NAN, 9),
        limit(1.0, -1.0, 10),
        limit(1.0, f64::INFINITY, 11),
        limit(1.0, 2e12, 12),
    ];
    let out = b.submit("p", hostile, T0 + 1);
    assert_eq!(accepted(&out), [false; 12]);
    let reasons: Vec<&str> = out
        .iter()
        .filter_map(|o| match o {
            BrokerOutcome::Rejected(r) => Some(r.reason.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        reasons[7].contains("minimum lot of 0.01 (RISK_MIN_ORDER_QTY)"),
        "{reasons:?}"
    );
    assert!(reasons[5].contains("absurd"), "{reasons:?}");
    // The plugin was told each time; the journal holds nothing of them.
    assert!(
        Journal::read_all(&cfg.journal_path)
            .unwrap()
            .records
            .is_empty()
    );
    let t = b.totals();
    assert_eq!((t.refusals, t.malformed, t.orders), (12, 12, 0));
    // A lot exactly at the minimum is an ordinary order, and a risk refusal of a
    // well-formed order is still journaled.
    let out = b.submit(
        "p",
        vec![market(Side::Buy, 0.01, 13), market(Side::Buy, 501.0, 14)],
        T0 + 2,
    );
    assert_eq!(accepted(&out), [true, false]);
    let kinds: Vec<_> = Journal::read_all(&cfg.journal_path)
        .unwrap()
        .records
        .into_iter()
        .map(|r| matches!(r, JournalRecord::Order { .. }))
        .collect();
    assert_eq!(kinds, [true, false]);
}

#[test]
fn refusals_past_the_budget_are_told_but_not_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::settings::Settings::from_pairs([
        ("RISK_MAX_REFUSALS_PER_MIN", "5"),
        ("RISK_MAX_ORDER_QTY", "10"),
        ("JOURNAL_PATH", dir.path().join("j.bin").to_str().unwrap()),
    ]);
    let cfg = BrokerConfig::from_settings(&settings).unwrap();
    let (mut b, _) = open(&cfg);
    b.on_trade(&trade("SPY", 50.0, T0));
    let too_big: Vec<_> = (0..20).map(|tag| market(Side::Buy, 11.0, tag)).collect();
    let out = b.submit("p", too_big.clone(), T0 + 1);
    assert_eq!(accepted(&out), [false; 20], "every one is refused and told");
    let journaled = || {
        Journal::read_all(&cfg.journal_path)
            .unwrap()
            .records
            .iter()
            .filter(|r| matches!(r, JournalRecord::Rejected { .. }))
            .count()
    };
    assert_eq!(journaled(), 5);
    let t = b.totals();
    assert_eq!((t.refusals, t.unjournaled_refusals), (20, 15));
    // Another plugin has its own budget; the next market minute gives a new one.
    b.submit("q", too_big[..2].to_vec(), T0 + 2);
    b.submit("p", too_big[..2].to_vec(), T0 + 60_000);
    assert_eq!(journaled(), 9);
}

#[test]
fn order_rate_is_limited_per_plugin_per_second() {
    let dir = tempfile::tempdir().unwrap();
    let (mut b, _) = open(&BrokerConfig {
        max_orders_per_sec: 2,
        ..config(dir.path())
    });
    b.on_trade(&trade("SPY", 10.0, T0));
    // TC: (plugin, time offset, accepted?)
    let cases = [
        ("a", 0, true),
        ("a", 500, true),
        ("a", 999, false), // third within one second
        ("b", 999, true),  // other plugins have their own budget
        ("a", 1000, true), // the order at 0 has left the window
        ("a", 1001, false),
        ("a", 1500, true),
    ];
    for (i, (plugin, dt, want)) in cases.into_iter().enumerate() {
        let out = b.submit(
            plugin,
            vec![place(
                Side::Buy,
                "SPY",
                1.0,
                OrderKind::Limit(5.0),
                i as u32,
            )],
            T0 + dt,
        );
        assert_eq!(accepted(&out), [want], "case {i}: {out:?}");
    }
}

#[test]
fn the_kill_switch_cancels_resting_orders_and_refuses_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (mut b, _) = open(&cfg);
    b.on_trade(&trade("SPY", 10.0, T0));
    b.submit("a", vec![market(Side::Buy, 1.0, 1)], T0);
    b.submit(
        "b",
        vec![place(Side::Sell, "SPY", 2.0, OrderKind::Limit(11.0), 2)],
        T0,
    );
    let cancelled = b.set_kill_switch(true, "test", T0 + 1).unwrap();
    let ids: Vec<_> = cancelled
        .iter()
        .map(|o| match o {
            BrokerOutcome::Cancelled {
                order_id,
                reason: CancelReason::KillSwitch,
                ..
            } => *order_id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, [1, 2]);
    assert!(b.on_trade(&trade("SPY", 12.0, T0 + 2)).is_empty());
    let out = b.submit("a", vec![market(Side::Buy, 1.0, 3)], T0 + 3);
    assert!(matches!(&out[0], BrokerOutcome::Rejected(r) if r.reason.contains("kill switch")));
    assert!(
        b.set_kill_switch(false, "test over", T0 + 4)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        accepted(&b.submit("a", vec![market(Side::Buy, 1.0, 4)], T0 + 5)),
        [true]
    );
    drop(b);

    // KILL_SWITCH=true starts halted.
    let (mut b, _) = open(&BrokerConfig {
        kill_switch: true,
        ..cfg
    });
    assert!(b.kill_switch());
    assert_eq!(b.kill_switch_state().reason, "KILL_SWITCH setting");
    assert_eq!(
        accepted(&b.submit("a", vec![market(Side::Buy, 1.0, 5)], T0 + 6)),
        [false]
    );
}

#[test]
fn a_journaled_halt_survives_a_restart_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (mut b, _) = open(&cfg);
    b.on_trade(&trade("SPY", 10.0, T0));
    b.submit(
        "a",
        vec![place(Side::Buy, "SPY", 1.0, OrderKind::Limit(9.0), 1)],
        T0,
    );
    assert_eq!(
        b.set_kill_switch(true, "operator: bad prints", T0 + 1)
            .unwrap()
            .len(),
        1
    );
    assert!(
        b.set_kill_switch(true, "again", T0 + 2).unwrap().is_empty(),
        "engaging twice is no change"
    );
    drop(b);

    // KILL_SWITCH is false, but the journal says halted: it stays halted, with its reason.
    let (mut b, report) = open(&cfg);
    assert!(b.kill_switch(), "{report}");
    assert_eq!(
        b.kill_switch_state(),
        &KillSwitchState {
            engaged: true,
            reason: "operator: bad prints".into(),
            since_ms: Some(T0 + 1),
        }
    );
    assert!(
        report.to_string().contains("kill switch engaged"),
        "{report}"
    );
    assert_eq!(
        report.resting_orders, 0,
        "the cancellation was journaled too"
    );
    assert_eq!(
        accepted(&b.submit("a", vec![market(Side::Buy, 1.0, 2)], T0 + 3)),
        [false]
    );
    b.set_kill_switch(false, "operator: resolved", T0 + 4)
        .unwrap();
    drop(b);

    let (mut b, _) = open(&cfg);
    assert!(!b.kill_switch());
    b.on_trade(&trade("SPY", 10.0, T0 + 5));
    assert_eq!(
        accepted(&b.submit("a", vec![market(Side::Buy, 1.0, 3)], T0 + 5)),
        [true]
    );
}

#[test]
fn a_halt_the_journal_cannot_record_still_halts_but_a_release_must_be_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (mut b, _) = open(&config(dir.path()));
    b.on_trade(&trade("SPY", 10.0, T0));
    b.journal_mut().break_writes();
    assert!(b.set_kill_switch(true, "disk trouble", T0 + 1).is_err());
    assert!(b.kill_switch(), "halting is always safe, journal or not");
    assert!(b.set_kill_switch(false, "resume", T0 + 2).is_err());
    assert!(
        b.kill_switch(),
        "an unrecorded release would be lost at restart: refused"
    );
}

#[test]
fn cancel_removes_the_plugins_orders_with_that_tag() {
    let dir = tempfile::tempdir().unwrap();
    let (mut b, _) = open(&config(dir.path()));
    b.on_trade(&trade("SPY", 10.0, T0));
    let limit = |tag| place(Side::Buy, "SPY", 1.0, OrderKind::Limit(9.0), tag);
    b.submit("a", vec![limit(7), limit(8), limit(7)], T0);
    b.submit("b", vec![limit(7)], T0);
    let out = b.submit(
        "a",
        vec![PluginAction::Cancel(7), PluginAction::Cancel(7)],
        T0 + 1,
    );
    let ids: Vec<_> = out
        .iter()
        .map(|o| match o {
            BrokerOutcome::Cancelled { order_id, .. } => *order_id,
            BrokerOutcome::NothingToCancel { tag: 7, .. } => 0,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, [1, 3, 0]);
    let left: Vec<_> = b.open_orders("a").iter().map(|o| o.order_id).collect();
    assert_eq!(left, [2]);
    let fills: Vec<_> = b
        .on_trade(&trade("SPY", 8.0, T0 + 2))
        .iter()
        .map(|f| f.order_id)
        .collect();
    assert_eq!(fills, [2, 4]);
    assert_eq!(
        b.cancel_orders_of("a", CancelReason::PluginRemoved, T0 + 3),
        []
    );
}

#[test]
fn orders_of_plugins_no_longer_running_are_cancelled_and_do_not_fill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut b, _) = open(&config(dir.path()));
    b.on_trade(&trade("SPY", 10.0, T0));
    let limit = |tag| place(Side::Buy, "SPY", 1.0, OrderKind::Limit(9.0), tag);
    b.submit("gone", vec![limit(1), limit(2)], T0);
    b.submit("alive", vec![limit(3)], T0);
    let out = b.cancel_unmanaged_orders(|p| p == "alive", T0 + 1);
    let cancelled: Vec<_> = out
        .iter()
        .map(|o| match o {
            BrokerOutcome::Cancelled {
                plugin,
                tag,
                reason: CancelReason::PluginRemoved,
                ..
            } => (plugin.to_string(), *tag),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        cancelled,
        [("gone".to_string(), 1), ("gone".to_string(), 2)]
    );
    assert!(
        b.cancel_unmanaged_orders(|p| p == "alive", T0 + 2)
            .is_empty()
    );
    let fills: Vec<_> = b
        .on_trade(&trade("SPY", 8.0, T0 + 3))
        .iter()
        .map(|f| f.plugin.to_string())
        .collect();
    assert_eq!(fills, ["alive"]);
}

/// A mixed session: two plugins, two symbols, fills, a flip, a resting order.
fn session(b: &mut PaperBroker) {
    b.on_trade(&trade("SPY", 168.0, T0));
    b.on_trade(&trade("IBM", 185.0, T0));
    b.submit("sma", vec![market(Side::Buy, 10.0, 1)], T0 + 1);
    b.submit(
        "rsi",
        vec![place(Side::Sell, "IBM", 5.0, OrderKind::Market, 1)],
        T0 + 1,
    );
    b.on_trade(&trade("SPY", 168.5, T0 + 2));
    b.on_trade(&trade("IBM", 184.0, T0 + 2));
    b.submit("sma", vec![market(Side::Sell, 25.0, 2)], T0 + 3);
    b.submit(
        "rsi",
        vec![place(Side::Buy, "IBM", 2.0, OrderKind::Limit(180.0), 2)],
        T0 + 3,
    );
    b.submit(
        "rsi",
        vec![place(Side::Buy, "IBM", 9999.0, OrderKind::Market, 3)],
        T0 + 3,
    );
    b.on_trade(&trade("SPY", 169.25, T0 + 4));
    b.on_trade(&trade("IBM", 183.0, T0 + 4));
}

#[test]
fn positions_are_rebuilt_from_the_journal_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = BrokerConfig {
        slippage_bps: 1.0,
        fee_bps: 1.0,
        ..config(dir.path())
    };
    let (mut b, _) = open(&cfg);
    session(&mut b);
    let before = b.positions();
    let totals = b.totals();
    assert!(
        before
            .iter()
            .any(|e| e.position.quantity < 0.0 && e.position.realised_pnl != 0.0)
    );
    b.flush().unwrap();
    drop(b);

    let (mut b, report) = open(&cfg);
    assert_eq!((report.created, report.torn_tail.clone()), (false, None));
    assert_eq!(
        (
            report.orders,
            report.fills,
            report.rejections,
            report.resting_orders
        ),
        (4, 3, 1, 1)
    );
    // Last prices are market state: unrealised PnL returns with the next trades.
    assert_eq!(
        strip_unrealised(b.positions()),
        strip_unrealised(before.clone())
    );
    b.on_trade(&trade("SPY", 169.25, T0 + 5));
    b.on_trade(&trade("IBM", 183.0, T0 + 5));
    assert_eq!(b.positions(), before);
    let after = b.totals();
    assert_eq!(
        (after.orders, after.fills, after.refusals),
        (totals.orders, totals.fills, totals.refusals)
    );
    // The resting limit survived and fills; new orders get new ids.
    let fills = b.on_trade(&trade("IBM", 179.0, T0 + 6));
    assert_eq!(fills.iter().map(|f| f.tag).collect::<Vec<_>>(), [2]);
    let out = b.submit("sma", vec![market(Side::Buy, 1.0, 9)], T0 + 7);
    assert!(
        matches!(out[0], BrokerOutcome::Accepted { order_id: 5, .. }),
        "{out:?}"
    );
}

#[test]
fn a_torn_last_fill_is_reported_and_its_order_rests_again() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (mut b, _) = open(&cfg);
    b.on_trade(&trade("SPY", 10.0, T0));
    b.submit("a", vec![market(Side::Buy, 3.0, 1)], T0);
    b.on_trade(&trade("SPY", 10.0, T0 + 1));
    b.submit("a", vec![market(Side::Buy, 2.0, 2)], T0 + 1);
    b.on_trade(&trade("SPY", 11.0, T0 + 2));
    assert_eq!(b.position("a", "SPY").quantity, 5.0);
    drop(b);
    // The crash tore the last fill.
    let len = std::fs::metadata(&cfg.journal_path).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&cfg.journal_path)
        .unwrap();
    file.set_len(len - 4).unwrap();
    drop(file);

    let (mut b, report) = open(&cfg);
    let torn = report.torn_tail.clone().expect("reported");
    assert!(
        torn.bytes_skipped > 4 && torn.offset + torn.bytes_skipped == len - 4,
        "{torn}"
    );
    assert!(report.to_string().contains("torn tail"), "{report}");
    assert_eq!((report.fills, report.resting_orders), (1, 1));
    assert_eq!(b.position("a", "SPY").quantity, 3.0);
    // The unacknowledged fill happens again on the next trade, and the journal is whole.
    assert_eq!(b.on_trade(&trade("SPY", 11.0, T0 + 3)).len(), 1);
    assert_eq!(b.position("a", "SPY").quantity, 5.0);
    assert_eq!(
        Journal::read_all(&cfg.journal_path).unwrap().torn_tail,
        None
    );
}

#[test]
fn the_same_inputs_write_byte_identical_journals() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for name in ["a", "b"] {
        let cfg = BrokerConfig {
            slippage_bps: 1.0,
            fee_bps: 1.0,
            ..config(&dir.path().join(name))
        };
        let (mut b, _) = open(&cfg);
        session(&mut b);
        b.set_kill_switch(true, "end of session", T0 + 9).unwrap();
        drop(b);
        files.push(std::fs::read(&cfg.journal_path).unwrap());
    }
    assert!(files[0].len() > 200);
    assert_eq!(files[0], files[1]);
}

#[test]
fn nothing_is_acknowledged_that_the_journal_did_not_take() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (mut b, _) = open(&cfg);
    b.on_trade(&trade("SPY", 10.0, T0));
    b.submit("a", vec![market(Side::Buy, 2.0, 1)], T0);
    b.journal_mut().break_writes();
    // The resting order's fill cannot be journaled: no fill, no position.
    assert!(b.on_trade(&trade("SPY", 10.5, T0 + 1)).is_empty());
    assert_eq!(b.position("a", "SPY").quantity, 0.0);
    assert_eq!(b.last_price("SPY"), Some(10.5));
    let out = b.submit("a", vec![market(Side::Buy, 1.0, 2)], T0 + 2);
    assert!(
        matches!(&out[0], BrokerOutcome::Rejected(r) if r.reason.contains("could not be journaled")),
        "{out:?}"
    );
    assert!(b.journal_failure().is_some());
    assert!(b.on_trade(&trade("SPY", 10.0, T0 + 3)).is_empty());
    let t = b.totals();
    assert_eq!((t.fills, t.orders, t.resting_orders), (0, 1, 1));
    assert!(t.journal_errors >= 2, "{t:?}");
    drop(b);
    // After a restart the order is still there and fills.
    let (mut b, report) = open(&cfg);
    assert_eq!((report.resting_orders, report.torn_tail), (1, None));
    assert_eq!(b.on_trade(&trade("SPY", 10.0, T0 + 4)).len(), 1);
}
