//! Backtests reuse the live engine's market state, broker and plugin host on market time,
//! and are deterministic: the same inputs give byte-identical journals.

use std::path::PathBuf;
use tradehost::backtest::{self, BacktestConfig};
use tradehost::broker::{BrokerConfig, FsyncPolicy};
use tradehost::market::MarketConfig;
use tradehost::plugins::PluginConfig;
use tradehost_tests::guests;
use tradehost_tests::plugin_harness::DEMO_TRADES;

fn run(out: PathBuf, plugins: PathBuf) -> (backtest::report::BacktestReport, Vec<u8>) {
    let plugin_config = PluginConfig {
        cache_dir: None,
        ..PluginConfig::default()
    };
    run_with(out, plugins, plugin_config)
}

fn run_with(
    out: PathBuf,
    plugins: PathBuf,
    plugin_config: PluginConfig,
) -> (backtest::report::BacktestReport, Vec<u8>) {
    let bt = BacktestConfig {
        data: vec![PathBuf::from(DEMO_TRADES)],
        plugins,
        from_ms: None,
        to_ms: None,
        batch_size: 256,
        out_dir: out.clone(),
    };
    let trades = backtest::load_trades(&bt.data, None, None).unwrap();
    let broker = BrokerConfig {
        fsync: FsyncPolicy::Never,
        ..BrokerConfig::default()
    };
    let report = backtest::run(
        &bt,
        &trades,
        plugin_config,
        broker,
        &MarketConfig::default(),
    )
    .unwrap();
    (report, std::fs::read(out.join("journal.bin")).unwrap())
}

#[test]
fn the_sma_example_backtest_is_deterministic_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guests::SMA_CROSSOVER, plugins.join("sma.wasm")).unwrap();
    std::fs::copy(guests::RSI_REVERSION, plugins.join("rsi.wasm")).unwrap();
    let (a, journal_a) = run(dir.path().join("a"), plugins.clone());
    let (b, journal_b) = run(dir.path().join("b"), plugins);
    assert_eq!(a.trades, 58_199);
    let sma = a.plugins.iter().find(|p| p.plugin == "sma").unwrap();
    assert!(
        sma.fills > 0,
        "the SMA example never traded in the backtest"
    );
    assert!(sma.exposure > 0.0 && sma.max_drawdown >= 0.0);
    assert!(
        journal_a.len() > 12 && journal_a == journal_b,
        "journals differ between identical runs"
    );
    let pnl = |r: &backtest::report::BacktestReport| -> Vec<(String, usize, String)> {
        r.plugins
            .iter()
            .map(|p| (p.plugin.clone(), p.fills, format!("{:.6}", p.realised_pnl)))
            .collect()
    };
    assert_eq!(pnl(&a), pnl(&b));
    let svg = std::fs::read_to_string(dir.path().join("a/equity.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("a/report.json")).unwrap()).unwrap();
    assert_eq!(json["trades"], 58_199);
}

/// Plugins run on the engine thread in a backtest; one that panics, or loops until its
/// deadline (at least a second in backtests), is contained like in the daemon.
#[test]
fn plugins_that_panic_or_loop_in_a_backtest_leave_the_others_trading_alike() {
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("alone");
    let beside = dir.path().join("beside");
    for plugins in [&alone, &beside] {
        std::fs::create_dir_all(plugins).unwrap();
        std::fs::copy(guests::SMA_CROSSOVER, plugins.join("sma.wasm")).unwrap();
    }
    std::fs::copy(guests::PANIC, beside.join("panic.wasm")).unwrap();
    std::fs::write(beside.join("panic.toml"), "[parameters]\nat = 1000\n").unwrap();
    std::fs::copy(guests::INFINITE_LOOP, beside.join("loop.wasm")).unwrap();
    // Quarantine after a second fault: one rebuild is exercised, and the loop costs 2 s.
    let config = || PluginConfig {
        cache_dir: None,
        max_failures: 2,
        ..PluginConfig::default()
    };
    let (a, journal_a) = run_with(dir.path().join("a"), alone, config());
    let (b, journal_b) = run_with(dir.path().join("b"), beside, config());
    let sma = |r: &backtest::report::BacktestReport| {
        let p = r.plugins.iter().find(|p| p.plugin == "sma").unwrap();
        (p.fills, format!("{:.6}", p.realised_pnl))
    };
    assert!(sma(&a).0 > 0);
    assert_eq!(sma(&a), sma(&b), "the panicking plugin changed the SMA's results");
    for faulty in ["panic", "loop"] {
        assert!(b.plugins.iter().any(|p| p.plugin == faulty && p.fills == 0));
    }
    assert_eq!(journal_a, journal_b, "only the SMA trades, so the journals agree");
}
