//! Scale-out bus benchmark (issue 17): real SPY, BAC, AIG and IBM trades published by one feed
//! host's `FeedPublisher` through a local nats-server (JetStream, the market stream on disk)
//! to 1, 2 and 4 strategy hosts' `MarketSubscriber`s, each with its own connection, all on
//! loopback; then the latency the bus adds (publish call → event out of the subscriber) at a
//! steady rate.
//!
//! Run: `cargo bench -p tradehost-tests --bench bus [-- TRADES SECONDS]` (defaults: 200,000
//! trades per fan-out run, 10 per message as Finnhub batches a busy symbol; 3 s per latency
//! run). Needs the repository's nats-server (`scripts/setup.sh`); says so and stops without it.
//! Publisher, subscribers and server share this machine's cores.

use std::time::{Duration, Instant};
use tradehost::bus::{
    Bus, BusConfig, BusNotice, FeedPublisher, HostName, MarketEvent, MarketSubscriber, StartAt,
    StreamStorage, SymbolFilter,
};
use tradehost::feed::{FeedEvent, TradeBatch};
use tradehost::types::Trade;
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
    let server = NatsServer::start_or_skip("bus bench")
        .expect("nats-server starts")
        .expect("nats-server installed");
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
    let server = NatsServer::start_or_skip("bus bench")
        .expect("nats-server starts")
        .expect("nats-server installed");
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
    // Paced by a 1 ms ticker, sending what is due (sleeping, not spinning: the machine is
    // shared with the server and the subscriber).
    let mut publisher = FeedPublisher::new(&feed);
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    let mut sent = 0usize;
    let mut trades = tape.iter().cycle();
    while sent < total {
        ticker.tick().await;
        let due = ((t0.elapsed().as_secs_f64() * f64::from(rate)) as usize).min(total);
        while sent < due {
            let mut t = trades.next().expect("cycled").clone();
            // The send time rides in the trade's time field: nanoseconds since t0.
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
    tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("subscriber finishes")
        .expect("subscriber task")
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
