//! The `tradehost` binary itself, as the start/stop scripts drive it: `run --demo` in the
//! background, SIGTERM, a clean exit with the journal flushed and released, a restart on the
//! same files, and no secret in any log line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "tok-SECRET-4f1e9";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The daemon's process; killed if the test fails before it stops it.
struct Daemon(Option<Child>);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start(dir: &Path, port: u16) -> Daemon {
    let p = |sub: &str| dir.join(sub);
    Command::new(env!("CARGO_BIN_EXE_tradehost"))
        .args(["run", "--demo", "--env", "/dev/null"])
        .current_dir(dir)
        .env("PLUGIN_DIR", p("plugins"))
        .env("STATE_DIR", p("state"))
        .env("MODELS_DIR", p("models"))
        .env("JOURNAL_PATH", p("journal/journal.bin"))
        .env("LOG_DIR", p("logs"))
        .env("LOG_LEVEL", "DEBUG")
        .env("STATUS_ADDR", format!("127.0.0.1:{port}"))
        .env("DEMO_SPEED", "20")
        .env("SYMBOLS", "STOCK:SPY")
        .env("FINNHUB_API_KEY", SECRET)
        .env("FINNHUB_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|c| Daemon(Some(c)))
        .expect("the tradehost binary starts")
}

/// The body of `GET path`, once the daemon answers.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    response.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sigterm_and_wait(mut daemon: Daemon) -> std::process::ExitStatus {
    let Some(mut child) = daemon.0.take() else {
        panic!("the daemon was already stopped");
    };
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("no exit within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn trades_in(metrics: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("tradehost_feed_trades_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn sigterm_stops_cleanly_and_the_daemon_restarts_on_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    for round in 0..2 {
        let port = free_port();
        let child = start(dir.path(), port);
        wait_until(
            "real demo trades through the feed",
            Duration::from_secs(60),
            || get(port, "/metrics").is_some_and(|m| trades_in(&m) > 0.0),
        );
        let status = sigterm_and_wait(child);
        assert!(status.success(), "round {round}: exit {status:?}");
    }
    let log = std::fs::read_to_string(dir.path().join("logs/trading_agent.log")).unwrap();
    assert_eq!(
        log.matches("tradehost stopped cleanly").count(),
        2,
        "both runs end with a clean stop:\n{log}"
    );
    assert!(log.contains("shutting down"), "{log}");
    assert!(
        dir.path().join("journal/journal.bin").exists(),
        "journal created"
    );
    for file in std::fs::read_dir(dir.path().join("logs")).unwrap() {
        let path = file.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            !text.contains(SECRET),
            "{} holds the API key or secret",
            path.display()
        );
    }
}
