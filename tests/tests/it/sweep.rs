//! Parameter sweeps: every combination of a grid runs as its own plugin instance (the sets
//! of a thread share one market pass), the ranking does not depend on the number of
//! threads, a set the plugin refuses is reported as such, and each set's orders, fills and
//! figures equal a plain backtest of its settings file alone.

use std::path::{Path, PathBuf};
use tradehost::backtest::sweep::{self, Grid, SweepConfig, SweepReport};
use tradehost::backtest::{self, BacktestConfig};
use tradehost::broker::{BrokerConfig, FsyncPolicy};
use tradehost::market::MarketConfig;
use tradehost::plugins::PluginConfig;
use tradehost::types::Trade;
use tradehost_tests::guests;
use tradehost_tests::plugin_harness::DEMO_TRADES;

fn broker() -> BrokerConfig {
    BrokerConfig {
        fsync: FsyncPolicy::Never,
        ..BrokerConfig::default()
    }
}

fn sweep_with(
    out: &Path,
    plugin: &Path,
    trades: &[Trade],
    split: i64,
    threads: usize,
) -> SweepReport {
    let cfg = SweepConfig {
        plugin: plugin.to_path_buf(),
        grid: Grid::parse(&["fast=4,8,30".into(), "slow=21".into()]).unwrap(),
        split_ms: Some(split),
        threads,
        batch_size: 256,
        out_dir: out.to_path_buf(),
    };
    sweep::run(
        &cfg,
        trades,
        &plugins(),
        &broker(),
        &MarketConfig::default(),
    )
    .unwrap()
}

/// No artifact cache of the user's: the sweep keeps one in its output folder.
fn plugins() -> PluginConfig {
    PluginConfig {
        cache_dir: None,
        ..PluginConfig::default()
    }
}

/// `plugin`'s journal records with the plugin's name and the broker's order ids left out
/// (they depend on the other plugins of the run), as JSON lines.
fn records_of(journal: &Path, plugin: &str) -> Vec<String> {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("plugin");
                m.remove("order_id");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let records = tradehost::broker::Journal::read_all(journal)
        .unwrap()
        .records;
    records
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .filter(|v| v.to_string().contains(&format!("\"plugin\":\"{plugin}\"")))
        .map(|mut v| {
            strip(&mut v);
            v.to_string()
        })
        .collect()
}

#[test]
fn a_sweep_ranks_every_set_alike_on_one_or_two_threads_and_matches_plain_backtests() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("sma.wasm");
    std::fs::copy(guests::SMA_CROSSOVER, &plugin).unwrap();
    let trades = backtest::load_trades(&[PathBuf::from(DEMO_TRADES)], None, None).unwrap();
    let split = trades[trades.len() / 2].time_ms;

    let one = sweep_with(&dir.path().join("one"), &plugin, &trades, split, 1);
    let two = sweep_with(&dir.path().join("two"), &plugin, &trades, split, 2);
    // Errors name the set's settings file, under each sweep's own folder.
    let json = |r: &SweepReport, out: &str| {
        serde_json::to_string(r)
            .unwrap()
            .replace(&format!("/{out}/sets/"), "/sets/")
    };
    assert_eq!(
        json(&one, "one"),
        json(&two, "two"),
        "the thread count changed a result"
    );
    assert_eq!(one.rows.len(), 3);
    let (before, after) = one.trades;
    assert_eq!(before + after, trades.len());
    assert!(before > 0 && after > 0);

    // fast=30 > slow=21: the example refuses it at start; reported, ranked last.
    let last = one.rows.last().unwrap();
    assert_eq!(last.parameters[0], ("fast".to_string(), "30".to_string()));
    let why = last.error.as_deref().unwrap_or_default();
    assert!(last.in_sample.is_none() && why.contains("init"), "{why}");
    let ranked: Vec<f64> = one
        .rows
        .iter()
        .filter_map(|r| r.in_sample.map(|s| s.pnl))
        .collect();
    assert_eq!(ranked.len(), 2);
    assert!(ranked[0] >= ranked[1], "best first: {ranked:?}");
    assert!(
        one.rows
            .iter()
            .take(2)
            .all(|r| r.in_sample.is_some_and(|s| s.fills > 0) && r.out_of_sample.is_some()),
        "{:?}",
        one.rows
    );

    // A split past the data is refused, saying where the data lies.
    let cfg = SweepConfig {
        plugin: plugin.clone(),
        grid: Grid::parse(&["fast=4".into()]).unwrap(),
        split_ms: Some(trades.last().unwrap().time_ms + 1),
        threads: 1,
        batch_size: 256,
        out_dir: dir.path().join("late"),
    };
    let err = sweep::run(
        &cfg,
        &trades,
        &plugins(),
        &broker(),
        &MarketConfig::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("no trades after it") && err.contains("the data runs from"),
        "{err}"
    );

    // A set's in-sample figures are those of a plain backtest with the same settings file.
    let row = one.rows.iter().find(|r| r.parameters[0].1 == "4").unwrap();
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::copy(&plugin, plain.join("sma.wasm")).unwrap();
    std::fs::write(
        plain.join("sma.toml"),
        "[parameters]\nfast = 4\nslow = 21\n",
    )
    .unwrap();
    let bt = BacktestConfig {
        data: Vec::new(),
        plugins: plain.join("sma.wasm"),
        from_ms: None,
        to_ms: None,
        batch_size: 4096,
        out_dir: dir.path().join("plain-out"),
        predictions: None,
        inline: false,
    };
    let before_split: Vec<Trade> = trades
        .iter()
        .filter(|t| t.time_ms < split)
        .cloned()
        .collect();
    let report = backtest::run(
        &bt,
        &before_split,
        PluginConfig {
            cache_dir: None,
            ..PluginConfig::default()
        },
        broker(),
        &MarketConfig::default(),
    )
    .unwrap();
    let p = &report.plugins[0];
    let s = row.in_sample.unwrap();
    assert_eq!(
        (s.fills, s.pnl),
        (p.fills, p.realised_pnl + p.unrealised_pnl)
    );
    // The set's orders and fills in its group's journal are the plain run's (other batch
    // size and execution), whichever group it ran in.
    let plain = records_of(&dir.path().join("plain-out/journal.bin"), "sma");
    assert!(
        s.fills > 0 && plain.len() >= 2 * s.fills,
        "orders and fills: {}",
        plain.len()
    );
    for (out, group) in [("one", 0), ("two", 0)] {
        let journal = dir
            .path()
            .join(out)
            .join(format!("group-{group}/in-sample/journal.bin"));
        let set = records_of(&journal, &format!("set-{:04}", row.set));
        assert_eq!(set, plain, "set {} in {out}", row.set);
    }
}
