//! `run`: start every subsystem, wire them, run until the shutdown future completes, then
//! stop them in an explicit order (`Daemon::stop`: saves, feed, engine drain, plugin
//! state, journal, status API, bus link, trainer).
//!
//! [`run_with`] with [`Wiring::Strategies`] runs the same engine as a strategy host of a
//! scale-out deployment: market data and forecasts come from the bus instead of the feed
//! and the trainer, orders leave for the broker host, and the local broker only mirrors the
//! fills it reports (`docs/scale-out.md`).

use super::broker_board::BrokerBoard;
use super::bus_checkpoint::BusCheckpoint;
use super::checkpointer::Checkpointer;
use super::control::{CommandSender, EngineCommand, EngineControl};
use super::core::{Core, Forecasts};
use super::engine_error::EngineError;
use super::engine_thread::EngineThread;
use super::event_loop::Inputs;
use super::local_feed::LocalFeed;
use super::pipeline::Pipeline;
use super::plugin_control::PluginControl;
use super::plugin_startup;
use super::quarantine_list::QuarantineList;
use super::snapshot::{Clock, SnapshotWriter};
use super::state_saver::{SaverParts, StateSaver};
use super::state_store::StateStore;
use super::status_server::StatusServer;
use super::status_source::{EngineStatus, FeedState};
use super::strategy_link::{LinkParts, StrategyLink};
use super::subscription_follower::SubscriptionFollower;
use crate::broker::{JournalRecord, PaperBroker};
use crate::bus::Bus;
use crate::config::{Config, Mode};
use crate::doorbell::{Doorbell, RingingSender};
use crate::market::MarketState;
use crate::plugins::{PluginHost, PluginOutput, watcher};
use crate::trainer::{PredictionBoard, TrainerHandle};
use crate::types::Prediction;
use crossbeam_channel::Receiver;
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where the engine's market data comes from and where its orders go.
pub enum Wiring {
    /// Everything in this process: the feed (or the demo), the trainer, the broker.
    Local,
    /// A strategy host: market data and forecasts from the bus, orders to the broker host.
    Strategies(Bus),
}

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
    let daemon = Daemon::start(config, wiring).await?;
    shutdown.await;
    daemon.stop().await;
    Ok(())
}

/// The loaded plugins and what manages them.
struct Plugins {
    host: Arc<PluginHost>,
    control: PluginControl,
    quarantine: QuarantineList,
    watch: Option<watcher::WatchHandle>,
}

/// Everything the daemon started, in the fields its [`stop`](Daemon::stop) sequence uses.
struct Daemon {
    state: StateStore,
    plugins: Plugins,
    trainer: Option<Arc<TrainerHandle>>,
    link: Option<StrategyLink>,
    checkpointer: Option<Checkpointer>,
    commands: CommandSender,
    feed: LocalFeed,
    engine: EngineThread,
    saver: StateSaver,
    summary: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    status_server: Option<StatusServer>,
    status: Arc<EngineStatus>,
}

impl Daemon {
    /// Start every subsystem, in the order each needs the others.
    async fn start(config: Config, wiring: Wiring) -> Result<Daemon, EngineError> {
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
        let (broker, mirrored) = open_broker(&config, bus.is_some())?;
        // The engine thread owns market and broker state; everyone else reads the snapshot
        // it publishes (plugins' host imports, the status API).
        let market = MarketState::new(&config.market);
        let snapshot = SnapshotWriter::new(config.market.history_bars, market.period_secs());
        let Forecasting {
            trainer,
            board,
            predictions,
        } = start_trainer(&config, bus.is_none())?;
        // Whoever sends to the engine thread rings its bell: it may be waiting in its own
        // runtime, reading the feed, rather than on its channels.
        let bell = Doorbell::new();
        if let Some(trainer) = &trainer {
            trainer.ring_on_prediction(bell.clone());
        }
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
        let (out_tx, out_rx) = crossbeam_channel::unbounded::<PluginOutput>();
        let plugins = start_plugins(
            &config,
            &state,
            &snapshot,
            RingingSender::new(out_tx, bell.clone()),
        )?;
        let (link, link_parts) = match bus {
            Some(bus) => {
                let checkpoint = checkpoint.unwrap_or_default();
                let started = start_link(
                    bus,
                    &config,
                    checkpoint,
                    &state,
                    &plugins.host,
                    &board,
                    mirrored,
                );
                let (link, parts) = started.await?;
                (Some(link), Some(parts))
            }
            None => (None, None),
        };
        let (feed, feed_wires) = LocalFeed::start(&config, link.is_none(), &bell).await?;

        let feed_state = Arc::new(Mutex::new(FeedState::new(config.real_time)));
        let snapshot_reader = snapshot.reader(Clock::Wall);
        let forecasts = trainer.clone().map_or(Forecasts::Off, Forecasts::Trainer);
        let mut pipeline = Pipeline::new(Core::new(
            market,
            broker,
            plugins.host.clone(),
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
        let commands = RingingSender::new(command_tx, bell.clone());
        let link_inputs = link_parts.map(|parts| {
            pipeline.route_orders_to(parts.route);
            parts.inputs
        });
        if let Some(trainer) = &trainer {
            backfill_if_live(&config, trainer, &plugins.host, &commands);
        }
        let trainer_status = trainer.clone().map(|handle| {
            Box::new(move || handle.status())
                as Box<dyn Fn() -> crate::trainer::TrainerStatus + Send + Sync>
        });
        let status = Arc::new(EngineStatus {
            started,
            started_ms: crate::plugins::view::wall_clock_ms(),
            mode: super::host_status::run_mode(config.mode),
            feed_stats: feed_wires.stats.clone(),
            feed_state: feed_state.clone(),
            pipeline: pipeline.core.stats.clone(),
            snapshot: snapshot_reader,
            broker: broker_board,
            plugins: plugins.host.clone(),
            board,
            trainer: trainer_status,
            deployment: link.as_ref().map(|l| l.deployment()),
        });
        let status_server = match status_listener {
            Some(listener) => {
                let control = EngineControl::new(commands.clone(), pipeline.core.stats.clone())
                    .with_plugins(plugins.control.clone());
                let source = status.clone();
                Some(StatusServer::start(
                    listener,
                    &config,
                    source,
                    control,
                    &mut pipeline,
                )?)
            }
            None => None,
        };

        let bus_symbols = link
            .as_ref()
            .map(|l| Box::new(l.symbols_handle()) as Box<dyn Fn(Vec<crate::types::Symbol>) + Send>);
        let follower = SubscriptionFollower::new(
            feed.subscriber(),
            bus_symbols,
            config.symbols.iter().cloned().collect(),
        );
        let inputs = Inputs {
            events: feed_wires.events,
            feed_runtime: feed_wires.runtime,
            predictions,
            commands: command_rx,
            link: link_inputs,
        };
        let engine = EngineThread::spawn(pipeline, inputs, follower, feed_state, bell)?;

        // Periodic saves of plugin state, off the engine thread; a strategy host's are
        // checkpoints taken through the engine thread.
        let checkpointer = link.as_ref().map(|l| l.checkpointer());
        let saver = StateSaver::spawn(
            config.state_save_interval,
            SaverParts {
                plugins: plugins.host.clone(),
                state: state.clone(),
                control: plugins.control.clone(),
                quarantine: plugins.quarantine.clone(),
                checkpoints: checkpointer.clone().map(|c| (c, commands.clone())),
            },
        );
        let summary = config
            .console_summary
            .map(|every| start_summary(every, &status));
        Ok(Daemon {
            state,
            plugins,
            trainer,
            link,
            checkpointer,
            commands,
            feed,
            engine,
            saver,
            summary,
            status_server,
            status,
        })
    }

    /// Stop everything, in this order (`docs/architecture.md`, "Shutdown").
    async fn stop(self) {
        if let Some((stop, task)) = self.summary {
            let _ = stop.send(());
            let _ = task.await;
        }
        tracing::info!("shutting down: stopping the feed, draining events, saving plugin state");
        // 1. Periodic saves stop first, while the engine thread can still answer the
        // checkpoint a save may be waiting for; the final save comes after the drain.
        let saver = self.saver;
        let _ = tokio::task::spawn_blocking(move || saver.stop()).await;
        // 2. A strategy host's last checkpoint, taken while the engine still runs: what
        // comes after it is read again at the next start.
        if let (Some(link), Some(c)) = (&self.link, self.checkpointer) {
            link.stop_market();
            let (commands, state) = (self.commands.clone(), self.state.clone());
            let _ = tokio::task::spawn_blocking(move || c.take(&commands, &state)).await;
        }
        // 3. Plugins take no new batches; the feed closes (driven by the engine thread).
        self.plugins.host.begin_shutdown();
        self.feed.stop().await;
        // 4. The engine drains what it received and settles the plugins' answers.
        let mut pipeline = self.engine.stop().await;
        drop(self.plugins.watch);
        // 5. Plugin state is saved. A strategy host keeps the checkpoint's snapshots: they
        // match its saved position.
        let keep_finals = self.link.is_none();
        plugin_startup::stop_and_save(
            &self.plugins.host,
            &self.state,
            &self.plugins.control,
            &self.plugins.quarantine,
            keep_finals,
        );
        // 6. The journal is flushed.
        if let Some(pipeline) = &mut pipeline
            && let Err(e) = pipeline.broker_mut().flush()
        {
            tracing::error!(target: "tradehost::broker", "cannot flush the journal: {e}");
        }
        drop(pipeline);
        // 7. The status API, and the status source with it.
        if let Some(server) = self.status_server {
            server.stop().await;
        }
        drop(self.status);
        // 8. The bus link, then the trainer (its last handle is ours once the pipeline and
        // the status source are gone).
        if let Some(link) = self.link {
            link.stop().await;
        }
        if let Some(Ok(trainer)) = self.trainer.map(Arc::try_unwrap) {
            trainer.shutdown();
        }
        tracing::info!("tradehost stopped cleanly");
    }
}

/// The trainer and what the engine reads from it.
struct Forecasting {
    /// None on a strategy host, whose forecasts come from the bus.
    trainer: Option<Arc<TrainerHandle>>,
    /// The latest forecast per symbol (empty without a trainer).
    board: PredictionBoard,
    /// Forecasts as they come.
    predictions: Receiver<Prediction>,
}

/// Start the trainer when `local` (not a strategy host).
fn start_trainer(config: &Config, local: bool) -> Result<Forecasting, EngineError> {
    if !local {
        return Ok(Forecasting {
            trainer: None,
            board: PredictionBoard::new(),
            predictions: crossbeam_channel::never(),
        });
    }
    let trainer = super::demo_history::spawn_trainer(config)?;
    Ok(Forecasting {
        board: trainer.board(),
        predictions: trainer.predictions(),
        trainer: Some(Arc::new(trainer)),
    })
}

/// A strategy host's bus link: market data of its plugins' symbols from the checkpoint's
/// position, its reports, its orders' route.
async fn start_link(
    bus: Bus,
    config: &Config,
    mut checkpoint: BusCheckpoint,
    state: &StateStore,
    plugins: &PluginHost,
    board: &PredictionBoard,
    mirrored: HashSet<u64>,
) -> Result<(StrategyLink, LinkParts), EngineError> {
    checkpoint.retain_started_from_snapshots(|name| state.load_plugin(name).is_some());
    let wanted = plugins
        .wanted_symbols()
        .into_iter()
        .map(Into::into)
        .collect();
    let dir = config.state_dir.clone();
    Ok(StrategyLink::start(bus, dir, checkpoint, wanted, board.clone(), mirrored).await?)
}

/// Live, with a key: fetch recent bars of every wanted symbol in the background, for the
/// trainer and the engine's history.
fn backfill_if_live(
    config: &Config,
    trainer: &Arc<TrainerHandle>,
    plugins: &PluginHost,
    commands: &CommandSender,
) {
    if config.mode != Mode::Live || !config.real_time || config.feed.api_key.is_none() {
        return;
    }
    let wanted: Vec<String> = plugins
        .wanted_symbols()
        .union(&config.symbols.iter().cloned().collect())
        .cloned()
        .collect();
    super::backfill::spawn_at_start(config, wanted, commands.clone(), trainer.clone());
}

/// The console summary every `every`, until told to stop.
fn start_summary(
    every: std::time::Duration,
    status: &EngineStatus,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(super::console_summary::run(
        every,
        status.pipeline.clone(),
        status.broker.clone(),
        status.plugins.clone(),
        stopped,
    ));
    (stop, task)
}

/// Open the journal. The broker logs what it recovered (and any torn tail) itself. On a
/// strategy host (`mirror`) it is a mirror of the fills the broker host reported: their
/// order ids come back too.
fn open_broker(config: &Config, mirror: bool) -> Result<(PaperBroker, HashSet<u64>), EngineError> {
    let mut mirrored = HashSet::new();
    let (mut broker, _recovery) = PaperBroker::open_with(config.broker.clone(), |r| {
        if let JournalRecord::Fill { fill, .. } = r
            && mirror
        {
            mirrored.insert(fill.order_id);
        }
    })?;
    if !mirror {
        // Plugins answer after the engine went on: their orders fill as of their causes.
        broker.keep_recent_trades(crate::broker::recent_trades::KEPT_TRADES);
    }
    Ok((broker, mirrored))
}

/// Load the plugins of the plugin folder (skipping quarantined ones), their answers to
/// `out`, and watch the folder for changes when configured.
fn start_plugins(
    config: &Config,
    state: &StateStore,
    snapshot: &SnapshotWriter,
    out: RingingSender<PluginOutput>,
) -> Result<Plugins, EngineError> {
    let view = Arc::new(snapshot.reader(Clock::Wall));
    let host = Arc::new(PluginHost::new(
        config.plugins.clone(),
        view,
        state.load_symbols(),
        out,
    )?);
    let control = PluginControl::new(host.clone(), state.clone());
    let quarantine = QuarantineList::new(&config.state_dir);
    plugin_startup::load_at_start(&host, state, &control, &quarantine);
    if host.names().is_empty() {
        tracing::warn!(
            target: "tradehost::plugins",
            "no plugins loaded from {}: build the examples with scripts/build-plugins.sh or drop a .wasm there",
            config.plugins.dir.display()
        );
    }
    let watch = match config.plugins.watch {
        true => Some(watcher::watch(host.clone())?),
        false => None,
    };
    Ok(Plugins {
        host,
        control,
        quarantine,
        watch,
    })
}
