//! `run`: start every subsystem, wire them, run until the shutdown future completes, then
//! stop in order (feed, drain, plugin state, journal, trainer).
//!
//! [`run_with`] with [`Wiring::Strategies`] runs the same engine as a strategy host of a
//! scale-out deployment: market data and forecasts come from the bus instead of the feed
//! and the trainer, orders leave for the broker host, and the local broker only mirrors the
//! fills it reports (`docs/scale-out.md`).

use super::broker_board::BrokerBoard;
use super::bus_checkpoint::BusCheckpoint;
use super::control::{EngineCommand, EngineControl};
use super::core::{Core, Forecasts};
use super::engine_error::EngineError;
use super::event_loop::Inputs;
use super::feed_runtime::FeedRuntime;
use super::pipeline::Pipeline;
use super::plugin_control::PluginControl;
use super::plugin_startup;
use super::quarantine_list::QuarantineList;
use super::snapshot::{Clock, SnapshotWriter};
use super::state_saver::{SaverParts, StateSaver};
use super::state_store::StateStore;
use super::status_source::{EngineStatus, FeedState};
use super::strategy_link::StrategyLink;
use super::subscription_follower::SubscriptionFollower;
use crate::broker::{JournalRecord, PaperBroker};
use crate::bus::Bus;
use crate::config::{Config, Mode};
use crate::doorbell::{Doorbell, RingingSender};
use crate::feed::{DemoServer, FinnhubClient};
use crate::market::MarketState;
use crate::plugins::{PluginHost, PluginOutput, watcher};
use crate::trainer::PredictionBoard;
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the engine's market data comes from and where its orders go.
pub enum Wiring {
    /// Everything in this process: the feed (or the demo), the trainer, the broker.
    Local,
    /// A strategy host: market data and forecasts from the bus, orders to the broker host.
    Strategies(Bus),
}

/// Feed events the engine thread may fall behind by before the client waits, then drops.
const FEED_QUEUE: usize = 4096;

/// Run the daemon until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), EngineError> {
    run_with(config, Wiring::Local, shutdown).await
}

/// Run the engine, wired as `wiring` says, until `shutdown` completes.
pub async fn run_with(
    config: Config,
    wiring: Wiring,
    shutdown: impl Future<Output = ()>,
) -> Result<(), EngineError> {
    let started = Instant::now();
    let bus = match wiring {
        Wiring::Local => None,
        Wiring::Strategies(bus) => Some(bus),
    };
    let mode = match config.mode {
        Mode::Live => "live",
        Mode::Demo => "demo",
    };
    tracing::info!("tradehost starting in {mode} mode");
    // The status port first: a clash is reported now, not after training and loading.
    let status_listener = match config.status_addr {
        Some(addr) => Some(crate::status::bind(addr).await?),
        None => None,
    };
    let state = StateStore::new(config.state_dir.clone());

    // The broker logs what it recovered from the journal (and any torn tail) itself. On a
    // strategy host it is a mirror: its journal holds the fills the broker host reported.
    let mut mirrored = HashSet::new();
    let is_mirror = bus.is_some();
    let (broker, _recovery) = PaperBroker::open_with(config.broker.clone(), |r| {
        if let JournalRecord::Fill { fill, .. } = r
            && is_mirror
        {
            mirrored.insert(fill.order_id);
        }
    })?;
    // The engine thread owns market and broker state; everyone else reads the snapshot it
    // publishes (plugins' host imports, the status API).
    let market = MarketState::new(&config.market);
    let snapshot = SnapshotWriter::new(config.market.history_bars, market.period_secs());

    let trainer = match bus {
        Some(_) => None,
        None => Some(Arc::new(super::demo_history::spawn_trainer(&config)?)),
    };
    let board = trainer
        .as_ref()
        .map(|t| t.board())
        .unwrap_or_else(PredictionBoard::new);
    let predictions = trainer
        .as_ref()
        .map(|t| t.predictions())
        .unwrap_or_else(crossbeam_channel::never);

    // Whoever sends to the engine thread rings its bell: it may be waiting in its own
    // runtime, reading the feed, rather than on its channels.
    let bell = Doorbell::new();
    if let Some(trainer) = &trainer {
        trainer.ring_on_prediction(bell.clone());
    }
    let view = Arc::new(snapshot.reader(Clock::Wall));
    let (out_tx, out_rx) = crossbeam_channel::unbounded::<PluginOutput>();
    let plugins = Arc::new(PluginHost::new(
        config.plugins.clone(),
        view,
        state.load_symbols(),
        RingingSender::new(out_tx, bell.clone()),
    )?);
    // A strategy host starts its plugins from its checkpoint's states, which match the
    // stream position it reads on from.
    let checkpoint = match &bus {
        Some(_) => {
            let checkpoint = BusCheckpoint::load(&config.state_dir)?;
            checkpoint.restore_into(&state)?;
            Some(checkpoint)
        }
        None => None,
    };
    let plugin_control = PluginControl::new(plugins.clone(), state.clone());
    let quarantine = QuarantineList::new(&config.state_dir);
    plugin_startup::load_at_start(&plugins, &state, &plugin_control, &quarantine);
    if plugins.names().is_empty() {
        tracing::warn!(
            target: "tradehost::plugins",
            "no plugins loaded from {}: build the examples with scripts/build-plugins.sh or drop a .wasm there",
            config.plugins.dir.display()
        );
    }
    let watch = if config.plugins.watch {
        Some(watcher::watch(plugins.clone())?)
    } else {
        None
    };
    let link = match bus {
        Some(bus) => {
            let mut checkpoint = checkpoint.unwrap_or_default();
            checkpoint.retain_started_from_snapshots(|name| state.load_plugin(name).is_some());
            let wanted = plugins
                .wanted_symbols()
                .into_iter()
                .map(Into::into)
                .collect();
            Some(
                StrategyLink::start(
                    bus,
                    config.state_dir.clone(),
                    checkpoint,
                    wanted,
                    board.clone(),
                    mirrored,
                )
                .await?,
            )
        }
        None => None,
    };
    let (link, link_parts) = link.map_or((None, None), |(link, parts)| (Some(link), Some(parts)));

    // The feed: demo mode runs a local Finnhub-compatible server and the real client.
    let mut feed_config = config.feed.clone();
    let demo = match config.mode {
        Mode::Demo if link.is_none() => {
            let server = DemoServer::start(config.feed.demo.clone()).await?;
            feed_config = feed_config.with_ws_url(server.url());
            Some(server)
        }
        _ => None,
    };
    // The client runs on the engine thread itself, in a runtime the engine drives while it
    // has nothing else to do: a frame is read, parsed and handled without a hand-off
    // between threads (`feed_runtime.rs`).
    let (event_tx, event_rx) = crate::feed::thread_channel(FEED_QUEUE, bell.clone());
    let mut feed_runtime = None;
    let feed = match config.real_time && link.is_none() {
        true => {
            let runtime = FeedRuntime::new(bell.clone()).map_err(EngineError::Thread)?;
            let feed = FinnhubClient::spawn_on(runtime.handle(), feed_config, event_tx);
            feed_runtime = Some(runtime);
            Some(feed)
        }
        false => None,
    };
    let feed_stats = feed.as_ref().map(|f| f.stats_handle()).unwrap_or_default();

    let feed_state = Arc::new(Mutex::new(FeedState::new(config.real_time)));
    let snapshot_reader = snapshot.reader(Clock::Wall);
    let forecasts = trainer.clone().map_or(Forecasts::Off, Forecasts::Trainer);
    let mut pipeline = Pipeline::new(Core::new(
        market,
        broker,
        plugins.clone(),
        out_rx,
        snapshot,
        Clock::Wall,
        forecasts,
    ));
    // The status API and the console summary read the broker's figures from here: the
    // broker belongs to the engine thread.
    let broker_board = BrokerBoard::default();
    pipeline.publish_broker_to(broker_board.clone());
    let (command_tx, command_rx) = crossbeam_channel::bounded::<EngineCommand>(16);
    let command_tx = RingingSender::new(command_tx, bell.clone());
    let trainer_status = trainer.clone().map(|handle| {
        Box::new(move || handle.status())
            as Box<dyn Fn() -> crate::trainer::TrainerStatus + Send + Sync>
    });
    let (link_inputs, route) = link_parts.map_or((None, None), |parts| {
        (Some(parts.inputs), Some(parts.route))
    });
    if let Some(route) = route {
        pipeline.route_orders_to(route);
    }
    if let Some(trainer) = trainer.clone()
        && config.mode == Mode::Live
        && config.real_time
        && config.feed.api_key.is_some()
    {
        let wanted: Vec<String> = plugins
            .wanted_symbols()
            .union(&config.symbols.iter().cloned().collect())
            .cloned()
            .collect();
        super::backfill::spawn_at_start(&config, wanted, command_tx.clone(), trainer);
    }
    let status = Arc::new(EngineStatus {
        started,
        started_ms: crate::plugins::view::wall_clock_ms(),
        mode: super::host_status::run_mode(config.mode),
        feed_stats,
        feed_state: feed_state.clone(),
        pipeline: pipeline.core.stats.clone(),
        snapshot: snapshot_reader,
        broker: broker_board.clone(),
        plugins: plugins.clone(),
        board,
        trainer: trainer_status,
        deployment: link.as_ref().map(|l| l.deployment()),
    });
    let (status_stop_tx, status_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let status_server = if let Some(listener) = status_listener {
        // Dashboard hook: the engine feeds the page's live events through the hub.
        let hub = Arc::new(crate::dashboard::EventHub::new(
            config.market.update_interval_secs,
        ));
        pipeline.events = Some(hub.clone());
        let control = EngineControl::new(command_tx.clone(), pipeline.core.stats.clone())
            .with_plugins(plugin_control.clone());
        let api = crate::status::ApiConfig {
            source: status.clone(),
            control: Some(Arc::new(control)),
            access: crate::status::ControlAccess {
                token: config.control_token.clone(),
            },
            health: config.health,
            hub,
        };
        let (bound, server) = crate::status::serve_on(listener, api, async move {
            let _ = status_stop_rx.await;
        })?;
        tracing::info!(
            "dashboard on http://{bound}/ (API: /health, /metrics, /api/status, /api/events, /api/kill-switch)"
        );
        Some(tokio::spawn(server))
    } else {
        None
    };

    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
    let stop_tx = RingingSender::new(stop_tx, bell);
    let bus_symbols = link
        .as_ref()
        .map(|l| Box::new(l.symbols_handle()) as Box<dyn Fn(Vec<crate::types::Symbol>) + Send>);
    let mut follower = SubscriptionFollower::new(
        feed.as_ref().map(|f| f.subscriber()),
        bus_symbols,
        config.symbols.iter().cloned().collect(),
    );
    let flush_lag = Duration::from_secs(2);
    let engine = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            follower.follow(pipeline.plugins(), &feed_state);
            super::event_loop::run(
                &mut pipeline,
                Inputs {
                    events: &event_rx,
                    predictions: &predictions,
                    commands: &command_rx,
                    stop: &stop_rx,
                    link: link_inputs,
                    feed_runtime,
                },
                &feed_state,
                flush_lag,
                &mut |p| {
                    follower.follow(p.plugins(), &feed_state);
                    p.cancel_orphaned_orders();
                },
            );
            pipeline
        })
        .map_err(EngineError::Thread)?;

    // Periodic saves of plugin state, off the engine thread; a strategy host's are
    // checkpoints taken through the engine thread.
    let checkpointer = link.as_ref().map(|l| l.checkpointer());
    let saver = StateSaver::spawn(
        config.state_save_interval,
        SaverParts {
            plugins: plugins.clone(),
            state: state.clone(),
            control: plugin_control.clone(),
            quarantine: quarantine.clone(),
            checkpoints: checkpointer.clone().map(|c| (c, command_tx.clone())),
        },
    );

    let (summary_stop, summary_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let summary = config.console_summary.map(|every| {
        tokio::spawn(super::console_summary::run(
            every,
            status.pipeline.clone(),
            status.broker.clone(),
            status.plugins.clone(),
            summary_stop_rx,
        ))
    });

    shutdown.await;
    let _ = summary_stop.send(());
    if let Some(task) = summary {
        let _ = task.await;
    }
    tracing::info!("shutting down: stopping the feed, draining events, saving plugin state");
    // Periodic saves stop first, while the engine thread can still answer the checkpoint a
    // save may be waiting for; the final save comes after the engine has drained.
    let _ = tokio::task::spawn_blocking(move || saver.stop()).await;
    if let (Some(link), Some(c)) = (&link, checkpointer) {
        // The last checkpoint, taken while the engine still runs: what comes after it is
        // read again at the next start.
        link.stop_market();
        let (commands, state) = (command_tx.clone(), state.clone());
        let _ = tokio::task::spawn_blocking(move || c.take(&commands, &state)).await;
    }
    plugins.begin_shutdown();
    if let Some(feed) = feed {
        feed.shutdown().await;
    }
    drop(demo);
    let _ = stop_tx.send(());
    let mut pipeline = tokio::task::spawn_blocking(move || engine.join().ok())
        .await
        .ok()
        .flatten();
    drop(watch);
    // A strategy host keeps the checkpoint's snapshots: they match its saved position.
    let keep_finals = link.is_none();
    plugin_startup::stop_and_save(&plugins, &state, &plugin_control, &quarantine, keep_finals);
    if let Some(pipeline) = &mut pipeline
        && let Err(e) = pipeline.broker_mut().flush()
    {
        tracing::error!(target: "tradehost::broker", "cannot flush the journal: {e}");
    }
    drop(pipeline);
    let _ = status_stop_tx.send(());
    if let Some(server) = status_server {
        let _ = server.await;
    }
    // The status source goes with the status API.
    drop(status);
    if let Some(link) = link {
        link.stop().await;
    }
    if let Some(Ok(trainer)) = trainer.map(Arc::try_unwrap) {
        trainer.shutdown();
    }
    tracing::info!("tradehost stopped cleanly");
    Ok(())
}
