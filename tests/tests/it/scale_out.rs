//! The scale-out roles as separate processes on a real `nats-server`: a demo feed host, two
//! strategy hosts with different plugins and one broker host, each `tradehost run --role`.
//!
//! The plugins are `counter` fixtures: each places a market order every `every` SPY trades,
//! tagged with its trade count. So the broker's journal must hold, per plugin, the tags
//! every, 2·every, 3·every, ... each exactly once: an order lost leaves a hole, an order
//! doubled repeats a tag, and a plugin that lost its state (or saw an event twice or not at
//! all) shifts the tags. Strategy host 1 and then the broker are killed with SIGKILL in the
//! middle of the stream and started again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tradehost::broker::JournalRecord;
use tradehost::engine::bus_checkpoint::BusCheckpoint;
use tradehost_tests::daemon_harness::journal_records;
use tradehost_tests::daemon_process::{DaemonProcess, log_tails};
use tradehost_tests::guests;
use tradehost_tests::nats_server::NatsServer;

/// How long each stage may take on a loaded 2-core machine.
pub(super) const STAGE: Duration = Duration::from_secs(120);

/// A host's folder and its environment.
pub(super) struct Host {
    pub(super) dir: PathBuf,
    pub(super) env: Vec<(String, String)>,
}

impl Host {
    pub(super) fn new(root: &Path, name: &str, server: &NatsServer) -> Host {
        let mut host = Host::alone(root, name);
        host.env.extend([
            ("BUS_URL".to_string(), server.url()),
            ("BUS_HOST".to_string(), name.to_string()),
            ("BUS_HEALTH_INTERVAL_SECS".to_string(), "1".to_string()),
        ]);
        host
    }

    /// A host without the bus settings (a single process).
    pub(super) fn alone(root: &Path, name: &str) -> Host {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("plugins")).unwrap();
        let env = vec![
            // Checkpoints often, so that a kill lands between two of them.
            ("STATE_SAVE_INTERVAL".to_string(), "1".to_string()),
            ("CONSOLE_SUMMARY_SECS".to_string(), "off".to_string()),
            ("RISK_MAX_POSITION".to_string(), "1000000".to_string()),
            ("RISK_MAX_ORDERS_PER_SEC".to_string(), "1000".to_string()),
            ("DEMO_SPEED".to_string(), "5".to_string()),
        ];
        Host { dir, env }
    }

    pub(super) fn counter(self, name: &str, every: u32) -> Host {
        self.counter_build(guests::COUNTER, name, every)
    }

    /// A `counter` plugin from the build at `wasm` (`counter`, or `counter-v2`, which orders
    /// twice the quantity).
    pub(super) fn counter_build(self, wasm: &str, name: &str, every: u32) -> Host {
        std::fs::copy(wasm, self.dir.join("plugins").join(format!("{name}.wasm"))).unwrap();
        std::fs::write(
            self.dir.join("plugins").join(format!("{name}.toml")),
            format!("symbols = [\"SPY\"]\n[parameters]\nevery = {every}\n"),
        )
        .unwrap();
        self
    }

    pub(super) fn start(&self, role: &str) -> DaemonProcess {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        DaemonProcess::start_role(&self.dir, role, &env).unwrap()
    }

    pub(super) fn journal(&self) -> Vec<JournalRecord> {
        journal_records(&self.dir.join("journal/journal.bin"))
    }

    fn logs(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(self.dir.join("logs"))
            .into_iter()
            .flatten()
            .flatten()
        {
            text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        text
    }
}

/// Per plugin, the tags of its orders the journal holds (accepted or refused), in order.
fn tags(records: &[JournalRecord]) -> BTreeMap<String, Vec<u32>> {
    let mut tags: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for r in records {
        match r {
            // A flatten's closing orders are the operator's, not the plugin's.
            JournalRecord::Order { request, .. } if request.tag == u32::MAX => {}
            JournalRecord::Order {
                plugin, request, ..
            } => tags
                .entry(plugin.to_string())
                .or_default()
                .push(request.tag),
            JournalRecord::Rejected { rejection, .. } => tags
                .entry(rejection.plugin.to_string())
                .or_default()
                .push(rejection.tag),
            _ => {}
        }
    }
    tags
}

/// A `counter` plugin's counts, from its last saved snapshot (the SDK's envelope
/// `{ sdk, strategy }`, MessagePack with named fields).
#[derive(serde::Deserialize)]
struct Counts {
    trades: u64,
    rejected: u64,
}

fn counts(host: &Host, plugin: &str) -> Option<Counts> {
    #[derive(serde::Deserialize)]
    struct Snapshot {
        strategy: Counter,
    }
    #[derive(serde::Deserialize)]
    struct Counter {
        counts: Counts,
    }
    let bytes = std::fs::read(host.dir.join(format!("state/plugins/{plugin}.state"))).ok()?;
    let snapshot: Snapshot = rmp_serde::from_slice(&bytes).ok()?;
    Some(snapshot.strategy.counts)
}

/// The trades a `counter` plugin counted.
fn counted_trades(host: &Host, plugin: &str) -> Option<u64> {
    counts(host, plugin).map(|c| c.trades)
}

/// The refusals a `counter` plugin heard of.
fn counted_rejections(host: &Host, plugin: &str) -> u64 {
    counts(host, plugin).map_or(0, |c| c.rejected)
}

/// Orders journaled for `plugin`.
fn orders_of(host: &Host, plugin: &str) -> usize {
    tags(&host.journal()).get(plugin).map_or(0, Vec::len)
}

/// Waits until the broker's journal holds `n` more orders of `plugin` than now; on failure,
/// shows the last log lines of every host beside the broker.
fn wait_for_more(process: &mut DaemonProcess, broker: &Host, plugin: &str, n: usize) {
    let now = orders_of(broker, plugin);
    let waited = process.wait_until(&format!("{n} more orders of {plugin}"), STAGE, |_| {
        orders_of(broker, plugin) >= now + n
    });
    if let Err(e) = waited {
        let mut tails = String::new();
        let root = broker.dir.parent().unwrap_or(&broker.dir);
        for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let log = entry.path().join("logs/trading_agent.log");
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            tails.push_str(&format!("--- {}\n", log.display()));
            for line in &lines[lines.len().saturating_sub(25)..] {
                tails.push_str(line);
                tails.push('\n');
            }
        }
        panic!(
            "{e}; journal: {:?}\n{tails}",
            tags(&broker.journal())
                .iter()
                .map(|(p, t)| (p, t.len()))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn strategy_hosts_and_the_broker_survive_kill_9_with_every_order_journaled_once() {
    let Some(server) = NatsServer::start_or_skip(
        "strategy_hosts_and_the_broker_survive_kill_9_with_every_order_journaled_once",
    )
    .unwrap() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let broker = Host::new(root.path(), "broker", &server);
    let s1 = Host::new(root.path(), "strategies-1", &server).counter("counter_a", 10);
    let s2 = Host::new(root.path(), "strategies-2", &server).counter("counter_b", 7);
    let feed = Host::new(root.path(), "feed", &server);

    let mut broker_process = broker.start("broker");
    let mut s1_process = s1.start("strategies");
    let mut s2_process = s2.start("strategies");
    // Both strategy hosts read the stream before the first trade is published (their status
    // API answers once their market subscription is open), so both see every trade.
    for p in [&mut s1_process, &mut s2_process] {
        p.wait_until("the strategy host's status API", STAGE, |p| {
            p.status().is_some()
        })
        .unwrap();
    }
    let feed_process = feed.start("feed");

    // Both plugins trade through the bus.
    wait_for_more(&mut broker_process, &broker, "counter_a", 20);
    wait_for_more(&mut broker_process, &broker, "counter_b", 20);

    // kill -9 a strategy host mid-stream; the stream goes on without it.
    s1_process
        .wait_until("a checkpoint of strategies-1", STAGE, |_| {
            // A checkpoint with the plugin's snapshot (the file exists from the first order
            // on, with the plugin's instance number).
            BusCheckpoint::load(&s1.dir.join("state"))
                .is_ok_and(|c| c.position > 0 && c.snapshots.contains_key("counter_a"))
        })
        .unwrap();
    s1_process.kill9();
    wait_for_more(&mut broker_process, &broker, "counter_b", 10);
    let mut s1_process = s1.start("strategies");
    wait_for_more(&mut s1_process, &broker, "counter_a", 20);

    // kill -9 the broker: orders wait in the stream meanwhile.
    broker_process.kill9();
    std::thread::sleep(Duration::from_secs(2));
    let mut broker_process = broker.start("broker");
    wait_for_more(&mut broker_process, &broker, "counter_a", 10);
    wait_for_more(&mut broker_process, &broker, "counter_b", 10);

    // Stop in order: the feed first; once both strategy hosts have checkpointed the same
    // number of trades (both read every SPY trade, one of them across its kill), they stop,
    // and the broker last.
    let (status, _) = feed_process.sigterm(Duration::from_secs(20)).unwrap();
    assert!(status.success());
    let mut last = (None, None);
    let caught_up = s2_process.wait_until("both plugins counted every trade", STAGE, |_| {
        last = (
            counted_trades(&s1, "counter_a"),
            counted_trades(&s2, "counter_b"),
        );
        last.0.is_some() && last.0 == last.1
    });
    if let Err(e) = caught_up {
        let dropped = |h: &Host| h.logs().lines().filter(|l| l.contains("dropped")).count();
        let warnings: Vec<String> = s1
            .logs()
            .lines()
            .filter(|l| {
                l.contains("WARN")
                    || l.contains("ERROR")
                    || l.contains("restored")
                    || l.contains("resum")
            })
            .map(str::to_string)
            .collect();
        panic!(
            "{e}: counted (host 1, host 2) {last:?}; log lines about drops: {}, {}; host 1 says:\n{}",
            dropped(&s1),
            dropped(&s2),
            warnings.join("\n")
        );
    }
    for p in [s1_process, s2_process, broker_process] {
        let (status, took) = p.sigterm(Duration::from_secs(20)).unwrap();
        assert!(status.success(), "exit {status} after {took:?}");
    }
    assert_eq!(
        counted_trades(&s1, "counter_a"),
        counted_trades(&s2, "counter_b"),
        "the host killed and restarted saw every trade once, as the other did"
    );

    let journal = broker.journal();
    let tags = tags(&journal);
    for (plugin, every) in [("counter_a", 10), ("counter_b", 7)] {
        let got = &tags[plugin];
        let expected: Vec<u32> = (1..=got.len() as u32).map(|k| k * every).collect();
        assert_eq!(
            got, &expected,
            "{plugin}: every order once, in order, none lost across the kills"
        );
    }
    // Every fill went to the host of its plugin, and only there.
    for (host, mine, other) in [
        (&s1, "counter_a", "counter_b"),
        (&s2, "counter_b", "counter_a"),
    ] {
        let mirrored = host.journal();
        assert!(
            mirrored
                .iter()
                .any(|r| matches!(r, JournalRecord::Fill { fill, .. } if &*fill.plugin == mine)),
            "{mine}'s fills reach its host"
        );
        assert!(
            !mirrored
                .iter()
                .any(|r| matches!(r, JournalRecord::Fill { fill, .. } if &*fill.plugin == other)),
            "{other}'s fills stay away from the host of {mine}"
        );
        let ids: Vec<u64> = mirrored
            .iter()
            .filter_map(|r| match r {
                JournalRecord::Fill { fill, .. } => Some(fill.order_id),
                _ => None,
            })
            .collect();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ids.len(),
            "no fill mirrored twice on {mine}'s host"
        );
    }
    // The restarted plugin resumed from its checkpoint, not from nothing.
    assert!(
        s1.logs().contains("restored version=1"),
        "counter_a was restored after the kill"
    );
}

#[test]
fn the_three_host_example_runs_with_one_command() {
    if !NatsServer::binary_path().is_file() {
        eprintln!("skipped the_three_host_example_runs_with_one_command: run scripts/setup.sh");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = tradehost_tests::python_guests::repo_root();
    let output = std::process::Command::new(root.join("scripts/scale-out-demo.sh"))
        .args(["--for", "20", "--dir"])
        .arg(dir.path())
        .env(
            "TRADEHOST_BIN",
            tradehost_tests::daemon_process::binary().unwrap(),
        )
        .env("DEMO_SPEED", "20")
        .env(
            "SCALE_OUT_PORT_BASE",
            tradehost_tests::daemon_harness::free_port().to_string(),
        )
        .env("STATE_SAVE_INTERVAL", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the script failed:\n{text}");
    for host in ["broker", "strategies-1", "strategies-2", "feed"] {
        assert!(text.contains(&format!("started {host}")), "{text}");
    }
    // Market data went from the demo feed host through NATS to both strategy hosts, whose
    // checkpoints moved past the start of the stream; the broker kept a journal.
    for host in ["strategies-1", "strategies-2"] {
        let checkpoint = tradehost::engine::bus_checkpoint::BusCheckpoint::load(
            &dir.path().join(host).join("state"),
        )
        .unwrap();
        assert!(checkpoint.position > 0, "{host} read market data:\n{text}");
        assert!(!checkpoint.snapshots.is_empty(), "{host} saved its plugins");
    }
    assert!(
        dir.path().join("broker/journal/journal.bin").is_file(),
        "{text}"
    );
    assert!(text.contains("journal (broker host)"), "{text}");
}

#[test]
fn a_standby_feed_host_takes_over_and_every_role_rides_out_a_server_restart() {
    let Some(mut server) = NatsServer::start_or_skip(
        "a_standby_feed_host_takes_over_and_every_role_rides_out_a_server_restart",
    )
    .unwrap() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let lease = ("BUS_LEASE_TTL_SECS".to_string(), "3".to_string());
    let broker = Host::new(root.path(), "broker", &server);
    let s1 = Host::new(root.path(), "strategies-1", &server).counter("counter_a", 10);
    let feeds = ["feed-a", "feed-b"].map(|name| {
        let mut host = Host::new(root.path(), name, &server);
        host.env.push(lease.clone());
        host
    });
    let mut broker_process = broker.start("broker");
    let mut s1_process = s1.start("strategies");
    s1_process
        .wait_until("the strategy host's status API", STAGE, |p| {
            p.status().is_some()
        })
        .unwrap();
    let holds = |h: &Host| h.logs().contains("holding the feed lease");
    let mut feed_a = feeds[0].start("feed");
    feed_a
        .wait_until("feed-a holds the lease", STAGE, |_| holds(&feeds[0]))
        .unwrap();
    let feed_b = feeds[1].start("feed");
    wait_for_more(&mut broker_process, &broker, "counter_a", 10);
    assert!(
        !holds(&feeds[1]),
        "a second feed host connects only without the lease"
    );
    // The standby's status API: its link is off (waiting, not down), and it sees the others.
    let mut feed_b = feed_b;
    let mut standby = serde_json::Value::Null;
    feed_b
        .wait_until("feed-b's status API", STAGE, |p| {
            standby = p.status().unwrap_or_default();
            !standby.is_null()
        })
        .unwrap();
    assert_eq!(standby["feed"]["link"]["state"], "off", "{standby}");
    assert_eq!(standby["feed"]["down_since_ms"], serde_json::Value::Null);

    // The holder dies: the standby gets the lease once it expires, and the data goes on.
    feed_a.kill9();
    feed_b
        .wait_until("feed-b takes the lease over", STAGE, |_| holds(&feeds[1]))
        .unwrap();
    wait_for_more(&mut broker_process, &broker, "counter_a", 10);
    // Its status API now shows the link up and trades coming in.
    feed_b
        .wait_until("feed-b's status shows its feed connected", STAGE, |p| {
            p.status().is_some_and(|s| {
                s["feed"]["link"]["state"] == "connected"
                    && s["feed"]["trades_in"].as_u64() > Some(0)
                    && s["deployment"].as_array().is_some_and(|h| h.len() >= 3)
            })
        })
        .unwrap();

    // The server crashes and comes back on the same port and store: every role reconnects.
    server.kill();
    std::thread::sleep(Duration::from_secs(1));
    server.restart().unwrap();
    wait_for_more(&mut broker_process, &broker, "counter_a", 10);

    // The strategy host is healthy: its market data comes through the bus.
    let health: serde_json::Value =
        serde_json::from_str(&s1_process.get("/health").unwrap_or_default()).unwrap_or_default();
    assert_eq!(health["status"], "ok", "{health}");
    // The strategy host's status shows the whole deployment.
    let mut roles = Vec::new();
    s1_process
        .wait_until("every live host on /api/status", STAGE, |p| {
            roles = p
                .status()
                .and_then(|s| s["deployment"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter(|h| h["stale"] == false && h["state"] == "running")
                .map(|h| h["host"].as_str().unwrap_or("").to_string())
                .collect();
            ["broker", "feed-b", "strategies-1"]
                .iter()
                .all(|h| roles.iter().any(|r| r == h))
        })
        .unwrap();
    // The broker host flattens a strategy: closing orders journaled with the flatten's tag,
    // accepted, and filled; a strategy it has no position of is unknown.
    let (code, body) = broker_process
        .post("/api/plugins/counter_a/flatten")
        .unwrap();
    let flattened: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(code, 200, "{body}");
    let closing: Vec<u64> = flattened["orders"]
        .as_array()
        .map(|o| o.iter().filter_map(|o| o["order_id"].as_u64()).collect())
        .unwrap_or_default();
    assert!(!closing.is_empty(), "{flattened}");
    broker_process
        .wait_until("the flatten's closing orders filled", STAGE, |_| {
            let records = broker.journal();
            closing.iter().all(|id| {
                records.iter().any(|r| {
                    matches!(r, JournalRecord::Order { order_id, request, .. }
                        if order_id == id && request.tag == u32::MAX)
                }) && records
                    .iter()
                    .any(|r| matches!(r, JournalRecord::Fill { fill, .. } if fill.order_id == *id))
            })
        })
        .unwrap();
    let (code, body) = broker_process.post("/api/plugins/nobody/flatten").unwrap();
    assert_eq!(code, 404, "{body}");
    // The broker host's status API shows the deployment too, and its kill switch halts every
    // strategy host's orders: they are refused, journaled, and told to the plugin.
    let deployment = broker_process.status().unwrap()["deployment"].clone();
    assert!(
        deployment.as_array().is_some_and(|h| h.len() >= 3),
        "{deployment}"
    );
    let halt = std::process::Command::new(tradehost_tests::daemon_process::binary().unwrap())
        .args([
            "kill-switch",
            "on",
            "--reason",
            "scale-out test",
            "--env",
            "/dev/null",
        ])
        .arg("--addr")
        .arg(format!("127.0.0.1:{}", broker_process.port))
        .output()
        .unwrap();
    assert!(
        halt.status.success(),
        "{}",
        String::from_utf8_lossy(&halt.stderr)
    );
    // A strategy host has no broker of its own: it says where the kill switch is.
    let elsewhere = std::process::Command::new(tradehost_tests::daemon_process::binary().unwrap())
        .args(["kill-switch", "on", "--env", "/dev/null"])
        .arg("--addr")
        .arg(format!("127.0.0.1:{}", s1_process.port))
        .output()
        .unwrap();
    assert!(!elsewhere.status.success());
    assert!(
        String::from_utf8_lossy(&elsewhere.stderr).contains("broker host"),
        "{}",
        String::from_utf8_lossy(&elsewhere.stderr)
    );
    let refused = |h: &Host| {
        h.journal().iter().any(|r| {
            matches!(r, JournalRecord::Rejected { rejection, .. } if rejection.reason.contains("kill switch"))
        })
    };
    broker_process
        .wait_until("an order refused by the kill switch", STAGE, |_| {
            refused(&broker)
        })
        .unwrap();
    s1_process
        .wait_until("the refusal reaches the plugin", STAGE, |_| {
            counted_rejections(&s1, "counter_a") > 0
        })
        .unwrap();
    // The broker host's status shows its broker as it is now: orders, fills and the refusal
    // counted, the switch engaged (from the figures it publishes, not its lock).
    let broker_status = broker_process.status().unwrap()["broker"].clone();
    assert!(
        broker_status["orders"].as_u64() > Some(0)
            && broker_status["fills"].as_u64() > Some(0)
            && broker_status["refusals"].as_u64() > Some(0)
            && broker_status["kill_switch"]["engaged"] == true,
        "{broker_status}"
    );
    for p in [feed_b, s1_process, broker_process] {
        let dir = p.dir.clone();
        let (status, took) = p.sigterm(Duration::from_secs(20)).unwrap();
        assert!(
            status.success(),
            "exit {status} after {took:?}\n{}",
            log_tails(&dir, 60)
        );
    }
    let got = &tags(&broker.journal())["counter_a"];
    let expected: Vec<u32> = (1..=got.len() as u32).map(|k| k * 10).collect();
    assert_eq!(
        got, &expected,
        "every order once, in order, across failover and restart"
    );
}
