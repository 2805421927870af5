//! The status API's honest answers and the operator's plugin controls, over real HTTP to a
//! demo (or live, for a dead feed) daemon: `/health` turns 503 with its reasons, a strategy
//! is flattened through the journal, a plugin is disabled and enabled with its state kept,
//! and the dashboard's event stream opens with a snapshot and ends when the daemon stops.

use std::time::{Duration, Instant};
use tradehost::broker::JournalRecord;
use tradehost::types::Side;
use tradehost_tests::daemon_harness::{
    Daemon, config_with, counter_plugin, demo_config, free_port, http_request,
};
use tradehost_tests::guests;

const LIMIT: Duration = Duration::from_secs(60);

async fn status(d: &Daemon) -> Option<serde_json::Value> {
    serde_json::from_str(&d.get("/api/status").await.ok()?).ok()
}

async fn post(d: &Daemon, path: &str) -> (u16, serde_json::Value) {
    let (code, body) = http_request(d.status, "POST", path, Some("{\"reason\":\"test\"}"), &[])
        .await
        .unwrap();
    (code, serde_json::from_str(&body).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_503_with_the_reason_when_the_feed_stays_down() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    // Live mode against a port where nothing listens: the feed never connects.
    let dead = format!("127.0.0.1:{}", free_port());
    let (ws, rest) = (format!("ws://{dead}/"), format!("http://{dead}/api/v1"));
    let extra = [
        ("FINNHUB_API_KEY", "test-key"),
        ("FINNHUB_WS_URL", ws.as_str()),
        ("FINNHUB_REST_URL", rest.as_str()),
        ("HEALTH_FEED_DOWN_SECS", "1"),
        ("SYMBOLS", "SPY"),
    ];
    let daemon =
        Daemon::start(config_with(dir.path(), free_port(), &extra, false).unwrap()).unwrap();
    let (code, body) = daemon
        .poll("/health to answer 503", LIMIT, async |d| {
            let (code, body) = http_request(d.status, "GET", "/health", None, &[])
                .await
                .ok()?;
            (code == 503).then_some((code, body))
        })
        .await
        .unwrap();
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code, 503);
    assert_eq!(health["status"], "unhealthy", "{health}");
    assert_eq!(health["problems"][0]["problem"], "feed_down", "{health}");
    assert!(
        health["messages"][0]
            .as_str()
            .unwrap()
            .contains("HEALTH_FEED_DOWN_SECS"),
        "{health}"
    );
    let s = status(&daemon).await.unwrap();
    assert_ne!(s["feed"]["link"]["state"], "connected", "{s}");
    assert_eq!(s["health"]["healthy"], false);
    let metrics = daemon.get("/metrics").await.unwrap();
    assert!(metrics.contains("tradehost_healthy 0"), "{metrics}");
    daemon.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_503_when_every_plugin_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::copy(guests::PANIC, dir.path().join("plugins/panic.wasm")).unwrap();
    std::fs::write(
        dir.path().join("plugins/panic.toml"),
        "[parameters]\nat = 1\n",
    )
    .unwrap();
    let extra = [
        ("PLUGIN_MAX_FAULTS", "2"),
        ("PLUGIN_RESTART_BACKOFF_MS", "10"),
    ];
    let daemon = Daemon::start(demo_config(dir.path(), free_port(), &extra).unwrap()).unwrap();
    let health: serde_json::Value = daemon
        .poll("/health to answer 503", LIMIT, async |d| {
            let (code, body) = http_request(d.status, "GET", "/health", None, &[])
                .await
                .ok()?;
            (code == 503)
                .then(|| serde_json::from_str(&body).ok())
                .flatten()
        })
        .await
        .unwrap();
    assert_eq!(
        health["problems"][0]["problem"], "all_plugins_quarantined",
        "{health}"
    );
    let s = status(&daemon).await.unwrap();
    assert_eq!(s["plugins"][0]["stats"]["state"], "quarantined", "{s}");
    daemon.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flatten_closes_a_strategys_positions_with_journaled_orders() {
    let dir = tempfile::tempdir().unwrap();
    counter_plugin(dir.path(), 100).unwrap();
    let daemon = Daemon::start(demo_config(dir.path(), free_port(), &[]).unwrap()).unwrap();
    daemon
        .wait_for("three fills", LIMIT, |d| {
            d.records()
                .iter()
                .filter(|r| matches!(r, JournalRecord::Fill { .. }))
                .count()
                >= 3
        })
        .await
        .unwrap();
    let (code, outcome) = post(&daemon, "/api/plugins/counter/flatten").await;
    assert_eq!(code, 200, "{outcome}");
    let order = &outcome["orders"][0];
    assert_eq!(
        (order["symbol"].as_str(), order["side"].as_str()),
        (Some("SPY"), Some("sell")),
        "{outcome}"
    );
    let id = order["order_id"]
        .as_u64()
        .expect("the closing order was accepted");
    let quantity = order["quantity"].as_f64().unwrap();
    assert!(quantity >= 3.0, "{outcome}");
    // Journaled like any order, and filled at a following trade.
    daemon
        .wait_for("the closing order's fill", LIMIT, |d| {
            d.records()
                .iter()
                .any(|r| matches!(r, JournalRecord::Fill { fill, .. } if fill.order_id == id))
        })
        .await
        .unwrap();
    let records = daemon.records();
    let placed = records.iter().find_map(|r| match r {
        JournalRecord::Order {
            order_id, request, ..
        } if *order_id == id => Some(request.clone()),
        _ => None,
    });
    let placed = placed.expect("the flatten's order is in the journal");
    assert_eq!(
        (placed.side, placed.quantity, placed.tag),
        (Side::Sell, quantity, u32::MAX)
    );
    let (code, refused) = post(&daemon, "/api/plugins/nobody/flatten").await;
    assert_eq!(code, 404, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("nobody"),
        "{refused}"
    );
    daemon.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_plugin_stops_and_comes_back_with_its_state() {
    let dir = tempfile::tempdir().unwrap();
    counter_plugin(dir.path(), 100).unwrap();
    let daemon = Daemon::start(demo_config(dir.path(), free_port(), &[]).unwrap()).unwrap();
    let tags = |d: &Daemon| -> Vec<u32> {
        d.records()
            .iter()
            .filter_map(|r| match r {
                JournalRecord::Order { request, .. } => Some(request.tag),
                _ => None,
            })
            .collect()
    };
    daemon
        .wait_for("two orders", LIMIT, |d| tags(d).len() >= 2)
        .await
        .unwrap();
    let (code, change) = post(&daemon, "/api/plugins/counter/disable").await;
    assert_eq!(
        (code, change["state"].as_str()),
        (200, Some("disabled")),
        "{change}"
    );
    let s = status(&daemon).await.unwrap();
    assert_eq!(s["plugins"][0]["stats"]["state"], "disabled", "{s}");
    let (code, again) = post(&daemon, "/api/plugins/counter/disable").await;
    assert_eq!(code, 409, "{again}");
    let before = tags(&daemon);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(tags(&daemon), before, "a disabled plugin placed orders");

    let (code, change) = post(&daemon, "/api/plugins/counter/enable").await;
    assert_eq!(
        (code, change["state"].as_str()),
        (200, Some("running")),
        "{change}"
    );
    daemon
        .wait_for("an order after enabling", LIMIT, |d| {
            tags(d).len() > before.len()
        })
        .await
        .unwrap();
    let after = tags(&daemon);
    // Its count went on from where it stopped: the state was saved and given back.
    assert!(
        after[before.len()] > before[before.len() - 1],
        "{before:?} then {after:?}"
    );
    let (code, _) = post(&daemon, "/api/plugins/counter/explode").await;
    assert_eq!(code, 404);
    daemon.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_opens_with_a_snapshot_and_ends_at_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    counter_plugin(dir.path(), 200).unwrap();
    let daemon = Daemon::start(demo_config(dir.path(), free_port(), &[]).unwrap()).unwrap();
    daemon
        .poll("the API", LIMIT, async |d| status(d).await)
        .await
        .unwrap();
    let mut s = tokio::net::TcpStream::connect(daemon.status).await.unwrap();
    s.write_all(b"GET /api/events HTTP/1.0\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    let mut buf = vec![0u8; 1 << 16];
    let started = Instant::now();
    // Read until a bar and a status event have come after the snapshot.
    while !(text.contains("event: bar") && text.contains("event: status")) {
        assert!(
            started.elapsed() < LIMIT,
            "no bar and status events: {}",
            &text[..text.len().min(2000)]
        );
        let n = tokio::time::timeout(LIMIT, s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the stream ended early");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // HTTP/1.0: no chunked framing between the events.
    assert!(
        text.lines().next().unwrap().contains(" 200 "),
        "{}",
        &text[..200]
    );
    assert!(text.contains("text/event-stream"));
    let first = text.split("event: ").nth(1).unwrap();
    assert!(
        first.starts_with("snapshot"),
        "the first event is a snapshot: {}",
        &first[..100]
    );
    let data = first
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap();
    let snapshot: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(snapshot["status"]["mode"], "demo");
    assert!(snapshot["bar_secs"].as_u64().unwrap() > 0);
    // Shutdown does not wait for the browser to go away: the stream ends.
    let stopped = Instant::now();
    daemon.stop().await.unwrap();
    assert!(stopped.elapsed() < Duration::from_secs(20));
    let rest = tokio::time::timeout(Duration::from_secs(10), async {
        while s.read(&mut buf).await.map(|n| n > 0).unwrap_or(false) {}
    })
    .await;
    assert!(rest.is_ok(), "the event stream stayed open after shutdown");
}
