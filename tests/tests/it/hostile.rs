//! A plugin that abuses every channel it has to the host (the `chatterbox` fixture: forged
//! log lines with ANSI escapes through `log` and stderr, junk and malformed symbol names,
//! orders with NaN, infinite, negative, dust and absurd values, cancels of unknown tags),
//! running in the demo daemon next to an example strategy. The daemon stays up, the example
//! still fills, the logs hold no forged line, no escape code and no more lines than the
//! plugin's budget allows, nothing malformed reaches the journal or the symbol table, the
//! plugin is quarantined for its refusals (and stays so across a restart), and SIGTERM
//! ends it all within 10 s.

use std::time::{Duration, Instant};
use tradehost::broker::JournalRecord;
use tradehost::plugins::log_budget::{BURST_LINES, LINES_PER_SEC};
use tradehost::plugins::sandbox::MAX_NEW_SYMBOLS_PER_PLUGIN;
use tradehost_tests::daemon_harness::journal_records;
use tradehost_tests::daemon_process::DaemonProcess;
use tradehost_tests::guests;

/// Every log file's text, rotated ones included.
fn all_logs(dir: &std::path::Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir.join("logs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        text.push_str(&String::from_utf8_lossy(
            &std::fs::read(entry.path()).unwrap_or_default(),
        ));
    }
    text
}

#[test]
fn a_plugin_flooding_every_channel_cannot_forge_poison_or_hold_up_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guests::SMA_CROSSOVER, plugins.join("sma.wasm")).unwrap();
    std::fs::copy(guests::CHATTERBOX, plugins.join("chatterbox.wasm")).unwrap();
    let started = Instant::now();
    // A generous call deadline: on a loaded machine the flood must reach the log budget
    // rather than fault on time and be quarantined first.
    let env = [
        ("CONSOLE_SUMMARY_SECS", "1"),
        ("PLUGIN_CALL_DEADLINE_MS", "500"),
    ];
    let mut daemon = DaemonProcess::start(dir.path(), &env).unwrap();
    let journal = dir.path().join("journal/journal.bin");
    let filled = |plugin: &str| {
        journal_records(&journal)
            .iter()
            .any(|r| matches!(r, JournalRecord::Fill { fill } if &*fill.plugin == plugin))
    };
    daemon
        .wait_until("a fill of the example", Duration::from_secs(180), |_| {
            filled("sma")
        })
        .unwrap();
    daemon
        .wait_until(
            "the chatterbox's lines dropped",
            Duration::from_secs(120),
            |d| d.log("trading_agent.log").contains("log lines dropped"),
        )
        .unwrap();
    // Its malformed orders are refused by the thousand: past PLUGIN_MAX_REFUSALS_PER_MIN
    // within a minute it is quarantined, saying why and what to do.
    daemon
        .wait_until(
            "the chatterbox quarantined for its refusals",
            Duration::from_secs(120),
            |d| plugin_state(d, "chatterbox").as_deref() == Some("quarantined"),
        )
        .unwrap();
    let last_error = plugin_last_error(&daemon, "chatterbox").unwrap_or_default();
    assert!(
        last_error.contains("orders refused within")
            && last_error.contains("PLUGIN_MAX_REFUSALS_PER_MIN")
            && last_error.contains("replace its file"),
        "{last_error}"
    );
    assert!(
        daemon
            .log("trading_agent.log")
            .contains("plugin quarantined: "),
        "the log says so"
    );
    let (status, took) = daemon.sigterm(Duration::from_secs(30)).unwrap();
    let ran = started.elapsed();
    assert!(status.success(), "clean exit: {status}");
    assert!(took <= Duration::from_secs(10), "SIGTERM took {took:?}");

    let logs = all_logs(dir.path());
    // The console's summary line told the story meanwhile.
    assert!(
        logs.lines()
            .any(|l| l.contains("last 1 s: ") && l.contains(" fills, ") && l.contains("healthy")),
        "no summary line"
    );
    assert!(!logs.contains('\u{1b}'), "an escape code reached the logs");
    // Stderr is split at its newlines, like any program's; each piece is still a line of
    // the host's, attributed to the plugin, and `log` messages keep the newline escaped.
    let forged: Vec<&str> = logs.lines().filter(|l| l.contains("FORGED")).collect();
    assert!(!forged.is_empty(), "the fixture's lines reached the log");
    for line in forged {
        assert!(
            !line.starts_with("2026-01-01") && line.contains("tradehost::plugin"),
            "a forged line stands on its own: {line:.300}"
        );
    }
    assert!(
        !logs
            .lines()
            .any(|l| l.starts_with("BAD") || l.starts_with("INFO forged"))
    );
    let chatter = logs
        .lines()
        .filter(|l| l.contains("chatter ") || l.contains("FORGED"))
        .count() as f64;
    let budget = BURST_LINES + LINES_PER_SEC * ran.as_secs_f64();
    assert!(chatter >= 1.0, "the fixture ran");
    assert!(
        chatter <= budget,
        "{chatter} lines against a budget of {budget:.0}"
    );
    assert!(
        logs.lines().all(|l| l.len() < 4096),
        "every line is cut at its documented length"
    );

    // The journal: the example's orders and fills; nothing of the chatterbox's, all finite.
    let records = journal_records(&journal);
    for record in &records {
        match record {
            JournalRecord::Order {
                plugin, request, ..
            } => {
                assert_ne!(&**plugin, "chatterbox", "{record:?}");
                assert!(
                    request.quantity.is_finite() && request.quantity > 0.0,
                    "{record:?}"
                );
            }
            JournalRecord::Rejected {
                rejection, request, ..
            } => {
                assert_ne!(&*rejection.plugin, "chatterbox", "{record:?}");
                assert!(request.quantity.is_finite(), "{record:?}");
            }
            JournalRecord::Fill { fill } => {
                assert!(
                    fill.price.is_finite() && fill.quantity.is_finite(),
                    "{record:?}"
                );
            }
            _ => {}
        }
    }

    // The quarantine outlives a restart (the list is what the next start reads).
    let held = std::fs::read_to_string(dir.path().join("state/quarantine.json")).unwrap();
    assert!(
        held.contains("\"chatterbox\"") && held.contains("orders refused within"),
        "{held}"
    );

    // The symbol table kept no malformed name and at most the per-plugin quota of junk.
    let table: Vec<String> =
        serde_json::from_slice(&std::fs::read(dir.path().join("state/symbols.json")).unwrap())
            .unwrap();
    assert!(
        table
            .iter()
            .all(|s| tradehost::plugins::symbols::check_name(s).is_ok()),
        "{:?}",
        table
            .iter()
            .filter(|s| tradehost::plugins::symbols::check_name(s).is_err())
            .collect::<Vec<_>>()
    );
    let junk = table.iter().filter(|s| s.starts_with("JUNK")).count();
    assert!(
        junk > 0 && junk <= MAX_NEW_SYMBOLS_PER_PLUGIN,
        "{junk} junk symbols kept"
    );
}

#[test]
fn a_saved_state_the_plugin_refuses_is_set_aside_and_the_plugin_starts_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guests::SMA_CROSSOVER, plugins.join("sma.wasm")).unwrap();
    let states = dir.path().join("state/plugins");
    std::fs::create_dir_all(&states).unwrap();
    std::fs::write(states.join("sma.state"), b"\xffnot what sma saved").unwrap();
    let mut daemon = DaemonProcess::start(dir.path(), &[]).unwrap();
    daemon
        .wait_until("sma running", Duration::from_secs(120), |d| {
            d.status().is_some_and(|s| {
                s["plugins"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["info"]["name"] == "sma")
            })
        })
        .unwrap();
    let log = daemon.log("trading_agent.log");
    assert!(
        log.contains("refused its saved state") && log.contains("starts fresh"),
        "the log says what happened and what to do:\n{log}"
    );
    let aside: Vec<_> = std::fs::read_dir(&states)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("sma.state.refused-")
        })
        .collect();
    assert_eq!(
        aside.len(),
        1,
        "the refused state is kept for a person to look at"
    );
    assert_eq!(
        std::fs::read(aside[0].path()).unwrap(),
        b"\xffnot what sma saved"
    );
    let (status, _) = daemon.sigterm(Duration::from_secs(30)).unwrap();
    assert!(status.success());
    // The fresh state was saved at shutdown, so the next start restores it.
    assert!(states.join("sma.state").exists());
}

/// The stat `field` of the plugin `name` in /api/status (which lists loaded and held
/// plugins).
fn plugin_stat(d: &DaemonProcess, name: &str, field: &str) -> Option<String> {
    let status = d.status()?;
    status["plugins"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["info"]["name"] == name)
        .and_then(|p| p["stats"][field].as_str().map(str::to_string))
}

/// The state of the plugin `name` in /api/status.
fn plugin_state(d: &DaemonProcess, name: &str) -> Option<String> {
    plugin_stat(d, name, "state")
}

/// The last error of the plugin `name` in /api/status.
fn plugin_last_error(d: &DaemonProcess, name: &str) -> Option<String> {
    plugin_stat(d, name, "last_error")
}

#[test]
fn a_quarantine_survives_a_restart_until_the_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guests::SMA_CROSSOVER, plugins.join("sma.wasm")).unwrap();
    std::fs::copy(guests::PANIC, plugins.join("crashy.wasm")).unwrap();
    let env = [
        ("PLUGIN_MAX_FAULTS", "2"),
        ("PLUGIN_RESTART_BACKOFF_MS", "50"),
    ];
    let mut daemon = DaemonProcess::start(dir.path(), &env).unwrap();
    daemon
        .wait_until("crashy quarantined", Duration::from_secs(120), |d| {
            plugin_state(d, "crashy").as_deref() == Some("quarantined")
        })
        .unwrap();
    daemon.sigterm(Duration::from_secs(30)).unwrap();

    // Restarted with the same file: still quarantined, never started, and the log says
    // how to lift it.
    let mut daemon = DaemonProcess::start(dir.path(), &env).unwrap();
    daemon
        .wait_until("sma running", Duration::from_secs(120), |d| {
            plugin_state(d, "sma").as_deref() == Some("running")
        })
        .unwrap();
    assert_eq!(
        plugin_state(&daemon, "crashy").as_deref(),
        Some("quarantined")
    );
    let log = daemon.log("trading_agent.log");
    assert!(
        log.contains("crashy stays quarantined from the previous run") && log.contains("enable"),
        "{log}"
    );
    daemon.sigterm(Duration::from_secs(30)).unwrap();

    // A new build of the file lifts it: it loads (and runs until it panics again).
    std::fs::copy(guests::COUNTER, plugins.join("crashy.wasm")).unwrap();
    let mut daemon = DaemonProcess::start(dir.path(), &env).unwrap();
    daemon
        .wait_until("the new crashy running", Duration::from_secs(120), |d| {
            plugin_state(d, "crashy").as_deref() == Some("running")
        })
        .unwrap();
    daemon.sigterm(Duration::from_secs(30)).unwrap();
}
