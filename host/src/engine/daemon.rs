//! `run`: start every subsystem, wire them, run until the shutdown future completes, then
//! stop in order (feed, drain, plugin state, journal, trainer).

use super::control::{EngineCommand, EngineControl};
use super::pipeline::Pipeline;
use super::plugin_control::PluginControl;
use super::plugin_startup;
use super::quarantine_list::QuarantineList;
use super::state_store::StateStore;
use super::status_source::{EngineStatus, FeedState};
use super::view::{Clock, EngineView};
use crate::broker::{BrokerError, PaperBroker};
use crate::config::{Config, Mode};
use crate::feed::{DemoServer, FeedError, FeedEvent, FinnhubClient};
use crate::market::MarketState;
use crate::plugins::{PluginError, PluginHost, PluginOutput, watcher};
use crate::status::StatusError;
use crate::trainer::{Trainer, TrainerError};
use crate::types::Prediction;
use crossbeam_channel::{Receiver, select, tick};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The daemon could not start (once running, failures are logged and contained).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The broker's journal could not be opened.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The trainer could not start.
    #[error(transparent)]
    Trainer(#[from] TrainerError),
    /// The plugin runtime could not start.
    #[error(transparent)]
    Plugins(#[from] PluginError),
    /// The feed (or demo server) could not start.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// The status API could not start.
    #[error(transparent)]
    Status(#[from] StatusError),
}

/// Feed events the engine thread may fall behind by before the client waits, then drops.
const FEED_QUEUE: usize = 4096;

/// Run the daemon until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), EngineError> {
    let started = Instant::now();
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

    // The broker logs what it recovered from the journal (and any torn tail) itself.
    let (broker, _recovery) = PaperBroker::open(config.broker.clone())?;
    let broker = Arc::new(Mutex::new(broker));
    let market = Arc::new(RwLock::new(MarketState::new(&config.market)));

    let trainer = Trainer::spawn(config.trainer.clone(), config.models_dir.clone())?;
    if config.mode == Mode::Demo {
        super::demo_history::load_demo_history(
            &trainer,
            config.market.update_interval_secs,
            crate::plugins::view::wall_clock_ms(),
        );
    }
    let board = trainer.board();
    let predictions = trainer.predictions();

    let view = Arc::new(EngineView {
        market: market.clone(),
        broker: broker.clone(),
        board: board.clone(),
        clock: Clock::Wall,
    });
    let (out_tx, out_rx) = crossbeam_channel::unbounded::<PluginOutput>();
    let plugins = Arc::new(PluginHost::new(
        config.plugins.clone(),
        view,
        state.load_symbols(),
        out_tx,
    )?);
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

    // The feed: demo mode runs a local Finnhub-compatible server and the real client.
    let mut feed_config = config.feed.clone();
    let demo = match config.mode {
        Mode::Demo => {
            let server = DemoServer::start(config.feed.demo.clone()).await?;
            feed_config = feed_config.with_ws_url(server.url());
            Some(server)
        }
        Mode::Live => None,
    };
    // The client sends straight into the engine thread's channel (no relay task: one hop
    // less between socket and strategy); a full channel makes it wait, then drop and count.
    let (event_tx, event_rx) = crossbeam_channel::bounded::<FeedEvent>(FEED_QUEUE);
    let feed = config
        .real_time
        .then(|| FinnhubClient::spawn(feed_config, event_tx));
    let feed_stats = feed.as_ref().map(|f| f.stats_handle()).unwrap_or_default();

    let feed_state = Arc::new(Mutex::new(FeedState::new(config.real_time)));
    let mut pipeline = Pipeline::new(
        market.clone(),
        broker.clone(),
        plugins.clone(),
        None,
        Clock::Wall,
    );
    let trainer = Arc::new(trainer);
    let trainer_status = {
        let handle = trainer.clone();
        Box::new(move || handle.status())
            as Box<dyn Fn() -> crate::trainer::TrainerStatus + Send + Sync>
    };
    pipeline.trainer = Some(trainer.clone());
    if config.mode == Mode::Live && config.real_time && config.feed.api_key.is_some() {
        let wanted: Vec<String> = plugins
            .wanted_symbols()
            .union(&config.symbols.iter().cloned().collect())
            .cloned()
            .collect();
        let (feed_config, market, trainer) = (config.feed.clone(), market.clone(), trainer.clone());
        let (period, bars) = (
            config.market.update_interval_secs,
            config.market.history_bars,
        );
        let now_secs = crate::plugins::view::wall_clock_ms() / 1000;
        tokio::spawn(async move {
            super::backfill::backfill(
                &feed_config,
                &wanted,
                period,
                bars,
                now_secs,
                &market,
                Some(&trainer),
            )
            .await;
        });
    }
    let status = Arc::new(EngineStatus {
        started,
        started_ms: crate::plugins::view::wall_clock_ms(),
        mode: match config.mode {
            Mode::Live => crate::status::report::RunMode::Live,
            Mode::Demo => crate::status::report::RunMode::Demo,
        },
        feed_stats,
        feed_state: feed_state.clone(),
        pipeline: pipeline.stats.clone(),
        market: market.clone(),
        broker: broker.clone(),
        plugins: plugins.clone(),
        board,
        trainer: Some(trainer_status),
    });
    let (command_tx, command_rx) = crossbeam_channel::bounded::<EngineCommand>(16);
    let (status_stop_tx, status_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let status_server = if let Some(listener) = status_listener {
        // Dashboard hook: the engine feeds the page's live events through the hub.
        let hub = Arc::new(crate::dashboard::EventHub::new(
            config.market.update_interval_secs,
        ));
        pipeline.events = Some(hub.clone());
        let control = EngineControl::new(command_tx.clone(), pipeline.stats.clone())
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
    let subscriber = feed.as_ref().map(|f| f.subscriber());
    let wanted_extra: BTreeSet<String> = config.symbols.iter().cloned().collect();
    let flush_lag = Duration::from_secs(2);
    let engine = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            let mut subscribed = BTreeSet::new();
            let mut follow = |plugins: &PluginHost, feed_state: &Mutex<FeedState>| {
                let Some(sub) = &subscriber else { return };
                let wanted: BTreeSet<String> = plugins
                    .wanted_symbols()
                    .union(&wanted_extra)
                    .cloned()
                    .collect();
                for s in wanted.difference(&subscribed) {
                    if let Err(e) = sub.subscribe(s) {
                        tracing::warn!(target: "tradehost::feed", "cannot subscribe to {s}: {e}");
                    }
                }
                for s in subscribed.difference(&wanted) {
                    let _ = sub.unsubscribe(s);
                }
                if let Ok(mut st) = feed_state.lock() {
                    st.subscriptions = wanted.iter().cloned().collect();
                }
                subscribed = wanted;
            };
            follow(&pipeline.plugins, &feed_state);
            engine_loop(
                &mut pipeline,
                Inputs {
                    events: &event_rx,
                    outputs: &out_rx,
                    predictions: &predictions,
                    commands: &command_rx,
                    stop: &stop_rx,
                },
                &feed_state,
                flush_lag,
                &mut |p| {
                    follow(&p.plugins, &feed_state);
                    p.cancel_orphaned_orders();
                },
            );
            pipeline
        })
        .map_err(|e| PluginError::Runtime(format!("cannot start the engine thread: {e}")))?;

    // Periodic saves of plugin state, off the engine thread.
    let saver = {
        let plugins = plugins.clone();
        let state = state.clone();
        let control = plugin_control.clone();
        let quarantine = quarantine.clone();
        let every = config.state_save_interval;
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        let handle = std::thread::Builder::new()
            .name("state-saver".into())
            .spawn(move || {
                while rx.recv_timeout(every).is_err() {
                    plugin_startup::save_states(&plugins, &state, &control, &quarantine);
                }
            })
            .ok();
        (tx, handle)
    };

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
    plugins.begin_shutdown();
    if let Some(feed) = feed {
        feed.shutdown().await;
    }
    drop(demo);
    let _ = stop_tx.send(());
    let pipeline = tokio::task::spawn_blocking(move || engine.join().ok())
        .await
        .ok()
        .flatten();
    drop(watch);
    let _ = saver.0.send(());
    if let Some(h) = saver.1 {
        let _ = h.join();
    }
    plugin_startup::save_quarantine(&plugins, &plugin_control, &quarantine);
    for (name, snapshot) in plugins.shutdown() {
        match snapshot {
            Some(bytes) => {
                if let Err(e) = state.save_plugin(&name, &bytes) {
                    tracing::error!("cannot save the state of plugin {name}: {e}");
                }
            }
            None => tracing::warn!("plugin {name} gave no final state"),
        }
    }
    if let Err(e) = state.save_symbols(plugins.symbols()) {
        tracing::error!("cannot save the symbol table: {e}");
    }
    if let Ok(mut b) = broker.lock()
        && let Err(e) = b.flush()
    {
        tracing::error!(target: "tradehost::broker", "cannot flush the journal: {e}");
    }
    drop(pipeline);
    let _ = status_stop_tx.send(());
    if let Some(server) = status_server {
        let _ = server.await;
    }
    // Everything holding the broker is gone now, so its journal lock is released.
    drop(status);
    if let Ok(trainer) = Arc::try_unwrap(trainer) {
        trainer.shutdown();
    }
    tracing::info!("tradehost stopped cleanly");
    Ok(())
}

/// The channels the engine thread reads.
struct Inputs<'a> {
    /// Feed events.
    events: &'a Receiver<FeedEvent>,
    /// Plugin answers.
    outputs: &'a Receiver<PluginOutput>,
    /// Model forecasts.
    predictions: &'a Receiver<Prediction>,
    /// Operator commands (status API).
    commands: &'a Receiver<EngineCommand>,
    /// Shutdown.
    stop: &'a Receiver<()>,
}

/// The engine thread: handle feed events, plugin orders, predictions and operator commands
/// until stopped, then drain what is already queued.
fn engine_loop(
    pipeline: &mut Pipeline,
    inputs: Inputs<'_>,
    feed_state: &Mutex<FeedState>,
    flush_lag: Duration,
    on_tick: &mut dyn FnMut(&mut Pipeline),
) {
    let ticker = tick(Duration::from_secs(1));
    // A channel whose sender is gone is always ready in `select!`; swap it for one that
    // never is, so that a stopped feed (history-only mode, or a terminal error) or a
    // stopped trainer leaves the rest running instead of spinning or stopping the engine.
    let (mut feed, mut outs, mut preds, mut commands) = (
        inputs.events.clone(),
        inputs.outputs.clone(),
        inputs.predictions.clone(),
        inputs.commands.clone(),
    );
    loop {
        select! {
            recv(feed) -> e => match e {
                Ok(event) => handle_feed_event(pipeline, event, feed_state),
                Err(_) => {
                    tracing::info!(target: "tradehost::feed", "the feed has stopped (shutting down, history-only mode, or a terminal error logged above)");
                    feed = crossbeam_channel::never();
                }
            },
            recv(outs) -> o => match o {
                Ok(output) => pipeline.on_output(output),
                Err(_) => outs = crossbeam_channel::never(),
            },
            recv(preds) -> p => match p {
                Ok(p) => pipeline.on_prediction(&p),
                Err(_) => preds = crossbeam_channel::never(),
            },
            recv(commands) -> c => match c {
                Ok(command) => handle_command(pipeline, command),
                Err(_) => commands = crossbeam_channel::never(),
            },
            recv(ticker) -> _ => {
                pipeline.flush_bars(pipeline.clock.now_ms() - flush_lag.as_millis() as i64);
                on_tick(pipeline);
            },
            recv(inputs.stop) -> _ => break,
        }
    }
    // Drain: events already received are processed, and plugin answers to them handled.
    while let Ok(event) = inputs.events.try_recv() {
        handle_feed_event(pipeline, event, feed_state);
    }
    pipeline.settle(inputs.outputs, Duration::from_secs(2));
}

fn handle_command(pipeline: &mut Pipeline, command: EngineCommand) {
    match command {
        EngineCommand::KillSwitch {
            engaged,
            reason,
            reply,
        } => {
            let _ = reply.send(pipeline.set_kill_switch(engaged, &reason));
        }
        EngineCommand::Flatten {
            plugin,
            actor,
            reply,
        } => {
            let _ = reply.send(super::control::flatten(pipeline, &plugin, &actor));
        }
    }
}

fn handle_feed_event(pipeline: &mut Pipeline, event: FeedEvent, feed_state: &Mutex<FeedState>) {
    match event {
        FeedEvent::Trades(batch) => pipeline.on_feed_batch(&batch),
        FeedEvent::Status(status) => {
            super::state_store::note_subscription(pipeline.plugins.symbols(), &status);
            if let Ok(mut s) = feed_state.lock() {
                s.apply(&status);
            }
        }
    }
}
