//! A plugin host in a temporary folder, fed with real trades, for integration tests.

use crossbeam_channel::Receiver;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tradehost::plugins::bindings::trade_event;
use tradehost::plugins::{
    BatchBuilder, EmptyView, PluginConfig, PluginHost, PluginOutput, SymbolTable, wit,
};
use tradehost::types::{PluginAction, Trade};

/// The bundled real trades (SPY, BAC, AIG, IBM on 2013-10-07).
pub const DEMO_TRADES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../host/data/demo_trades_2013-10-07.csv.gz"
);

/// A host over a temporary plugin folder.
pub struct Harness {
    /// The host.
    pub host: Arc<PluginHost>,
    /// Every plugin's answers.
    pub outputs: Receiver<PluginOutput>,
    /// The plugin folder (and cache) live here.
    pub dir: tempfile::TempDir,
}

/// Test defaults: short backoffs and debounce, cache inside the temp dir.
pub fn test_config(dir: &Path) -> PluginConfig {
    PluginConfig {
        dir: dir.join("plugins"),
        cache_dir: Some(dir.join("cache")),
        restart_backoff: Duration::from_millis(20),
        reload_debounce: Duration::from_millis(50),
        unload_grace: Duration::from_millis(200),
        // Generous under a loaded CI machine; runaway fixtures still stop quickly.
        call_deadline: Duration::from_millis(200),
        ..PluginConfig::default()
    }
}

impl Harness {
    /// A host with `tweak` applied to the test config.
    pub fn new(tweak: impl FnOnce(&mut PluginConfig)) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(dir.path());
        tweak(&mut config);
        std::fs::create_dir_all(&config.dir).expect("plugin dir");
        let (tx, rx) = crossbeam_channel::unbounded();
        let host = PluginHost::new(config, Arc::new(EmptyView), SymbolTable::new(), tx)
            .expect("plugin host");
        Harness {
            host: Arc::new(host),
            outputs: rx,
            dir,
        }
    }

    /// Copy a compiled guest into the plugin folder as `name.wasm`.
    pub fn install(&self, guest: &str, name: &str) -> PathBuf {
        let path = self.host.config().dir.join(format!("{name}.wasm"));
        std::fs::copy(guest, &path).expect("copy plugin");
        path
    }

    /// Write a settings file for plugin `name`.
    pub fn settings(&self, name: &str, toml: &str) {
        std::fs::write(self.host.config().dir.join(format!("{name}.toml")), toml)
            .expect("settings");
    }

    /// Turn trades into one strategy event batch.
    pub fn batch(&self, trades: &[Trade]) -> Arc<wit::EventBatch> {
        let batch: BatchBuilder = trades
            .iter()
            .map(|t| trade_event(t, self.host.symbols()))
            .collect();
        Arc::new(batch.finish())
    }

    /// Collect answers until `expected` commands are done (a batch answered in several
    /// outputs, one per early return, counts once) or `timeout` passes.
    pub fn collect(&self, expected: usize, timeout: Duration) -> Vec<PluginOutput> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        let mut done = 0;
        while done < expected {
            match self.outputs.recv_deadline(deadline) {
                Ok(o) => {
                    done += usize::from(o.done);
                    out.push(o);
                }
                Err(_) => break,
            }
        }
        out
    }
}

/// The first `n` real trades of `symbol` from the bundled snippet.
pub fn real_trades(symbol: &str, n: usize) -> Vec<Trade> {
    use std::io::{BufRead, BufReader};
    let file = std::fs::File::open(DEMO_TRADES).expect("bundled trades");
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let symbol_arc: Arc<str> = Arc::from(symbol);
    reader
        .lines()
        .skip(1)
        .map_while(Result::ok)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (f.get(1) == Some(&symbol)).then(|| Trade {
                symbol: symbol_arc.clone(),
                price: f[2].parse().expect("price"),
                size: f[3].parse().expect("size"),
                time_ms: chrono::DateTime::parse_from_rfc3339(f[0])
                    .expect("time")
                    .timestamp_millis(),
            })
        })
        .take(n)
        .collect()
}

/// The tags of a plugin's placed orders, in order.
pub fn order_tags(outputs: &[PluginOutput], plugin: &str) -> Vec<(u32, f64)> {
    outputs
        .iter()
        .filter(|o| &*o.plugin == plugin)
        .flat_map(|o| o.actions.iter())
        .filter_map(|a| match a {
            PluginAction::Place(o) => Some((o.tag, o.quantity)),
            PluginAction::Cancel(_) => None,
        })
        .collect()
}
