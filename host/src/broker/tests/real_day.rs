//! A day of real trades (the bundled 2013-10-07 snippet) through the broker, and the measurement
//! of `on_trade`'s cost.

use super::*;
use crate::broker::*;
use crate::types::{Fill, OrderKind, PluginAction, Side, Symbol, Trade};
use std::collections::HashMap;

/// The bundled day of real trades (SPY, BAC, AIG, IBM on 2013-10-07).
fn real_trades() -> Vec<Trade> {
    use std::io::BufRead;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/demo_trades_2013-10-07.csv.gz"
    );
    let file = std::fs::File::open(path).unwrap();
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    let mut symbols: HashMap<String, Symbol> = HashMap::new();
    reader
        .lines()
        .skip(1)
        .map(|line| {
            let line = line.unwrap();
            let f: Vec<&str> = line.split(',').collect();
            let symbol = symbols
                .entry(f[1].to_string())
                .or_insert_with(|| f[1].into());
            Trade {
                symbol: symbol.clone(),
                price: f[2].parse().unwrap(),
                size: f[3].parse().unwrap(),
                time_ms: chrono::DateTime::parse_from_rfc3339(f[0])
                    .unwrap()
                    .timestamp_millis(),
            }
        })
        .collect()
}

/// Two plugins trading the real day: market orders flipping positions, limit orders a few
/// cents away, cancellations; returns every fill.
fn trade_the_day(b: &mut PaperBroker, trades: &[Trade]) -> Vec<Fill> {
    let mut fills = Vec::new();
    for (i, t) in trades.iter().enumerate() {
        fills.extend(b.on_trade(t));
        if i % 97 == 0 {
            // Buy 7, buy 3, sell 12: positions cross zero again and again (flips).
            let (side, qty) =
                [(Side::Buy, 7.0), (Side::Buy, 3.0), (Side::Sell, 12.0)][(i / 97) % 3];
            b.submit(
                "momentum",
                vec![place(side, &t.symbol, qty, OrderKind::Market, i as u32)],
                t.time_ms,
            );
        }
        if i % 131 == 0 {
            let tag = i as u32;
            let actions = vec![
                PluginAction::Cancel(tag.wrapping_sub(131 * 4)),
                place(
                    Side::Buy,
                    &t.symbol,
                    5.0,
                    OrderKind::Limit(t.price - 0.02),
                    tag,
                ),
                place(
                    Side::Sell,
                    &t.symbol,
                    5.0,
                    OrderKind::Limit(t.price + 0.03),
                    tag,
                ),
            ];
            b.submit("reversion", actions, t.time_ms);
        }
    }
    fills
}

#[test]
fn a_day_of_real_trades_marks_to_market_and_replays_exactly() {
    let trades = real_trades();
    assert!(trades.len() > 50_000);
    let dir = tempfile::tempdir().unwrap();
    let cfg = BrokerConfig {
        slippage_bps: 1.0,
        fee_bps: 0.5,
        fee_per_share: 0.005,
        ..config(dir.path())
    };
    let (mut b, _) = open(&cfg);
    let fills = trade_the_day(&mut b, &trades);
    let totals = b.totals();
    assert!(
        fills.len() > 500 && totals.cancels > 0 && totals.resting_orders > 0,
        "{totals:?}"
    );

    // Average-cost PnL must equal cash flows marked to the last price, per plugin and symbol.
    let positions = b.positions();
    for e in &positions {
        let mine = fills
            .iter()
            .filter(|f| f.plugin == e.plugin && f.symbol == e.symbol);
        let (mut cash, mut qty) = (0.0, 0.0);
        for f in mine {
            cash -= f.side.sign() * f.quantity * f.price + f.fee;
            qty += f.side.sign() * f.quantity;
        }
        let last = b.last_price(&e.symbol).unwrap();
        let marked = cash + qty * last;
        let p = &e.position;
        assert!((p.quantity - qty).abs() < 1e-9, "{e:?}");
        assert!(
            (p.realised_pnl + p.unrealised_pnl - marked).abs() < 1e-6 * (1.0 + marked.abs()),
            "{}/{}: realised {} + unrealised {} != {marked}",
            e.plugin,
            e.symbol,
            p.realised_pnl,
            p.unrealised_pnl
        );
    }
    drop(b);

    // The journal rebuilds the same book and positions; the same day replayed writes the same bytes.
    let (mut again, report) = open(&cfg);
    assert_eq!(report.fills as usize, fills.len());
    assert_eq!(report.resting_orders, totals.resting_orders);
    // Last prices are market state, not journal state: compare without unrealised PnL.
    assert_eq!(
        strip_unrealised(again.positions()),
        strip_unrealised(positions)
    );
    assert!(again.flush().is_ok());
    let other = BrokerConfig {
        journal_path: dir.path().join("other/journal.bin"),
        ..cfg.clone()
    };
    let (mut b2, _) = open(&other);
    trade_the_day(&mut b2, &trades);
    drop(b2);
    assert_eq!(
        std::fs::read(&cfg.journal_path).unwrap(),
        std::fs::read(&other.journal_path).unwrap()
    );
}

/// Hot-path cost of `on_trade`; run with `--ignored --nocapture` to measure.
#[test]
#[ignore]
fn measure_on_trade() {
    let symbols: Vec<Symbol> = ["SPY", "BAC", "AIG", "IBM"]
        .iter()
        .map(|s| Symbol::from(*s))
        .collect();
    // Trades built up front so the loop measures the broker only.
    let trades: Vec<Trade> = (0..4096)
        .map(|i| Trade {
            symbol: symbols[i % 4].clone(),
            price: 100.0 + (i % 7) as f64 * 0.01,
            size: 1.0,
            time_ms: T0,
        })
        .collect();
    // Baseline on this machine: the bare symbol lookup every trade needs.
    let mut prices: std::collections::HashMap<Symbol, f64> =
        symbols.iter().map(|s| (s.clone(), 0.0)).collect();
    let start = std::time::Instant::now();
    for i in 0..4_000_000 {
        let t = &trades[i % trades.len()];
        if let Some(p) = prices.get_mut(&*t.symbol) {
            *p = std::hint::black_box(t.price);
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / 4e6;
    println!("baseline HashMap<Symbol, f64> lookup and store: {ns:.1} ns/trade");
    for resting in [0, 10] {
        let dir = tempfile::tempdir().unwrap();
        let (mut b, _) = open(&config(dir.path()));
        for (i, s) in symbols.iter().enumerate() {
            b.on_trade(&trade(s, 100.0, T0));
            let orders = (0..resting)
                .map(|k| place(Side::Buy, s, 1.0, OrderKind::Limit(50.0 + f64::from(k)), k))
                .collect();
            b.submit(&format!("p{i}"), orders, T0);
        }
        let n = 4_000_000;
        let start = std::time::Instant::now();
        let mut filled = 0;
        for i in 0..n {
            filled += b.on_trade(&trades[i % trades.len()]).len();
        }
        let ns = start.elapsed().as_nanos() as f64 / n as f64;
        println!("on_trade, {resting} resting orders per symbol, none filling: {ns:.1} ns/trade");
        assert_eq!(filled, 0);
    }
}
