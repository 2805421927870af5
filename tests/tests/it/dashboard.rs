//! The dashboard and the backtest report in a real headless Chromium, driven over WebDriver:
//! with the demo daemon the page loads without console errors, shows prices and fills,
//! halts and resumes trading (seen in `/api/status` and the journal), reloads a plugin, and
//! recovers after the daemon restarts; a backtest's report.html opens from its file and
//! draws its charts. The run keeps screenshots in docs/ for the README.
//!
//! Skipped, with a printed message, where no Chromium is installed.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tradehost::backtest::{self, BacktestConfig};
use tradehost::broker::{BrokerConfig, FsyncPolicy, JournalRecord};
use tradehost::market::MarketConfig;
use tradehost::plugins::PluginConfig;
use tradehost_tests::browser::Browser;
use tradehost_tests::daemon_harness::{Daemon, demo_config, free_port};
use tradehost_tests::guests;
use tradehost_tests::plugin_harness::DEMO_TRADES;

const LIMIT: Duration = Duration::from_secs(60);

/// Where the README's screenshots are kept.
fn docs(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(name)
}

async fn status(d: &Daemon) -> Option<serde_json::Value> {
    serde_json::from_str(&d.get("/api/status").await.ok()?).ok()
}

fn kill_switch_changes(d: &Daemon) -> Vec<(bool, String)> {
    d.records()
        .into_iter()
        .filter_map(|r| match r {
            JournalRecord::KillSwitch {
                engaged, reason, ..
            } => Some((engaged, reason)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_trading_controls_it_and_recovers_after_a_restart() {
    let Some(browser) = Browser::start(1440, 1900).await.unwrap() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for (file, path) in [
        ("counter.wasm", guests::COUNTER),
        ("sma_crossover.wasm", guests::SMA_CROSSOVER),
        ("rsi_reversion.wasm", guests::RSI_REVERSION),
        ("prediction_follower.wasm", guests::PREDICTION_FOLLOWER),
    ] {
        std::fs::copy(path, plugins.join(file)).unwrap();
    }
    std::fs::write(
        plugins.join("counter.toml"),
        "symbols = [\"SPY\"]\n[parameters]\nevery = 300\n",
    )
    .unwrap();
    let port = free_port();
    let daemon = Daemon::start(demo_config(dir.path(), port, &[]).unwrap()).unwrap();
    let first = daemon
        .poll("the API", LIMIT, async |d| status(d).await)
        .await
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    browser.client.goto(&url).await.unwrap();

    // Live: a price and a fill appear.
    browser
        .wait_for("the live stream", LIMIT, async |b| {
            (b.text("#conn").await? == "live").then_some(())
        })
        .await
        .unwrap();
    let price = browser
        .wait_for("a price of SPY", LIMIT, async |b| {
            b.text(".price[data-symbol=\"SPY\"]")
                .await?
                .parse::<f64>()
                .ok()
        })
        .await
        .unwrap();
    assert!((100.0..300.0).contains(&price), "SPY at {price}");
    browser
        .wait_for("a fill", LIMIT, async |b| {
            (b.count("#fills tbody tr").await >= 1).then_some(())
        })
        .await
        .unwrap();
    assert!(
        browser.count(".chart-box canvas").await > 0,
        "the charts were drawn"
    );
    let errors = browser.errors().await.unwrap();
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // The kill switch from the page: in /api/status and in the journal, both ways.
    browser
        .type_into("#kill-reason", "browser test halt")
        .await
        .unwrap();
    browser.click("#kill-engage").await.unwrap();
    daemon
        .poll("the halt in /api/status", LIMIT, async |d| {
            (status(d).await?["broker"]["kill_switch"]["engaged"] == true).then_some(())
        })
        .await
        .unwrap();
    let halt = kill_switch_changes(&daemon);
    assert!(
        matches!(halt.last(), Some((true, reason)) if reason.contains("browser test halt") && reason.contains("loopback")),
        "{halt:?}"
    );
    browser
        .wait_for("the halt on the page", LIMIT, async |b| {
            let released = b
                .client
                .find(fantoccini::Locator::Css("#kill-release"))
                .await
                .ok()?;
            let enabled = released.is_enabled().await.ok()?;
            (b.text("#kill-state").await? == "HALTED" && enabled).then_some(())
        })
        .await
        .unwrap();
    browser.click("#kill-release").await.unwrap();
    daemon
        .poll("the release in /api/status", LIMIT, async |d| {
            (status(d).await?["broker"]["kill_switch"]["engaged"] == false).then_some(())
        })
        .await
        .unwrap();
    assert!(
        matches!(kill_switch_changes(&daemon).last(), Some((false, _))),
        "the release is journaled"
    );

    // A plugin reload from the page.
    browser
        .click("tr[data-plugin=\"counter\"] button[data-action=\"reload\"]")
        .await
        .unwrap();
    daemon
        .poll("the reload in /api/status", LIMIT, async |d| {
            let s = status(d).await?;
            let counter = s["plugins"]
                .as_array()?
                .iter()
                .find(|p| p["info"]["name"] == "counter")?
                .clone();
            (counter["stats"]["reloads_ok"] == 1).then_some(())
        })
        .await
        .unwrap();
    browser
        .wait_for("the reload in the activity list", LIMIT, async |b| {
            b.text("#notices")
                .await?
                .contains("reloaded counter")
                .then_some(())
        })
        .await
        .unwrap();

    // A few minute bars (the demo's trades carry wall-clock times), then the screenshot for
    // the README.
    daemon
        .poll(
            "two completed bars of SPY",
            Duration::from_secs(200),
            async |d| {
                let s = status(d).await?;
                let spy = s["market"]
                    .as_array()?
                    .iter()
                    .find(|m| m["symbol"] == "SPY")?
                    .clone();
                (spy["bars"].as_u64()? >= 2).then_some(())
            },
        )
        .await
        .unwrap();
    browser
        .wait_for("equity curves and several fills", LIMIT, async |b| {
            (b.count("#equity-legend span").await >= 2 && b.count("#fills tbody tr").await >= 5)
                .then_some(())
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    browser.screenshot(&docs("dashboard.png")).await.unwrap();
    let errors = browser.errors().await.unwrap();
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // Restart on the same address: the page reconnects and redraws from the new daemon.
    daemon.stop().await.unwrap();
    browser
        .wait_for(
            "the page to notice the daemon went away",
            LIMIT,
            async |b| (b.text("#conn").await? != "live").then_some(()),
        )
        .await
        .unwrap();
    let daemon = Daemon::start(demo_config(dir.path(), port, &[]).unwrap()).unwrap();
    let second = daemon
        .poll("the API", LIMIT, async |d| status(d).await)
        .await
        .unwrap();
    assert_ne!(first["started_ms"], second["started_ms"]);
    let started = second["started_ms"].as_i64().unwrap().to_string();
    browser
        .wait_for("the page to follow the new daemon", LIMIT, async |b| {
            let shown = b
                .client
                .execute(
                    "return document.documentElement.dataset.started || ''",
                    vec![],
                )
                .await
                .ok()?;
            (b.text("#conn").await? == "live" && shown.as_str()? == started).then_some(())
        })
        .await
        .unwrap();
    browser
        .wait_for("prices after the restart", LIMIT, async |b| {
            b.text(".price[data-symbol=\"SPY\"]")
                .await?
                .parse::<f64>()
                .ok()
        })
        .await
        .unwrap();
    daemon.stop().await.unwrap();
    browser.close().await;
}

/// A backtest of the bundled 2013-10-07 trades into `out`, with the given plugins.
fn backtest(out: &Path, plugins: &[(&str, &str)], toml: &[(&str, &str)], broker: BrokerConfig) {
    let dir = out.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    for (file, path) in plugins {
        std::fs::copy(path, dir.join(file)).unwrap();
    }
    for (file, text) in toml {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let bt = BacktestConfig {
        data: vec![PathBuf::from(DEMO_TRADES)],
        plugins: dir,
        from_ms: None,
        to_ms: None,
        batch_size: 256,
        out_dir: out.to_path_buf(),
        predictions: None,
        inline: true,
    };
    let trades = backtest::load_trades(&bt.data, None, None).unwrap();
    let config = PluginConfig {
        cache_dir: None,
        ..PluginConfig::default()
    };
    backtest::run(&bt, &trades, config, broker, &MarketConfig::default()).unwrap();
}

/// Open a report page from its file and wait until `drawn` (a CSS selector) shows.
async fn open_report(browser: &Browser, page: &Path, drawn: &str) {
    let url = format!("file://{}", page.display());
    browser.client.goto(&url).await.unwrap();
    browser
        .wait_for(&format!("{drawn} in {url}"), LIMIT, async |b| {
            (b.count(drawn).await > 0).then_some(())
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backtest_reports_open_from_their_file_in_a_real_browser() {
    let Some(browser) = Browser::start(1800, 2200).await.unwrap() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let broker = BrokerConfig {
        fsync: FsyncPolicy::Never,
        ..BrokerConfig::default()
    };
    // The examples: two trade; the forecast follower gets no forecasts and says so.
    let examples = dir.path().join("examples");
    backtest(
        &examples,
        &[
            ("sma.wasm", guests::SMA_CROSSOVER),
            ("rsi.wasm", guests::RSI_REVERSION),
            ("follower.wasm", guests::PREDICTION_FOLLOWER),
        ],
        &[],
        broker.clone(),
    );
    // A counter held back by a small position limit, and one that wants a symbol the data
    // does not have.
    let limited = dir.path().join("limited");
    backtest(
        &limited,
        &[
            ("counter.wasm", guests::COUNTER),
            ("msft.wasm", guests::COUNTER),
        ],
        &[
            (
                "counter.toml",
                "symbols = [\"IBM\"]\n[parameters]\nevery = 50\n",
            ),
            ("msft.toml", "symbols = [\"MSFT\"]\n"),
        ],
        BrokerConfig {
            max_position: 20.0,
            ..broker
        },
    );

    // The report a backtest writes opens from its file, with no network.
    open_report(&browser, &examples.join("report.html"), "canvas").await;
    let verdict = browser
        .text("tr[data-plugin=\"follower\"] .verdict")
        .await
        .unwrap();
    assert!(verdict.contains("no forecasts"), "{verdict}");
    assert!(browser.count(".chart-box[data-symbol=\"SPY\"]").await == 1);
    let errors = browser.errors().await.unwrap();
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // `tradehost report` of both, side by side.
    let both = dir.path().join("both.html");
    tradehost::dashboard::report_page::write(&[examples, limited], &both).unwrap();
    open_report(&browser, &both, "#equity-1 canvas").await;
    let msft = browser
        .text("section[data-run=\"1\"] tr[data-plugin=\"msft\"] .verdict")
        .await
        .unwrap();
    assert!(msft.contains("no data for its symbols"), "{msft}");
    let reasons = browser
        .text("section[data-run=\"1\"] table.reasons")
        .await
        .unwrap();
    assert!(reasons.contains("RISK_MAX_POSITION"), "{reasons}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    browser.screenshot(&docs("report.png")).await.unwrap();
    let errors = browser.errors().await.unwrap();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.close().await;
}
