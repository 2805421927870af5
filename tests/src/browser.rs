//! A real headless Chromium for tests, driven over WebDriver: chromedriver is started on a
//! free loopback port, Chromium gets a fresh profile, and [`fantoccini`] sends the commands.
//! Both stop when the [`Browser`] is closed or dropped.
//!
//! `scripts/setup.sh` installs Debian's `chromium` and `chromium-driver`; where neither can
//! be found, [`Browser::start`] returns `None` after printing why, and the test skips.

use anyhow::{Context, bail};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Chromium flags: headless, no sandbox (tests run as root here), and nothing that reaches
/// out to the network on its own (without these, Chromium's connections are refused here).
const FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// A browser session.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// The first of `candidates` (or `$var`) that exists.
fn find(var: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// `POST /session/{id}/se/log`: chromedriver's browser log (console messages, failed loads).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

impl Browser {
    /// A fresh headless Chromium of `width`×`height`, or `None` when none is installed.
    pub async fn start(width: u32, height: u32) -> anyhow::Result<Option<Browser>> {
        let chromium = find(
            "CHROME_BIN",
            &[
                "/usr/bin/chromium",
                "/usr/bin/chromium-browser",
                "/usr/bin/google-chrome",
            ],
        );
        let driver = find(
            "CHROMEDRIVER",
            &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
        );
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            println!(
                "SKIPPED: no Chromium or chromedriver found (install Debian's chromium and \
                 chromium-driver, as scripts/setup.sh does, or set CHROME_BIN and CHROMEDRIVER)"
            );
            return Ok(None);
        };
        let port = crate::daemon_harness::free_port();
        let mut child = Command::new(&driver)
            .arg(format!("--port={port}"))
            // Its own process group, so that Chromium goes down with it (see `kill`).
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", driver.display()))?;
        let profile = tempfile::tempdir()?;
        let mut args: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--window-size={width},{height}"));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": chromium, "args": args }),
        );
        caps.insert(
            "goog:loggingPrefs".into(),
            serde_json::json!({ "browser": "ALL" }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let builder =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps.clone())
                    .connect(&url)
                    .await;
            match builder {
                Ok(c) => break c,
                Err(e) if started.elapsed() > Duration::from_secs(30) => {
                    let _ = child.kill();
                    bail!("chromedriver at {url} gave no session within 30 s: {e}");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Ok(Some(Browser {
            client,
            driver: child,
            _profile: profile,
        }))
    }

    /// Severe messages of the browser's log since the last call (console errors, failed
    /// loads, uncaught exceptions).
    pub async fn errors(&self) -> anyhow::Result<Vec<String>> {
        let log = self.client.issue_cmd(BrowserLog).await?;
        Ok(log
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The text of the first element matching `css`, if there is one.
    pub async fn text(&self, css: &str) -> Option<String> {
        let e = self.client.find(Locator::Css(css)).await.ok()?;
        e.text().await.ok()
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_or(0, |v| v.len())
    }

    /// Click the first element matching `css`.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.client
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("no element {css}"))?
            .click()
            .await
            .with_context(|| format!("cannot click {css}"))?;
        Ok(())
    }

    /// Type `text` into the input matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let e = self.client.find(Locator::Css(css)).await?;
        e.clear().await?;
        e.send_keys(text).await?;
        Ok(())
    }

    /// Poll `probe` every 100 ms until it gives a value; fails after `limit`, saying `what`.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        probe: impl AsyncFn(&Browser) -> Option<T>,
    ) -> anyhow::Result<T> {
        let started = Instant::now();
        loop {
            if let Some(v) = probe(self).await {
                return Ok(v);
            }
            if started.elapsed() > limit {
                bail!("{what} did not show in the browser within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Save a PNG of the page as it is now.
    pub async fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let png = self.client.screenshot().await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png).with_context(|| format!("cannot write {}", path.display()))
    }

    /// End the session (Chromium quits) and stop chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// Stop chromedriver and whatever it started: the process group it leads.
    fn kill(&mut self) {
        if let Ok(id) = i32::try_from(self.driver.id()) {
            // SAFETY: a plain signal to the group of the child this struct started.
            unsafe { libc::kill(-id, libc::SIGKILL) };
        }
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Also after a failed test: no chromedriver or Chromium is left running.
        self.kill();
    }
}
