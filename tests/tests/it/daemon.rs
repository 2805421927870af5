//! The daemon end to end in demo mode: the real demo server and feed client, real bundled
//! trades, a real compiled plugin, the paper broker's journal on disk, the status API, and
//! a restart that restores plugin state and rebuilds positions; and the demo's training at
//! start-up on the bundled history of every symbol.

use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tradehost::broker::{Journal, JournalRecord};
use tradehost::config::Config;
use tradehost::settings::Settings;
use tradehost_tests::guests;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(dir: &Path, port: u16) -> Config {
    let p = |sub: &str| dir.join(sub).display().to_string();
    let settings = Settings::from_pairs([
        ("PLUGIN_DIR", p("plugins")),
        ("STATE_DIR", p("state")),
        ("MODELS_DIR", p("models")),
        ("JOURNAL_PATH", p("journal/journal.bin")),
        ("LOG_DIR", "off".into()),
        ("STATUS_ADDR", format!("127.0.0.1:{port}")),
        ("DEMO_SPEED", "40".into()),
        ("RISK_MAX_ORDERS_PER_SEC", "1000".into()),
        ("PLUGIN_CALL_DEADLINE_MS", "500".into()),
    ]);
    Config::from_settings(&settings, true).unwrap()
}

fn orders(journal: &Path) -> Vec<(u32, bool)> {
    let Ok(contents) = Journal::read_all(journal) else {
        return Vec::new();
    };
    contents
        .records
        .iter()
        .filter_map(|r| match r {
            JournalRecord::Order { request, .. } => Some((request.tag, false)),
            JournalRecord::Fill { fill } => Some((fill.tag, true)),
            _ => None,
        })
        .collect()
}

/// The whole HTTP response to `GET path`, or `None` while nothing answers.
async fn try_http_get(port: u16, path: &str) -> Option<String> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).await.ok()?;
    Some(response)
}

async fn http_get(port: u16, path: &str) -> String {
    try_http_get(port, path)
        .await
        .expect("the status API answers")
}

/// Run the daemon until `probe` gives a value (or 60 s pass), then stop it gracefully;
/// returns the value and `/metrics` as it was then.
async fn run_until<T>(
    config: Config,
    port: u16,
    probe: impl AsyncFn() -> Option<T>,
) -> (Option<T>, String) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(tradehost::engine::run(config, async move {
        let _ = stop_rx.await;
    }));
    let started = Instant::now();
    let mut found = None;
    while started.elapsed() < Duration::from_secs(60) {
        found = probe().await;
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = http_get(port, "/metrics").await;
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), daemon)
        .await
        .expect("graceful shutdown took too long")
        .unwrap()
        .unwrap();
    (found, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_trades_fills_journals_and_resumes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::copy(guests::COUNTER, dir.path().join("plugins/counter.wasm")).unwrap();
    std::fs::write(
        dir.path().join("plugins/counter.toml"),
        "symbols = [\"SPY\"]\n[parameters]\nevery = 200\n",
    )
    .unwrap();
    let journal = dir.path().join("journal/journal.bin");

    let port = free_port();
    let j = journal.clone();
    let (_, metrics) = run_until(config(dir.path(), port), port, async move || {
        (orders(&j).iter().filter(|o| o.1).count() >= 3).then_some(())
    })
    .await;
    let first = orders(&journal);
    let fills = first.iter().filter(|o| o.1).count();
    assert!(
        fills >= 3,
        "no paper fills from real demo trades: {first:?}"
    );
    let fills_metric = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tradehost_broker_fills_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("fills in /metrics");
    assert!(fills_metric >= 1.0, "{metrics}");
    assert!(metrics.contains("tradehost_plugin_events_total{plugin=\"counter\"}"));
    assert!(
        dir.path().join("state/plugins/counter.state").exists(),
        "plugin state not saved at shutdown"
    );
    let last_tag = first.iter().map(|o| o.0).max().unwrap();

    // Restart: the counter resumes from its saved count, so its next tags continue upward.
    let port = free_port();
    let j = journal.clone();
    let before = first.len();
    run_until(config(dir.path(), port), port, async move || {
        (orders(&j).len() >= before + 2).then_some(())
    })
    .await;
    let second = orders(&journal);
    let new_tags: Vec<u32> = second[before..]
        .iter()
        .filter(|o| !o.1)
        .map(|o| o.0)
        .collect();
    assert!(!new_tags.is_empty(), "no orders after restart");
    assert!(
        new_tags.iter().all(|t| *t > last_tag),
        "the counter restarted from zero (state not restored): before {last_tag}, after {new_tags:?}"
    );
    // Positions were rebuilt from the journal: reopening it sees every fill.
    let (broker, report) = tradehost::broker::PaperBroker::open(tradehost::broker::BrokerConfig {
        journal_path: journal.clone(),
        ..Default::default()
    })
    .unwrap();
    let filled: f64 = second.iter().filter(|o| o.1).count() as f64;
    assert!(
        broker.position("counter", "SPY").quantity >= filled,
        "{report:?}"
    );
}

/// `/api/status` as JSON, or `None` while the API is not up yet.
async fn status_json(port: u16) -> Option<serde_json::Value> {
    let response = try_http_get(port, "/api/status").await?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    serde_json::from_str(body).ok()
}

/// At start-up the demo trains a model for every bundled symbol on the embedded history, and
/// the gate's decision on each shows in `/api/status` and in the stored metadata, whichever
/// way it goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_trains_every_bundled_symbol_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    let port = free_port();
    let symbols = ["AIG", "BAC", "IBM", "SPY"];
    // Every symbol's first cycle has ended when each has an outcome in the status API.
    let (models, _) = run_until(config(dir.path(), port), port, async || {
        let models = status_json(port).await?["models"].as_array()?.clone();
        let cycled = models
            .iter()
            .filter(|m| m["last_cycle"].as_str().is_some_and(|c| !c.is_empty()))
            .count();
        (cycled == symbols.len()).then_some(models)
    })
    .await;
    let models = models.expect("a cycle for every symbol within 60 s");

    let replay_start = chrono::DateTime::parse_from_rfc3339("2013-10-11T13:30:00Z")
        .unwrap()
        .timestamp_millis();
    let names: Vec<&str> = models.iter().filter_map(|m| m["symbol"].as_str()).collect();
    assert_eq!(names, symbols);
    for model in &models {
        let symbol = model["symbol"].as_str().unwrap();
        let cycle: serde_json::Value =
            serde_json::from_str(model["last_cycle"].as_str().unwrap()).unwrap();
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(format!("models/{symbol}/1/metadata.json"))).unwrap(),
        )
        .unwrap();
        // Trained on the bundled 1-minute history only, all of it before the replay.
        assert_eq!(meta["bar_secs"], 60, "{symbol}");
        assert!(
            meta["data"]["last_bar_ms"].as_i64().unwrap() < replay_start,
            "{symbol}"
        );
        // Both candidates were fitted; the kept one has the lower validation loss.
        let candidates = meta["candidates"].as_array().unwrap();
        let best = candidates
            .iter()
            .min_by(|a, b| {
                let loss = |c: &serde_json::Value| c["validation_loss"].as_f64().unwrap();
                loss(a).total_cmp(&loss(b))
            })
            .unwrap();
        assert_eq!(candidates.len(), 2, "{symbol}");
        assert_eq!(meta["kind"], best["kind"], "{symbol}");
        // The gate's decision follows the held-out numbers, and the status API says it.
        let e = &meta["evaluation"];
        let mse = |m: &str| e[m]["mse"].as_f64().unwrap();
        let beats = mse("model") < mse("zero") && mse("model") < mse("last_return");
        let deployed = cycle["outcome"] == "deployed";
        assert_eq!(deployed, beats, "{symbol}: {cycle}");
        assert!(
            deployed || cycle["outcome"] == "refused",
            "{symbol}: {cycle}"
        );
        assert_eq!(meta["status"] == "deployed", deployed, "{symbol}");
        assert_eq!(model["version"].as_u64().is_some(), deployed, "{symbol}");
    }
}
