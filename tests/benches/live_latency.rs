//! Live latency benchmark (issues 6 and 14): the whole daemon in live mode against a loopback
//! Finnhub-compatible server that sends real SPY trades at a steady rate, with several plugins
//! trading; the daemon's own HDR histogram of tick-to-order latency (frame read off the
//! socket → order reaching the broker) is read from its status API. The load generator runs
//! in a process of its own (this binary, started again with `--generate`) on one thread that
//! sleeps between frames, so it does not take the daemon's cores.
//!
//! Run: `cargo bench -p tradehost-tests --bench live_latency [-- RATE PLUGINS SECONDS FSYNC EXECUTION]`
//! (defaults: 2000 and then 20000 trades/s, 8 plugins, 10 s measured after 2 s of warm-up,
//! `never`, and both `threads` and `inline` plugin execution). Prints markdown tables.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tradehost::config::Config;
use tradehost::settings::Settings;
use tradehost::status::client;
use tradehost_tests::daemon_harness::{Daemon, free_port};
use tradehost_tests::guests;
use tradehost_tests::mock_finnhub::{Action, MockFinnhub};
use tradehost_tests::plugin_harness::real_trades;

/// Trades per WebSocket frame (Finnhub batches the trades of a busy symbol).
const PER_FRAME: usize = 10;
/// Each plugin orders on every this-many trades.
const ORDER_EVERY: u32 = 100;
/// Warm-up before the histogram is reset.
const WARM_UP: Duration = Duration::from_secs(2);

struct Args {
    rates: Vec<u32>,
    plugins: usize,
    seconds: u64,
    fsync: String,
    executions: Vec<String>,
}

fn args() -> Args {
    // `cargo bench` passes `--bench`; positional numbers follow it.
    let rest: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let num = |i: usize, d: u64| rest.get(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    Args {
        rates: match rest.first().and_then(|v| v.parse().ok()) {
            Some(rate) => vec![rate],
            None => vec![2_000, 20_000],
        },
        plugins: num(1, 8) as usize,
        seconds: num(2, 10),
        fsync: rest.get(3).cloned().unwrap_or_else(|| "never".into()),
        executions: match rest.get(4) {
            Some(e) => vec![e.clone()],
            None => vec!["threads".into(), "inline".into()],
        },
    }
}

fn config(dir: &std::path::Path, url: &str, port: u16, fsync: &str, execution: &str) -> Config {
    let p = |sub: &str| dir.join(sub).display().to_string();
    let settings = Settings::from_pairs([
        ("FINNHUB_API_KEY", "bench-key".to_string()),
        ("FINNHUB_WS_URL", url.to_string()),
        ("PLUGIN_DIR", p("plugins")),
        ("STATE_DIR", p("state")),
        ("MODELS_DIR", p("models")),
        ("JOURNAL_PATH", p("journal/journal.bin")),
        ("JOURNAL_FSYNC", fsync.to_string()),
        ("LOG_DIR", "off".into()),
        ("STATUS_ADDR", format!("127.0.0.1:{port}")),
        ("RISK_MAX_ORDERS_PER_SEC", "100000".into()),
        ("RISK_MAX_POSITION", "1000000000".into()),
        ("RISK_MAX_ORDER_NOTIONAL", "1000000000".into()),
        ("PLUGIN_WATCH", "false".into()),
        ("ACK_INTERVAL", "5".into()),
        ("PLUGIN_EXECUTION", execution.to_string()),
    ]);
    match Config::from_settings(&settings, false) {
        Ok(c) => c,
        Err(e) => panic!("bench settings: {e}"),
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(i) = argv.iter().position(|a| a == "--generate") {
        let num = |k: usize| argv.get(i + k).and_then(|v| v.parse::<u64>().ok());
        let (Some(rate), Some(seconds)) = (num(1), num(2)) else {
            panic!("usage: live_latency --generate RATE SECONDS");
        };
        generate(rate as u32, Duration::from_secs(seconds));
        return;
    }
    let a = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for &rate in &a.rates {
        for execution in &a.executions {
            runtime.block_on(measure(&a, rate, execution));
        }
    }
}

/// The generator process: a Finnhub-compatible server on loopback that, once the daemon has
/// subscribed, sends real SPY trades at `rate` for `length`, on one thread that sleeps
/// between frames. Tells its parent the URL, then when it starts sending.
fn generate(rate: u32, length: Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let server = MockFinnhub::start().await;
        println!("url {}", server.url());
        server
            .wait_subscribed(1, &["SPY"], Duration::from_secs(60))
            .await;
        println!("sending");
        // Real SPY prices and sizes, stamped with the current time as a live feed would be.
        let tape = real_trades("SPY", 30_000);
        let frames_per_sec = f64::from(rate) / PER_FRAME as f64;
        let started = Instant::now();
        let (mut sent_frames, mut next) = (0u64, 0usize);
        let mut ticker = tokio::time::interval(Duration::from_millis(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        while started.elapsed() < length {
            ticker.tick().await;
            let due = (started.elapsed().as_secs_f64() * frames_per_sec) as u64;
            let now_ms = chrono::Utc::now().timestamp_millis();
            while sent_frames < due {
                // Written by hand, not through serde_json values: cheap to make.
                let mut frame = String::with_capacity(64 * PER_FRAME);
                frame.push_str(r#"{"type":"trade","data":["#);
                for i in 0..PER_FRAME {
                    let t = &tape[next % tape.len()];
                    next += 1;
                    if i > 0 {
                        frame.push(',');
                    }
                    let _ = write!(
                        frame,
                        r#"{{"s":"SPY","p":{},"v":{},"t":{now_ms},"c":["1"]}}"#,
                        t.price, t.size
                    );
                }
                frame.push_str("]}");
                server.act(Action::Text(frame));
                sent_frames += 1;
            }
        }
        // Let the last frames leave before the server closes.
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
}

/// One daemon, one generator, one table.
async fn measure(a: &Args, rate: u32, execution: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    for i in 1..=a.plugins {
        std::fs::copy(guests::COUNTER, plugins.join(format!("counter-{i}.wasm"))).expect("copy");
        std::fs::write(
            plugins.join(format!("counter-{i}.toml")),
            format!("symbols = [\"SPY\"]\n[parameters]\nevery = {ORDER_EVERY}\n"),
        )
        .expect("settings");
    }
    let total = WARM_UP + Duration::from_secs(a.seconds);
    let mut generator = Command::new(std::env::current_exe().expect("this binary"))
        .args([
            "--generate",
            &rate.to_string(),
            &total.as_secs().to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the load generator");
    let mut lines = BufReader::new(generator.stdout.take().expect("generator output")).lines();
    let mut line = || lines.next().and_then(Result::ok).unwrap_or_default();
    let url = line()
        .strip_prefix("url ")
        .expect("the generator's URL")
        .to_string();
    let port = free_port();
    let daemon =
        Daemon::start(config(dir.path(), &url, port, &a.fsync, execution)).expect("daemon");
    assert_eq!(line(), "sending", "the generator starts once subscribed");
    let started = Instant::now();
    tokio::time::sleep(WARM_UP).await;
    client::reset_latency(daemon.status, None)
        .await
        .expect("reset the latency histogram");
    let waited = tokio::task::spawn_blocking(move || generator.wait()).await;
    if !matches!(waited, Ok(Ok(status)) if status.success()) {
        panic!("the load generator failed: {waited:?}");
    }
    let sending = started.elapsed().saturating_sub(WARM_UP);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status: serde_json::Value =
        serde_json::from_str(&daemon.get("/api/status").await.expect("status")).expect("json");
    daemon.stop().await.expect("clean stop");

    let trades_in = status["feed"]["trades_in"].as_u64().unwrap_or(0);
    let dropped = status["feed"]["dropped_events"].as_u64().unwrap_or(0);
    let batches_dropped: u64 = status["plugins"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| p["stats"]["batches_dropped"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    println!(
        "Live tick-to-order latency: {} plugins (counter fixture, an order every {ORDER_EVERY} trades each), \
         real SPY trades at {} trades/s in frames of {PER_FRAME} from a loopback Finnhub-compatible server in its own process, \
         JOURNAL_FSYNC={}, PLUGIN_EXECUTION={execution}, {:.1} s measured after {} s warm-up\n",
        a.plugins,
        rate,
        a.fsync,
        sending.as_secs_f64(),
        WARM_UP.as_secs()
    );
    println!("| stage | samples | p50 µs | p99 µs | p99.9 µs | max µs |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (stage, key) in [
        ("frame read → order at the broker", "tick_to_order"),
        ("frame read → order journaled", "tick_to_journaled"),
        ("frame read → engine thread", "feed_to_engine"),
    ] {
        let l = &status["engine"][key];
        let g = |k: &str| l[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "| {stage} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            l["samples"].as_u64().unwrap_or(0),
            g("p50_us"),
            g("p99_us"),
            g("p999_us"),
            g("max_us"),
        );
    }
    println!(
        "\n{trades_in} trades in, {dropped} dropped by the feed, {batches_dropped} plugin batches dropped.\n"
    );
    let p99 = status["engine"]["tick_to_order"]["p99_us"]
        .as_f64()
        .unwrap_or(f64::NAN);
    println!(
        "TARGET|live tick-to-order p99, {} plugins at {} trades/s, {execution}|{p99:.1} µs|≤ 50 µs|{}",
        a.plugins,
        rate,
        if p99 <= 50.0 { "met" } else { "not met" }
    );
}
