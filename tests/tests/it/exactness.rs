//! Backtests you can trust: the same journal, byte for byte, at every batch size and in both
//! execution modes, and equal to an independent computation of the same rule.

use std::path::{Path, PathBuf};
use tradehost::backtest::{self, BacktestConfig};
use tradehost::broker::{BrokerConfig, FsyncPolicy, Journal, JournalRecord};
use tradehost::market::MarketConfig;
use tradehost::plugins::PluginConfig;
use tradehost::types::{Side, Trade};
use tradehost_tests::guests;
use tradehost_tests::plugin_harness::DEMO_TRADES;

/// A broker without costs or limits in the way, so that the rule alone decides.
fn frictionless() -> BrokerConfig {
    BrokerConfig {
        slippage_bps: 0.0,
        fee_bps: 0.0,
        max_orders_per_sec: 100_000,
        max_order_notional: 1e12,
        fsync: FsyncPolicy::Never,
        ..BrokerConfig::default()
    }
}

/// The default broker, without syncing its journal (a test's journal is read, not kept).
fn unsynced() -> BrokerConfig {
    BrokerConfig {
        fsync: FsyncPolicy::Never,
        ..BrokerConfig::default()
    }
}

/// Plugin settings for a backtest of `plugins` (compiled once, into its own cache).
fn plugin_config(plugins: &Path) -> PluginConfig {
    PluginConfig {
        cache_dir: Some(plugins.join(".cache")),
        ..PluginConfig::default()
    }
}

/// One backtest of the bundled trades with these plugin settings; the report and the
/// journal's bytes.
#[allow(clippy::too_many_arguments)]
fn backtest(
    config: PluginConfig,
    plugins: &Path,
    out: PathBuf,
    batch: usize,
    inline: bool,
    broker: BrokerConfig,
    market: &MarketConfig,
    predictions: Option<backtest::BacktestPredictions>,
) -> (backtest::report::BacktestReport, Vec<u8>) {
    let bt = BacktestConfig {
        data: vec![PathBuf::from(DEMO_TRADES)],
        plugins: plugins.to_path_buf(),
        from_ms: None,
        to_ms: None,
        batch_size: batch,
        out_dir: out.clone(),
        predictions,
        inline,
    };
    let trades = backtest::load_trades(&bt.data, None, None).unwrap();
    let report = backtest::run(&bt, &trades, config, broker, market).unwrap();
    (report, std::fs::read(out.join("journal.bin")).unwrap())
}

/// A plugins folder in `dir`: each (name, guest, settings) as `name.wasm`, with `name.toml`
/// when settings are given.
fn plugins_folder(dir: &Path, plugins: &[(&str, &str, Option<&str>)]) -> PathBuf {
    let folder = dir.join("plugins");
    std::fs::create_dir_all(&folder).unwrap();
    for (name, guest, settings) in plugins {
        std::fs::copy(guest, folder.join(format!("{name}.wasm"))).unwrap();
        if let Some(settings) = settings {
            std::fs::write(folder.join(format!("{name}.toml")), settings).unwrap();
        }
    }
    folder
}

/// The SMA example on SPY and IBM: with 2-second bars it trades often on half an hour of data.
const SHORT_SMA: (&str, &str, Option<&str>) = (
    "sma",
    guests::SMA_CROSSOVER,
    Some("symbols = [\"SPY\", \"IBM\"]\n"),
);

/// The examples and two fixtures that stress the ordering of fills, limits, cancels and
/// refusals: one journal whatever the batch size and wherever the plugins run.
#[test]
fn journals_are_identical_at_every_batch_size_and_execution_mode() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugins_folder(
        dir.path(),
        &[
            SHORT_SMA,
            ("rsi", guests::RSI_REVERSION, None),
            ("tick", guests::TICK_CROSSOVER, None),
            ("reactor", guests::FILL_REACTOR, None),
        ],
    );
    let market = MarketConfig {
        update_interval_secs: 2,
        ..MarketConfig::default()
    };
    let runs = [
        (1, true),
        (7, true),
        (256, true),
        (4096, true),
        (7, false),
        (256, false),
    ];
    let mut reference: Option<(Vec<u8>, backtest::report::BacktestReport)> = None;
    for (batch, inline) in runs {
        let out = dir.path().join(format!("b{batch}-{inline}"));
        let (report, journal) = backtest(
            plugin_config(&plugins),
            &plugins,
            out,
            batch,
            inline,
            unsynced(),
            &market,
            None,
        );
        match &reference {
            None => {
                for p in &report.plugins {
                    assert!(
                        p.fills > 0,
                        "{} never traded, so it proves nothing: {report}",
                        p.plugin
                    );
                }
                let records =
                    Journal::read_all(&dir.path().join(format!("b{batch}-{inline}/journal.bin")))
                        .unwrap()
                        .records;
                assert!(
                    records
                        .iter()
                        .any(|r| matches!(r, JournalRecord::Rejected { .. }))
                        && records
                            .iter()
                            .any(|r| matches!(r, JournalRecord::Cancel { .. })),
                    "the fixtures' refusals and cancels are in the journal"
                );
                reference = Some((journal, report));
            }
            Some((first, first_report)) => {
                assert!(
                    *first == journal,
                    "batch {batch} ({}) gave another journal than batch 1 inline:\n{report}\nvs\n{first_report}",
                    if inline { "inline" } else { "threads" }
                );
                let pnl = |r: &backtest::report::BacktestReport| {
                    r.plugins
                        .iter()
                        .map(|p| {
                            (
                                p.plugin.clone(),
                                p.fills,
                                p.realised_pnl.to_bits(),
                                p.max_drawdown.to_bits(),
                            )
                        })
                        .collect::<Vec<_>>()
                };
                assert_eq!(
                    pnl(first_report),
                    pnl(&report),
                    "batch {batch}: report differs"
                );
            }
        }
    }
}

/// A plugin whose every order is refused is quarantined after the same refusal at every
/// batch size and in both execution modes (its refusals are counted on market time), and
/// the example next to it trades on as before.
#[test]
fn a_plugin_quarantined_for_refusals_stops_at_the_same_order_at_every_batch_size() {
    const LIMIT: u32 = 50;
    let dir = tempfile::tempdir().unwrap();
    // Spam: an oversized entry on every SPY trade, refused by the size limit and
    // journaled, and sent again on the next trade.
    let spam = "[parameters]\nevery = 1\nrefuse_every = 1\n";
    let plugins = plugins_folder(
        dir.path(),
        &[SHORT_SMA, ("spam", guests::FILL_REACTOR, Some(spam))],
    );
    let market = MarketConfig {
        update_interval_secs: 2,
        ..MarketConfig::default()
    };
    let mut journals = Vec::new();
    for (batch, inline) in [(1, true), (7, true), (4096, true), (7, false), (256, false)] {
        let config = PluginConfig {
            max_refusals_per_min: LIMIT,
            ..plugin_config(&plugins)
        };
        let out = dir.path().join(format!("b{batch}-{inline}"));
        let (report, journal) = backtest(
            config,
            &plugins,
            out.clone(),
            batch,
            inline,
            unsynced(),
            &market,
            None,
        );
        let records = Journal::read_all(&out.join("journal.bin")).unwrap().records;
        let refused = records
            .iter()
            .filter(|r| {
                matches!(r, JournalRecord::Rejected { rejection, .. } if &*rejection.plugin == "spam")
            })
            .count();
        // The refusal one over the limit is journaled (the broker answered it before the
        // plugin heard of it); nothing the plugin sent after it reached the broker.
        assert_eq!(
            refused,
            LIMIT as usize + 1,
            "batch {batch}, inline {inline}: {report}"
        );
        let sma = report.plugins.iter().find(|p| p.plugin == "sma").unwrap();
        assert!(sma.fills > 0, "the example still trades: {report}");
        journals.push(journal);
    }
    assert!(
        journals.windows(2).all(|w| w[0] == w[1]),
        "journals differ with batching or execution mode"
    );
}

/// The prediction follower trades on walk-forward forecasts made at bar closes: the same
/// journal at batch 1 and 4096, inline and on threads.
#[test]
fn forecast_driven_journals_do_not_depend_on_batching() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugins_folder(
        dir.path(),
        &[(
            "follower",
            guests::PREDICTION_FOLLOWER,
            Some("[parameters]\nthreshold = 0\nallow_short = true\n"),
        )],
    );
    let market = MarketConfig {
        update_interval_secs: 5,
        ..MarketConfig::default()
    };
    let trainer = tradehost::trainer::TrainerConfig {
        update_interval_secs: 5,
        ..Default::default()
    };
    let mut journals = Vec::new();
    for (batch, inline) in [(1, true), (4096, true), (64, false)] {
        let out = dir.path().join(format!("b{batch}-{inline}"));
        let predictions = backtest::BacktestPredictions {
            trainer: trainer.clone(),
            models: tradehost::trainer::ReplayModels {
                from_dir: None,
                walk_forward_every: Some(60),
                store_dir: out.join("models"),
            },
        };
        let (report, journal) = backtest(
            plugin_config(&plugins),
            &plugins,
            out,
            batch,
            inline,
            frictionless(),
            &market,
            Some(predictions),
        );
        let follower = report
            .plugins
            .iter()
            .find(|p| p.plugin == "follower")
            .unwrap();
        assert!(follower.fills > 0, "no forecast-driven fill: {report}");
        journals.push(journal);
    }
    assert!(
        journals.windows(2).all(|w| w[0] == w[1]),
        "journals differ with batching"
    );
}

/// A fill as the reference computes it: time, side, quantity, price.
type RefFill = (i64, Side, f64, f64);

/// The tick crossover rule computed directly, without the host: market orders fill at the
/// next trade of the symbol, whole, at its price.
fn reference_tick_crossover(
    trades: &[Trade],
    fast: usize,
    slow: usize,
    quantity: f64,
) -> (Vec<RefFill>, f64, f64) {
    let mut fills = Vec::new();
    let (mut position, mut average, mut realised) = (0.0f64, 0.0f64, 0.0f64);
    let mut waiting: Vec<f64> = Vec::new(); // signed quantities of market orders in flight
    let mut cents: Vec<i64> = Vec::new();
    let mut last = 0.0;
    for t in trades {
        for q in waiting.drain(..) {
            let side = if q > 0.0 { Side::Buy } else { Side::Sell };
            fills.push((t.time_ms, side, q.abs(), t.price));
            if position == 0.0 || position.signum() == q.signum() {
                average = (average * position.abs() + t.price * q.abs()) / (position + q).abs();
                position += q;
            } else {
                let closed = q.abs().min(position.abs());
                realised += closed * (t.price - average) * position.signum();
                position += q;
                if position == 0.0 {
                    average = 0.0;
                } else if position.signum() == q.signum() {
                    average = t.price;
                }
            }
        }
        last = t.price;
        cents.push((t.price * 100.0).round() as i64);
        let n = cents.len();
        if n < slow {
            continue;
        }
        let sum = |k: usize| cents[n - k..].iter().sum::<i64>();
        let d = slow as i64 * sum(fast) - fast as i64 * sum(slow);
        let target = match d.signum() {
            1 => quantity,
            -1 => 0.0,
            _ => continue,
        };
        let current = position + waiting.iter().sum::<f64>();
        if (target - current).abs() > 1e-9 {
            waiting.push(target - current);
        }
    }
    (fills, realised, position * (last - average))
}

#[test]
fn the_tick_crossover_matches_an_independent_computation_on_real_trades() {
    let trades: Vec<Trade> = backtest::load_trades(&[PathBuf::from(DEMO_TRADES)], None, None)
        .unwrap()
        .into_iter()
        .filter(|t| &*t.symbol == "SPY")
        .collect();
    let (want, realised, unrealised) = reference_tick_crossover(&trades, 20, 100, 100.0);
    assert!(want.len() > 100, "the rule trades: {} fills", want.len());

    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guests::TICK_CROSSOVER, plugins.join("tick.wasm")).unwrap();
    for batch in [1, 300] {
        let out = dir.path().join(format!("b{batch}"));
        let (report, _) = backtest(
            plugin_config(&plugins),
            &plugins,
            out.clone(),
            batch,
            true,
            frictionless(),
            &MarketConfig::default(),
            None,
        );
        let got: Vec<RefFill> = Journal::read_all(&out.join("journal.bin"))
            .unwrap()
            .records
            .into_iter()
            .filter_map(|r| match r {
                JournalRecord::Fill { fill, .. } => {
                    Some((fill.time_ms, fill.side, fill.quantity, fill.price))
                }
                _ => None,
            })
            .collect();
        assert_eq!(got.len(), want.len(), "batch {batch}: fill count");
        assert_eq!(got, want, "batch {batch}: fills differ from the reference");
        let tick = report.plugins.iter().find(|p| p.plugin == "tick").unwrap();
        assert!(
            (tick.realised_pnl - realised).abs() < 1e-6,
            "batch {batch}: realised {} vs {realised}",
            tick.realised_pnl
        );
        assert!(
            (tick.unrealised_pnl - unrealised).abs() < 1e-6,
            "batch {batch}: unrealised {} vs {unrealised}",
            tick.unrealised_pnl
        );
    }
}
