//! The `tradehost` subcommands, one file each, and what they share: the settings file flag,
//! trade files with a time window, console-only logging, and the shutdown signal.

pub mod backtest;
pub mod build;
pub mod check;
pub mod feed;
pub mod kill_switch;
pub mod new;
pub mod report;
pub mod run;
pub mod snippets;
pub mod sweep;
pub mod train;

use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tradehost::config::Config;

/// Every subcommand.
#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon: feed, market state, trainer, plugins, paper broker, status API.
    Run(run::RunArgs),
    /// Validate a plugin: bytes, interface version, compile, start; print what it says
    /// about itself, or why it is refused.
    Check(check::CheckArgs),
    /// Connect to the feed and print every event, one per line, until interrupted.
    Feed(feed::FeedArgs),
    /// Run one training cycle on a CSV of bars or trades and print the evaluation table.
    Train(train::TrainArgs),
    /// Write the trades of a time window of trade files to one file, every column kept,
    /// suspicious prints removed, merged in time order (`.gz` output is compressed).
    Cut(snippets::CutArgs),
    /// Aggregate the trades of a time window into bars with the daemon's own bar aggregator;
    /// writes `SYMBOL_<period>_<first day>_<last day>.csv.gz` per symbol into --out.
    Bars(snippets::BarsArgs),
    /// Replay trade files through plugins with the live engine's market state and broker,
    /// on market time; writes report.json, equity.svg and the journal to --out.
    Backtest(backtest::BacktestArgs),
    /// Backtest every combination of a plugin's parameters over one read of the data, on all
    /// cores, and rank them (optionally chosen before --split and reported after it).
    Sweep(sweep::SweepArgs),
    /// The HTML view of one or more backtests side by side (from each folder's report.json),
    /// written to a file or served over HTTP.
    Report(report::ReportArgs),
    /// Halt (`on`) or resume (`off`) trading in a running daemon, or show the kill switch
    /// (`status`). Halting cancels every resting order; the change is journaled and
    /// survives restarts.
    KillSwitch(kill_switch::KillSwitchArgs),
    /// Create a strategy project (a Rust crate on the SDK) in a new folder: NAME/ under
    /// --dir, ready to build, test and install.
    New(new::NewArgs),
    /// Build a strategy crate into a component (cargo build --release --target
    /// wasm32-wasip2), check it as `check` does, and with --install copy it into a plugins
    /// folder atomically.
    Build(build::BuildArgs),
}

impl Command {
    /// Carry the command out.
    pub fn execute(self) -> anyhow::Result<()> {
        match self {
            Command::Run(a) => a.execute(),
            Command::Check(a) => a.execute(),
            Command::Feed(a) => a.execute(),
            Command::Train(a) => a.execute(),
            Command::Cut(a) => a.execute(),
            Command::Bars(a) => a.execute(),
            Command::Backtest(a) => a.execute(),
            Command::Sweep(a) => a.execute(),
            Command::Report(a) => a.execute(),
            Command::KillSwitch(a) => a.execute(),
            Command::New(a) => a.execute(),
            Command::Build(a) => a.execute(),
        }
    }
}

/// The settings file flag every command that reads settings takes.
#[derive(Args, Clone)]
pub struct SettingsFile {
    /// Settings file to read instead of ./.env.
    #[arg(long, value_name = "FILE")]
    pub env: Option<PathBuf>,
}

impl SettingsFile {
    /// The settings: this file (or ./.env), then the environment, then `overrides`.
    pub fn load(&self, overrides: &[(String, String)], demo: bool) -> anyhow::Result<Config> {
        Ok(Config::load(self.env.as_deref(), overrides, demo)?)
    }

    /// The settings of a backtest or sweep: the journal is an output (never synced per
    /// record), and the console shows warnings and errors only unless LOG_LEVEL says
    /// otherwise (orders and fills are in the journal and the report; a line per fill would
    /// slow a long run down).
    pub fn load_for_backtest(&self) -> anyhow::Result<Config> {
        let mut overrides = vec![("JOURNAL_FSYNC".to_string(), "never".to_string())];
        if std::env::var_os("LOG_LEVEL").is_none() {
            overrides.push(("LOG_LEVEL".to_string(), "WARN".to_string()));
        }
        self.load(&overrides, true)
    }
}

/// Log to the console only (commands other than `run` write no log files).
pub fn console_logs(config: &Config) -> anyhow::Result<tradehost::logging::LogGuard> {
    tradehost::logging::init(&tradehost::logging::LogConfig {
        dir: None,
        ..config.log.clone()
    })
    .context("cannot start logging")
}

/// Trade files and a time window, shared by the commands that read trades.
#[derive(Args)]
pub struct TradeWindow {
    /// Trade files (`timestamp,symbol,price,size,...`, `.csv` or `.csv.gz`).
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    pub data: Vec<PathBuf>,
    /// Start time (RFC 3339, e.g. 2013-10-07T13:30:00Z).
    #[arg(long)]
    pub from: Option<String>,
    /// End time (RFC 3339, exclusive).
    #[arg(long)]
    pub to: Option<String>,
}

impl TradeWindow {
    /// The window in milliseconds.
    pub fn window(&self) -> anyhow::Result<tradehost::market::snippet::Window> {
        Ok(tradehost::market::snippet::Window {
            from: parse_time(&self.from)?,
            to: parse_time(&self.to)?,
        })
    }
}

pub(crate) fn parse_time(s: &Option<String>) -> anyhow::Result<Option<i64>> {
    s.as_deref()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|d| d.timestamp_millis())
                .with_context(|| {
                    format!("invalid time {t:?}: use RFC 3339, e.g. 2013-10-07T13:30:00Z")
                })
        })
        .transpose()
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
///
/// The handlers are installed when this is called, not when the future is first awaited:
/// the daemon awaits it only once started, and a signal during start-up must still stop it
/// cleanly (right after start-up) rather than kill it. Call it inside the runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {},
                _ = wait(int) => {},
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
