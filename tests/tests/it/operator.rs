//! What an operator does to a running daemon, end to end in demo mode: halt and resume
//! trading through the status API (and across a restart), and replace a strategy's file
//! while it trades.

use std::time::Duration;
use tradehost::broker::JournalRecord;
use tradehost::status::client;
use tradehost_tests::daemon_harness::{
    Daemon, counter_plugin, demo_config, free_port, journal_records,
};
use tradehost_tests::guests;

const LIMIT: Duration = Duration::from_secs(60);

fn fills(records: &[JournalRecord]) -> usize {
    records
        .iter()
        .filter(|r| matches!(r, JournalRecord::Fill { .. }))
        .count()
}

fn kill_switch_refusals(records: &[JournalRecord]) -> usize {
    records
        .iter()
        .filter(|r| matches!(r, JournalRecord::Rejected { rejection, .. } if rejection.reason.contains("kill switch")))
        .count()
}

fn accepted_orders(records: &[JournalRecord]) -> usize {
    records
        .iter()
        .filter(|r| matches!(r, JournalRecord::Order { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_halts_trading_survives_a_restart_and_releases() {
    let dir = tempfile::tempdir().unwrap();
    counter_plugin(dir.path(), 200).unwrap();
    let port = free_port();
    let daemon = Daemon::start(demo_config(dir.path(), port, &[]).unwrap()).unwrap();
    daemon
        .wait_for("a paper fill", LIMIT, |d| fills(&d.records()) >= 1)
        .await
        .unwrap();

    let change = client::set_kill_switch(daemon.status, true, Some("test halt".into()), None)
        .await
        .unwrap();
    assert!(change.changed && change.state.engaged, "{change:?}");
    assert!(change.state.reason.contains("test halt"), "{change:?}");
    let orders_at_halt = accepted_orders(&daemon.records());
    daemon
        .wait_for("an order refused by the kill switch", LIMIT, |d| {
            kill_switch_refusals(&d.records()) >= 2
        })
        .await
        .unwrap();
    let metrics = daemon.get("/metrics").await.unwrap();
    assert!(
        metrics.contains("tradehost_broker_kill_switch 1"),
        "{metrics}"
    );
    daemon.stop().await.unwrap();
    let records = journal_records(&dir.path().join("journal/journal.bin"));
    assert!(
        accepted_orders(&records) == orders_at_halt,
        "orders were accepted while halted"
    );
    assert!(records.iter().any(|r| matches!(
        r,
        JournalRecord::KillSwitch { engaged: true, reason, .. } if reason.contains("test halt")
    )));

    // Restart: KILL_SWITCH is unset, but the journal says halted, so trading stays halted.
    let daemon = Daemon::start(demo_config(dir.path(), free_port(), &[]).unwrap()).unwrap();
    let state = loop {
        if let Ok(s) = client::kill_switch(daemon.status).await {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        state.engaged && state.reason.contains("test halt"),
        "{state:?}"
    );
    let refused_before = kill_switch_refusals(&daemon.records());
    daemon
        .wait_for("a refusal after the restart", LIMIT, |d| {
            kill_switch_refusals(&d.records()) > refused_before
        })
        .await
        .unwrap();

    // Release: orders are accepted and fill again.
    let change = client::set_kill_switch(daemon.status, false, None, None)
        .await
        .unwrap();
    assert!(change.changed && !change.state.engaged, "{change:?}");
    let (orders, filled) = (accepted_orders(&daemon.records()), fills(&daemon.records()));
    daemon
        .wait_for(
            "an order accepted and filled after the release",
            LIMIT,
            |d| {
                let r = d.records();
                accepted_orders(&r) > orders && fills(&r) > filled
            },
        )
        .await
        .unwrap();
    daemon.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_control_token_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    counter_plugin(dir.path(), 200).unwrap();
    let config = demo_config(dir.path(), free_port(), &[("CONTROL_TOKEN", "t0ken")]).unwrap();
    let daemon = Daemon::start(config).unwrap();
    let refused = loop {
        match client::set_kill_switch(daemon.status, true, None, None).await {
            Err(client::ClientError::Unreachable { .. }) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            other => break other,
        }
    };
    match refused {
        Err(client::ClientError::Refused {
            status: 401,
            message,
        }) => {
            assert!(message.contains("CONTROL_TOKEN"), "{message}")
        }
        other => panic!("expected a 401 refusal, got {other:?}"),
    }
    let wrong = client::set_kill_switch(daemon.status, true, None, Some("guess")).await;
    assert!(
        matches!(wrong, Err(client::ClientError::Refused { status: 401, .. })),
        "{wrong:?}"
    );
    assert!(!client::kill_switch(daemon.status).await.unwrap().engaged);
    let right = client::set_kill_switch(daemon.status, true, None, Some("t0ken"))
        .await
        .unwrap();
    assert!(right.state.engaged);
    daemon.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_plugin_mid_run_keeps_its_state_and_positions() {
    replace_mid_run("threads").await;
}

/// The same with plugins run on the engine thread: the swap comes from the watcher's thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_an_inline_plugin_mid_run_keeps_its_state_and_positions() {
    replace_mid_run("inline").await;
}

async fn replace_mid_run(execution: &str) {
    let dir = tempfile::tempdir().unwrap();
    counter_plugin(dir.path(), 100).unwrap();
    let extra = [("PLUGIN_EXECUTION", execution)];
    let daemon = Daemon::start(demo_config(dir.path(), free_port(), &extra).unwrap()).unwrap();
    daemon
        .wait_for("three fills of version 1", LIMIT, |d| {
            fills(&d.records()) >= 3
        })
        .await
        .unwrap();

    // Replace the file the way a deploy does: write beside it, rename into place.
    let plugins = dir.path().join("plugins");
    std::fs::copy(guests::COUNTER_V2, plugins.join(".counter.wasm.new")).unwrap();
    std::fs::rename(
        plugins.join(".counter.wasm.new"),
        plugins.join("counter.wasm"),
    )
    .unwrap();
    daemon
        .wait_for("two fills of version 2 (quantity 2)", LIMIT, |d| {
            d.records()
                .iter()
                .filter(|r| matches!(r, JournalRecord::Fill { fill, .. } if fill.quantity == 2.0))
                .count()
                >= 2
        })
        .await
        .unwrap();
    let status = daemon.get("/api/status").await.unwrap();
    daemon.stop().await.unwrap();

    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let counter = &status["plugins"][0];
    assert_eq!(counter["info"]["version"], "2.0.0", "{counter}");
    assert_eq!(counter["stats"]["reloads_ok"], 1, "{counter}");

    // Tags are the counter's trade count: they keep rising across the swap (state kept) and
    // none repeats (no event delivered twice).
    let records = journal_records(&dir.path().join("journal/journal.bin"));
    let orders: Vec<(u32, f64)> = records
        .iter()
        .filter_map(|r| match r {
            JournalRecord::Order { request, .. } => Some((request.tag, request.quantity)),
            _ => None,
        })
        .collect();
    let tags: Vec<u32> = orders.iter().map(|o| o.0).collect();
    assert!(
        tags.windows(2).all(|w| w[0] < w[1]),
        "tags not strictly rising: {tags:?}"
    );
    let first_v2 = orders.iter().position(|o| o.1 == 2.0).unwrap();
    assert!(first_v2 > 0 && orders[..first_v2].iter().all(|o| o.1 == 1.0));
    assert!(
        tags[first_v2] > tags[first_v2 - 1],
        "state lost at the swap: {tags:?}"
    );

    // The position spans both versions: it is the plugin's, not the instance's.
    let bought: f64 = records
        .iter()
        .filter_map(|r| match r {
            JournalRecord::Fill { fill, .. } => Some(fill.quantity),
            _ => None,
        })
        .sum();
    let (broker, _) = tradehost::broker::PaperBroker::open(tradehost::broker::BrokerConfig {
        journal_path: dir.path().join("journal/journal.bin"),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(broker.position("counter", "SPY").quantity, bought);
}
