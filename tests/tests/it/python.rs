//! Python strategies through the same WIT: real components built from Python by
//! componentize-py (`tests/src/python_guests.rs`), in the real host, backtester and daemon.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tradehost::authoring::python_build::{PythonBuildError, PythonToolchain, build_python};
use tradehost::backtest::{self, BacktestConfig};
use tradehost::broker::{BrokerConfig, FsyncPolicy, JournalRecord};
use tradehost::market::MarketConfig;
use tradehost::plugins::PluginConfig;
use tradehost_tests::daemon_harness::{Daemon, demo_config, free_port};
use tradehost_tests::guests;
use tradehost_tests::plugin_harness::{DEMO_TRADES, Harness, order_tags, real_trades};
use tradehost_tests::python_guests;

/// Compiled artifacts shared by every Python test, so the 20 MB component compiles once.
fn python_cache() -> PathBuf {
    python_guests::out_dir().join("cache")
}

/// A backtest of the bundled trades with the one plugin `guest` installed as `sma.wasm`;
/// returns the journal's bytes and the plugin's fill count.
fn backtest_sma(guest: &Path, out: &Path, batch: usize) -> (Vec<u8>, u64) {
    let plugins = out.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guest, plugins.join("sma.wasm")).unwrap();
    // The same settings for both twins; 2-second bars trade often on half a day.
    std::fs::write(plugins.join("sma.toml"), "symbols = [\"SPY\", \"IBM\"]\n").unwrap();
    let bt = BacktestConfig {
        data: vec![PathBuf::from(DEMO_TRADES)],
        plugins: plugins.clone(),
        from_ms: None,
        to_ms: None,
        batch_size: batch,
        out_dir: out.join("run"),
        predictions: None,
        inline: true,
    };
    let trades = backtest::load_trades(&bt.data, None, None).unwrap();
    let config = PluginConfig {
        cache_dir: Some(python_cache()),
        ..PluginConfig::default()
    };
    let broker = BrokerConfig {
        fsync: FsyncPolicy::Never,
        ..BrokerConfig::default()
    };
    let market = MarketConfig {
        update_interval_secs: 2,
        ..MarketConfig::default()
    };
    let report = backtest::run(&bt, &trades, config, broker, &market).unwrap();
    let fills = report.plugins.iter().map(|p| p.fills).sum::<usize>() as u64;
    (std::fs::read(out.join("run/journal.bin")).unwrap(), fills)
}

/// The Python SMA example and its Rust twin, each installed as `sma` with the same settings,
/// write the same journal byte for byte. The journal names the plugin by its file name (the
/// same here) and records orders, fills and refusals with prices and times, so equal bytes
/// mean the same orders at the same events. Different batch sizes on purpose: the early
/// return makes batching invisible in both languages.
#[test]
fn the_python_sma_example_writes_the_rust_twins_journal_byte_for_byte() {
    let python = python_guests::sma_crossover();
    let dir = tempfile::tempdir().unwrap();
    let (rust_journal, rust_fills) = backtest_sma(
        Path::new(guests::SMA_CROSSOVER),
        &dir.path().join("rust"),
        256,
    );
    let (py_journal, py_fills) = backtest_sma(&python, &dir.path().join("python"), 64);
    assert!(
        rust_fills > 10,
        "the Rust twin barely traded ({rust_fills} fills): proves little"
    );
    assert_eq!(py_fills, rust_fills, "fill counts differ");
    assert!(
        py_journal == rust_journal,
        "journals differ ({} vs {} bytes)",
        py_journal.len(),
        rust_journal.len()
    );
}

/// The Python example in the demo daemon: it loads, trades the replayed ticks, and fills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sma_example_fills_in_the_demo_daemon() {
    let python = python_guests::sma_crossover();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::copy(&python, dir.path().join("plugins/pysma.wasm")).unwrap();
    std::fs::write(
        dir.path().join("plugins/pysma.toml"),
        "symbols = [\"SPY\"]\n[parameters]\nfast = 2\nslow = 3\ninterval_secs = 1\n",
    )
    .unwrap();
    let cache = python_cache().display().to_string();
    let config = demo_config(
        dir.path(),
        free_port(),
        &[("PLUGIN_CACHE_DIR", cache.as_str())],
    )
    .unwrap();
    let daemon = Daemon::start(config).unwrap();
    let filled = daemon
        .wait_for(
            "a fill of the Python strategy",
            Duration::from_secs(120),
            |d| {
                d.records()
                    .iter()
                    .any(|r| matches!(r, JournalRecord::Fill { .. }))
            },
        )
        .await;
    let records = daemon.records();
    daemon.stop().await.unwrap();
    filled.unwrap();
    assert!(
        records
            .iter()
            .any(|r| matches!(r, JournalRecord::Order { plugin, .. } if &**plugin == "pysma")),
        "the fill is not the Python plugin's"
    );
}

/// The status of plugin `name` as (faults, last error).
fn fault_of(h: &Harness, name: &str) -> (u64, String) {
    let statuses = h.host.statuses();
    let s = statuses
        .iter()
        .find(|s| s.info.name == name)
        .unwrap_or_else(|| panic!("{name} is not loaded"));
    // Shown with --nocapture: what a user would read in the status.
    eprintln!(
        "{name}: {} faults, last error: {:?}",
        s.stats.faults, s.stats.last_error
    );
    (
        s.stats.faults,
        s.stats.last_error.clone().unwrap_or_default(),
    )
}

/// Runaway, exhausted, failing and prying Python plugins are each stopped or find nothing,
/// while a Python counter and a Rust counter beside them lose no event.
#[test]
fn the_sandbox_holds_for_python_plugins() {
    let hostile = [
        "py_infinite_loop",
        "py_memory_bomb",
        "py_raises",
        "py_sandbox_probe",
        "py_counter",
    ]
    .map(|name| (name, python_guests::fixture(name)));
    let h = Harness::new(|c| {
        c.max_failures = 100;
        c.cache_dir = Some(python_cache());
    });
    h.host
        .load_file(&h.install(guests::COUNTER, "counter"), None)
        .unwrap();
    for (name, path) in &hostile {
        let started = Instant::now();
        h.host
            .load_file(&h.install(path.to_str().unwrap(), name), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!("{name} loaded in {:?}", started.elapsed());
    }
    let trades = real_trades("SPY", 400);
    for chunk in trades.chunks(10) {
        h.host.dispatch(h.batch(chunk));
    }
    let plugins = h.host.names().len();
    let outputs = h.collect(40 * plugins, Duration::from_secs(180));
    let tags = |name: &str| -> Vec<u32> {
        order_tags(&outputs, name)
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    };
    let every_tenth: Vec<u32> = (1..=40).map(|i| i * 10).collect();
    assert_eq!(
        tags("counter"),
        every_tenth,
        "the Rust counter lost or repeated events"
    );
    assert_eq!(
        tags("py_counter"),
        every_tenth,
        "the Python counter lost or repeated events"
    );

    let (faults, err) = fault_of(&h, "py_infinite_loop");
    assert!(
        faults >= 1 && err.starts_with("CPU-time deadline exceeded"),
        "infinite loop: {faults} {err}"
    );
    let (faults, err) = fault_of(&h, "py_memory_bomb");
    assert!(
        faults >= 1 && (err.starts_with("memory limit exceeded") || err.contains("MemoryError")),
        "memory bomb: {faults} {err}"
    );
    let (faults, err) = fault_of(&h, "py_raises");
    assert!(
        faults >= 1
            && err.contains("Traceback (most recent call last)")
            && err.contains("in check_price")
            && err.contains("RuntimeError: py-raises: deliberate failure on trade 3"),
        "the Python traceback is not in the fault: {faults} {err}"
    );
    let (faults, err) = fault_of(&h, "py_sandbox_probe");
    assert_eq!(faults, 0, "the probe itself failed: {err}");
    assert!(
        tags("py_sandbox_probe").is_empty(),
        "open(), os.environ, os.listdir or socket found something"
    );
}

/// A new build of a Python plugin dropped in place is hot-reloaded with its state: the
/// counter's count carries on across the swap, and the new version's orders follow.
#[test]
fn a_hot_reload_keeps_the_python_state() {
    let v1 = python_guests::fixture("py_counter");
    let v2 = python_guests::variant("py_counter", "py_counter_v2", "VERSION = 1", "VERSION = 2");
    // Compile version 2 into the shared cache first: the swap, not a 15 s compile of a
    // 20 MB component, is what this test is about.
    let warm = Harness::new(|c| c.cache_dir = Some(python_cache()));
    warm.host
        .load_file(&warm.install(v2.to_str().unwrap(), "warm"), None)
        .unwrap();
    let h = Harness::new(|c| c.cache_dir = Some(python_cache()));
    h.settings("counter", "[parameters]\nevery = 1\n");
    let path = h.install(v1.to_str().unwrap(), "counter");
    h.host.load_file(&path, None).unwrap();
    let _watch = tradehost::plugins::watcher::watch(h.host.clone()).unwrap();
    let trades = real_trades("SPY", 20_000);
    let (mut batches, mut sent, mut after_swap) = (0, 0, 0);
    for chunk in trades.chunks(20) {
        h.host.dispatch(h.batch(chunk));
        batches += 1;
        sent += chunk.len();
        std::thread::sleep(Duration::from_millis(5));
        if batches == 40 {
            let tmp = path.with_extension("wasm.tmp");
            std::fs::copy(&v2, &tmp).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
        }
        if h.host.statuses()[0].stats.reloads_ok > 0 {
            after_swap += 1;
            if after_swap == 40 {
                break;
            }
        }
    }
    let outputs = h.collect(batches, Duration::from_secs(120));
    let orders = order_tags(&outputs, "counter");
    let tags: Vec<u32> = orders.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        tags,
        (1..=sent as u32).collect::<Vec<u32>>(),
        "count lost or repeated across the swap"
    );
    let switch = orders
        .iter()
        .position(|(_, q)| *q == 2.0)
        .expect("version 2 never served");
    assert!(
        switch >= 800,
        "version 2 served from order {switch}, before the swap"
    );
    assert!(
        orders[..switch].iter().all(|(_, q)| *q == 1.0)
            && orders[switch..].iter().all(|(_, q)| *q == 2.0)
    );
    assert_eq!(h.host.statuses()[0].info.version, "2.0.0");
}

/// `build_python` reports Python's own syntax error, an unchanged project is not rebuilt,
/// and the component says it was written in Python.
#[test]
fn python_builds_report_syntax_errors_and_skip_unchanged_projects() {
    let tools = PythonToolchain::for_checkout(&python_guests::repo_root())
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.py"),
        "from tradehost_strategy import Strategy, register\n\nclass S(Strategy):\n    def on_trade(self, ctx, t)\n        pass\n",
    )
    .unwrap();
    match build_python(dir.path(), &dir.path().join("out.wasm"), &tools) {
        Err(PythonBuildError::Syntax { message, .. }) => assert!(
            message.contains("SyntaxError") && message.contains("line 4"),
            "{message}"
        ),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert!(!dir.path().join("out.wasm").exists());
    let built = python_guests::sma_crossover();
    let started = Instant::now();
    let again = python_guests::sma_crossover();
    assert_eq!(built, again);
    // `tradehost check` names the language from the producers sections: the Python
    // component's (appended by the build) must win over its embedded Rust runtime's.
    let language = |path: &Path| {
        tradehost::plugins::producers::producers(&std::fs::read(path).unwrap())
            .and_then(|p| p.language)
    };
    assert_eq!(language(&built).as_deref(), Some("Python"));
    assert_eq!(
        language(Path::new(guests::SMA_CROSSOVER)).as_deref(),
        Some("Rust")
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "an unchanged project was rebuilt"
    );
}

/// The project `tradehost new --lang python` will write builds as it is and trades: its
/// starter strategy orders on real trades in the host.
#[test]
fn a_scaffolded_python_project_builds_and_trades() {
    // Written to a stable folder (only when the template changed), so its build is cached.
    let project = python_guests::out_dir().join("projects").join("starter");
    std::fs::create_dir_all(&project).unwrap();
    for file in tradehost::authoring::python_template::files("starter") {
        let (path, text) = (project.join(&file.path), file.contents);
        if std::fs::read_to_string(&path).ok() != Some(text.clone()) {
            std::fs::write(&path, text).unwrap();
        }
    }
    let wasm = python_guests::build(&project, "starter");
    let h = Harness::new(|c| c.cache_dir = Some(python_cache()));
    let info = h
        .host
        .load_file(&h.install(wasm.to_str().unwrap(), "starter"), None)
        .unwrap();
    assert_eq!(
        (info.strategy.as_str(), info.symbols.as_slice()),
        ("starter", &["SPY".to_string()][..])
    );
    let trades = real_trades("SPY", 2_000);
    for chunk in trades.chunks(100) {
        h.host.dispatch(h.batch(chunk));
    }
    let outputs = h.collect(20, Duration::from_secs(60));
    assert!(
        !order_tags(&outputs, "starter").is_empty(),
        "the starter strategy never ordered"
    );
    assert_eq!(
        h.host.statuses()[0].stats.faults,
        0,
        "{:?}",
        h.host.statuses()[0].stats.last_error
    );
}
