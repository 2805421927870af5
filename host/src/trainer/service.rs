//! The running trainer: two std threads, never tokio workers, and the handle the engine holds.
//!
//! - `trainer-serve` receives bars ([`TrainerHandle::bar`], [`TrainerHandle::history`]),
//!   keeps a bounded history per symbol and, after each new bar, has the deployed model
//!   predict; predictions go to the [`PredictionBoard`] and to a bounded channel
//!   ([`TrainerHandle::predictions`]). Its work per bar is microseconds, so it never waits on
//!   training.
//! - `trainer-train` runs a cycle for every symbol each `MODEL_TRAINING_INTERVAL` (or on
//!   [`TrainerHandle::train_now`]) on a copy of the history, and swaps in models that pass
//!   the gate. A failing cycle is logged and recorded in [`TrainerStatus`]; the thread goes on.
//!
//! Dropping the handle (or [`TrainerHandle::shutdown`]) stops both threads; a cycle under way
//! finishes its current symbol first.

use super::TrainerConfig;
use super::board::PredictionBoard;
use super::cycle::{CycleReport, run_cycle};
use super::error::TrainerError;
use super::predictor::{Compatibility, DeployedModel};
use super::status::{CycleOutcome, TrainerStatus};
use super::store::ModelStore;
use crate::doorbell::Doorbell;
use crate::types::{Bar, Prediction, Symbol};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded, unbounded};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const LOG: &str = "tradehost::trainer::service";
/// Predictions buffered for the engine before new ones are dropped (the board keeps the latest).
const PREDICTION_BUFFER: usize = 4096;

/// Requests to the serving thread.
enum ServeCommand {
    History(Symbol, Vec<Bar>),
    Bar(Bar),
    /// A new model went live: forecast from the latest bar at once.
    Deployed(Symbol),
    /// Passed on to the training thread, after the bars sent before it are in the history.
    TrainNow(Option<Sender<CycleResults>>),
    Shutdown,
}

/// Each symbol's result of one round of cycles.
pub type CycleResults = Vec<(String, Result<CycleReport, TrainerError>)>;

/// Requests to the training thread.
enum TrainCommand {
    TrainNow(Option<Sender<CycleResults>>),
    Shutdown,
}

/// State shared by the two threads.
struct Shared {
    config: TrainerConfig,
    store: ModelStore,
    history: Mutex<HashMap<Symbol, VecDeque<Bar>>>,
    deployed: RwLock<HashMap<Symbol, Arc<DeployedModel>>>,
    status: RwLock<TrainerStatus>,
    board: PredictionBoard,
    /// Set when the handle stops, so a round ends after its current symbol.
    stopping: AtomicBool,
    /// Rung after each prediction sent, when the engine waits on a doorbell.
    doorbell: OnceLock<Doorbell>,
}

/// Starts the trainer threads.
pub struct Trainer;

impl Trainer {
    /// Loads the deployed models under `models_dir` and starts the serving and training threads.
    pub fn spawn(
        config: TrainerConfig,
        models_dir: PathBuf,
    ) -> Result<TrainerHandle, TrainerError> {
        let store = ModelStore::new(models_dir);
        let compat = Compatibility {
            feature_window: config.feature_window,
            horizon: config.prediction_horizon,
            bar_secs: Some(config.update_interval_secs),
        };
        let mut deployed = HashMap::new();
        let mut status = TrainerStatus::default();
        for symbol in store.symbols() {
            let (model, skipped) = store.load_deployed(&symbol, &compat);
            for problem in skipped {
                tracing::warn!(target: LOG, symbol, "stored model skipped: {problem}");
                status.load_problems.push(problem.to_string());
            }
            if let Some(model) = model {
                tracing::info!(target: LOG, symbol, version = model.version(), "loaded deployed model v{}", model.version());
                let entry = status.symbols.entry(symbol.clone()).or_default();
                entry.deployed_version = Some(model.version());
                entry.deployed_metrics = Some(model.meta.evaluation.model);
                deployed.insert(Symbol::from(symbol.as_str()), Arc::new(model));
            }
        }
        let shared = Arc::new(Shared {
            config,
            store,
            history: Mutex::new(HashMap::new()),
            deployed: RwLock::new(deployed),
            status: RwLock::new(status),
            board: PredictionBoard::new(),
            stopping: AtomicBool::new(false),
            doorbell: OnceLock::new(),
        });
        let (serve_tx, serve_rx) = unbounded();
        let (train_tx, train_rx) = unbounded();
        let (pred_tx, pred_rx) = bounded(PREDICTION_BUFFER);
        let serve = {
            let shared = shared.clone();
            let train_tx = train_tx.clone();
            std::thread::Builder::new()
                .name("trainer-serve".into())
                .spawn(move || serve_loop(&shared, &serve_rx, &pred_tx, &train_tx))
                .map_err(|e| TrainerError::Thread(format!("cannot start trainer-serve: {e}")))?
        };
        let train = {
            let shared = shared.clone();
            let serve_tx = serve_tx.clone();
            std::thread::Builder::new()
                .name("trainer-train".into())
                .spawn(move || train_loop(&shared, &train_rx, &serve_tx))
                .map_err(|e| TrainerError::Thread(format!("cannot start trainer-train: {e}")))?
        };
        Ok(TrainerHandle {
            shared,
            serve_tx,
            train_tx,
            predictions: pred_rx,
            threads: vec![serve, train],
        })
    }
}

/// The engine's side of the trainer.
pub struct TrainerHandle {
    shared: Arc<Shared>,
    serve_tx: Sender<ServeCommand>,
    train_tx: Sender<TrainCommand>,
    predictions: Receiver<Prediction>,
    threads: Vec<JoinHandle<()>>,
}

impl TrainerHandle {
    /// Adds past bars of `symbol` (backfill, demo snippets, replay); merged by time.
    pub fn history(&self, symbol: Symbol, bars: Vec<Bar>) {
        let _ = self.serve_tx.send(ServeCommand::History(symbol, bars));
    }

    /// Adds one completed live bar; the deployed model of its symbol then predicts.
    pub fn bar(&self, bar: Bar) {
        let _ = self.serve_tx.send(ServeCommand::Bar(bar));
    }

    /// Starts a cycle now (after the bars already sent), without waiting for it.
    pub fn train_now(&self) {
        let _ = self.serve_tx.send(ServeCommand::TrainNow(None));
    }

    /// Runs a cycle now and waits up to `timeout` for every symbol's result. Blocks: call it
    /// from a plain thread or `spawn_blocking`, not from an async task.
    pub fn train_now_and_wait(&self, timeout: Duration) -> Result<CycleResults, TrainerError> {
        let (tx, rx) = bounded(1);
        self.serve_tx
            .send(ServeCommand::TrainNow(Some(tx)))
            .map_err(|_| TrainerError::Thread("the trainer has stopped".into()))?;
        rx.recv_timeout(timeout)
            .map_err(|_| TrainerError::Thread(format!("no cycle result within {timeout:?}")))
    }

    /// Predictions as they are made (bounded; when the engine lags, new ones are dropped and
    /// counted, the board still has the latest).
    pub fn predictions(&self) -> Receiver<Prediction> {
        self.predictions.clone()
    }

    /// Ring `bell` after each prediction sent (the engine waits on it). Set once.
    pub fn ring_on_prediction(&self, bell: Doorbell) {
        let _ = self.shared.doorbell.set(bell);
    }

    /// The latest prediction per symbol, for plugin host functions.
    pub fn board(&self) -> PredictionBoard {
        self.shared.board.clone()
    }

    /// A snapshot for the metrics API.
    pub fn status(&self) -> TrainerStatus {
        let mut status = self
            .shared
            .status
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let history = self
            .shared
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (symbol, bars) in history.iter() {
            status.symbols.entry(symbol.to_string()).or_default().bars = bars.len();
        }
        status
    }

    /// Version of the model serving `symbol`, if any.
    pub fn deployed_version(&self, symbol: &str) -> Option<u32> {
        self.shared
            .deployed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(symbol)
            .map(|m| m.version())
    }

    /// Stops both threads and waits for them (a cycle under way finishes its symbol).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        let _ = self.serve_tx.send(ServeCommand::Shutdown);
        let _ = self.train_tx.send(TrainCommand::Shutdown);
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::error!(target: LOG, "a trainer thread panicked");
            }
        }
    }
}

impl Drop for TrainerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve_loop(
    shared: &Shared,
    commands: &Receiver<ServeCommand>,
    predictions: &Sender<Prediction>,
    train: &Sender<TrainCommand>,
) {
    while let Ok(cmd) = commands.recv() {
        match cmd {
            ServeCommand::Shutdown => break,
            ServeCommand::History(symbol, bars) => merge_history(shared, &symbol, bars),
            ServeCommand::Bar(bar) => {
                let symbol = bar.symbol.clone();
                if append_bar(shared, bar) {
                    predict(shared, &symbol, predictions);
                }
            }
            ServeCommand::Deployed(symbol) => predict(shared, &symbol, predictions),
            ServeCommand::TrainNow(reply) => {
                let _ = train.send(TrainCommand::TrainNow(reply));
            }
        }
    }
}

fn merge_history(shared: &Shared, symbol: &Symbol, mut bars: Vec<Bar>) {
    let cap = shared.config.history_bars;
    let mut history = shared
        .history
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let held = history.entry(symbol.clone()).or_default();
    bars.extend(held.drain(..));
    bars.sort_by_key(|b| b.start_ms);
    bars.dedup_by_key(|b| b.start_ms);
    let skip = bars.len().saturating_sub(cap);
    held.extend(bars.into_iter().skip(skip));
}

/// Appends a bar newer than the last one held; false for an old or repeated bar.
fn append_bar(shared: &Shared, bar: Bar) -> bool {
    let cap = shared.config.history_bars;
    let mut history = shared
        .history
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let held = history.entry(bar.symbol.clone()).or_default();
    if held
        .back()
        .is_some_and(|last| last.start_ms >= bar.start_ms)
    {
        return false;
    }
    if held.len() >= cap {
        held.pop_front();
    }
    held.push_back(bar);
    true
}

/// Forecasts from the latest bars of `symbol` with its deployed model, if it has one.
fn predict(shared: &Shared, symbol: &Symbol, predictions: &Sender<Prediction>) {
    let Some(model) = shared
        .deployed
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(symbol)
        .cloned()
    else {
        return;
    };
    let config = &shared.config;
    let tail: Vec<Bar> = {
        let history = shared
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(held) = history.get(symbol) else {
            return;
        };
        let need = model.bars_needed(&config.cleaning);
        held.iter()
            .skip(held.len().saturating_sub(need))
            .cloned()
            .collect()
    };
    let Some(prediction) = model.forecast(symbol, &tail, &config.cleaning) else {
        return;
    };
    shared.board.publish(prediction.clone());
    let mut status = shared
        .status
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    match predictions.try_send(prediction) {
        Ok(()) => {
            if let Some(bell) = shared.doorbell.get() {
                bell.ring();
            }
        }
        Err(_) => status.predictions_dropped += 1,
    }
    status
        .symbols
        .entry(symbol.to_string())
        .or_default()
        .predictions += 1;
}

fn train_loop(shared: &Shared, commands: &Receiver<TrainCommand>, serve: &Sender<ServeCommand>) {
    let interval = shared.config.training_interval;
    let mut next = Instant::now() + interval;
    loop {
        let reply = match commands.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Ok(TrainCommand::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(TrainCommand::TrainNow(reply)) => reply,
            Err(RecvTimeoutError::Timeout) => None,
        };
        let results = run_round(shared, serve);
        next = Instant::now() + interval;
        if let Some(reply) = reply {
            let _ = reply.send(results);
        }
    }
}

/// One cycle for every symbol with history; returns each symbol's result.
fn run_round(shared: &Shared, serve: &Sender<ServeCommand>) -> CycleResults {
    let symbols: Vec<Symbol> = shared
        .history
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .keys()
        .cloned()
        .collect();
    let mut results = Vec::new();
    for symbol in symbols {
        if shared.stopping.load(Ordering::Relaxed) {
            break;
        }
        let bars: Vec<Bar> = {
            let history = shared
                .history
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            history
                .get(&symbol)
                .map(|h| h.iter().cloned().collect())
                .unwrap_or_default()
        };
        let live = shared
            .deployed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&symbol)
            .cloned();
        let started = Instant::now();
        let result = run_cycle(
            &shared.config,
            &shared.store,
            &symbol,
            &bars,
            live.as_deref(),
        );
        let outcome = match &result {
            Ok((report, deployed)) => {
                if let Some(model) = deployed {
                    shared
                        .deployed
                        .write()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(symbol.clone(), Arc::new(model.clone()));
                    let _ = serve.send(ServeCommand::Deployed(symbol.clone()));
                }
                match &report.decision {
                    _ if !report.stored => CycleOutcome::Unchanged {
                        version: report.version,
                    },
                    super::gate::DeployDecision::Deploy { reason, gate_test } => {
                        CycleOutcome::Deployed {
                            version: report.version,
                            reason: reason.clone(),
                            gate_test: gate_test.clone(),
                        }
                    }
                    super::gate::DeployDecision::Refuse { reasons, gate_test } => {
                        CycleOutcome::Refused {
                            version: report.version,
                            reasons: reasons.clone(),
                            gate_test: gate_test.clone(),
                        }
                    }
                }
            }
            Err(TrainerError::NotEnoughData { need, have, .. }) => {
                tracing::info!(target: LOG, symbol = &*symbol, "need {need} samples, have {have}; waiting");
                CycleOutcome::NotEnoughData {
                    need: *need,
                    have: *have,
                }
            }
            Err(e) => {
                tracing::error!(target: LOG, symbol = &*symbol, "training cycle failed: {e}");
                CycleOutcome::Failed {
                    error: e.to_string(),
                }
            }
        };
        tracing::info!(target: LOG, symbol = &*symbol, seconds = started.elapsed().as_secs_f64(), "cycle finished");
        {
            let mut status = shared
                .status
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let entry = status.symbols.entry(symbol.to_string()).or_default();
            if let Ok((_, Some(model))) = &result {
                entry.deployed_version = Some(model.version());
                entry.deployed_metrics = Some(model.meta.evaluation.model);
            }
            entry.last_cycle = Some((chrono::Utc::now().timestamp_millis(), outcome));
        }
        results.push((symbol.to_string(), result.map(|(report, _)| report)));
    }
    shared
        .status
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .cycles += 1;
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainer::cycle::tests::{LEARNABLE, momentum_bars, quick_config, spy_hourly};

    const WAIT: Duration = Duration::from_secs(120);

    #[test]
    fn trains_serves_and_reloads_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        let bars = momentum_bars(LEARNABLE);
        let (past, live) = bars.split_at(1900);
        let trainer = Trainer::spawn(quick_config(), dir.path().into()).unwrap();
        let predictions = trainer.predictions();
        trainer.history("SPY".into(), past.to_vec());
        let results = trainer.train_now_and_wait(WAIT).unwrap();
        assert_eq!(results.len(), 1);
        let report = results[0].1.as_ref().unwrap();
        assert!(report.decision.deploys(), "{report}");
        // Deploying forecasts from the latest bar at once; then every new bar does.
        let first = predictions.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(first.time_ms, past[1899].start_ms + 3_600_000);
        for bar in &live[..3] {
            trainer.bar(bar.clone());
            let p = predictions.recv_timeout(Duration::from_secs(10)).unwrap();
            assert_eq!((p.model_version, p.horizon_bars, p.bar_secs), (1, 5, 3600));
            assert_eq!(p.time_ms, bar.start_ms + 3_600_000);
            assert!(p.expected_return.is_finite() && p.expected_return.abs() < 0.2);
        }
        let board = trainer.board();
        assert_eq!(
            board.latest("SPY").map(|p| p.time_ms),
            Some(live[2].start_ms + 3_600_000)
        );
        let status = trainer.status();
        let spy = &status.symbols["SPY"];
        assert_eq!(
            (spy.deployed_version, spy.bars, spy.predictions),
            (Some(1), 1903, 4)
        );
        assert!(matches!(
            spy.last_cycle,
            Some((_, CycleOutcome::Deployed { version: 1, .. }))
        ));
        trainer.shutdown();

        // A new daemon loads the deployed model and serves without training.
        let trainer = Trainer::spawn(quick_config(), dir.path().into()).unwrap();
        assert_eq!(trainer.deployed_version("SPY"), Some(1));
        trainer.history("SPY".into(), bars[..1903].to_vec());
        trainer.bar(live[3].clone());
        let p = trainer
            .predictions()
            .recv_timeout(Duration::from_secs(10))
            .unwrap();
        assert_eq!(p.model_version, 1);
        assert_eq!(p.time_ms, live[3].start_ms + 3_600_000);
    }

    #[test]
    fn starved_cycles_run_on_the_timer_and_never_stop_the_trainer() {
        let dir = tempfile::tempdir().unwrap();
        let config = TrainerConfig {
            training_interval: Duration::from_millis(100),
            ..quick_config()
        };
        let trainer = Trainer::spawn(config, dir.path().into()).unwrap();
        trainer.history("SPY".into(), spy_hourly()[..60].to_vec());
        let deadline = Instant::now() + Duration::from_secs(20);
        while trainer.status().cycles < 3 {
            assert!(Instant::now() < deadline, "the timer should run cycles");
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = trainer.status();
        match &status.symbols["SPY"].last_cycle {
            Some((_, CycleOutcome::NotEnoughData { need: 100, have })) => assert!(*have < 100),
            other => panic!("unexpected outcome {other:?}"),
        }
        // No model: bars are held, nothing is predicted.
        trainer.bar(spy_hourly()[60].clone());
        assert!(
            trainer
                .predictions()
                .recv_timeout(Duration::from_millis(300))
                .is_err()
        );
        assert!(trainer.board().latest("SPY").is_none());
    }
}
