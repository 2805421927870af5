//! Python strategies as components (issue 15): per-trade cost of the Python SMA example as a
//! component, against the same Python code under native CPython and against the Rust twin,
//! in one run; and the Python component's build time, compile and cached load time, and
//! memory per instance.
//!
//! Per-trade cost: the trades of the bundled file (58k, SPY and IBM) in batches of 256, each
//! component called through `PluginInstance::on_events` (the worker's call, early returns
//! included) with no fills, timed by this thread's CPU clock; native CPython runs
//! `sdk/python/bench/native_sma.py`, the same `app.py` through the SDK's runtime on the same
//! batches, also without fills, timing only the calls. Memory: the smallest `memory_mb` limit
//! (1 MiB steps) with which the component loads and handles 20,000 trades without a fault.
//!
//! Run: `cargo bench -p tradehost-tests --bench python`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tradehost::authoring::python_build::{PythonToolchain, build_python};
use tradehost::backtest;
use tradehost::plugins::bindings::trade_event;
use tradehost::plugins::instance::{CallLimits, PluginInstance};
use tradehost::plugins::runtime::PluginRuntime;
use tradehost::plugins::sandbox::HostState;
use tradehost::plugins::{BatchBuilder, EmptyView, PluginConfig, SymbolTable, wit};
use tradehost::types::Trade;
use tradehost_tests::guests;
use tradehost_tests::plugin_harness::{DEMO_TRADES, Harness, real_trades};
use tradehost_tests::python_guests;

const BATCH: usize = 256;
const ROUNDS: usize = 3;

fn main() {
    let python = python_guests::sma_crossover();
    let root = python_guests::repo_root();
    println!(
        "Python SMA crossover (fast 8, slow 21, 2 s bars) on the bundled trades, batch {BATCH}, \
         median of {ROUNDS} runs, thread CPU time, {}, load average {}\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let work = tempfile::tempdir().expect("temp dir");
    let cache = work.path().join("cache");
    let trades = backtest::load_trades(&[PathBuf::from(DEMO_TRADES)], None, None).expect("trades");
    let rust = boundary_ns_per_trade(Path::new(guests::SMA_CROSSOVER), &trades);
    let py = boundary_ns_per_trade(&python, &trades);
    let native = native_cpython(&root);
    println!("| run | ns per trade |");
    println!("| --- | ---: |");
    println!("| Rust SMA component | {rust:.0} |");
    println!("| Python SMA component | {py:.0} |");
    println!(
        "| same Python under native CPython ({}) | {native:.0} |",
        python_version(&root)
    );
    println!(
        "\nPython component / native CPython: {:.1}×; Python component / Rust component: {:.0}×",
        py / native,
        py / rust
    );
    println!(
        "TARGET|Python SMA component per trade vs native CPython, batch {BATCH}|{:.1}×|≤ 5×|{}",
        py / native,
        if py / native <= 5.0 { "met" } else { "not met" }
    );

    // Build: a fresh output, so componentize-py runs in full.
    let tools = PythonToolchain::for_checkout(&root).expect("componentize-py");
    let started = Instant::now();
    build_python(
        &root.join("examples/python/sma_crossover"),
        &work.path().join("fresh.wasm"),
        &tools,
    )
    .expect("build");
    let build_s = started.elapsed().as_secs_f64();
    let size_mb = std::fs::metadata(&python).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;

    // Compile, then load from the artifact cache.
    let h = Harness::new(|c| c.cache_dir = Some(work.path().join("load-cache")));
    let path = h.install(python.to_str().expect("utf-8 path"), "pysma");
    let cold = h.host.load_file(&path, None).expect("load");
    h.host.unload("pysma");
    let warm = h.host.load_file(&path, None).expect("cached load");
    println!("\n| Python component | value |");
    println!("| --- | ---: |");
    println!("| size | {size_mb:.1} MB |");
    println!("| build (componentize-py, uncached) | {build_s:.1} s |");
    println!("| compile at first load | {:.0} ms |", cold.compile_ms);
    println!(
        "| load from the artifact cache (cached: {}) | {:.1} ms |",
        warm.cached, warm.compile_ms
    );
    println!(
        "| memory per instance (smallest memory_mb that runs) | {} MiB |",
        smallest_memory(&python, &cache)
    );
}

/// Median over `ROUNDS` of the CPU ns per trade of `guest` fed `trades` in batches of
/// `BATCH`, from a fresh `init` each round.
fn boundary_ns_per_trade(guest: &Path, trades: &[Trade]) -> f64 {
    // The tests' shared artifact cache: the 20 MB Python component compiles once, not per run.
    let config = PluginConfig {
        cache_dir: Some(python_guests::out_dir().join("cache")),
        ..PluginConfig::default()
    };
    let runtime = PluginRuntime::new(&config).expect("runtime");
    let bytes = std::fs::read(guest).expect("guest");
    let prepared = runtime.prepare(guest, &bytes).expect("prepare");
    let symbols = SymbolTable::new();
    let state = HostState::new(
        "sma".into(),
        256 << 20,
        Arc::new(EmptyView),
        symbols.clone(),
        0,
    );
    let limits = CallLimits {
        call: Duration::from_secs(5),
        start: Duration::from_secs(30),
        fuel: None,
    };
    let mut instance =
        PluginInstance::instantiate(&runtime, &prepared.pre, state, limits).expect("instantiate");
    let batches: Vec<Arc<wit::EventBatch>> = trades
        .chunks(BATCH)
        .map(|chunk| {
            let b: BatchBuilder = chunk.iter().map(|t| trade_event(t, &symbols)).collect();
            Arc::new(b.finish())
        })
        .collect();
    let runs = (0..ROUNDS)
        .map(|_| {
            instance
                .init(&[("symbols".into(), "SPY,IBM".into())])
                .expect("init")
                .expect("init ok");
            let started = thread_cpu_ns();
            for b in &batches {
                // As the worker does: call again with the rest after each early return.
                let mut batch = b.clone();
                loop {
                    let outcome = instance.on_events(&batch, 100_000).expect("call");
                    if outcome.consumed >= tradehost::plugins::batch::len(&batch) {
                        break;
                    }
                    batch = Arc::new(tradehost::plugins::event_index::rest(
                        &batch,
                        outcome.consumed,
                    ));
                }
            }
            (thread_cpu_ns() - started) as f64 / trades.len() as f64
        })
        .collect();
    median(runs)
}

/// CPU time this thread has used, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    // SAFETY: an all-zero timespec is valid, and clock_gettime only writes into it.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and a pointer to a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// ns per trade of the native run, as printed by `native_sma.py`.
fn native_cpython(root: &Path) -> f64 {
    let runs: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let out = Command::new(root.join(".venv/bin/python"))
                .arg(root.join("sdk/python/bench/native_sma.py"))
                .arg(DEMO_TRADES)
                .arg(BATCH.to_string())
                .output()
                .expect("native CPython run");
            let text = String::from_utf8_lossy(&out.stdout);
            text.split_whitespace()
                .find_map(|w| w.strip_prefix("native_cpython_ns_per_trade="))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| {
                    panic!(
                        "native run printed: {text} {}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                })
        })
        .collect();
    median(runs)
}

fn python_version(root: &Path) -> String {
    Command::new(root.join(".venv/bin/python"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The smallest memory limit in MiB with which `guest` loads and handles 20k trades.
fn smallest_memory(guest: &Path, cache: &Path) -> u32 {
    let trades = real_trades("SPY", 20_000);
    let runs = |mb: u32| -> bool {
        let h = Harness::new(|c| {
            c.cache_dir = Some(cache.to_path_buf());
            c.max_memory_bytes = (mb as usize) << 20;
            c.call_deadline = Duration::from_millis(500);
        });
        let path = h.install(guest.to_str().expect("utf-8 path"), "pysma");
        if h.host.load_file(&path, None).is_err() {
            return false;
        }
        let chunks: Vec<_> = trades.chunks(BATCH).collect();
        for chunk in &chunks {
            h.host.dispatch(h.batch(chunk));
        }
        h.collect(chunks.len(), Duration::from_secs(60));
        h.host.statuses().iter().all(|s| s.stats.faults == 0)
    };
    let (mut lo, mut hi) = (1u32, 256u32);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if runs(mid) { hi = mid } else { lo = mid + 1 }
    }
    lo
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
