//! Guest code that writes to stderr or waits in WASI (a `panic!`/`eprintln!`, a Python
//! `print(..., file=sys.stderr)` or `time.sleep`) must never take the daemon down, hold up
//! its start, its plugin watcher or its shutdown.

use std::path::Path;
use std::time::{Duration, Instant};
use tradehost::plugins::PluginError;
use tradehost_tests::daemon_process::DaemonProcess;
use tradehost_tests::guests;
use tradehost_tests::plugin_harness::Harness;

/// One hour: far past every limit, so a wait that is not cut short shows at once.
const HOUR_MS: &str = "3600000";

/// Install the `wasi-blocker` fixture in `dir` as `name`, with these settings.
fn blocker(dir: &Path, name: &str, settings: &[(&str, &str)]) {
    let toml: String = std::iter::once("[parameters]\n".to_string())
        .chain(settings.iter().map(|(k, v)| format!("{k} = {v}\n")))
        .collect();
    std::fs::write(dir.join(format!("{name}.toml")), toml).unwrap();
    // Copy then rename, as a build tool installs a plugin into a watched folder.
    let tmp = dir.join(format!(".{name}.wasm.tmp"));
    std::fs::copy(guests::WASI_BLOCKER, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join(format!("{name}.wasm"))).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_stderr_and_sleeps_are_safe_on_a_runtime_thread() {
    // Loading from inside a tokio task is what the daemon did at start-up when a plugin's
    // `init` wrote to stderr: wasmtime-wasi's blocking shim panicked the whole process.
    let h = Harness::new(|c| c.start_deadline = Duration::from_millis(300));
    blocker(&h.host.config().dir, "noisy", &[("init_stderr_lines", "3")]);
    h.host
        .load_file(&h.host.config().dir.join("noisy.wasm"), None)
        .expect("stderr in init is fine");

    blocker(
        &h.host.config().dir,
        "sleepy",
        &[("init_sleep_ms", HOUR_MS)],
    );
    let started = Instant::now();
    let err = h
        .host
        .load_file(&h.host.config().dir.join("sleepy.wasm"), None)
        .expect_err("an hour-long sleep in init is refused");
    let waited = started.elapsed();
    assert!(
        matches!(&err, PluginError::Start { stage: "init", .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("wall time") && text.contains("pollable.block"),
        "{text}"
    );
    assert!(
        waited < Duration::from_secs(60),
        "cut short, not slept: {waited:?}"
    );
    assert_eq!(h.host.names(), ["noisy"]);
}

#[test]
fn check_refuses_a_sleeping_init_without_crashing() {
    let dir = tempfile::tempdir().unwrap();
    blocker(dir.path(), "sleepy", &[("init_sleep_ms", HOUR_MS)]);
    let out = std::process::Command::new(tradehost_tests::daemon_process::binary().unwrap())
        .args(["check"])
        .arg(dir.path().join("sleepy.wasm"))
        .env("PLUGIN_START_DEADLINE_MS", "300")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "refused, not crashed: {stderr}");
    assert!(stderr.contains("wall time"), "{stderr}");
}

#[test]
fn blocking_plugins_cannot_crash_hold_up_or_outlive_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guests::SMA_CROSSOVER, plugins.join("sma.wasm")).unwrap();
    blocker(&plugins, "noisy-init", &[("init_stderr_lines", "2")]);
    blocker(&plugins, "sleepy-init", &[("init_sleep_ms", HOUR_MS)]);
    blocker(&plugins, "noisy-events", &[("events_stderr_lines", "1")]);
    blocker(&plugins, "sleepy-events", &[("events_sleep_ms", HOUR_MS)]);

    let mut daemon = DaemonProcess::start(
        dir.path(),
        &[
            ("PLUGIN_START_DEADLINE_MS", "500"),
            ("PLUGIN_MAX_FAULTS", "2"),
        ],
    )
    .unwrap();
    let names = |d: &DaemonProcess| -> Vec<String> {
        d.status()
            .and_then(|s| {
                s["plugins"].as_array().map(|ps| {
                    ps.iter()
                        .filter_map(|p| p["info"]["name"].as_str().map(str::to_string))
                        .collect()
                })
            })
            .unwrap_or_default()
    };
    daemon
        .wait_until(
            "the daemon serving its status",
            Duration::from_secs(120),
            |d| !names(d).is_empty(),
        )
        .unwrap();
    assert_eq!(
        names(&daemon),
        ["noisy-events", "noisy-init", "sleepy-events", "sma"],
        "everything but the sleeping init loads"
    );
    let log = daemon.log("trading_agent.log");
    assert!(
        log.contains("sleepy-init") && log.contains("wall time"),
        "the refusal says it was a wait in wall time:\n{log}"
    );
    // The plugin that sleeps on every batch is stopped at each call's wall-time limit and
    // quarantined; the daemon goes on.
    daemon
        .wait_until("sleepy-events quarantined", Duration::from_secs(120), |d| {
            d.status().is_some_and(|s| {
                s["plugins"].as_array().into_iter().flatten().any(|p| {
                    p["info"]["name"] == "sleepy-events"
                        && p["stats"]["health"]
                            .as_str()
                            .is_some_and(|h| h.starts_with("quarantined"))
                })
            })
        })
        .unwrap();

    // Dropped into the running daemon: the sleeper is refused, and the watcher goes on to
    // load the next file promptly.
    blocker(&plugins, "late-sleepy", &[("init_sleep_ms", HOUR_MS)]);
    let tmp = plugins.join(".late-sma.wasm.tmp");
    std::fs::copy(guests::SMA_CROSSOVER, &tmp).unwrap();
    std::fs::rename(&tmp, plugins.join("late-sma.wasm")).unwrap();
    daemon
        .wait_until("late-sma loaded", Duration::from_secs(60), |d| {
            names(d).iter().any(|n| n == "late-sma")
        })
        .unwrap();
    assert!(!names(&daemon).iter().any(|n| n == "late-sleepy"));

    let (status, took) = daemon.sigterm(Duration::from_secs(30)).unwrap();
    assert!(status.success(), "clean exit, not a crash: {status}");
    assert!(took <= Duration::from_secs(10), "SIGTERM took {took:?}");
}

#[test]
fn a_clean_stop_that_overruns_its_deadline_is_cut_short_and_said_so() {
    // Whatever holds a clean stop up (a bus that stopped answering, a stuck disk), the
    // process is gone `SHUTDOWN_TIMEOUT_SECS` after the signal. A limit far below what a
    // clean stop takes shows the deadline at work.
    let dir = tempfile::tempdir().unwrap();
    let mut daemon =
        DaemonProcess::start(dir.path(), &[("SHUTDOWN_TIMEOUT_SECS", "0.001")]).unwrap();
    daemon
        .wait_until(
            "the daemon serving its status",
            Duration::from_secs(120),
            |d| d.status().is_some(),
        )
        .unwrap();
    let logs = dir.path().join("logs/trading_agent.log");
    let (status, took) = daemon.sigterm(Duration::from_secs(20)).unwrap();
    assert_eq!(status.code(), Some(1), "took {took:?}");
    let log = std::fs::read_to_string(logs).unwrap();
    assert!(
        log.contains("did not finish within") && log.contains("SHUTDOWN_TIMEOUT_SECS"),
        "the log says why it exited:\n{log}"
    );
}
