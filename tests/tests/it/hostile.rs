//! A plugin that abuses every channel it has to the host (the `chatterbox` fixture: forged
//! log lines with ANSI escapes through `log` and stderr, junk and malformed symbol names,
//! orders with NaN, infinite, negative, dust and absurd values, cancels of unknown tags),
//! running in the demo daemon next to an example strategy. The daemon stays up, the example
//! still fills, the logs hold no forged line, no escape code and no more lines than the
//! plugin's budget allows, nothing malformed reaches the journal or the symbol table, the
//! plugin is quarantined for its refusals (and stays so across a restart), and SIGTERM
//! ends it all within 10 s. Its junk symbols are not kept across the restart; the real
//! ones keep their ids.

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
    daemon
        .wait_until("a fill of the example", Duration::from_secs(180), |d| {
            d.has_filled("sma")
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
    let records = journal_records(&dir.path().join("journal/journal.bin"));
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
            JournalRecord::Fill { fill, .. } => {
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

    // The symbol table: the chatterbox interned its quota of junk names, and none was kept,
    // for nothing real used them; the symbols the feed subscribed were.
    let (next_id, kept) = saved_symbols(dir.path());
    assert!(
        next_id as usize >= MAX_NEW_SYMBOLS_PER_PLUGIN,
        "the junk was interned: next id {next_id}"
    );
    assert!(
        kept.keys()
            .all(|s| !s.starts_with("JUNK") && tradehost::plugins::symbols::check_name(s).is_ok()),
        "{kept:?}"
    );
    assert!(
        kept.contains_key("SPY") && kept.contains_key("IBM"),
        "{kept:?}"
    );

    // After a restart (the chatterbox held in quarantine, an example added) the kept symbols
    // have the same ids, new ones get ids past the junk's, and no junk came back.
    std::fs::copy(guests::RSI_REVERSION, plugins.join("rsi.wasm")).unwrap();
    let mut daemon = DaemonProcess::start(dir.path(), &env).unwrap();
    // Trades of its symbols reach it only after the feed subscribed them all.
    daemon
        .wait_until("rsi trading", Duration::from_secs(120), |d| {
            plugin_stat(d, "rsi", "events").and_then(|e| e.as_u64()) > Some(0)
        })
        .unwrap();
    assert_eq!(
        plugin_state(&daemon, "chatterbox").as_deref(),
        Some("quarantined")
    );
    let (status, _) = daemon.sigterm(Duration::from_secs(30)).unwrap();
    assert!(status.success(), "{status}");
    let (_, again) = saved_symbols(dir.path());
    for (symbol, id) in &kept {
        assert_eq!(again.get(symbol), Some(id), "{symbol} kept its id");
    }
    for symbol in ["BAC", "AIG"] {
        assert!(
            again.get(symbol).is_some_and(|id| *id >= next_id),
            "{symbol}: {again:?}"
        );
    }
    assert!(again.keys().all(|s| !s.starts_with("JUNK")), "{again:?}");
}

/// `state/symbols.json`: the next id and the kept names with their ids.
fn saved_symbols(dir: &std::path::Path) -> (u32, std::collections::BTreeMap<String, u32>) {
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("state/symbols.json")).unwrap()).unwrap();
    let next_id = file["next_id"].as_u64().unwrap() as u32;
    let symbols = serde_json::from_value(file["symbols"].clone()).unwrap();
    (next_id, symbols)
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
fn plugin_stat(d: &DaemonProcess, name: &str, field: &str) -> Option<serde_json::Value> {
    let status = d.status()?;
    status["plugins"]
        .as_array()?
        .iter()
        .find(|p| p["info"]["name"] == name)
        .map(|p| p["stats"][field].clone())
}

/// The state of the plugin `name` in /api/status.
fn plugin_state(d: &DaemonProcess, name: &str) -> Option<String> {
    plugin_stat(d, name, "state")?.as_str().map(str::to_string)
}

/// The last error of the plugin `name` in /api/status.
fn plugin_last_error(d: &DaemonProcess, name: &str) -> Option<String> {
    plugin_stat(d, name, "last_error")?
        .as_str()
        .map(str::to_string)
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
