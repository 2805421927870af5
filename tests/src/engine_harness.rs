//! The live engine ([`Pipeline`] over an engine [`Core`]) with one plugin and a journal in a
//! temporary folder, on market time, for integration tests that drive it trade by trade.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tradehost::broker::{BrokerConfig, FsyncPolicy, PaperBroker};
use tradehost::engine::core::{Core, Forecasts};
use tradehost::engine::pipeline::Pipeline;
use tradehost::engine::snapshot::{Clock, SnapshotWriter};
use tradehost::market::{MarketConfig, MarketState};
use tradehost::plugins::{PluginHost, SymbolTable};
use tradehost::types::TimestampMs;

/// A pipeline whose only plugin is `wasm` (installed as `name.wasm` under `dir/plugins`),
/// its market clock starting at `start_ms`; returns it with its journal's path.
pub fn live_pipeline(
    dir: &Path,
    wasm: &str,
    name: &str,
    start_ms: TimestampMs,
) -> (Pipeline, PathBuf) {
    let plugin_config = crate::plugin_harness::test_config(dir);
    std::fs::create_dir_all(&plugin_config.dir).expect("plugin folder");
    let file = plugin_config.dir.join(format!("{name}.wasm"));
    std::fs::copy(wasm, &file).expect("copy the plugin");
    let journal = dir.join("journal.bin");
    let (broker, _) = PaperBroker::open(BrokerConfig {
        journal_path: journal.clone(),
        fsync: FsyncPolicy::Never,
        ..BrokerConfig::default()
    })
    .expect("open the journal");
    let market = MarketState::new(&MarketConfig::default());
    let clock = Clock::market(start_ms);
    let snapshot = SnapshotWriter::new(2_000, market.period_secs());
    let view = Arc::new(snapshot.reader(clock.clone()));
    let (tx, outputs) = crossbeam_channel::unbounded();
    let host = Arc::new(
        PluginHost::new(plugin_config, view, SymbolTable::new(), tx).expect("plugin host"),
    );
    host.load_file(&file, None).expect("load the plugin");
    // The same engine core a backtest drives, driven here as the live daemon drives it.
    let core = Core::new(
        market,
        broker,
        host,
        outputs,
        snapshot,
        clock,
        Forecasts::Off,
    );
    let pipeline = Pipeline::new(core);
    (pipeline, journal)
}
