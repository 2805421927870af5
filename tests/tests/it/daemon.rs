//! The daemon end to end in demo mode: the real demo server and feed client, real bundled
//! trades, a real compiled plugin, the paper broker's journal on disk, the status API, and
//! a restart that restores plugin state and rebuilds positions.

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

async fn http_get(port: u16, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    body
}

/// Run the daemon until `done` says so (or 60 s pass), then stop it gracefully.
async fn run_until(config: Config, port: u16, done: impl Fn() -> bool) -> String {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(tradehost::engine::run(config, async move {
        let _ = stop_rx.await;
    }));
    let started = Instant::now();
    while !done() && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = http_get(port, "/metrics").await;
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), daemon)
        .await
        .expect("graceful shutdown took too long")
        .unwrap()
        .unwrap();
    metrics
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
    let metrics = run_until(config(dir.path(), port), port, move || {
        orders(&j).iter().filter(|o| o.1).count() >= 3
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
    run_until(config(dir.path(), port), port, move || {
        orders(&j).len() >= before + 2
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
