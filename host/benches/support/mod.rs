//! What the command-running benchmarks (`backtest`, `sweep`) share: the SPY file and the SMA
//! example as defaults, overridable by environment variables, and the load average.

use std::path::{Path, PathBuf};

/// The data file and the plugin: `{prefix}_DATA` and `{prefix}_PLUGIN`, else the SPY week of
/// the shared data and the SMA crossover example. Exits with code 2, saying what to do, when
/// either is missing.
pub fn data_and_plugin(root: &Path, prefix: &str) -> (PathBuf, PathBuf) {
    let var = |name: &str| std::env::var_os(format!("{prefix}_{name}")).map(PathBuf::from);
    let data = var("DATA").unwrap_or_else(|| {
        root.join("../shared/data/ticks/equity_trades_SPY_2013-10-07_2013-10-11.csv.gz")
    });
    let plugin = var("PLUGIN").unwrap_or_else(|| root.join("plugins/sma-crossover.wasm"));
    for (what, path) in [("data file", &data), ("plugin", &plugin)] {
        if !path.is_file() {
            eprintln!(
                "{what} {} not found (build the plugins with scripts/build-plugins.sh; \
                 set {prefix}_DATA / {prefix}_PLUGIN to use other files)",
                path.display()
            );
            std::process::exit(2);
        }
    }
    (data, plugin)
}

/// The load average over 1, 5 and 15 minutes.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
