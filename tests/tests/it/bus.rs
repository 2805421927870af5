//! The scale-out bus against a real nats-server with JetStream, started by each test on a free
//! loopback port (the repository's `.venv/bin/nats-server`; skipped with a message when it is
//! not installed). Every wait is bounded.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tradehost::broker::{BrokerOutcome, Journal, JournalRecord};
use tradehost::bus::feed_publisher::ACK_TIMEOUT;
use tradehost::bus::{
    Bus, BusError, BusNotice, FeedPublisher, GapKind, HealthBoard, HostName, HostState, HostStatus,
    IntakeReport, Lease, LeaseState, Link, MarketEvent, MarketSubscriber, OrderConsumer,
    OrderPublisher, OrderReport, OrderSink, OutcomeSubscriber, PluginInstance, Role, StartAt,
    SymbolFilter, report_health,
};
use tradehost::feed::{FeedEvent, FeedStatus, TradeBatch};
use tradehost::types::{OrderKind, OrderRequest, PluginAction, Side, Symbol, Trade};
use tradehost_tests::bus_harness::{TestBroker, open_broker, test_config};
use tradehost_tests::nats_server::NatsServer;

/// Longest wait for anything the bus should do promptly.
const WAIT: Duration = Duration::from_secs(20);

/// Starts a server, or returns from the test when nats-server is not installed.
macro_rules! server_or_skip {
    ($test:literal) => {
        match NatsServer::start_or_skip($test).expect("nats-server starts") {
            Some(server) => server,
            None => return,
        }
    };
}

pub(crate) async fn connect(server: &NatsServer, host: &str) -> Bus {
    Bus::connect(test_config(&server.url(), host))
        .await
        .expect("connects to the test server")
}

/// `future`, or a panic naming `what` after `WAIT`.
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn trade(symbol: &Symbol, i: usize) -> Trade {
    Trade {
        symbol: symbol.clone(),
        price: 100.0 + i as f64,
        size: 1.0,
        time_ms: i as i64,
    }
}

fn trades_event(trades: Vec<Trade>) -> MarketEvent {
    MarketEvent::Feed(FeedEvent::Trades(TradeBatch::new(trades)))
}

/// The next trades or notice a subscriber yields.
async fn next(sub: &mut MarketSubscriber) -> MarketEvent {
    within("a market event", sub.next())
        .await
        .expect("the subscription is open")
}

pub(crate) fn limit_buy(tag: u32, price: f64) -> PluginAction {
    PluginAction::Place(OrderRequest {
        symbol: "SPY".into(),
        side: Side::Buy,
        quantity: 1.0,
        kind: OrderKind::Limit(price),
        tag,
    })
}

pub(crate) fn plugin(name: &str) -> PluginInstance {
    PluginInstance {
        name: name.into(),
        instance: 0,
    }
}

/// The bus origins of the order and refusal records of the journal in `dir`.
fn journaled_origins(dir: &Path) -> Vec<String> {
    Journal::read_all(&dir.join("journal.bin"))
        .expect("the journal reads")
        .records
        .into_iter()
        .filter_map(|r| match r {
            JournalRecord::Order { origin, .. } | JournalRecord::Rejected { origin, .. } => {
                origin.map(|o| o.to_string())
            }
            _ => None,
        })
        .collect()
}

/// The broker role's order intake over a real paper broker in `dir`, running until stopped.
struct Intake {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<IntakeReport, BusError>>,
}

impl Intake {
    /// Opens the broker in `dir` (handled orders from its journal) and starts consuming.
    async fn start(bus: &Bus, dir: &Path) -> Intake {
        let (paper, handled) = open_broker(dir).unwrap();
        let consumer = OrderConsumer::start(bus, handled, TestBroker::new(paper, 100.0))
            .await
            .unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(consumer.run(async {
            stopped.await.ok();
        }));
        Intake { stop, task }
    }

    /// Stops it between two orders and returns what it did.
    async fn stop(self) -> IntakeReport {
        let _ = self.stop.send(());
        within("the intake to stop", self.task)
            .await
            .expect("the intake task ends")
            .expect("the intake ends without error")
    }
}

/// The next report for this host, acknowledged.
pub(crate) async fn next_report(inbox: &mut OutcomeSubscriber) -> OrderReport {
    let delivery = within("a report", inbox.next()).await.expect("inbox open");
    let report = delivery.report.clone();
    delivery.ack().await.unwrap();
    report
}

/// (kind, tag, broker order id) of an outcome, to compare lists of them.
fn summary(report: &OrderReport) -> (&'static str, u32, u64) {
    match report {
        OrderReport::Outcome(BrokerOutcome::Accepted { tag, order_id, .. }) => {
            ("accepted", *tag, *order_id)
        }
        OrderReport::Outcome(BrokerOutcome::Cancelled { tag, order_id, .. }) => {
            ("cancelled", *tag, *order_id)
        }
        other => panic!("unexpected report {other:?}"),
    }
}

/// A subscriber of SPY's market data from now on.
async fn spy_subscriber(bus: &Bus) -> MarketSubscriber {
    MarketSubscriber::subscribe(bus, SymbolFilter::Only(vec!["SPY".into()]), StartAt::Live)
        .await
        .unwrap()
}

/// Publishes the `i`-th SPY trade, alone in its batch.
async fn publish_spy(publisher: &mut FeedPublisher, i: usize) {
    let spy: Symbol = "SPY".into();
    publisher
        .publish(&trades_event(vec![trade(&spy, i)]))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_data_keeps_its_order_per_symbol_for_every_subscriber() {
    let server = server_or_skip!("market_data_keeps_its_order_per_symbol_for_every_subscriber");
    let (feed, strategies, broker) = (
        connect(&server, "feed").await,
        connect(&server, "strategies").await,
        connect(&server, "broker").await,
    );
    let (spy, bac): (Symbol, Symbol) = ("SPY".into(), "FOREX:EUR/USD".into());
    let mut only_spy = MarketSubscriber::subscribe(
        &strategies,
        SymbolFilter::Only(vec![spy.clone()]),
        StartAt::Live,
    )
    .await
    .unwrap();
    let mut all = MarketSubscriber::subscribe(&broker, SymbolFilter::All, StartAt::Live)
        .await
        .unwrap();

    // Batches mixing both symbols, as Finnhub frames do, and a status change among them.
    let mut publisher = FeedPublisher::new(&feed);
    let mut sent = Vec::new();
    for round in 0..50 {
        let batch: Vec<Trade> = (0..6)
            .map(|i| trade(if i % 3 == 0 { &bac } else { &spy }, round * 6 + i))
            .collect();
        sent.extend(batch.iter().cloned());
        publisher.publish(&trades_event(batch)).await.unwrap();
    }
    let status = FeedStatus::Disconnected {
        reason: "test".into(),
    };
    publisher
        .publish(&MarketEvent::Feed(FeedEvent::Status(status.clone())))
        .await
        .unwrap();
    publisher.flush().await;

    // The broker's subscriber sees every trade in the feed's exact order, then the status;
    // the SPY subscriber sees SPY's trades only, in order, and the status.
    let want_spy: Vec<Trade> = sent.iter().filter(|t| t.symbol == spy).cloned().collect();
    for (sub, want) in [(&mut all, sent), (&mut only_spy, want_spy)] {
        let mut got = Vec::new();
        while got.len() < want.len() {
            match next(sub).await {
                MarketEvent::Feed(FeedEvent::Trades(b)) => got.extend(b.trades),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, want);
        let status_event = MarketEvent::Feed(FeedEvent::Status(status.clone()));
        assert_eq!(next(sub).await, status_event);
    }
    assert_eq!(strategies.stats().snapshot().missed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_falls_behind_is_told_of_the_gap_and_the_lag() {
    let server = server_or_skip!("a_subscriber_that_falls_behind_is_told_of_the_gap_and_the_lag");
    // A market stream of 64 KiB: a subscriber that stops reading loses the oldest messages.
    let mut config = test_config(&server.url(), "feed");
    config.market_max_bytes = 64 << 10;
    let feed = Bus::connect(config.clone()).await.unwrap();
    // Every host brings the streams to its own settings: the subscriber's must match.
    config.host = HostName::new("slow").unwrap();
    let slow = Bus::connect(config).await.unwrap();
    let mut sub = spy_subscriber(&slow).await;
    let mut publisher = FeedPublisher::new(&feed);
    publish_spy(&mut publisher, 0).await;
    publisher.flush().await;
    assert!(matches!(
        next(&mut sub).await,
        MarketEvent::Feed(FeedEvent::Trades(_))
    ));

    // While the subscriber does not read, far more than the stream holds is published.
    const TOTAL: usize = 5000;
    for i in 1..TOTAL {
        publish_spy(&mut publisher, i).await;
    }
    publisher.flush().await;
    tokio::time::sleep(Duration::from_millis(400)).await; // older than max_lag (300 ms)

    let (mut received, mut missed, mut behind, mut last) = (1usize, 0u64, false, 0i64);
    while last < TOTAL as i64 - 1 {
        match next(&mut sub).await {
            MarketEvent::Feed(FeedEvent::Trades(b)) => {
                for t in &b.trades {
                    assert!(t.time_ms > last, "trade {} after {last}", t.time_ms);
                    last = t.time_ms;
                }
                received += b.trades.len();
            }
            MarketEvent::Notice(BusNotice::Gap(g)) => match g.kind {
                GapKind::Missed(n) => {
                    assert_eq!(g.symbol.as_deref(), Some("SPY"));
                    missed += n;
                }
                GapKind::NewSession => panic!("same publisher, no new session: {g}"),
            },
            MarketEvent::Notice(BusNotice::Behind { behind: age, .. }) => {
                assert!(age >= Duration::from_millis(300), "{age:?}");
                behind = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        missed > 0,
        "the stream dropped messages: a gap must be reported"
    );
    assert_eq!(
        received as u64 + missed,
        TOTAL as u64,
        "every trade received or reported missing"
    );
    assert!(behind, "old messages must come with a Behind notice");
    assert_eq!(slow.stats().snapshot().missed, missed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_host_reads_on_from_its_saved_position() {
    let server = server_or_skip!("a_restarted_host_reads_on_from_its_saved_position");
    let (feed, strategies) = (
        connect(&server, "feed").await,
        connect(&server, "strategies").await,
    );
    let mut publisher = FeedPublisher::new(&feed);
    let mut sub = spy_subscriber(&strategies).await;
    for i in 0..3 {
        publish_spy(&mut publisher, i).await;
    }
    publisher.flush().await;
    for _ in 0..3 {
        assert!(matches!(
            next(&mut sub).await,
            MarketEvent::Feed(FeedEvent::Trades(_))
        ));
    }
    // The host saves its position with its snapshot and dies; trades go on meanwhile.
    let saved = sub.position();
    drop(sub);
    for i in 3..6 {
        publish_spy(&mut publisher, i).await;
    }
    publisher.flush().await;
    let filter = SymbolFilter::Only(vec!["SPY".into()]);
    let mut resumed = MarketSubscriber::subscribe(&strategies, filter, StartAt::After(saved))
        .await
        .unwrap();
    let mut times = Vec::new();
    while times.len() < 3 {
        match next(&mut resumed).await {
            MarketEvent::Feed(FeedEvent::Trades(b)) => {
                times.extend(b.trades.iter().map(|t| t.time_ms))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        times,
        [3, 4, 5],
        "exactly the trades after the saved position"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_reach_the_broker_once_and_outcomes_come_back_to_their_host() {
    let server =
        server_or_skip!("orders_reach_the_broker_once_and_outcomes_come_back_to_their_host");
    let dir = tempfile::tempdir().unwrap();
    let (strategies, broker_bus) = (
        connect(&server, "strategies-1").await,
        connect(&server, "broker").await,
    );
    let intake = Intake::start(&broker_bus, dir.path()).await;
    let mut inbox = OutcomeSubscriber::start(&strategies).await.unwrap();

    let mut orders = OrderPublisher::new(&strategies);
    let sma = plugin("sma");
    let actions = vec![
        limit_buy(1, 99.0),
        limit_buy(2, 98.0),
        PluginAction::Cancel(1),
    ];
    orders.submit(&sma, actions, None).await.unwrap();
    // Sent again at once (a strategy host retrying): the server keeps one copy.
    assert!(
        orders.send(&sma, limit_buy(2, 98.0), None).await.unwrap(),
        "a duplicate"
    );

    let mut reports = Vec::new();
    for _ in 0..3 {
        reports.push(summary(&next_report(&mut inbox).await));
    }
    assert_eq!(
        reports,
        [("accepted", 1, 1), ("accepted", 2, 2), ("cancelled", 1, 1)]
    );
    assert_eq!(intake.stop().await.applied, 3);
    assert_eq!(
        journaled_origins(dir.path()),
        ["strategies-1/sma/0/p1", "strategies-1/sma/0/p2"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_after_journaling_applies_nothing_twice_after_restart() {
    let server =
        server_or_skip!("a_broker_killed_after_journaling_applies_nothing_twice_after_restart");
    let dir = tempfile::tempdir().unwrap();
    let (strategies, broker_bus) = (
        connect(&server, "strategies-1").await,
        connect(&server, "broker").await,
    );
    let mut orders = OrderPublisher::new(&strategies);
    let sma = plugin("sma");

    // First broker: order 2 is journaled, then the process "dies" before acknowledging it.
    let (paper, handled) = open_broker(dir.path()).unwrap();
    let mut applier = TestBroker::new(paper, 100.0);
    applier.hang_after_tag = Some(2);
    let hung = applier.hung.clone();
    let consumer = OrderConsumer::start(&broker_bus, handled, applier)
        .await
        .unwrap();
    let killed = tokio::spawn(consumer.run(std::future::pending()));
    orders
        .submit(&sma, vec![limit_buy(1, 99.0), limit_buy(2, 98.0)], None)
        .await
        .unwrap();
    within("order 2 to be journaled", hung.notified()).await;
    killed.abort(); // as kill -9: no ack, no outcome, the journal closed by the OS
    let _ = killed.await;
    assert_eq!(
        journaled_origins(dir.path()),
        ["strategies-1/sma/0/p1", "strategies-1/sma/0/p2"]
    );

    // Past the server's dedup window the strategy host sends order 1 again (restarted from
    // an old snapshot), and a new order 3.
    within("the dedup window to pass", async {
        while orders.send(&sma, limit_buy(1, 99.0), None).await.unwrap() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    orders.send(&sma, limit_buy(3, 97.0), None).await.unwrap();

    // The restarted broker rebuilds what it handled from the journal: order 2 (delivered
    // again) and order 1 (sent again) are answered from it, order 3 is applied.
    assert_eq!(open_broker(dir.path()).unwrap().1.len(), 2);
    let intake = Intake::start(&broker_bus, dir.path()).await;
    let mut inbox = OutcomeSubscriber::start(&strategies).await.unwrap();
    let mut accepted: HashMap<u32, u64> = HashMap::new();
    while !accepted.contains_key(&3) {
        let (_, tag, order_id) = summary(&next_report(&mut inbox).await);
        // The same order always answers with the same broker order id.
        assert_eq!(*accepted.entry(tag).or_insert(order_id), order_id);
    }
    let report = intake.stop().await;
    assert_eq!((report.applied, report.repeats), (1, 2), "{report:?}");
    assert_eq!(accepted, HashMap::from([(1, 1), (2, 2), (3, 3)]));
    assert_eq!(
        journaled_origins(dir.path()),
        [
            "strategies-1/sma/0/p1",
            "strategies-1/sma/0/p2",
            "strategies-1/sma/0/p3"
        ],
        "each order journaled exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_order_is_parked_and_the_next_one_applied() {
    let server = server_or_skip!("a_malformed_order_is_parked_and_the_next_one_applied");
    let dir = tempfile::tempdir().unwrap();
    let (strategies, broker_bus) = (
        connect(&server, "strategies-1").await,
        connect(&server, "broker").await,
    );
    strategies
        .jetstream()
        .publish("tradehost.orders.strategies-1.sma", "not an order".into())
        .await
        .unwrap()
        .await
        .unwrap();
    OrderPublisher::new(&strategies)
        .send(&plugin("sma"), limit_buy(1, 99.0), None)
        .await
        .unwrap();
    let intake = Intake::start(&broker_bus, dir.path()).await;
    let mut inbox = OutcomeSubscriber::start(&strategies).await.unwrap();
    assert_eq!(summary(&next_report(&mut inbox).await), ("accepted", 1, 1));
    let report = intake.stop().await;
    assert_eq!((report.parked, report.applied), (1, 1));

    // The bad message is kept with the reason, not lost.
    let dead = broker_bus
        .jetstream()
        .get_stream("TRADEHOST_DEAD")
        .await
        .unwrap()
        .get_raw_message(1)
        .await
        .unwrap();
    assert_eq!(&dead.payload[..], b"not an order");
    let reason = dead.headers.get("Tradehost-Reason").unwrap().to_string();
    assert!(
        reason.contains("order message in bus format v110"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_lost_with_a_hung_server_cost_one_timeout_together() {
    let mut server =
        server_or_skip!("confirmations_lost_with_a_hung_server_cost_one_timeout_together");
    let feed = connect(&server, "feed").await;
    let mut publisher = FeedPublisher::new(&feed);
    publish_spy(&mut publisher, 0).await;
    publisher.flush().await;
    assert_eq!(feed.stats().snapshot().publish_failures, 0);

    // The server hangs: 20 publishes go into the socket and are never confirmed. Awaited one
    // after another with a clock each, they would hold the feed (and its shutdown) 100 s.
    server.freeze().unwrap();
    let lost = 20;
    for i in 1..=lost {
        publish_spy(&mut publisher, i).await;
    }
    let started = std::time::Instant::now();
    within("the unconfirmed publishes to time out", publisher.flush()).await;
    let took = started.elapsed();
    assert!(
        took < ACK_TIMEOUT * 2,
        "{lost} lost confirmations took {took:?}, more than one timeout ({ACK_TIMEOUT:?})"
    );
    assert_eq!(feed.stats().snapshot().publish_failures, lost as u64);
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_reconnects_after_the_server_restarts() {
    let mut server = server_or_skip!("every_client_reconnects_after_the_server_restarts");
    let dir = tempfile::tempdir().unwrap();
    let (feed, strategies, broker_bus) = (
        connect(&server, "feed").await,
        connect(&server, "strategies-1").await,
        connect(&server, "broker").await,
    );
    let mut sub = spy_subscriber(&strategies).await;
    let mut publisher = FeedPublisher::new(&feed);
    publish_spy(&mut publisher, 0).await;
    publisher.flush().await;
    assert!(matches!(
        next(&mut sub).await,
        MarketEvent::Feed(FeedEvent::Trades(_))
    ));
    let intake = Intake::start(&broker_bus, dir.path()).await;
    let mut inbox = OutcomeSubscriber::start(&strategies).await.unwrap();

    server.kill();
    within(
        "the link to drop",
        feed.link().wait_for(|l| *l == Link::Down),
    )
    .await
    .unwrap();
    assert_eq!(
        next(&mut sub).await,
        MarketEvent::Notice(BusNotice::LinkDown)
    );
    server.restart().unwrap();
    for bus in [&feed, &strategies, &broker_bus] {
        within(
            "every client to reconnect",
            bus.link().wait_for(|l| *l == Link::Up),
        )
        .await
        .unwrap();
    }

    // Market data flows again to the same subscription, after a LinkUp notice.
    let (mut after, mut saw_link_up, mut i) = (Vec::new(), false, 1);
    within("trades after the restart", async {
        while after.is_empty() {
            // Publish until the consumer, lost with the server, is recreated and delivers.
            publish_spy(&mut publisher, i).await;
            publisher.flush().await;
            i += 1;
            while let Ok(Some(e)) = timeout(Duration::from_millis(200), sub.next()).await {
                match e {
                    MarketEvent::Feed(FeedEvent::Trades(b)) => after.extend(b.trades),
                    MarketEvent::Notice(BusNotice::LinkUp) => saw_link_up = true,
                    _ => {}
                }
            }
        }
    })
    .await;
    assert!(saw_link_up);
    assert!(
        after.windows(2).all(|w| w[0].time_ms < w[1].time_ms),
        "in order"
    );

    // Orders and outcomes flow again, through the streams that survived on disk.
    OrderPublisher::new(&strategies)
        .send(&plugin("sma"), limit_buy(1, 99.0), None)
        .await
        .unwrap();
    assert_eq!(summary(&next_report(&mut inbox).await), ("accepted", 1, 1));
    assert_eq!(intake.stop().await.applied, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_feed_host_waits_for_the_lease_and_takes_over_when_it_expires() {
    let server =
        server_or_skip!("a_second_feed_host_waits_for_the_lease_and_takes_over_when_it_expires");
    let (a, b) = (
        connect(&server, "feed-a").await,
        connect(&server, "feed-b").await,
    );
    let mut lease_a = Lease::open(&a, "feed").await.unwrap();
    let mut lease_b = Lease::open(&b, "feed").await.unwrap();
    assert!(lease_a.try_acquire().await.unwrap());
    assert!(lease_a.is_held());

    // While A renews (every third of the 1 s lifetime), B never gets it.
    for _ in 0..6 {
        assert!(!lease_b.try_acquire().await.unwrap(), "held by A");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(lease_a.renew().await.unwrap());
    }
    assert_eq!(
        lease_b
            .holder()
            .await
            .unwrap()
            .map(|h| h.to_string())
            .as_deref(),
        Some("feed-a")
    );

    // A stops renewing (dead): the server expires the lease and B takes it.
    let stopped = tokio::time::Instant::now();
    within("B to take the lease over", async {
        while !lease_b.try_acquire().await.unwrap() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let waited = stopped.elapsed();
    assert!(
        waited >= Duration::from_millis(700),
        "not before it expired: {waited:?}"
    );
    assert!(
        !lease_a.is_held(),
        "A counts it lost before the server lets B in"
    );
    assert!(!lease_a.renew().await.unwrap(), "A's renewal is refused");

    // The keepers: A stands by while B holds it, and takes over at once when B releases it.
    let (stop_b, b_stopped) = tokio::sync::oneshot::channel::<()>();
    let (mut state_b, keeper_b) = lease_b.keep(async {
        b_stopped.await.ok();
    });
    let (mut state_a, keeper_a) = Lease::open(&a, "feed")
        .await
        .unwrap()
        .keep(std::future::pending());
    within(
        "B's keeper to hold",
        state_b.wait_for(|s| *s == LeaseState::Held),
    )
    .await
    .unwrap();
    within(
        "A to stand by",
        state_a.wait_for(
            |s| matches!(s, LeaseState::Standby { holder: Some(h) } if h.as_str() == "feed-b"),
        ),
    )
    .await
    .unwrap();
    let _ = stop_b.send(());
    within("B's keeper to stop", keeper_b).await.unwrap();
    within(
        "A to take over",
        state_a.wait_for(|s| *s == LeaseState::Held),
    )
    .await
    .unwrap();
    keeper_a.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_host_shows_on_the_health_board() {
    let server = server_or_skip!("every_host_shows_on_the_health_board");
    let (feed, broker) = (
        connect(&server, "feed-a").await,
        connect(&server, "broker").await,
    );
    let (_status_feed, rx_feed) = tokio::sync::watch::channel(HostStatus {
        role: Role::Feed,
        state: HostState::Running,
        lag: None,
        symbols: Vec::new(),
    });
    let (_status_broker, rx_broker) = tokio::sync::watch::channel(HostStatus {
        role: Role::Broker,
        state: HostState::Running,
        lag: None,
        symbols: Vec::new(),
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let reporter_feed = report_health(&feed, rx_feed, async {
        stopped.await.ok();
    });
    let _reporter_broker = report_health(&broker, rx_broker, std::future::pending());
    let board = HealthBoard::open(&broker).await.unwrap();
    let views = within("both records", async {
        loop {
            let views = board.read_all().await.unwrap();
            if views.len() == 2 {
                return views;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let hosts: Vec<(&str, Role)> = views
        .iter()
        .map(|v| (v.health.host.as_str(), v.health.role))
        .collect();
    assert_eq!(hosts, [("broker", Role::Broker), ("feed-a", Role::Feed)]);
    assert!(views.iter().all(|v| !v.stale));

    let _ = stop.send(());
    within("the feed's reporter to stop", reporter_feed)
        .await
        .unwrap();
    let views = board.read_all().await.unwrap();
    assert_eq!(views[1].health.state, HostState::Stopped);
}
