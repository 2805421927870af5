//! A real daemon for integration tests: demo mode (the bundled real trades through the local
//! Finnhub-compatible server and the real feed client), every file in a temporary folder,
//! the status API on a free loopback port, stopped gracefully by the test.

use anyhow::{Context, bail};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tradehost::broker::{Journal, JournalRecord};
use tradehost::config::Config;
use tradehost::settings::Settings;

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Demo-mode settings with every path under `dir` and the status API on `port`; `extra`
/// pairs override them.
pub fn demo_config(dir: &Path, port: u16, extra: &[(&str, &str)]) -> anyhow::Result<Config> {
    config_with(dir, port, extra, true)
}

/// [`demo_config`], or live mode when `demo` is false (then `extra` must name the feed).
pub fn config_with(
    dir: &Path,
    port: u16,
    extra: &[(&str, &str)],
    demo: bool,
) -> anyhow::Result<Config> {
    let p = |sub: &str| dir.join(sub).display().to_string();
    let mut pairs: Vec<(String, String)> = vec![
        ("PLUGIN_DIR".into(), p("plugins")),
        ("STATE_DIR".into(), p("state")),
        ("MODELS_DIR".into(), p("models")),
        ("JOURNAL_PATH".into(), p("journal/journal.bin")),
        ("LOG_DIR".into(), "off".into()),
        ("STATUS_ADDR".into(), format!("127.0.0.1:{port}")),
        ("DEMO_SPEED".into(), "40".into()),
        ("RISK_MAX_ORDERS_PER_SEC".into(), "1000".into()),
        ("PLUGIN_CALL_DEADLINE_MS".into(), "500".into()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Ok(Config::from_settings(&Settings::from_pairs(pairs), demo)?)
}

/// Put the `counter` test plugin in `dir/plugins`, trading SPY every `every` trades.
pub fn counter_plugin(dir: &Path, every: u32) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("plugins"))?;
    std::fs::copy(crate::guests::COUNTER, dir.join("plugins/counter.wasm"))?;
    std::fs::write(
        dir.join("plugins/counter.toml"),
        format!("symbols = [\"SPY\"]\n[parameters]\nevery = {every}\n"),
    )?;
    Ok(())
}

/// Every record of the journal at `path` (empty while it does not exist yet).
pub fn journal_records(path: &Path) -> Vec<JournalRecord> {
    Journal::read_all(path)
        .map(|c| c.records)
        .unwrap_or_default()
}

/// A daemon running on the test's tokio runtime.
pub struct Daemon {
    /// The status API's address.
    pub status: SocketAddr,
    /// The journal file.
    pub journal: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tradehost::engine::EngineError>>,
}

impl Daemon {
    /// Start `config` (whose status address must be set).
    pub fn start(config: Config) -> anyhow::Result<Daemon> {
        let status = config
            .status_addr
            .context("the test daemon needs a status address")?;
        let journal = config.broker.journal_path.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tradehost::engine::run(config, async move {
            let _ = stopped.await;
        }));
        Ok(Daemon {
            status,
            journal,
            stop: Some(stop),
            task,
        })
    }

    /// The journal's records so far.
    pub fn records(&self) -> Vec<JournalRecord> {
        journal_records(&self.journal)
    }

    /// Poll `done` every 50 ms until it holds; fails after `limit`, saying `what`.
    pub async fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&Daemon) -> bool,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        while !done(self) {
            if self.task.is_finished() {
                bail!("the daemon stopped while waiting for {what}");
            }
            if started.elapsed() > limit {
                bail!("{what} did not happen within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Call `probe` every 100 ms until it gives a value; fails after `limit`, saying `what`.
    pub async fn poll<T>(
        &self,
        what: &str,
        limit: Duration,
        probe: impl AsyncFn(&Daemon) -> Option<T>,
    ) -> anyhow::Result<T> {
        let started = Instant::now();
        loop {
            if let Some(found) = probe(self).await {
                return Ok(found);
            }
            if self.task.is_finished() {
                bail!("the daemon stopped while waiting for {what}");
            }
            if started.elapsed() > limit {
                bail!("{what} did not happen within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET path` on the status API; the body.
    pub async fn get(&self, path: &str) -> anyhow::Result<String> {
        http_get(self.status, path).await
    }

    /// Stop gracefully (as SIGTERM does) and wait, at most 30 s, for the daemon to end.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        bounded(Duration::from_secs(30), &mut self.task)
            .await
            .context("graceful shutdown took longer than 30 s")???;
        Ok(())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A failed test must not leave a daemon running into the next one.
        if self.stop.is_some() {
            self.task.abort();
        }
    }
}

async fn bounded<F: Future + Unpin>(
    limit: Duration,
    f: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::time::timeout(limit, f).await
}

/// `GET path` from `addr` over plain HTTP/1.0; the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await?;
    let mut response = String::new();
    s.read_to_string(&mut response).await?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(response);
    Ok(body)
}

/// `method path` with an optional JSON body and extra headers, over plain HTTP/1.0; the
/// status code and the body.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    s.read_to_string(&mut response).await?;
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status line in the answer")?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}
