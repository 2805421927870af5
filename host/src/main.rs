//! The `tradehost` command: run the daemon, check a plugin, watch the feed, train offline.

use anyhow::Context;
use clap::{Parser, Subcommand};
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
    /// Replay trade files through plugins with the live engine's market state and broker,
    /// on market time; writes report.json, equity.svg and the journal to --out.
    Backtest {
        /// Trade files (`timestamp,symbol,price,size,...`, `.csv` or `.csv.gz`).
        #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
        data: Vec<PathBuf>,
        /// A plugin file or a folder of plugins.
        #[arg(long, value_name = "DIR|FILE")]
        plugins: PathBuf,
        /// Start time (RFC 3339, e.g. 2013-10-07T13:30:00Z).
        #[arg(long)]
        from: Option<String>,
        /// End time (RFC 3339, exclusive).
        #[arg(long)]
        to: Option<String>,
        /// Trades per batch across the plugin boundary.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Output folder.
        #[arg(long, default_value = "backtest-out")]
        out: PathBuf,
        /// Settings file to read instead of ./.env.
        #[arg(long, value_name = "FILE")]
        env: Option<PathBuf>,
    },
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
            data,
            plugins,
            from,
            to,
            batch,
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
            let bt = tradehost::backtest::BacktestConfig {
                data,
                plugins,
                from_ms: parse_time(&from)?,
                to_ms: parse_time(&to)?,
                batch_size: batch,
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
