//! The Finnhub client against a misbehaving mock server and the demo server, over loopback.
//!
//! Each test starts its own server on 127.0.0.1:0, uses fast reconnect settings, and bounds
//! every wait with a timeout.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::timeout;
use tradehost::feed::{
    BackoffPolicy, DemoConfig, DemoServer, FeedConfig, FeedEvent, FeedStatus, FinnhubClient, Secret,
};
use tradehost_tests::mock_finnhub::{Action, MockFinnhub};

const WAIT: Duration = Duration::from_secs(10);

/// A config for a local server: fast reconnects, quick keep-alive.
fn config(url: &str) -> FeedConfig {
    FeedConfig {
        api_key: Some(Secret::new("test-key-0123456789")),
        ws_url: url.to_string(),
        backoff: BackoffPolicy::fast(Duration::from_millis(20), Duration::from_millis(200), 0),
        ping_interval: Duration::from_millis(200),
        pong_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(2),
        ..FeedConfig::default()
    }
}

/// Receive events until `pred` matches one (returned with all seen); panics after `WAIT`.
async fn until(
    rx: &mut mpsc::Receiver<FeedEvent>,
    what: &str,
    pred: impl Fn(&FeedEvent) -> bool,
) -> Vec<FeedEvent> {
    let mut seen = Vec::new();
    let found = timeout(WAIT, async {
        while let Some(ev) = rx.recv().await {
            let hit = pred(&ev);
            seen.push(ev);
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "no {what} within {WAIT:?}; saw {seen:#?}"
    );
    seen
}

fn statuses(events: &[FeedEvent]) -> Vec<&FeedStatus> {
    events
        .iter()
        .filter_map(|e| match e {
            FeedEvent::Status(s) => Some(s),
            FeedEvent::Trades(_) => None,
        })
        .collect()
}

fn is_connected(e: &FeedEvent) -> bool {
    matches!(e, FeedEvent::Status(FeedStatus::Connected { .. }))
}

/// A predicate true at the `n`th `Subscribed` event.
fn subscribed_count(n: usize) -> impl Fn(&FeedEvent) -> bool {
    let seen = std::cell::Cell::new(0);
    move |e| {
        seen.set(
            seen.get()
                + usize::from(matches!(
                    e,
                    FeedEvent::Status(FeedStatus::Subscribed { .. })
                )),
        );
        seen.get() == n
    }
}

const SYMBOLS: [&str; 3] = ["STOCK:AAPL", "FOREX:EUR/USD", "CRYPTO:BTC/USDT"];
const PROVIDER: [&str; 3] = ["AAPL", "OANDA:EUR_USD", "BINANCE:BTCUSDT"];

/// Connect a client subscribed to `SYMBOLS` and wait for the first connection's subscriptions.
async fn connected(
    mock: &MockFinnhub,
    cfg: FeedConfig,
    cap: usize,
) -> (tradehost::feed::FeedHandle, mpsc::Receiver<FeedEvent>) {
    let (tx, mut rx) = mpsc::channel(cap);
    let handle = FinnhubClient::spawn(cfg, tx);
    for s in SYMBOLS {
        handle.subscribe(s).unwrap();
    }
    // Read the events first: a small channel would otherwise hold up the subscriptions.
    until(&mut rx, "3 Subscribed", subscribed_count(3)).await;
    mock.wait_subscribed(1, &PROVIDER, WAIT).await;
    (handle, rx)
}

#[tokio::test]
async fn reconnects_after_tcp_drop_and_resubscribes_everything() {
    let mock = MockFinnhub::start().await;
    let (handle, mut rx) = connected(&mock, config(&mock.url()), 256).await;
    assert!(mock.act(Action::DropTcp));
    let events = until(&mut rx, "Connected again", is_connected).await;
    let st = statuses(&events);
    assert!(matches!(st[0], FeedStatus::Disconnected { .. }), "{st:?}");
    assert!(
        matches!(st[1], FeedStatus::Reconnecting { attempt: 1, .. }),
        "{st:?}"
    );
    let log = mock.wait_subscribed(2, &PROVIDER, WAIT).await;
    assert_eq!(log.subscribes, PROVIDER, "resubscribed once each, in order");
    assert!(
        log.query.contains("token=test-key-0123456789"),
        "the key goes in the URL"
    );
    let again = until(&mut rx, "3 Subscribed after reconnect", subscribed_count(3)).await;
    let resubscribed: Vec<String> = statuses(&again)
        .iter()
        .filter_map(|s| match s {
            FeedStatus::Subscribed { symbol } => Some(symbol.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(resubscribed, SYMBOLS, "events carry the user's notation");
    handle.shutdown().await;
}

#[tokio::test]
async fn close_1001_reconnects_promptly_despite_a_long_delay() {
    let mock = MockFinnhub::start().await;
    let mut cfg = config(&mock.url());
    cfg.backoff = BackoffPolicy {
        jitter: 0.0,
        going_away: Duration::from_millis(50),
        ..BackoffPolicy::default()
    };
    let (handle, mut rx) = connected(&mock, cfg, 256).await;
    assert!(mock.act(Action::Close(1001)));
    let events = until(&mut rx, "Connected again", is_connected).await;
    let st = statuses(&events);
    assert!(
        matches!(st[0], FeedStatus::Disconnected { reason } if reason.contains("1001")),
        "{st:?}"
    );
    assert!(
        matches!(st[1], FeedStatus::Reconnecting { attempt: 1, delay } if *delay == Duration::from_millis(50)),
        "going away skips the 30 s initial delay: {st:?}"
    );
    mock.wait_subscribed(2, &PROVIDER, WAIT).await;
    handle.shutdown().await;
}

#[tokio::test]
async fn half_open_link_is_detected_by_the_pong_timeout() {
    let mock = MockFinnhub::start().await;
    let (handle, mut rx) = connected(&mock, config(&mock.url()), 256).await;
    assert!(mock.act(Action::HalfOpen));
    let events = until(&mut rx, "Connected again", is_connected).await;
    let st = statuses(&events);
    assert!(
        matches!(st[0], FeedStatus::Disconnected { reason } if reason.contains("PONG_TIMEOUT")),
        "{st:?}"
    );
    mock.wait_subscribed(2, &PROVIDER, WAIT).await;
    assert!(handle.stats().pings >= 1);
    handle.shutdown().await;
}

#[tokio::test]
async fn garbage_and_binary_frames_are_counted_not_fatal() {
    let mock = MockFinnhub::start().await;
    let (handle, mut rx) = connected(&mock, config(&mock.url()), 256).await;
    for action in [
        Action::Text("this is not json".into()),
        Action::Text(r#"{"type":"trade","data":[{"s":"AAPL"}]}"#.into()),
        Action::Binary(vec![0, 159, 146, 150]),
        Action::Text(r#"{"type":"news","data":[]}"#.into()),
        Action::Trades(vec![("AAPL".into(), 189.2, 100.0, 1_700_000_000_123)]),
    ] {
        assert!(mock.act(action));
    }
    let events = until(&mut rx, "the trade after the garbage", |e| {
        matches!(e, FeedEvent::Trades(_))
    })
    .await;
    let FeedEvent::Trades(trades) = events.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(&*trades[0].symbol, "STOCK:AAPL");
    assert_eq!(
        (trades[0].price, trades[0].size, trades[0].time_ms),
        (189.2, 100.0, 1_700_000_000_123)
    );
    let stats = handle.stats();
    assert_eq!(
        (
            stats.malformed_frames,
            stats.binary_frames,
            stats.connections
        ),
        (2, 1, 1)
    );
    assert!(statuses(&events).is_empty(), "no disconnect: {events:?}");
    handle.shutdown().await;
}

#[tokio::test]
async fn error_frame_rejects_the_symbol_and_it_is_not_resubscribed() {
    let mock = MockFinnhub::start().await;
    mock.reject_symbol("NOPE");
    let (handle, mut rx) = connected(&mock, config(&mock.url()), 256).await;
    handle.subscribe("NOPE").unwrap();
    let events = until(&mut rx, "Rejected", |e| {
        matches!(e, FeedEvent::Status(FeedStatus::Rejected { .. }))
    })
    .await;
    let Some(FeedStatus::Rejected { symbol, reason }) = statuses(&events).last().copied() else {
        unreachable!()
    };
    assert_eq!(&**symbol, "NOPE");
    assert!(reason.contains("Invalid symbol NOPE"), "{reason}");
    // Server-side errors that name no symbol are surfaced too.
    assert!(mock.act(Action::Text(
        r#"{"type":"error","msg":"Internal hiccup"}"#.into()
    )));
    until(&mut rx, "ServerError", |e| {
        matches!(e, FeedEvent::Status(FeedStatus::ServerError { .. }))
    })
    .await;
    assert!(mock.act(Action::DropTcp));
    let log = mock.wait_subscribed(2, &PROVIDER, WAIT).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log2 = &mock.connections()[1];
    assert!(!log2.subscribes.contains(&"NOPE".to_string()), "{log:?}");
    handle.shutdown().await;
}

#[tokio::test]
async fn handshake_429_three_times_backs_off_longer_then_connects() {
    let mock = MockFinnhub::start().await;
    mock.refuse_handshakes(&[429, 429, 429]);
    let (tx, mut rx) = mpsc::channel(256);
    let handle = FinnhubClient::spawn(config(&mock.url()), tx);
    handle.subscribe("AAPL").unwrap();
    let events = until(&mut rx, "Connected", is_connected).await;
    let st = statuses(&events);
    let delays: Vec<Duration> = st
        .iter()
        .filter_map(|s| match s {
            FeedStatus::Reconnecting { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect();
    // 20 ms ×2 per attempt, ×4 for a 429.
    assert_eq!(delays, [80, 160, 320].map(Duration::from_millis), "{st:?}");
    let refusals = st
        .iter()
        .filter(|s| matches!(s, FeedStatus::Disconnected { reason } if reason.contains("429")))
        .count();
    assert_eq!(refusals, 3);
    assert_eq!(mock.handshakes(), 4);
    mock.wait_subscribed(1, &["AAPL"], WAIT).await;
    handle.shutdown().await;
}

#[tokio::test]
async fn handshake_401_terminates_at_once_and_says_what_to_check() {
    let mock = MockFinnhub::start().await;
    mock.refuse_handshakes(&[401, 401, 401]);
    let (tx, mut rx) = mpsc::channel(256);
    let handle = FinnhubClient::spawn(config(&mock.url()), tx);
    let events = until(&mut rx, "Terminated", |e| {
        matches!(e, FeedEvent::Status(FeedStatus::Terminated { .. }))
    })
    .await;
    let Some(FeedStatus::Terminated { reason }) = statuses(&events).last().copied() else {
        unreachable!()
    };
    assert!(
        reason.contains("401") && reason.contains("FINNHUB_API_KEY"),
        "{reason}"
    );
    assert!(
        !reason.contains("test-key-0123456789") && reason.contains("token=***"),
        "{reason}"
    );
    assert!(
        timeout(WAIT, rx.recv()).await.unwrap().is_none(),
        "nothing after Terminated"
    );
    assert_eq!(mock.handshakes(), 1, "no hammering with a refused key");
    assert!(
        handle.subscribe("AAPL").is_err(),
        "a stopped client says so"
    );
}

#[tokio::test]
async fn gives_up_after_max_retries_with_a_terminal_event() {
    // A port with nothing listening: every connect is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = config(&format!("ws://127.0.0.1:{port}"));
    cfg.backoff.max_retries = 3;
    let (tx, mut rx) = mpsc::channel(256);
    let handle = FinnhubClient::spawn(cfg, tx);
    let events = until(&mut rx, "Terminated", |e| {
        matches!(e, FeedEvent::Status(FeedStatus::Terminated { .. }))
    })
    .await;
    let st = statuses(&events);
    let attempts: Vec<u32> = st
        .iter()
        .filter_map(|s| match s {
            FeedStatus::Reconnecting { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    let Some(FeedStatus::Terminated { reason }) = st.last() else {
        unreachable!()
    };
    assert!(reason.contains("RECONNECT_MAX_RETRIES=3"), "{reason}");
    assert!(
        matches!(st[0], FeedStatus::Disconnected { reason } if reason.contains("cannot reach")),
        "{st:?}"
    );
    timeout(WAIT, async {
        while !handle.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn subscriptions_are_pending_while_disconnected_and_the_limit_is_enforced() {
    let mock = MockFinnhub::start().await;
    mock.refuse_handshakes(&[503, 503]);
    let mut cfg = config(&mock.url());
    cfg.max_symbols = 2;
    let (tx, mut rx) = mpsc::channel(256);
    let handle = FinnhubClient::spawn(cfg, tx);
    handle.subscribe("AAPL").unwrap();
    handle.subscribe("MSFT").unwrap();
    handle.subscribe("IBM").unwrap();
    let events = until(&mut rx, "Connected", is_connected).await;
    let rejected = statuses(&events).into_iter().find_map(|s| match s {
        FeedStatus::Rejected { symbol, reason } => Some((symbol.to_string(), reason.clone())),
        _ => None,
    });
    let (symbol, reason) = rejected.expect("IBM rejected over the limit");
    assert_eq!(symbol, "IBM");
    assert!(reason.contains("MAX_SYMBOLS=2"), "{reason}");
    let log = mock.wait_subscribed(1, &["AAPL", "MSFT"], WAIT).await;
    assert_eq!(log.subscribes, ["AAPL", "MSFT"]);
    // At runtime: unsubscribe sends a frame and frees room.
    handle.unsubscribe("MSFT").unwrap();
    handle.subscribe("IBM").unwrap();
    mock.wait_subscribed(1, &["AAPL", "MSFT", "IBM"], WAIT)
        .await;
    assert_eq!(mock.connections()[0].unsubscribes, ["MSFT"]);
    handle.shutdown().await;
}

#[tokio::test]
async fn a_flood_of_100k_trades_arrives_complete_per_symbol() {
    let mock = MockFinnhub::start().await;
    let (handle, mut rx) = connected(&mock, config(&mock.url()), 1024).await;
    assert!(mock.act(Action::Flood {
        symbols: PROVIDER.map(String::from).to_vec(),
        per_symbol: 33_334,
        batch: 50
    }));
    let mut counts: HashMap<String, usize> = HashMap::new();
    let total = 3 * 33_334;
    timeout(Duration::from_secs(60), async {
        let mut n = 0;
        while n < total {
            match rx.recv().await {
                Some(FeedEvent::Trades(t)) => {
                    n += t.len();
                    for trade in t.trades {
                        *counts.entry(trade.symbol.to_string()).or_default() += 1;
                    }
                }
                Some(FeedEvent::Status(s)) => panic!("unexpected status during the flood: {s:?}"),
                None => panic!("client stopped"),
            }
        }
    })
    .await
    .expect("flood delivered in time");
    for s in SYMBOLS {
        assert_eq!(counts[s], 33_334, "{s}");
    }
    let stats = handle.stats();
    assert_eq!(
        (stats.trades, stats.dropped_trades, stats.malformed_frames),
        (total as u64, 0, 0)
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn a_slow_consumer_is_counted_and_reported() {
    let mock = MockFinnhub::start().await;
    let mut cfg = config(&mock.url());
    cfg.slow_consumer_grace = Duration::from_millis(5);
    let (handle, mut rx) = connected(&mock, cfg, 2).await;
    assert!(mock.act(Action::Flood {
        symbols: vec!["AAPL".into()],
        per_symbol: 20_000,
        batch: 100
    }));
    // Not reading: the channel (capacity 2) stays full until trades are dropped.
    let stats = handle.stats_handle();
    timeout(WAIT, async {
        while stats.snapshot().dropped_trades == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("trades dropped while the consumer does not read");
    let events = until(&mut rx, "SlowConsumer", |e| {
        matches!(e, FeedEvent::Status(FeedStatus::SlowConsumer { .. }))
    })
    .await;
    let Some(FeedStatus::SlowConsumer { dropped_trades }) = statuses(&events).last().copied()
    else {
        unreachable!()
    };
    assert!(*dropped_trades > 0);
    // Everything is accounted for: delivered + dropped = sent.
    let mut delivered: u64 = events
        .iter()
        .map(|e| match e {
            FeedEvent::Trades(t) => t.len() as u64,
            _ => 0,
        })
        .sum();
    timeout(WAIT, async {
        loop {
            let s = stats.snapshot();
            if s.trades + s.dropped_trades == 20_000 && delivered == s.trades {
                return;
            }
            if let Ok(Some(FeedEvent::Trades(t))) =
                timeout(Duration::from_millis(50), rx.recv()).await
            {
                delivered += t.len() as u64;
            }
        }
    })
    .await
    .expect("delivered + dropped = 20000");
    assert!(stats.snapshot().dropped_trades > 0);
    handle.shutdown().await;
}

#[tokio::test]
async fn the_key_never_appears_in_events() {
    let mock = MockFinnhub::start().await;
    let (handle, mut rx) = connected(&mock, config(&mock.url()), 256).await;
    assert!(mock.act(Action::Text(
        r#"{"type":"error","msg":"bad token test-key-0123456789"}"#.into()
    )));
    assert!(mock.act(Action::DropTcp));
    let events = until(&mut rx, "Connected again", is_connected).await;
    let shown = format!("{events:?}");
    assert!(!shown.contains("test-key-0123456789"), "{shown}");
    assert!(shown.contains("token=***"), "{shown}");
    handle.shutdown().await;
}

#[tokio::test]
async fn demo_mode_streams_real_trades_through_the_client() {
    let demo = DemoServer::start(DemoConfig {
        speed: 50.0,
        ..DemoConfig::default()
    })
    .await
    .unwrap();
    let cfg = FeedConfig {
        api_key: None,
        ..config(demo.url())
    };
    let (tx, mut rx) = mpsc::channel(1024);
    let handle = FinnhubClient::spawn(cfg, tx);
    for s in ["STOCK:SPY", "BAC", "XYZ"] {
        handle.subscribe(s).unwrap();
    }
    let mut per_symbol: HashMap<String, usize> = HashMap::new();
    let mut rejected = Vec::new();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    timeout(WAIT, async {
        while per_symbol.get("STOCK:SPY").copied().unwrap_or(0) < 200
            || per_symbol.get("BAC").copied().unwrap_or(0) < 20
        {
            match rx.recv().await.expect("client running") {
                FeedEvent::Trades(t) => {
                    for trade in t.trades {
                        assert!(
                            (trade.time_ms - now_ms).abs() < 60_000,
                            "rebased to now: {trade:?}"
                        );
                        assert!(trade.price > 1.0 && trade.size > 0.0);
                        *per_symbol.entry(trade.symbol.to_string()).or_default() += 1;
                    }
                }
                FeedEvent::Status(FeedStatus::Rejected { symbol, reason }) => {
                    rejected.push((symbol, reason))
                }
                FeedEvent::Status(_) => {}
            }
        }
    })
    .await
    .expect("demo trades for SPY and BAC");
    assert_eq!(
        per_symbol.len(),
        2,
        "only subscribed symbols: {per_symbol:?}"
    );
    assert!(
        rejected
            .iter()
            .any(|(s, r)| &**s == "XYZ" && r.contains("SPY")),
        "{rejected:?}"
    );
    handle.shutdown().await;
    demo.stop().await;
}

#[tokio::test]
async fn attempts_grow_while_flapping_and_reset_after_a_stable_connection() {
    let mock = MockFinnhub::start().await;
    let mut cfg = config(&mock.url());
    cfg.backoff.stable_after = Duration::from_millis(500);
    let (handle, mut rx) = connected(&mock, cfg, 256).await;
    let mut attempts = Vec::new();
    // Connections 1 and 2 drop at once (flapping), connection 3 stays up past `stable_after`.
    for (n, hold) in [(2, 0), (3, 0), (4, 700)] {
        tokio::time::sleep(Duration::from_millis(hold)).await;
        assert!(mock.act(Action::DropTcp));
        let events = until(&mut rx, "Connected again", is_connected).await;
        attempts.extend(statuses(&events).iter().filter_map(|s| match s {
            FeedStatus::Reconnecting { attempt, .. } => Some(*attempt),
            _ => None,
        }));
        mock.wait_subscribed(n, &PROVIDER, WAIT).await;
    }
    assert_eq!(attempts, [1, 2, 1]);
    handle.shutdown().await;
}
