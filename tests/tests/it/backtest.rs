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
    run_with(out, plugins, config(), &MarketConfig::default(), None)
}

/// Plugin settings of these tests: no artifact cache.
pub(crate) fn config() -> PluginConfig {
    PluginConfig {
        cache_dir: None,
        ..PluginConfig::default()
    }
}

/// A backtest of the bundled 2013-10-07 trades; the report and the journal's bytes.
pub(crate) fn run_with(
    out: PathBuf,
    plugins: PathBuf,
    plugin_config: PluginConfig,
    market: &MarketConfig,
    predictions: Option<backtest::BacktestPredictions>,
) -> (backtest::report::BacktestReport, Vec<u8>) {
    let bt = BacktestConfig {
        data: vec![PathBuf::from(DEMO_TRADES)],
        plugins,
        from_ms: None,
        to_ms: None,
        batch_size: 256,
        out_dir: out.clone(),
        predictions,
        inline: true,
    };
    let trades = backtest::load_trades(&bt.data, None, None).unwrap();
    let broker = BrokerConfig {
        fsync: FsyncPolicy::Never,
        ..BrokerConfig::default()
    };
    let report = backtest::run(&bt, &trades, plugin_config, broker, market).unwrap();
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

#[test]
fn guests_reading_the_wasi_clocks_see_market_time_in_a_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guests::CLOCK_READER, plugins.join("clock.wasm")).unwrap();
    let (report, _) = run(dir.path().join("out"), plugins);
    let journal =
        tradehost::broker::Journal::read_all(&dir.path().join("out/journal.bin")).unwrap();
    let tags: Vec<u32> = journal
        .records
        .iter()
        .filter_map(|r| match r {
            tradehost::broker::JournalRecord::Order { request, .. } => Some(request.tag),
            _ => None,
        })
        .collect();
    assert!(tags.len() >= 10, "{tags:?} ({report})");
    assert!(
        tags.iter().all(|t| *t == 1),
        "a guest's SystemTime/Instant disagreed with market time: tags {tags:?}"
    );
}

/// Walk-forward retraining on real trades (5-second bars): models are trained on the past
/// only, the gate deploys some, their forecasts reach the prediction strategy, and the whole
/// run, training included, is byte-for-byte repeatable.
#[test]
fn walk_forward_forecasts_reach_the_plugins_and_the_run_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guests::PREDICTION_FOLLOWER, plugins.join("follower.wasm")).unwrap();
    std::fs::write(
        plugins.join("follower.toml"),
        "[parameters]\nthreshold = 0\nallow_short = true\n",
    )
    .unwrap();
    let market = MarketConfig {
        update_interval_secs: 5,
        ..MarketConfig::default()
    };
    let trainer = tradehost::trainer::TrainerConfig {
        update_interval_secs: 5,
        ..Default::default()
    };
    let run_once = |name: &str| {
        let out = dir.path().join(name);
        let predictions = backtest::BacktestPredictions {
            trainer: trainer.clone(),
            models: tradehost::trainer::ReplayModels {
                from_dir: None,
                walk_forward_every: Some(60),
                store_dir: out.join("models"),
            },
        };
        run_with(out, plugins.clone(), config(), &market, Some(predictions))
    };
    let (a, journal_a) = run_once("a");
    let (b, journal_b) = run_once("b");
    let forecasts: u64 = a.training.values().map(|t| t.predictions).sum();
    let deployed: u32 = a.training.values().map(|t| t.deployed).sum();
    assert!(deployed >= 1 && forecasts >= 10, "{a}");
    for (symbol, t) in &a.training {
        assert!(t.cycles >= 2, "{symbol}: {t:?}");
        // A symbol forecasts only once the gate has deployed a model for it.
        assert_eq!(t.predictions > 0, t.deployed > 0, "{symbol}: {t:?}");
    }
    let follower = a.plugins.iter().find(|p| p.plugin == "follower").unwrap();
    assert!(
        follower.fills > 0,
        "the forecasts never moved the follower: {a}"
    );
    assert_eq!(a.training, b.training);
    // Every forecast is scored against the return that followed (or counted as unscored
    // when its horizon ran past the data), alike in both runs.
    for (symbol, t) in &a.training {
        let s = a.forecast_scores.get(symbol).cloned().unwrap_or_default();
        assert_eq!(s.forecasts as u64, t.predictions, "{symbol}: {s:?}");
        if t.predictions >= 3 {
            assert!(s.scored >= 2 && s.mse_zero > 0.0, "{symbol}: {s:?}");
            assert!(
                s.dm_p_value.is_some_and(|p| (0.0..=1.0).contains(&p)),
                "{symbol}: {s:?}"
            );
        }
    }
    assert_eq!(a.forecast_scores, b.forecast_scores);
    assert!(
        journal_a == journal_b,
        "journals differ between identical runs"
    );
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
        max_failures: 2,
        ..config()
    };
    let market = MarketConfig::default();
    let (a, journal_a) = run_with(dir.path().join("a"), alone, config(), &market, None);
    let (b, journal_b) = run_with(dir.path().join("b"), beside, config(), &market, None);
    let sma = |r: &backtest::report::BacktestReport| {
        let p = r.plugins.iter().find(|p| p.plugin == "sma").unwrap();
        (p.fills, format!("{:.6}", p.realised_pnl))
    };
    assert!(sma(&a).0 > 0);
    assert_eq!(
        sma(&a),
        sma(&b),
        "the panicking plugin changed the SMA's results"
    );
    for faulty in ["panic", "loop"] {
        assert!(b.plugins.iter().any(|p| p.plugin == faulty && p.fills == 0));
    }
    assert_eq!(
        journal_a, journal_b,
        "only the SMA trades, so the journals agree"
    );
}

/// The parsed-trade cache gives exactly what parsing gives: on a miss, on a hit, and after
/// its file was damaged (ignored and rewritten).
#[test]
fn cached_trades_are_the_parsed_trades_bit_for_bit() {
    use tradehost::backtest::trade_cache::TradeCache;
    let dir = tempfile::tempdir().unwrap();
    let cache = TradeCache::new(dir.path().join("cache"));
    let files = [PathBuf::from(DEMO_TRADES)];
    let parsed = backtest::load_trades(&files, None, None).unwrap();
    let bits = |t: &[tradehost::types::Trade]| -> Vec<(String, u64, u64, i64)> {
        t.iter()
            .map(|t| {
                (
                    t.symbol.to_string(),
                    t.price.to_bits(),
                    t.size.to_bits(),
                    t.time_ms,
                )
            })
            .collect()
    };
    let miss = backtest::load_trades_with(&files, None, None, Some(&cache)).unwrap();
    let written: Vec<PathBuf> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let hit = backtest::load_trades_with(&files, None, None, Some(&cache)).unwrap();
    assert_eq!(bits(&miss), bits(&parsed));
    assert_eq!(bits(&hit), bits(&parsed));
    // A damaged cache file is ignored and rewritten.
    let len = std::fs::metadata(&written[0]).unwrap().len();
    std::fs::write(&written[0], b"THTRADE1 garbage").unwrap();
    let again = backtest::load_trades_with(&files, None, None, Some(&cache)).unwrap();
    assert_eq!(bits(&again), bits(&parsed));
    assert_eq!(
        std::fs::metadata(&written[0]).unwrap().len(),
        len,
        "rewritten"
    );
    // The window applies to cached trades as to parsed ones.
    let (from, to) = (parsed[100].time_ms, parsed[5000].time_ms);
    assert_eq!(
        bits(&backtest::load_trades_with(&files, Some(from), Some(to), Some(&cache)).unwrap()),
        bits(&backtest::load_trades(&files, Some(from), Some(to)).unwrap())
    );
}

/// Reading the trades while the engine runs (from the CSV, and from the cache on a miss and
/// on a hit) changes nothing: the journal is byte-identical and the report the same as with
/// every trade in memory first, within a window too.
#[test]
fn a_backtest_on_trades_still_being_read_equals_one_on_trades_in_memory() {
    use tradehost::backtest::trade_cache::TradeCache;
    use tradehost::backtest::trade_stream::TradeStream;
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guests::SMA_CROSSOVER, plugins.join("sma.wasm")).unwrap();
    std::fs::copy(guests::RSI_REVERSION, plugins.join("rsi.wasm")).unwrap();
    let file = PathBuf::from(DEMO_TRADES);
    let all = backtest::load_trades(std::slice::from_ref(&file), None, None).unwrap();
    let windows = [
        (None, None),
        (Some(all[3_000].time_ms), Some(all[50_000].time_ms)),
    ];
    let cache = TradeCache::new(dir.path().join("cache"));
    let broker = || BrokerConfig {
        fsync: FsyncPolicy::Never,
        ..BrokerConfig::default()
    };
    // The report without its timings.
    let figures = |r: &backtest::report::BacktestReport| {
        let mut v = serde_json::to_value(r).unwrap();
        v["elapsed_secs"] = 0.into();
        v["ticks_per_sec"] = 0.into();
        v
    };
    for (w, (from, to)) in windows.into_iter().enumerate() {
        let bt = |name: &str| BacktestConfig {
            data: vec![file.clone()],
            plugins: plugins.clone(),
            from_ms: from,
            to_ms: to,
            batch_size: 256,
            out_dir: dir.path().join(format!("{name}-{w}")),
            predictions: None,
            inline: true,
        };
        let in_memory = bt("memory");
        let trades = backtest::load_trades(&in_memory.data, from, to).unwrap();
        let market = MarketConfig::default();
        let expected = backtest::run(&in_memory, &trades, config(), broker(), &market).unwrap();
        assert!(expected.plugins.iter().any(|p| p.fills > 0), "{expected}");
        let expected_journal = std::fs::read(in_memory.out_dir.join("journal.bin")).unwrap();
        // Opened one after the other: the miss writes the cache that the hit reads.
        for name in ["csv", "cache-miss", "cache-hit"] {
            let stream = match name {
                "csv" => TradeStream::open(&file, from, to),
                _ => cache.stream(&file, from, to),
            }
            .unwrap();
            let cfg = bt(name);
            let report = backtest::run_streaming(&cfg, stream, config(), broker(), &market)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let journal = std::fs::read(cfg.out_dir.join("journal.bin")).unwrap();
            assert!(
                journal == expected_journal,
                "{name}, window {w}: journals differ"
            );
            assert_eq!(figures(&report), figures(&expected), "{name}, window {w}");
        }
    }
}
