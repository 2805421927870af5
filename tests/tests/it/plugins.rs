//! The plugin platform end to end: real compiled components (examples and hostile
//! fixtures) in a real host, fed with real trades.

use std::time::{Duration, Instant};
use tradehost::plugins::PluginError;
use tradehost_tests::guests;
use tradehost_tests::plugin_harness::{Harness, order_tags, real_trades};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn counter_sees_every_trade_once_and_in_order() {
    let h = Harness::new(|_| {});
    let path = h.install(guests::COUNTER, "counter");
    h.host.load_file(&path, None).unwrap();
    let trades = real_trades("SPY", 2000);
    for chunk in trades.chunks(64) {
        h.host.dispatch(h.batch(chunk));
    }
    let outputs = h.collect(trades.len().div_ceil(64), WAIT);
    let tags: Vec<u32> = order_tags(&outputs, "counter")
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let expected: Vec<u32> = (1..=200).map(|i| i * 10).collect();
    assert_eq!(tags, expected);
}

#[test]
fn the_examples_load_and_trade_on_real_ticks() {
    let h = Harness::new(|_| {});
    for (name, path) in guests::examples() {
        let info = h
            .host
            .load_file(&h.install(path, name), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.interface_version, "0.3.0");
        assert!(!info.symbols.is_empty(), "{name} asks for no symbols");
    }
    assert_eq!(h.host.names().len(), 3);
    let mut batches = 0;
    for symbol in ["SPY", "BAC", "AIG", "IBM"] {
        for chunk in real_trades(symbol, 20_000).chunks(64) {
            h.host.dispatch(h.batch(chunk));
            batches += 1;
        }
    }
    let outputs = h.collect(batches * 3, Duration::from_secs(60));
    assert_eq!(
        outputs.iter().filter(|o| o.done).count(),
        batches * 3,
        "every plugin answers every batch"
    );
    let statuses = h.host.statuses();
    for s in &statuses {
        assert_eq!(
            s.stats.faults, 0,
            "{}: {:?}",
            s.info.name, s.stats.last_error
        );
    }
    let orders = |name: &str| order_tags(&outputs, name).len();
    assert!(
        orders("sma-crossover") > 0,
        "the SMA crossover never traded on 80k real trades"
    );
    assert!(
        orders("rsi-reversion") > 0,
        "the RSI strategy never traded on 80k real trades"
    );
    assert_eq!(
        orders("prediction-follower"),
        0,
        "no prediction exists, so it must not trade"
    );
}

#[test]
fn hostile_plugins_are_contained_while_another_keeps_trading() {
    let h = Harness::new(|c| c.max_failures = 100);
    let hostile = [
        (
            "infinite-loop",
            guests::INFINITE_LOOP,
            "CPU-time deadline exceeded",
        ),
        ("memory-bomb", guests::MEMORY_BOMB, "memory limit exceeded"),
        ("panic", guests::PANIC, "panic"),
        ("deep-recursion", guests::DEEP_RECURSION, "stack overflow"),
        ("huge-output", guests::HUGE_OUTPUT, "output too large"),
    ];
    h.host
        .load_file(&h.install(guests::COUNTER, "counter"), None)
        .unwrap();
    for (name, path, _) in hostile {
        h.host
            .load_file(&h.install(path, name), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for (name, path) in [
        ("read-file", guests::READ_FILE),
        ("read-env", guests::READ_ENV),
        ("open-socket", guests::OPEN_SOCKET),
    ] {
        h.host
            .load_file(&h.install(path, name), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let trades = real_trades("SPY", 400);
    for chunk in trades.chunks(10) {
        h.host.dispatch(h.batch(chunk));
    }
    let plugins = h.host.names().len();
    let outputs = h.collect(40 * plugins, Duration::from_secs(120));
    let tags: Vec<u32> = order_tags(&outputs, "counter")
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        tags,
        (1..=40).map(|i| i * 10).collect::<Vec<u32>>(),
        "the counter lost or repeated events"
    );
    let statuses = h.host.statuses();
    for (name, _, reason) in hostile {
        let s = statuses.iter().find(|s| s.info.name == name).unwrap();
        assert!(s.stats.faults >= 1, "{name} was never stopped");
        let err = s.stats.last_error.clone().unwrap_or_default();
        assert!(
            err.starts_with(reason),
            "{name}: expected `{reason}`, got `{err}`"
        );
    }
    for name in ["read-file", "read-env", "open-socket"] {
        assert!(
            order_tags(&outputs, name).is_empty(),
            "{name} escaped the sandbox"
        );
        let s = statuses.iter().find(|s| s.info.name == name).unwrap();
        assert_eq!(s.stats.faults, 0, "{name}: {:?}", s.stats.last_error);
    }
}

#[test]
fn a_panicking_plugin_is_rebuilt_then_quarantined() {
    let h = Harness::new(|c| {
        c.max_failures = 3;
        c.restart_backoff = Duration::from_millis(1);
    });
    h.settings("panic", "[parameters]\nat = 2\n");
    h.host
        .load_file(&h.install(guests::PANIC, "panic"), None)
        .unwrap();
    let trades = real_trades("SPY", 50);
    for t in trades.chunks(1) {
        h.host.dispatch(h.batch(t));
        std::thread::sleep(Duration::from_millis(3));
    }
    h.collect(50, WAIT);
    let s = &h.host.statuses()[0].stats;
    assert!(s.restarts >= 2, "{s:?}");
    assert_eq!(s.faults, 3, "{s:?}");
    assert!(s.health.starts_with("quarantined"), "{s:?}");
    assert!(s.events_skipped > 0);
    assert!(
        s.last_error.as_deref().unwrap_or("").contains("panicked"),
        "guest stderr kept: {s:?}"
    );
}

#[test]
fn bad_files_are_refused_with_a_reason() {
    // slow-init busy-waits in init far past this start deadline (of CPU time).
    let h = Harness::new(|c| c.start_deadline = Duration::from_millis(300));
    let dir = h.host.config().dir.clone();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let counter = std::fs::read(guests::COUNTER).unwrap();
    let cases: Vec<(std::path::PathBuf, &str)> = vec![
        (
            write("garbage.wasm", b"definitely not wasm \x00\x01"),
            "not a WebAssembly component",
        ),
        (
            write("core.wasm", &[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]),
            "core WebAssembly module",
        ),
        (write("empty.wasm", b""), "empty"),
        (
            write("half.wasm", &counter[..counter.len() / 2]),
            "truncated",
        ),
        (
            h.install(guests::WRONG_VERSION, "wrong"),
            "tradehost:strategy@1.0.0",
        ),
        (
            h.install(guests::INIT_FAILS, "init-fails"),
            "refusing to start on purpose",
        ),
        (h.install(guests::SLOW_INIT, "slow"), "deadline exceeded"),
    ];
    for (path, expected) in cases {
        let err = h
            .host
            .load_file(&path, None)
            .expect_err(&path.display().to_string())
            .to_string();
        assert!(
            err.contains(expected),
            "{}: expected `{expected}` in `{err}`",
            path.display()
        );
    }
    assert!(h.host.names().is_empty());
}

#[test]
fn wrong_version_names_both_versions() {
    let h = Harness::new(|_| {});
    let err = h
        .host
        .load_file(&h.install(guests::WRONG_VERSION, "w"), None)
        .unwrap_err();
    match err {
        PluginError::IncompatibleVersion {
            plugin_version,
            host_version,
            ..
        } => {
            assert_eq!(plugin_version, "1.0.0");
            assert_eq!(host_version, "0.3.0");
        }
        other => panic!("unexpected: {other}"),
    }
}

#[test]
fn settings_file_is_validated_against_describe() {
    let h = Harness::new(|_| {});
    let path = h.install(guests::COUNTER, "counter");
    h.settings("counter", "[parameters]\nevery = 5\nevry = 3\n");
    let err = h.host.load_file(&path, None).unwrap_err().to_string();
    assert!(
        err.contains("line 3") && err.contains("unknown parameter `evry`"),
        "{err}"
    );
    h.settings("counter", "[parameters]\nevery = 5\n");
    let info = h.host.load_file(&path, None).unwrap();
    assert!(
        info.config
            .contains(&("every".to_string(), "5".to_string()))
    );
}

#[test]
fn compiled_artifacts_are_cached_on_disk_and_shared_by_identical_files() {
    // Without a disk cache, the same bytes under another name (a sweep's sets) are neither
    // compiled nor loaded again; other bytes are compiled.
    let h = Harness::new(|c| c.cache_dir = None);
    let path = h.install(guests::SMA_CROSSOVER, "sma");
    let first = h.host.load_file(&path, None).unwrap();
    let twin = h.install(guests::SMA_CROSSOVER, "twin");
    let second = h.host.load_file(&twin, None).unwrap();
    let other = h.install(guests::COUNTER, "counter");
    let third = h.host.load_file(&other, None).unwrap();
    assert!(!first.cached && second.cached && !third.cached);
    assert!(
        second.compile_ms < first.compile_ms,
        "{} vs {}",
        second.compile_ms,
        first.compile_ms
    );
    // Each twin is its own instance.
    let names = h.host.names();
    assert!(names.contains(&"sma".to_string()) && names.contains(&"twin".to_string()));

    // A host (a process) finds what another compiled in the disk cache.
    let cache = tempfile::tempdir().unwrap();
    let with_cache = |c: &mut tradehost::plugins::PluginConfig| {
        c.cache_dir = Some(cache.path().to_path_buf());
    };
    let compiling = Harness::new(with_cache);
    let path = compiling.install(guests::SMA_CROSSOVER, "sma");
    let compiled = compiling.host.load_file(&path, None).unwrap();
    let loading = Harness::new(with_cache);
    let path = loading.install(guests::SMA_CROSSOVER, "sma");
    let loaded = loading.host.load_file(&path, None).unwrap();
    assert!(!compiled.cached && loaded.cached);
    assert!(
        loaded.compile_ms < compiled.compile_ms,
        "{} vs {}",
        loaded.compile_ms,
        compiled.compile_ms
    );
}

/// Replace a file the way deploy tools do: write a temporary file, then rename it in place.
fn replace_atomically(src: &str, dest: &std::path::Path) {
    let tmp = dest.with_extension("wasm.tmp");
    std::fs::copy(src, &tmp).unwrap();
    std::fs::rename(&tmp, dest).unwrap();
}

#[test]
fn hot_reload_under_a_live_stream_loses_and_repeats_nothing() {
    let h = Harness::new(|_| {});
    h.settings("counter", "[parameters]\nevery = 1\n");
    let path = h.install(guests::COUNTER, "counter");
    h.host.load_file(&path, None).unwrap();
    let _watch = tradehost::plugins::watcher::watch(h.host.clone()).unwrap();
    let trades = real_trades("SPY", 20_000);
    let (mut batches, mut sent, mut after_swap) = (0, 0, 0);
    let start = Instant::now();
    let mut swapped_at = None;
    // Keep the stream going until the new version has served for a while.
    for chunk in trades.chunks(20) {
        h.host.dispatch(h.batch(chunk));
        batches += 1;
        sent += chunk.len();
        std::thread::sleep(Duration::from_millis(2));
        if batches == 40 {
            replace_atomically(guests::COUNTER_V2, &path);
            swapped_at = Some(start.elapsed());
        }
        if h.host.statuses()[0].stats.reloads_ok > 0 {
            after_swap += 1;
            if after_swap == 40 {
                break;
            }
        }
    }
    let outputs = h.collect(batches, Duration::from_secs(60));
    let orders = order_tags(&outputs, "counter");
    let tags: Vec<u32> = orders.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        tags,
        (1..=sent as u32).collect::<Vec<u32>>(),
        "events lost or repeated across the swap"
    );
    let switch = orders
        .iter()
        .position(|(_, q)| *q == 2.0)
        .expect("the new version never served");
    assert!(
        orders[..switch].iter().all(|(_, q)| *q == 1.0)
            && orders[switch..].iter().all(|(_, q)| *q == 2.0)
    );
    let s = &h.host.statuses()[0];
    assert_eq!(
        (s.stats.reloads_ok, s.info.version.as_str()),
        (1, "2.0.0"),
        "swapped at {swapped_at:?}"
    );
}

#[test]
fn a_broken_new_version_leaves_the_old_one_serving_and_deleting_unloads() {
    let h = Harness::new(|_| {});
    let path = h.install(guests::COUNTER, "counter");
    h.host.load_file(&path, None).unwrap();
    let _watch = tradehost::plugins::watcher::watch(h.host.clone()).unwrap();
    std::fs::write(&path, b"\0asm\x0d\0\x01\0 broken").unwrap();
    let deadline = Instant::now() + WAIT;
    while h.host.statuses()[0].stats.reloads_failed == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = &h.host.statuses()[0];
    assert_eq!(s.stats.reloads_failed, 1);
    assert_eq!(s.info.version, "1.0.0");
    h.host.dispatch(h.batch(&real_trades("SPY", 10)));
    assert_eq!(
        order_tags(&h.collect(1, WAIT), "counter"),
        vec![(10, 1.0)],
        "the old version stopped serving"
    );

    std::fs::remove_file(&path).unwrap();
    let deadline = Instant::now() + WAIT;
    while !h.host.names().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        h.host.names().is_empty(),
        "deleting the file did not unload the plugin"
    );
}

/// A snapshot over `PLUGIN_MAX_SNAPSHOT_MB` is a fault: nothing of it is kept, the plugin is
/// told why in its last error, and a plugin within the cap snapshots as before.
#[test]
fn an_oversized_snapshot_is_a_fault_and_is_not_kept() {
    // The counter's serde state is a few dozen bytes: a 16-byte cap makes it "oversized".
    let h = Harness::new(|c| c.max_snapshot_bytes = 16);
    let path = h.install(guests::COUNTER, "counter");
    h.host.load_file(&path, None).unwrap();
    let saved = h.host.snapshot_all();
    assert!(
        saved.is_empty(),
        "an oversized snapshot was handed out: {saved:?}"
    );
    let stats = h.host.statuses().remove(0).stats;
    assert_eq!(stats.faults, 1, "{stats:?}");
    let error = stats.last_error.unwrap_or_default();
    assert!(
        error.contains("PLUGIN_MAX_SNAPSHOT_MB") && error.contains("last good snapshot is kept"),
        "{error}"
    );

    let h = Harness::new(|_| {});
    let path = h.install(guests::COUNTER, "counter");
    h.host.load_file(&path, None).unwrap();
    assert_eq!(h.host.snapshot_all().len(), 1);
}
