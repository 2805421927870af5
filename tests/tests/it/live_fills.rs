//! Live fills do not depend on how fast anything ran: the scale-out deployment journals what
//! one process journals on the same replay, and one process journals the same fills with its
//! plugins on their own threads or inline.
//!
//! Each order names the trade that caused it, and fills at the first trade after it however
//! late it reaches the broker: the plugin's thread, the bus and the broker host's own pace
//! change when an order arrives, not where it fills. The demo replays at 20× speed, so a
//! frame (one process) or a bus message (the deployment) holds several trades, and the
//! trades after a cause are usually processed before its order arrives: without fills as of
//! the cause, the journals differ at once.

use super::scale_out::{Host, STAGE};
use std::collections::BTreeMap;
use std::path::Path;
use tradehost::broker::JournalRecord;
use tradehost_tests::daemon_process::DaemonProcess;
use tradehost_tests::guests;
use tradehost_tests::nats_server::NatsServer;

/// The plugins: a `counter` ordering 1 share every 3rd SPY trade, and a `counter-v2`
/// ordering 2 every 4th.
const PLUGINS: [&str; 2] = ["every_3", "every_4"];

/// Fills compared per plugin (the first this many; each run makes more).
const FILLS: usize = 25;

/// One fill as both runs must agree on it: the order's tag, side, quantity and price, and its
/// trade's market time after the plugin's first fill (the demo rebases trade times to the
/// wall clock of each run's start, so only differences compare).
type FillKey = (u32, String, f64, f64, i64);

/// Per plugin, its fills in journal order.
fn fills(records: &[JournalRecord]) -> BTreeMap<String, Vec<FillKey>> {
    let mut out: BTreeMap<String, Vec<FillKey>> = BTreeMap::new();
    let mut first: BTreeMap<String, i64> = BTreeMap::new();
    for r in records {
        if let JournalRecord::Fill { fill, .. } = r {
            let plugin = fill.plugin.to_string();
            let t0 = *first.entry(plugin.clone()).or_insert(fill.time_ms);
            out.entry(plugin).or_default().push((
                fill.tag,
                format!("{:?}", fill.side),
                fill.quantity,
                fill.price,
                fill.time_ms - t0,
            ));
        }
    }
    out
}

/// True once `records` hold at least [`FILLS`] fills of each of `plugins`.
fn enough(records: &[JournalRecord], plugins: &[&str]) -> bool {
    let f = fills(records);
    plugins
        .iter()
        .all(|p| f.get(*p).is_some_and(|v| v.len() >= FILLS))
}

/// A host's environment for this test: SPY only, so every run subscribes the same symbol
/// from the replay's first trade, replayed fast.
fn tuned(mut host: Host) -> Host {
    host.env.retain(|(k, _)| k != "DEMO_SPEED");
    host.env.push(("DEMO_SPEED".into(), "20".into()));
    host.env.push(("SYMBOLS".into(), "SPY".into()));
    host
}

/// Runs `tradehost run --demo` alone in `root/name` with both counters until each has
/// [`FILLS`] fills; its journal.
fn one_process(root: &Path, name: &str, execution: &str) -> Vec<JournalRecord> {
    let mut single = tuned(Host::alone(root, name))
        .counter("every_3", 3)
        .counter_build(guests::COUNTER_V2, "every_4", 4);
    single
        .env
        .push(("PLUGIN_EXECUTION".into(), execution.into()));
    let mut process = single.start("all");
    process
        .wait_until("fills of both plugins in one process", STAGE, |p| {
            enough(&p.journal(), &PLUGINS)
        })
        .unwrap();
    stop(process, "the single process");
    single.journal()
}

/// Stops `process` with SIGTERM and checks it stopped cleanly.
fn stop(process: DaemonProcess, what: &str) {
    let (status, _) = process.sigterm(std::time::Duration::from_secs(20)).unwrap();
    assert!(status.success(), "{what} did not stop cleanly: {status}");
}

#[test]
fn the_deployment_journals_the_fills_one_process_journals_on_the_same_replay() {
    let Some(server) = NatsServer::start_or_skip(
        "the_deployment_journals_the_fills_one_process_journals_on_the_same_replay",
    )
    .unwrap() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let single = one_process(root.path(), "single", "threads");

    // The deployment: one plugin per strategy host.
    let broker = tuned(Host::new(root.path(), "broker", &server));
    let s1 = tuned(Host::new(root.path(), "strategies-1", &server)).counter("every_3", 3);
    let s2 = tuned(Host::new(root.path(), "strategies-2", &server)).counter_build(
        guests::COUNTER_V2,
        "every_4",
        4,
    );
    let feed = tuned(Host::new(root.path(), "feed", &server));
    let mut broker_process = broker.start("broker");
    let mut hosts = [s1.start("strategies"), s2.start("strategies")];
    // Both read the stream before the first trade is published.
    for p in &mut hosts {
        p.wait_until("the strategy host's status API", STAGE, |p| {
            p.status().is_some()
        })
        .unwrap();
    }
    let feed_process = feed.start("feed");
    broker_process
        .wait_until("fills of both plugins at the broker host", STAGE, |_| {
            enough(&broker.journal(), &PLUGINS)
        })
        .unwrap();
    stop(feed_process, "the feed host");
    for (p, name) in hosts.into_iter().zip(["strategies-1", "strategies-2"]) {
        stop(p, name);
    }
    stop(broker_process, "the broker host");

    let one = fills(&single);
    let many = fills(&broker.journal());
    for plugin in PLUGINS {
        let (a, b) = (&one[plugin][..FILLS], &many[plugin][..FILLS]);
        assert_eq!(
            a, b,
            "{plugin}: the deployment's fills (right) differ from one process's (left)"
        );
        // A counter orders every n-th SPY trade, tagged with the count: the tags prove both
        // runs saw the replay from its first trade.
        let every = if plugin == "every_3" { 3 } else { 4 };
        let tags: Vec<u32> = a.iter().map(|f| f.0).collect();
        let expected: Vec<u32> = (1..=FILLS as u32).map(|k| k * every).collect();
        assert_eq!(tags, expected, "{plugin}");
    }
    // Each strategy host mirrored only its own plugin's fills.
    for (host, mine) in [(&s1, "every_3"), (&s2, "every_4")] {
        let mirrored = fills(&host.journal());
        assert_eq!(mirrored.keys().collect::<Vec<_>>(), [mine]);
    }
}

#[test]
fn one_process_journals_the_same_fills_with_plugins_on_threads_or_inline() {
    let root = tempfile::tempdir().unwrap();
    let threads = fills(&one_process(root.path(), "threads", "threads"));
    let inline = fills(&one_process(root.path(), "inline", "inline"));
    for plugin in PLUGINS {
        assert_eq!(
            &threads[plugin][..FILLS],
            &inline[plugin][..FILLS],
            "{plugin}: inline (right) differs from threads (left)"
        );
    }
}
