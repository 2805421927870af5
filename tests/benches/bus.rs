//! Scale-out bus benchmark (issue 17): real SPY, BAC, AIG and IBM trades published by one feed
//! host's `FeedPublisher` through a local nats-server (JetStream, the market stream on disk)
//! to 1, 2 and 4 strategy hosts' `MarketSubscriber`s, each with its own connection, all on
//! loopback; then the latency the bus adds (publish call → event out of the subscriber) at a
//! steady rate; then the same through both of the bus's legs: a strategy host turns every
//! tenth trade it reads into an order at once, and the broker host's order intake times it
//! from the feed host's publish call (what the bus adds between frame read and order at the
//! broker; the single process has neither leg).
//!
//! Run: `cargo bench -p tradehost-tests --bench bus [-- TRADES SECONDS]` (defaults: 200,000
//! trades per fan-out run, 10 per message as Finnhub batches a busy symbol; 3 s per latency
//! run). Needs the repository's nats-server (`scripts/setup.sh`); says so and stops without it.
//! Publisher, subscribers and server share this machine's cores.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tradehost::broker::BrokerOutcome;
use tradehost::bus::{
    ApplyError, Bus, BusConfig, BusNotice, FeedPublisher, HandledOrders, HostName, MarketEvent,
    MarketSubscriber, OrderApplier, OrderConsumer, OrderMessage, OrderPublisher, PluginInstance,
    StartAt, StreamStorage, SymbolFilter,
};
use tradehost::feed::{FeedEvent, TradeBatch};
use tradehost::types::{OrderKind, OrderRequest, PluginAction, Side, Trade};
use tradehost_tests::nats_server::NatsServer;
use tradehost_tests::plugin_harness::real_trades;

/// Trades per message in the fan-out runs.
const PER_MESSAGE: usize = 10;
/// Latency is measured at these rates (trades per second, one trade per message).
const RATES: [u32; 2] = [2_000, 20_000];
/// Fan-out target: ten times a busy live feed (a few thousand trades/s at the open), to
/// leave room for many symbols.
const FANOUT_TARGET: f64 = 50_000.0;
/// Latency target at 2,000 trades/s: well under the 1-minute bar and the plugins' own budget.
const P99_TARGET_US: f64 = 1_000.0;
/// In the round trip, every this-many-th trade becomes an order.
const ORDER_EVERY: usize = 10;

fn args() -> (usize, u64) {
    let rest: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let num = |i: usize, d: u64| rest.get(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    (num(0, 200_000) as usize, num(1, 3))
}

/// The bundled real trades of four symbols, interleaved by time.
fn tape() -> Vec<Trade> {
    let mut tape: Vec<Trade> = ["SPY", "BAC", "AIG", "IBM"]
        .iter()
        .flat_map(|s| real_trades(s, 20_000))
        .collect();
    tape.sort_by_key(|t| t.time_ms);
    tape
}

/// A nats-server of this run's own (`main` checked that it is installed).
fn server() -> NatsServer {
    NatsServer::start_or_skip("bus bench")
        .expect("nats-server starts")
        .expect("nats-server installed")
}

async fn connect(server: &NatsServer, host: &str, storage: StreamStorage) -> Bus {
    let mut config = BusConfig::new(server.url(), HostName::new(host).expect("host name"));
    config.market_storage = storage;
    Bus::connect(config).await.expect("connects")
}

/// What one subscriber saw.
struct Seen {
    trades: usize,
    gaps: usize,
    done: Instant,
}

/// Reads until `total` trades arrived; counts gap notices.
async fn drain(mut sub: MarketSubscriber, total: usize) -> Seen {
    let (mut trades, mut gaps) = (0, 0);
    while trades < total {
        match sub.next().await {
            Some(MarketEvent::Feed(FeedEvent::Trades(b))) => trades += b.trades.len(),
            Some(MarketEvent::Notice(BusNotice::Gap(_))) => gaps += 1,
            Some(_) => {}
            None => break,
        }
    }
    Seen {
        trades,
        gaps,
        done: Instant::now(),
    }
}

/// Publishes `total` trades, `PER_MESSAGE` a message, to `subscribers` hosts; returns trades
/// per second until the last host had them all, and whether any was lost.
async fn fan_out(
    tape: &[Trade],
    total: usize,
    subscribers: usize,
    storage: StreamStorage,
) -> (f64, bool) {
    let server = server();
    let feed = connect(&server, "feed", storage).await;
    let mut tasks = Vec::new();
    for i in 0..subscribers {
        let bus = connect(&server, &format!("strategies-{i}"), storage).await;
        let sub = MarketSubscriber::subscribe(&bus, SymbolFilter::All, StartAt::Live)
            .await
            .expect("subscribes");
        tasks.push(tokio::spawn(async move {
            let seen = drain(sub, total).await;
            drop(bus);
            seen
        }));
    }
    let mut publisher = FeedPublisher::new(&feed);
    let started = Instant::now();
    let mut sent = 0;
    for chunk in tape.chunks(PER_MESSAGE).cycle() {
        if sent >= total {
            break;
        }
        let batch = chunk[..chunk.len().min(total - sent)].to_vec();
        sent += batch.len();
        publisher
            .publish(&MarketEvent::Feed(FeedEvent::Trades(TradeBatch::new(
                batch,
            ))))
            .await
            .expect("publishes");
    }
    publisher.flush().await;
    let mut last = started;
    let mut lost = false;
    for task in tasks {
        let seen = tokio::time::timeout(Duration::from_secs(120), task)
            .await
            .expect("subscribers finish")
            .expect("subscriber task");
        lost |= seen.trades != total || seen.gaps > 0;
        last = last.max(seen.done);
    }
    (total as f64 / (last - started).as_secs_f64(), lost)
}

/// Publishes one trade a message at `rate` for `seconds` to one host; returns the latencies
/// (µs) from the publish call to the event leaving the subscriber.
async fn latency(tape: &[Trade], rate: u32, seconds: u64) -> Vec<f64> {
    let server = server();
    let feed = connect(&server, "feed", StreamStorage::File).await;
    let bus = connect(&server, "strategies-0", StreamStorage::File).await;
    let mut sub = MarketSubscriber::subscribe(&bus, SymbolFilter::All, StartAt::Live)
        .await
        .expect("subscribes");
    let t0 = Instant::now();
    let total = rate as usize * seconds as usize;
    let reader = tokio::spawn(async move {
        let mut out = Vec::with_capacity(total);
        while out.len() < total {
            match sub.next().await {
                Some(MarketEvent::Feed(FeedEvent::Trades(b))) => {
                    let now = t0.elapsed().as_nanos() as i64;
                    out.extend(b.trades.iter().map(|t| (now - t.time_ms) as f64 / 1000.0));
                }
                Some(_) => {}
                None => break,
            }
        }
        out
    });
    publish_paced(&feed, tape, rate, total, t0).await;
    tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("subscriber finishes")
        .expect("subscriber task")
}

/// The broker side of the round trip: times each order from its trade's publish call.
struct Stopwatch {
    t0: Instant,
    /// Publish time (ns since `t0`) of the trade behind each order, by tag.
    sent: Arc<Mutex<HashMap<u32, i64>>>,
    /// Microseconds from publish call to the order's intake.
    out: Arc<Mutex<Vec<f64>>>,
}

#[async_trait::async_trait]
impl OrderApplier for Stopwatch {
    async fn apply(&mut self, order: &OrderMessage) -> Result<Vec<BrokerOutcome>, ApplyError> {
        let now = self.t0.elapsed().as_nanos() as i64;
        if let PluginAction::Place(r) = &order.action
            && let Some(sent) = self.sent.lock().expect("lock").remove(&r.tag)
        {
            self.out
                .lock()
                .expect("lock")
                .push((now - sent) as f64 / 1000.0);
        }
        Ok(Vec::new())
    }
}

/// Feed host → market stream → strategy host (an order at once for every `ORDER_EVERY`-th
/// trade, published by a task of its own as a strategy host's order publisher is) → order
/// stream → broker intake; microseconds per order.
async fn round_trip(tape: &[Trade], rate: u32, seconds: u64) -> Vec<f64> {
    let server = server();
    let feed = connect(&server, "feed", StreamStorage::File).await;
    let strategies = connect(&server, "strategies-0", StreamStorage::File).await;
    let broker = connect(&server, "broker", StreamStorage::File).await;
    let t0 = Instant::now();
    let total = rate as usize * seconds as usize;
    let orders = total / ORDER_EVERY;
    let sent: Arc<Mutex<HashMap<u32, i64>>> = Arc::default();
    let out: Arc<Mutex<Vec<f64>>> = Arc::default();
    let stopwatch = Stopwatch {
        t0,
        sent: sent.clone(),
        out: out.clone(),
    };
    let consumer = OrderConsumer::start(&broker, HandledOrders::new(), stopwatch)
        .await
        .expect("order intake");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let intake = tokio::spawn(consumer.run(async {
        let _ = stopped.await;
    }));
    let (order_tx, mut order_rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
    let orders_out = tokio::spawn(async move {
        let publisher = OrderPublisher::new(&strategies);
        let plugin = PluginInstance {
            name: "bench".into(),
            instance: 0,
        };
        while let Some(tag) = order_rx.recv().await {
            let order = PluginAction::Place(OrderRequest {
                symbol: "SPY".into(),
                side: Side::Buy,
                quantity: 1.0,
                kind: OrderKind::Market,
                tag,
            });
            publisher
                .send(&plugin, order, None)
                .await
                .expect("order stored");
        }
    });
    let mut sub = MarketSubscriber::subscribe(&feed, SymbolFilter::All, StartAt::Live)
        .await
        .expect("subscribes");
    let reader = tokio::spawn(async move {
        let mut seen = 0usize;
        while seen < total {
            match sub.next().await {
                Some(MarketEvent::Feed(FeedEvent::Trades(b))) => {
                    for t in &b.trades {
                        seen += 1;
                        if seen.is_multiple_of(ORDER_EVERY) {
                            let tag = seen as u32;
                            sent.lock().expect("lock").insert(tag, t.time_ms);
                            let _ = order_tx.send(tag);
                        }
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
    });
    publish_paced(&feed, tape, rate, total, t0).await;
    let _ = tokio::time::timeout(Duration::from_secs(60), reader).await;
    let _ = tokio::time::timeout(Duration::from_secs(60), orders_out).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.lock().expect("lock").len() < orders && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    let _ = intake.await;
    let mut l = out.lock().expect("lock").clone();
    l.sort_by(f64::total_cmp);
    l
}

/// Publishes `total` trades of `tape` at `rate`, one per message, paced by a 1 ms ticker
/// (sleeping, not spinning: the machine is shared with the server and the readers); each
/// trade's time field carries its publish time, in nanoseconds since `t0`.
async fn publish_paced(feed: &Bus, tape: &[Trade], rate: u32, total: usize, t0: Instant) {
    let mut publisher = FeedPublisher::new(feed);
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    let mut sent = 0usize;
    let mut trades = tape.iter().cycle();
    while sent < total {
        ticker.tick().await;
        let due = ((t0.elapsed().as_secs_f64() * f64::from(rate)) as usize).min(total);
        while sent < due {
            let mut t = trades.next().expect("cycled").clone();
            t.time_ms = t0.elapsed().as_nanos() as i64;
            publisher
                .publish(&MarketEvent::Feed(FeedEvent::Trades(TradeBatch::new(
                    vec![t],
                ))))
                .await
                .expect("publishes");
            sent += 1;
        }
    }
    publisher.flush().await;
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !NatsServer::binary_path().is_file() {
        println!(
            "Skipped: {} is missing (run scripts/setup.sh).",
            NatsServer::binary_path().display()
        );
        return;
    }
    let (total, seconds) = args();
    let tape = tape();
    println!(
        "Fan-out: {total} real trades, {PER_MESSAGE} per message, one publisher, every subscriber reading every symbol from its own connection.\n"
    );
    println!(
        "| subscribers | market stream | trades/s (until the last subscriber has all) | messages/s | lost |"
    );
    println!("| ---: | --- | ---: | ---: | --- |");
    let mut four = 0.0;
    for (subscribers, storage) in [
        (1, StreamStorage::Memory),
        (1, StreamStorage::File),
        (2, StreamStorage::File),
        (4, StreamStorage::File),
    ] {
        let (rate, lost) = fan_out(&tape, total, subscribers, storage).await;
        println!(
            "| {subscribers} | {} | {rate:.0} | {:.0} | {} |",
            match storage {
                StreamStorage::File => "file",
                StreamStorage::Memory => "memory",
            },
            rate / PER_MESSAGE as f64,
            if lost { "yes" } else { "none" }
        );
        if subscribers == 4 {
            four = if lost { 0.0 } else { rate };
        }
    }
    println!(
        "\nLatency the bus adds: publish call on the feed host → event out of a strategy host's subscriber, one trade per message, paced every millisecond, {seconds} s per rate.\n"
    );
    println!("| trades/s | messages | p50 µs | p99 µs | p99.9 µs | max µs |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut p99_at_low = f64::NAN;
    for rate in RATES {
        let mut l = latency(&tape, rate, seconds).await;
        l.sort_by(f64::total_cmp);
        let p99 = percentile(&l, 0.99);
        println!(
            "| {rate} | {} | {:.0} | {p99:.0} | {:.0} | {:.0} |",
            l.len(),
            percentile(&l, 0.5),
            percentile(&l, 0.999),
            l.last().copied().unwrap_or(f64::NAN)
        );
        if rate == RATES[0] {
            p99_at_low = p99;
        }
    }
    println!(
        "\nBoth legs of the bus: publish call on the feed host → a strategy host reads the trade and sends an order at once (every {ORDER_EVERY}th trade, published by its own task, each confirmed) → the broker host's order intake, one trade per message, {seconds} s per rate. The single process has neither leg.\n"
    );
    println!("| trades/s | orders | p50 µs | p99 µs | p99.9 µs | max µs |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for rate in RATES {
        let l = round_trip(&tape, rate, seconds).await;
        println!(
            "| {rate} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            l.len(),
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            percentile(&l, 0.999),
            l.last().copied().unwrap_or(f64::NAN)
        );
    }
    let verdict = |ok: bool| if ok { "met" } else { "not met" };
    println!(
        "TARGET|bus fan-out, 1 feed host to 4 strategy hosts, no loss|{four:.0} trades/s|≥ {FANOUT_TARGET:.0} trades/s|{}",
        verdict(four >= FANOUT_TARGET)
    );
    println!(
        "TARGET|latency the bus adds, p99 at {} trades/s|{p99_at_low:.0} µs|≤ {P99_TARGET_US:.0} µs|{}",
        RATES[0],
        verdict(p99_at_low <= P99_TARGET_US)
    );
}
