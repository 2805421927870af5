//! The `tradehost` binary as a child process, as the start/stop scripts run it: `run --demo`
//! on files in a temporary folder, the status API on a free loopback port, stopped by SIGTERM.
//!
//! The binary is the one `cargo test` builds beside this test (target/debug/tradehost).

use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The `tradehost` binary built by this `cargo test`.
pub fn binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/debug/deps/it-HASH -> target/debug/tradehost
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("tradehost"))
        .context("cannot locate the target directory")?;
    if !bin.is_file() {
        bail!(
            "{} is missing: build it with `cargo build -p tradehost` (`cargo test` at the \
             workspace root does)",
            bin.display()
        );
    }
    Ok(bin)
}

/// A running daemon process; killed if the test ends without stopping it.
pub struct DaemonProcess {
    child: Option<Child>,
    /// The status API's port.
    pub port: u16,
    /// The folder holding plugins/, state/, logs/...
    pub dir: PathBuf,
}

impl DaemonProcess {
    /// Start `tradehost run --demo` with every path under `dir` and `env` on top.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<DaemonProcess> {
        DaemonProcess::start_role(dir, "all", env)
    }

    /// Start `tradehost run --demo --role ROLE` as [`start`](Self::start) does.
    pub fn start_role(
        dir: &Path,
        role: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<DaemonProcess> {
        let port = crate::daemon_harness::free_port();
        let p = |sub: &str| dir.join(sub);
        let mut command = Command::new(binary()?);
        command
            .args(["run", "--demo", "--env", "/dev/null", "--role", role])
            .current_dir(dir)
            .env("PLUGIN_DIR", p("plugins"))
            .env("STATE_DIR", p("state"))
            .env("MODELS_DIR", p("models"))
            .env("JOURNAL_PATH", p("journal/journal.bin"))
            .env("LOG_DIR", p("logs"))
            .env("STATUS_ADDR", format!("127.0.0.1:{port}"))
            .env("DEMO_SPEED", "20")
            // Past the tests' own SIGTERM limits: a stop that hangs is caught by the test,
            // which then prints every thread's stack, rather than cut short by the daemon.
            .env("SHUTDOWN_TIMEOUT_SECS", "60")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command
            .spawn()
            .context("cannot start the tradehost binary")?;
        Ok(DaemonProcess {
            child: Some(child),
            port,
            dir: dir.to_path_buf(),
        })
    }

    /// The body of `GET path` on the status API, once it answers.
    pub fn get(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
            .ok()?;
        let mut response = String::new();
        s.read_to_string(&mut response).ok()?;
        response.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
    }

    /// `POST path` (no body, from loopback, as an operator's tool sends it): the status code
    /// and the body.
    pub fn post(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
        let request = format!(
            "POST {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\r\n",
            self.port
        );
        s.write_all(request.as_bytes()).ok()?;
        let mut response = String::new();
        s.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        let code = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((code, body.to_string()))
    }

    /// `/api/status` as JSON, once the daemon answers.
    pub fn status(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.get("/api/status")?).ok()
    }

    /// Wait until `done` holds, checking every 100 ms; fails after `limit` or when the
    /// process has exited.
    pub fn wait_until(
        &mut self,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&DaemonProcess) -> bool,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        while !done(self) {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("the daemon exited ({status}) while waiting for {what}");
            }
            if started.elapsed() > limit {
                bail!("{what} did not happen within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// The records of its journal so far.
    pub fn journal(&self) -> Vec<tradehost::broker::JournalRecord> {
        crate::daemon_harness::journal_records(&self.dir.join("journal/journal.bin"))
    }

    /// True once its journal holds a fill of `plugin`.
    pub fn has_filled(&self, plugin: &str) -> bool {
        self.journal().iter().any(|r| {
            matches!(r, tradehost::broker::JournalRecord::Fill { fill, .. } if &*fill.plugin == plugin)
        })
    }

    /// The text of a log file under `logs/` (empty while it does not exist).
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("logs").join(name)).unwrap_or_default()
    }

    /// Send SIGTERM and wait up to `limit` for the exit; the exit status and how long it took.
    pub fn sigterm(mut self, limit: Duration) -> anyhow::Result<(ExitStatus, Duration)> {
        let mut child = self
            .child
            .take()
            .context("the daemon was already stopped")?;
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        if !killed.success() {
            bail!("kill -TERM failed");
        }
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok((status, started.elapsed()));
            }
            if started.elapsed() > limit {
                // What it was stuck on: every thread's stack (when gdb is there) and the end of
                // its logs, so a hang seen once in CI can be understood from its output alone.
                let stacks = thread_stacks(child.id());
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "{} did not exit within {limit:?} of SIGTERM\n--- threads ---\n{stacks}\n\
                     --- logs ---\n{}",
                    self.dir.display(),
                    self.log_tails(60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl DaemonProcess {
    /// The last `lines` lines of every file under `logs/`.
    pub fn log_tails(&self, lines: usize) -> String {
        log_tails(&self.dir, lines)
    }
}

/// The last `lines` lines of every file under `dir/logs/`.
pub fn log_tails(dir: &Path, lines: usize) -> String {
    let mut text = String::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("logs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files {
        let body = std::fs::read_to_string(&path).unwrap_or_default();
        let all: Vec<&str> = body.lines().collect();
        text.push_str(&format!("== {}\n", path.display()));
        for line in &all[all.len().saturating_sub(lines)..] {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// Every thread's backtrace of process `pid`, through gdb when it is installed.
fn thread_stacks(pid: u32) -> String {
    match Command::new("gdb")
        .args([
            "-batch",
            "-p",
            &pid.to_string(),
            "-ex",
            "thread apply all bt 30",
        ])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => format!("(no gdb: {e})"),
    }
}

impl DaemonProcess {
    /// Kill the process with SIGKILL (`kill -9`: no shutdown, nothing saved or flushed).
    pub fn kill9(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
