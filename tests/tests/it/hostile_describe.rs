//! A plugin whose `describe` names 100,000 symbols (the `symbol-hoarder` fixture): refused
//! at load, in the daemon and by `tradehost check`, with a message that says why, before
//! any of its symbols is interned, subscribed or shown. The daemon and the example next to
//! it are not affected, and SIGTERM ends it within 10 s.

use std::time::Duration;
use tradehost::plugins::description_check::MAX_SYMBOLS;
use tradehost_tests::daemon_process::{DaemonProcess, binary};
use tradehost_tests::guests;

/// What the refusal says.
fn refusal() -> String {
    format!("describe names 100000 symbols; the most a plugin may trade is {MAX_SYMBOLS}")
}

#[test]
fn check_refuses_a_plugin_naming_100000_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hoarder.wasm");
    std::fs::copy(guests::SYMBOL_HOARDER, &file).unwrap();
    let out = std::process::Command::new(binary().unwrap())
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "refused: {stderr}");
    assert!(stderr.contains(&refusal()), "{stderr}");
}

#[test]
fn the_daemon_refuses_a_plugin_naming_100000_symbols_and_trades_on() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(guests::SMA_CROSSOVER, plugins.join("sma.wasm")).unwrap();
    std::fs::copy(guests::SYMBOL_HOARDER, plugins.join("hoarder.wasm")).unwrap();
    let mut daemon = DaemonProcess::start(dir.path(), &[]).unwrap();
    daemon
        .wait_until("a fill of the example", Duration::from_secs(180), |d| {
            d.has_filled("sma")
        })
        .unwrap();

    let log = daemon.log("trading_agent.log");
    assert!(
        log.lines()
            .any(|l| l.contains("hoarder") && l.contains(&refusal())),
        "the log says which plugin and why"
    );
    let body = daemon.get("/api/status").unwrap();
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let loaded: Vec<&str> = status["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["info"]["name"].as_str())
        .collect();
    assert_eq!(loaded, ["sma"]);
    let subscribed = status["feed"]["subscriptions"].as_array().unwrap();
    assert!(
        subscribed.len() <= 4,
        "only the example's symbols: {subscribed:?}"
    );
    assert!(
        body.len() < 256 << 10,
        "/api/status is {} bytes",
        body.len()
    );

    let (exit, took) = daemon.sigterm(Duration::from_secs(30)).unwrap();
    assert!(exit.success(), "{exit}");
    assert!(took <= Duration::from_secs(10), "SIGTERM took {took:?}");
    let table = std::fs::read_to_string(dir.path().join("state/symbols.json")).unwrap();
    assert!(
        table.len() < 1024 && !table.contains("\"S1\""),
        "none of its symbols kept: {table:.300}"
    );
}
