//! The `tradehost` command: run the daemon, check a plugin, watch the feed, train offline,
//! backtest, cut data snippets (trades of a window, bars built from them), and halt or
//! resume a running daemon's trading.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use tradehost::config::Config;

/// Real-time trading host with sandboxed WebAssembly strategies.
#[derive(Parser)]
#[command(name = "tradehost", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: feed, market state, trainer, plugins, paper broker, status API.
    Run {
        /// Use the bundled real trades through a local Finnhub-compatible server
        /// (no API key, no network).
        #[arg(long)]
        demo: bool,
        /// Settings file to read instead of ./.env.
        #[arg(long, value_name = "FILE")]
        env: Option<PathBuf>,
        /// Plugin folder (overrides PLUGIN_DIR).
        #[arg(long, value_name = "DIR")]
        plugins: Option<PathBuf>,
        /// Status API address (overrides STATUS_ADDR), or `off`.
        #[arg(long, value_name = "ADDR")]
        status_addr: Option<String>,
    },
    /// Validate a plugin: bytes, interface version, compile, start; print what it says
    /// about itself, or why it is refused.
    Check {
        /// The `.wasm` component.
        file: PathBuf,
    },
    /// Connect to the feed and print every event, one per line, until interrupted.
    Feed {
        /// Symbols in user notation, comma-separated (`STOCK:AAPL,FOREX:EUR/USD`).
        #[arg(long, value_delimiter = ',', required = true)]
        symbols: Vec<String>,
        /// Use the local demo server instead of Finnhub.
        #[arg(long)]
        demo: bool,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
        /// Settings file to read instead of ./.env.
        #[arg(long, value_name = "FILE")]
        env: Option<PathBuf>,
    },
    /// Run one training cycle on a CSV of bars or trades and print the evaluation table.
    Train {
        /// Bars (`timestamp,open,high,low,close,volume`) or trades
        /// (`timestamp,symbol,price,size,...`), `.csv` or `.csv.gz`.
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// The symbol (default: from the file).
        #[arg(long)]
        symbol: Option<String>,
        /// Settings file to read instead of ./.env.
        #[arg(long, value_name = "FILE")]
        env: Option<PathBuf>,
    },
    /// Write the trades of a time window of trade files to one file, every column kept,
    /// suspicious prints removed, merged in time order (`.gz` output is compressed).
    Cut {
        /// The trades (every file with the same header) and the window.
        #[command(flatten)]
        trades: TradeWindow,
        /// Output file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Aggregate the trades of a time window into bars with the daemon's own bar aggregator;
    /// writes `SYMBOL_<period>_<first day>_<last day>.csv.gz` per symbol into --out.
    Bars {
        /// The trades and the window.
        #[command(flatten)]
        trades: TradeWindow,
        /// Bar length in seconds (default: UPDATE_INTERVAL).
        #[arg(long, value_name = "SECS")]
        period: Option<u32>,
        /// Output folder.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Settings file to read instead of ./.env.
        #[arg(long, value_name = "FILE")]
        env: Option<PathBuf>,
    },
    /// Replay trade files through plugins with the live engine's market state and broker,
    /// on market time; writes report.json, equity.svg and the journal to --out.
    Backtest {
        /// The trades and the window.
        #[command(flatten)]
        trades: TradeWindow,
        /// A plugin file or a folder of plugins.
        #[arg(long, value_name = "DIR|FILE")]
        plugins: PathBuf,
        /// Trades per batch across the plugin boundary.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Forecast with the deployed models of this folder (a daemon's MODELS_DIR).
        #[arg(long, value_name = "DIR")]
        models: Option<PathBuf>,
        /// Retrain each symbol's model every BARS completed bars, on the bars so far (no
        /// look-ahead), deploying through the same gate as live.
        #[arg(long, value_name = "BARS")]
        walk_forward: Option<usize>,
        /// Output folder.
        #[arg(long, default_value = "backtest-out")]
        out: PathBuf,
        /// Settings file to read instead of ./.env.
        #[arg(long, value_name = "FILE")]
        env: Option<PathBuf>,
    },
    /// Halt (`on`) or resume (`off`) trading in a running daemon, or show the kill switch
    /// (`status`). Halting cancels every resting order; the change is journaled and
    /// survives restarts.
    KillSwitch {
        /// `on`, `off` or `status`.
        #[arg(value_enum)]
        action: KillSwitchAction,
        /// Why, recorded in the journal and the log.
        #[arg(long)]
        reason: Option<String>,
        /// The daemon's status address (default: STATUS_ADDR from the settings).
        #[arg(long, value_name = "ADDR")]
        addr: Option<std::net::SocketAddr>,
        /// Bearer token (default: CONTROL_TOKEN from the settings).
        #[arg(long)]
        token: Option<String>,
        /// Settings file to read instead of ./.env.
        #[arg(long, value_name = "FILE")]
        env: Option<PathBuf>,
    },
}

/// What `tradehost kill-switch` does.
#[derive(Clone, Copy, clap::ValueEnum)]
enum KillSwitchAction {
    /// Halt trading.
    On,
    /// Resume trading.
    Off,
    /// Show the current state.
    Status,
}

/// Trade files and a time window, shared by the commands that read trades.
#[derive(Args)]
struct TradeWindow {
    /// Trade files (`timestamp,symbol,price,size,...`, `.csv` or `.csv.gz`).
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Start time (RFC 3339, e.g. 2013-10-07T13:30:00Z).
    #[arg(long)]
    from: Option<String>,
    /// End time (RFC 3339, exclusive).
    #[arg(long)]
    to: Option<String>,
}

impl TradeWindow {
    fn window(&self) -> anyhow::Result<tradehost::market::snippet::Window> {
        Ok(tradehost::market::snippet::Window {
            from: parse_time(&self.from)?,
            to: parse_time(&self.to)?,
        })
    }
}

fn parse_time(s: &Option<String>) -> anyhow::Result<Option<i64>> {
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

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // candle sizes its matrix work from this process-wide variable; on small models the
        // pool costs more than it saves (measured: training 2x slower, inference 30x slower).
        // SAFETY: set before any other thread of this process exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    let cli = Cli::parse();
    // One TLS crypto provider for the whole process (see DESIGN.md: two would panic).
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli.command {
        Command::Run {
            demo,
            env,
            plugins,
            status_addr,
        } => {
            let mut overrides = Vec::new();
            if let Some(dir) = plugins {
                overrides.push(("PLUGIN_DIR".to_string(), dir.display().to_string()));
            }
            if let Some(addr) = status_addr {
                overrides.push(("STATUS_ADDR".to_string(), addr));
            }
            let config = Config::load(env.as_deref(), &overrides, demo)?;
            let _logs =
                tradehost::logging::init(&config.log).context("cannot open the log files")?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime
                .block_on(async move { tradehost::engine::run(config, shutdown_signal()).await })?;
        }
        Command::Check { file } => {
            let config = Config::load(None, &[("PLUGIN_CACHE_DIR".into(), "off".into())], true)?;
            let _logs = tradehost::logging::init(&tradehost::logging::LogConfig {
                dir: None,
                ..config.log.clone()
            })?;
            match tradehost::plugins::check_file(config.plugins, &file) {
                Ok(info) => {
                    println!("{} is a valid tradehost strategy", file.display());
                    println!("  strategy:  {} {}", info.strategy, info.version);
                    println!("  about:     {}", info.description);
                    println!("  interface: tradehost:strategy@{}", info.interface_version);
                    println!("  symbols:   {}", info.symbols.join(", "));
                    for (k, v) in &info.config {
                        println!("  setting:   {k} = {v}");
                    }
                    println!("  compiled in {:.1} ms", info.compile_ms);
                }
                Err(e) => {
                    eprintln!("refused: {e}");
                    std::process::exit(1);
                }
            }
        }
        Command::Feed {
            symbols,
            demo,
            json,
            env,
        } => {
            let config = Config::load(
                env.as_deref(),
                &[("REAL_TIME_MODE".into(), "true".into())],
                demo,
            )?;
            let _logs = tradehost::logging::init(&tradehost::logging::LogConfig {
                dir: None,
                ..config.log.clone()
            })?;
            let runtime = tokio::runtime::Runtime::new()?;
            let mut stdout = std::io::stdout().lock();
            let stats = runtime.block_on(tradehost::feed::print_events(
                config.feed,
                &symbols,
                demo,
                json,
                &mut stdout,
                shutdown_signal(),
            ))?;
            eprintln!(
                "{} trades in {} frames, {} malformed, {} reconnects",
                stats.trades, stats.frames, stats.malformed_frames, stats.reconnects
            );
        }
        Command::Backtest {
            trades,
            plugins,
            batch,
            models,
            walk_forward,
            out,
            env,
        } => {
            let mut overrides = vec![("JOURNAL_FSYNC".to_string(), "never".to_string())];
            if std::env::var_os("LOG_LEVEL").is_none() {
                // Orders and fills are in the journal and the report; on the console, one
                // info line per fill would slow a long backtest down. Warnings and errors
                // (a faulting plugin) still show.
                overrides.push(("LOG_LEVEL".to_string(), "WARN".to_string()));
            }
            let config = Config::load(env.as_deref(), &overrides, true)?;
            let _logs = tradehost::logging::init(&tradehost::logging::LogConfig {
                dir: None,
                ..config.log.clone()
            })?;
            let window = trades.window()?;
            let bt = tradehost::backtest::BacktestConfig {
                data: trades.data,
                plugins,
                from_ms: window.from,
                to_ms: window.to,
                batch_size: batch,
                predictions: (models.is_some() || walk_forward.is_some()).then(|| {
                    tradehost::backtest::BacktestPredictions {
                        trainer: config.trainer.clone(),
                        models: tradehost::trainer::ReplayModels {
                            from_dir: models,
                            walk_forward_every: walk_forward,
                            store_dir: out.join("models"),
                        },
                    }
                }),
                out_dir: out,
            };
            let started = std::time::Instant::now();
            let trades = tradehost::backtest::load_trades(&bt.data, bt.from_ms, bt.to_ms)?;
            let loaded = started.elapsed();
            let report = tradehost::backtest::run(
                &bt,
                &trades,
                config.plugins,
                config.broker,
                &config.market,
            )?;
            println!("{report}");
            println!(
                "loading {:.2} s, whole run {:.2} s; results in {}",
                loaded.as_secs_f64(),
                started.elapsed().as_secs_f64(),
                bt.out_dir.display()
            );
        }
        Command::Cut { trades, out } => {
            let rows =
                tradehost::market::snippet::cut_trades(&trades.data, trades.window()?, &out)?;
            println!("{rows} trades -> {}", out.display());
        }
        Command::Bars {
            trades,
            period,
            out,
            env,
        } => {
            let config = Config::load(env.as_deref(), &[], true)?;
            let period = period.unwrap_or(config.market.update_interval_secs);
            anyhow::ensure!(period > 0, "--period must be at least 1 second");
            let written = tradehost::market::snippet::write_bars(
                &trades.data,
                trades.window()?,
                period,
                &out,
            )?;
            for file in written {
                println!(
                    "{} {} bars -> {}",
                    file.symbol,
                    file.bars,
                    file.path.display()
                );
            }
        }
        Command::Train { data, symbol, env } => {
            let config = Config::load(env.as_deref(), &[], true)?;
            let _logs = tradehost::logging::init(&tradehost::logging::LogConfig {
                dir: None,
                ..config.log.clone()
            })?;
            let report = tradehost::trainer::train_offline(
                &config.trainer,
                &data,
                symbol.as_deref(),
                &config.models_dir,
            )?;
            println!("{report}");
        }
        Command::KillSwitch {
            action,
            reason,
            addr,
            token,
            env,
        } => {
            let config = Config::load(env.as_deref(), &[], true)?;
            let addr = addr.or(config.status_addr).context(
                "STATUS_ADDR is off in the settings: give the daemon's status address with --addr",
            )?;
            let token = token.or(config.control_token.map(|t| t.expose().to_string()));
            let runtime = tokio::runtime::Runtime::new()?;
            use tradehost::status::client;
            let state = match action {
                KillSwitchAction::Status => runtime.block_on(client::kill_switch(addr))?,
                KillSwitchAction::On | KillSwitchAction::Off => {
                    let engaged = matches!(action, KillSwitchAction::On);
                    let reason = reason.or_else(|| Some("tradehost kill-switch".into()));
                    let change = runtime.block_on(client::set_kill_switch(
                        addr,
                        engaged,
                        reason,
                        token.as_deref(),
                    ))?;
                    if !change.changed {
                        println!(
                            "no change: the kill switch was already {}",
                            if engaged { "engaged" } else { "released" }
                        );
                    } else if change.cancelled_orders > 0 {
                        println!("cancelled {} resting orders", change.cancelled_orders);
                    }
                    change.state
                }
            };
            let since = state
                .since_ms
                .map(|t| format!(" since {}", tradehost::types::format_time_ms(t)))
                .unwrap_or_default();
            match state.engaged {
                true => println!(
                    "kill switch ENGAGED{since}: trading is halted ({})",
                    state.reason
                ),
                false => println!("kill switch released{since}: trading is on"),
            }
        }
    }
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
