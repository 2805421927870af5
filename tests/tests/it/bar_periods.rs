//! Bars of a period a plugin asks for in `strategy-info.bar-periods` (5 minutes here, the
//! host's own being 1 minute): built from the trades, heard through `on-bar` and read back
//! through `recent-bars`, in a backtest and in the live engine alike. The `bar-periods`
//! fixture tags each order with the 5-minute bar's number and whether the bar agreed with
//! its history and with the 1-minute bars it spans.

use std::collections::BTreeSet;
use std::time::Duration;
use tradehost::broker::{Journal, JournalRecord};
use tradehost::market::MarketConfig;
use tradehost::types::Trade;
use tradehost_tests::engine_harness::live_pipeline;
use tradehost_tests::guests;
use tradehost_tests::plugin_harness::real_trades;

/// The tags the fixture must place when it hears the 5-minute bars that SPY `trades` close: one
/// per 5-minute period but the last (still open at the end), numbered from 1, all checks
/// passed.
fn expected_tags(trades: &[Trade]) -> Vec<u32> {
    let periods: BTreeSet<i64> = trades
        .iter()
        .map(|t| t.time_ms.div_euclid(300_000))
        .collect();
    (1..periods.len() as u32).map(|n| n * 10 + 1).collect()
}

fn placed_tags(journal: &std::path::Path) -> Vec<u32> {
    Journal::read_all(journal)
        .unwrap()
        .records
        .into_iter()
        .filter_map(|r| match r {
            JournalRecord::Order { request, .. } => Some(request.tag),
            JournalRecord::Rejected { request, .. } => Some(request.tag),
            _ => None,
        })
        .collect()
}

#[test]
fn a_backtest_builds_the_bar_periods_a_plugin_asks_for() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guests::BAR_PERIODS, plugins.join("bars.wasm")).unwrap();
    let out = dir.path().join("out");
    let market = MarketConfig::default();
    super::backtest::run_with(
        out.clone(),
        plugins,
        super::backtest::config(),
        &market,
        None,
    );
    let expected = expected_tags(&real_trades("SPY", usize::MAX));
    assert_eq!(
        expected.len(),
        5,
        "the bundled half hour closes five 5-minute bars"
    );
    assert_eq!(placed_tags(&out.join("journal.bin")), expected);
}

#[test]
fn the_live_engine_builds_the_bar_periods_a_plugin_asks_for() {
    let dir = tempfile::tempdir().unwrap();
    // The bundled half hour of SPY trades, in frames of 10 as a feed would send them.
    let trades = real_trades("SPY", usize::MAX);
    let (mut pipeline, journal) =
        live_pipeline(dir.path(), guests::BAR_PERIODS, "bars", trades[0].time_ms);
    for frame in trades.chunks(10) {
        pipeline.on_trades(frame);
        assert!(pipeline.settle(Duration::from_secs(20)));
    }
    let expected = expected_tags(&trades);
    assert_eq!(
        expected.len(),
        5,
        "the bundled half hour closes five 5-minute bars"
    );
    assert_eq!(placed_tags(&journal), expected);
    assert_eq!(pipeline.core.market.extra_periods(), [300]);
    // Once no plugin asks for 5-minute bars, the engine stops building them.
    pipeline.plugins().unload("bars");
    pipeline.on_trades(&trades[..1]);
    assert!(pipeline.core.market.extra_periods().is_empty());
}
