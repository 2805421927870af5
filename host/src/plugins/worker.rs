//! A plugin's worker thread: it owns the plugin's `Store`, takes commands from a bounded
//! channel, calls the guest, and sends the resulting actions out.
//!
//! Ordering is the channel's: a hot swap is a command like any batch, so every batch sent
//! before it reaches the old instance and every batch after it the new one — none lost,
//! none twice. A fault disables only this instance; the worker rebuilds it from the last
//! snapshot after a backoff, and quarantines the plugin after repeated faults, or when it
//! keeps sending orders the broker refuses (`refusal_watch`).
//!
//! A guest returns from `on-events` as soon as an event made it place an order (WIT 0.3.0).
//! For [`WorkerCommand::Events`] the worker sends those orders out at once and calls again
//! with the rest of the batch; for [`WorkerCommand::Call`] it makes that one call and reports
//! how far the guest got, and the engine decides what comes next (exact backtests).

use super::batch;
use super::bindings::{action_from_wit, wit};
use super::counters::PluginCounters;
use super::dispatch_batch::BatchPoints;
use super::event_index;
use super::instance::{CallLimits, Fault, FaultKind, PluginInstance};
use super::refusal_watch::{OverLimit, RefusalWatch};
use super::runtime::{PluginRuntime, Prepared};
use super::sandbox::HostState;
use super::symbols::SymbolIds;
use super::symbols::SymbolTable;
use super::view::MarketView;
use crate::broker::TradePoint;
use crate::doorbell::RingingSender;
use crate::types::PluginAction;
use crossbeam_channel::{Receiver, Sender};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a worker is asked to do.
pub enum WorkerCommand {
    /// Events to handle to the end, each call's orders sent out as soon as it returns
    /// (live). Shared batches are filtered to the plugin's symbols first.
    Events {
        /// Batch sequence number, echoed in the outputs.
        seq: u64,
        /// The events, in order.
        batch: Arc<wit::EventBatch>,
        /// True for a batch sent to every plugin (to be filtered), false for this plugin's own.
        shared: bool,
        /// Where the batch stands in the market stream (the causes of the actions).
        points: BatchPoints,
    },
    /// One call with events already chosen for this plugin; the one output says how many it
    /// handled (the lockstep engine of backtests).
    Call {
        /// Sequence number, echoed in the output.
        seq: u64,
        /// The events, in order.
        batch: Arc<wit::EventBatch>,
    },
    /// Replace the running instance with a prepared one, carrying the state across.
    Swap {
        /// The new version, already started (`init` done).
        next: Box<Loaded>,
        /// Told whether the swap happened.
        reply: Sender<Result<(), String>>,
    },
    /// Take a snapshot of the state now.
    Snapshot {
        /// Receives the state (None when the instance is down).
        reply: Sender<Option<Vec<u8>>>,
    },
    /// Stop after a final snapshot.
    Stop {
        /// Receives the final state.
        reply: Sender<Option<Vec<u8>>>,
    },
}

/// What a worker sends back: the actions of one call, and whether the command is done.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginOutput {
    /// The plugin's name.
    pub plugin: Arc<str>,
    /// The command's sequence number.
    pub seq: u64,
    /// Events of the call's batch the guest handled (all of them when the plugin is down).
    pub consumed: usize,
    /// Orders and cancellations, in the order the guest returned them.
    pub actions: Vec<PluginAction>,
    /// The trade that caused them (see [`BatchPoints::cause`]).
    pub cause: TradePoint,
    /// The last output for this command: it is fully handled.
    pub done: bool,
}

/// The command a call belongs to, to name its actions' cause.
struct CallSite {
    /// The command's sequence number.
    seq: u64,
    /// Where its batch stands in the market stream.
    points: BatchPoints,
    /// The batch as sent to every plugin, when this plugin gets it filtered to its symbols.
    filtered: Option<Arc<wit::EventBatch>>,
}

/// A started plugin version: instance plus what is needed to rebuild it.
pub struct Loaded {
    /// The running instance.
    pub instance: PluginInstance,
    /// Compiled code, to rebuild the instance after a fault.
    pub prepared: Arc<Prepared>,
    /// The `init` configuration it was started with.
    pub init_config: Vec<(String, String)>,
    /// Ids of the symbols it receives events for (`None`: all).
    pub symbols: Option<SymbolIds>,
    /// Limits of its calls.
    pub limits: CallLimits,
    /// Its memory cap in bytes.
    pub max_memory: usize,
}

/// Settings of the worker loop.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Most actions accepted from one call.
    pub max_actions: usize,
    /// Largest snapshot kept; a larger one is a fault.
    pub max_snapshot_bytes: usize,
    /// Set when the daemon shuts down: queued event batches are skipped, so that the
    /// final snapshot and stop are not held up behind them.
    pub stopping: Arc<AtomicBool>,
    /// How often the state is snapshotted for fault recovery.
    pub snapshot_interval: Duration,
    /// First delay before rebuilding after a fault (doubles each time).
    pub restart_backoff: Duration,
    /// Faults within `failure_window` that quarantine the plugin.
    pub max_failures: usize,
    /// Window over which faults are counted.
    pub failure_window: Duration,
    /// Refusals handled within a minute of market time past which the plugin is
    /// quarantined.
    pub max_refusals_per_min: u32,
    /// Seed of the guest's random numbers.
    pub random_seed: u64,
}

/// Everything a worker thread needs.
pub struct Worker {
    name: Arc<str>,
    runtime: Arc<PluginRuntime>,
    view: Arc<dyn MarketView>,
    symbols: SymbolTable,
    settings: WorkerSettings,
    counters: Arc<PluginCounters>,
    out: RingingSender<PluginOutput>,
    current: Loaded,
    alive: bool,
    last_snapshot: Option<Vec<u8>>,
    snapshot_at: Instant,
    retry_at: Option<Instant>,
    failures: VecDeque<Instant>,
    refusals: RefusalWatch,
}

impl Worker {
    /// A worker for a started plugin.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: Arc<str>,
        runtime: Arc<PluginRuntime>,
        view: Arc<dyn MarketView>,
        symbols: SymbolTable,
        settings: WorkerSettings,
        counters: Arc<PluginCounters>,
        out: RingingSender<PluginOutput>,
        loaded: Loaded,
        initial_snapshot: Option<Vec<u8>>,
    ) -> Self {
        Worker {
            refusals: RefusalWatch::new(settings.max_refusals_per_min),
            name,
            runtime,
            view,
            symbols,
            settings,
            counters,
            out,
            current: loaded,
            alive: true,
            last_snapshot: initial_snapshot,
            snapshot_at: Instant::now(),
            retry_at: None,
            failures: VecDeque::new(),
        }
    }

    /// Handle commands until `Stop` or until every sender is gone.
    pub fn run(mut self, commands: Receiver<WorkerCommand>) {
        while let Ok(command) = commands.recv() {
            if !self.handle(command) {
                return;
            }
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Handle one command (and take a snapshot when one is due); false after `Stop`.
    pub fn handle(&mut self, command: WorkerCommand) -> bool {
        match command {
            WorkerCommand::Events { batch, .. }
                if self.settings.stopping.load(Ordering::Relaxed) =>
            {
                PluginCounters::bump(&self.counters.events_skipped, batch::len(&batch) as u64);
            }
            WorkerCommand::Events {
                seq,
                batch,
                shared,
                points,
            } => {
                let call = CallSite {
                    seq,
                    points,
                    // Kept only when the plugin gets it filtered to its symbols.
                    filtered: (shared && self.current.symbols.is_some()).then(|| batch.clone()),
                };
                let batch = if shared { self.filtered(batch) } else { batch };
                self.handle_all(&call, batch);
            }
            WorkerCommand::Call { seq, batch } => {
                let (consumed, actions) = self.deliver(&batch);
                self.emit(seq, consumed, actions, true, TradePoint::START);
            }
            WorkerCommand::Swap { next, reply } => {
                let _ = reply.send(self.swap(*next));
            }
            WorkerCommand::Snapshot { reply } => {
                let _ = reply.send(self.take_snapshot());
            }
            WorkerCommand::Stop { reply } => {
                let state = self.take_snapshot().or_else(|| self.last_snapshot.take());
                let _ = reply.send(state);
                return false;
            }
        }
        if self.alive && self.snapshot_at.elapsed() >= self.settings.snapshot_interval {
            self.take_snapshot();
        }
        true
    }

    fn emit(
        &self,
        seq: u64,
        consumed: usize,
        actions: Vec<PluginAction>,
        done: bool,
        cause: TradePoint,
    ) {
        // The receiver only goes away when the engine shuts down; nothing to do then.
        let _ = self.out.send(PluginOutput {
            plugin: self.name.clone(),
            seq,
            consumed,
            actions,
            done,
            cause,
        });
    }

    /// Handle `batch` to its end: call, send the orders, call again with the rest.
    fn handle_all(&mut self, call: &CallSite, mut batch: Arc<wit::EventBatch>) {
        // Trades of the (filtered) batch handled by the calls before this one.
        let mut handled = 0;
        loop {
            let (consumed, actions) = self.deliver(&batch);
            let done = consumed >= batch::len(&batch);
            if done || !actions.is_empty() {
                let cause = match actions.is_empty() {
                    true => TradePoint::START,
                    false => self.cause(call, &batch, consumed, handled),
                };
                self.emit(call.seq, consumed, actions, done, cause);
            }
            if done {
                return;
            }
            // `consumed` ≥ 1 here: a guest that handled nothing broke the interface and was
            // answered as done.
            handled += event_index::trades_through(&batch, consumed.saturating_sub(1));
            batch = Arc::new(event_index::rest(&batch, consumed));
        }
    }

    /// The trade that caused the actions of a call that handled the first `consumed` events
    /// of `batch`, after `handled` trades of the command's batch in earlier calls: the last
    /// event handled is that trade, or is placed before it.
    fn cause(
        &self,
        call: &CallSite,
        batch: &wit::EventBatch,
        consumed: usize,
        handled: usize,
    ) -> TradePoint {
        let n = batch.trades.symbols.len();
        let at = match consumed
            .checked_sub(1)
            .and_then(|c| event_index::locate(batch, c))
        {
            Some(event_index::Located::Trade(i)) => Some(i),
            Some(event_index::Located::Other { trades_before, .. }) if trades_before < n => {
                Some(trades_before)
            }
            _ => None,
        };
        let Some(i) = at.map(|i| handled + i) else {
            return call.points.cause(None);
        };
        // In a filtered batch, the i-th trade kept is a later one of the batch sent.
        let index = match (&call.filtered, &self.current.symbols) {
            (Some(shared), Some(wanted)) => shared
                .trades
                .symbols
                .iter()
                .enumerate()
                .filter(|(_, s)| wanted.contains(*s))
                .nth(i)
                .map(|(j, _)| j),
            _ => Some(i),
        };
        call.points.cause(index)
    }

    /// A shared batch filtered to this plugin's symbols, without copying when every event
    /// is wanted.
    fn filtered(&mut self, shared: Arc<wit::EventBatch>) -> Arc<wit::EventBatch> {
        match &self.current.symbols {
            Some(wanted) if !batch::all_wanted(&shared, |s| wanted.contains(&s)) => {
                let mut scratch = batch::BatchBuilder::default().finish();
                batch::filter_into(&shared, |s| wanted.contains(&s), &mut scratch);
                Arc::new(scratch)
            }
            _ => shared,
        }
    }

    /// One call with `events`; how many it handled and the actions it placed. A plugin that
    /// is down skips them all.
    fn deliver(&mut self, events: &Arc<wit::EventBatch>) -> (usize, Vec<PluginAction>) {
        let count = batch::len(events);
        if count == 0 {
            return (0, Vec::new());
        }
        if !self.ensure_alive() {
            PluginCounters::bump(&self.counters.events_skipped, count as u64);
            return (count, Vec::new());
        }
        let started = Instant::now();
        let result = self
            .current
            .instance
            .on_events(events, self.settings.max_actions);
        self.counters.record_call(started.elapsed());
        match result {
            Ok(outcome) => {
                PluginCounters::bump(&self.counters.events, outcome.consumed as u64);
                PluginCounters::bump(&self.counters.actions, outcome.actions.len() as u64);
                if let Some(over) = self.refusals.handled(events, outcome.consumed) {
                    // Its orders from this call on never reach the broker; the rest of
                    // the batch is skipped like any quarantined plugin's events.
                    self.quarantine_for_refusals(over);
                    let rest = count.saturating_sub(outcome.consumed);
                    PluginCounters::bump(&self.counters.events_skipped, rest as u64);
                    return (count, Vec::new());
                }
                (outcome.consumed, self.convert(outcome.actions))
            }
            Err(fault) => {
                self.fault(fault);
                // The events of a failed call are not delivered again: count them skipped.
                PluginCounters::bump(&self.counters.events_skipped, count as u64);
                (count, Vec::new())
            }
        }
    }

    fn convert(&self, actions: Vec<wit::Action>) -> Vec<PluginAction> {
        let mut out = Vec::with_capacity(actions.len());
        for action in &actions {
            match action_from_wit(action, &self.symbols) {
                Ok(a) => out.push(a),
                Err(reason) => {
                    PluginCounters::bump(&self.counters.invalid_actions, 1);
                    tracing::warn!(target: "tradehost::plugins", plugin = %self.name, "dropped invalid action: {reason}");
                }
            }
        }
        out
    }

    fn take_snapshot(&mut self) -> Option<Vec<u8>> {
        if !self.alive {
            return None;
        }
        self.snapshot_at = Instant::now();
        match self.current.instance.snapshot() {
            Ok(state) if state.len() > self.settings.max_snapshot_bytes => {
                self.fault(Fault {
                    kind: FaultKind::OutputTooLarge,
                    detail: format!(
                        "snapshot of {} bytes is over the limit of {} (PLUGIN_MAX_SNAPSHOT_MB); \
                         the last good snapshot is kept",
                        state.len(),
                        self.settings.max_snapshot_bytes
                    ),
                });
                None
            }
            Ok(state) => {
                self.last_snapshot = Some(state.clone());
                Some(state)
            }
            Err(fault) => {
                self.fault(fault);
                None
            }
        }
    }

    fn swap(&mut self, mut next: Loaded) -> Result<(), String> {
        if self.alive {
            self.take_snapshot();
        }
        if self.last_snapshot.as_deref().is_some_and(<[u8]>::is_empty) {
            // The SDK's snapshot of a strategy without serde is empty: say what was lost.
            tracing::warn!(target: "tradehost::plugins", plugin = %self.name, "plugin {} keeps no state across this reload (its snapshot is empty): the new version starts from init; derive Serialize and Deserialize on the strategy to keep its state", self.name);
        }
        if let Some(state) = &self.last_snapshot {
            match next.instance.restore(state) {
                Ok(Ok(())) => {}
                Ok(Err(refusal)) => {
                    return Err(format!("the new version refused the old state: {refusal}"));
                }
                Err(fault) => {
                    return Err(format!(
                        "the new version faulted restoring the old state: {fault}"
                    ));
                }
            }
        }
        self.current = next;
        self.alive = true;
        self.retry_at = None;
        self.failures.clear();
        self.refusals.reset();
        self.counters.set_quarantined(false, "running");
        Ok(())
    }

    fn fault(&mut self, fault: Fault) {
        self.alive = false;
        PluginCounters::bump(&self.counters.faults, 1);
        self.counters.set_error(fault.to_string());
        let now = Instant::now();
        self.failures.push_back(now);
        while self
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.settings.failure_window)
        {
            self.failures.pop_front();
        }
        if self.failures.len() >= self.settings.max_failures {
            self.retry_at = None;
            self.counters
                .set_quarantined(true, format!("quarantined ({})", fault.kind));
            tracing::error!(
                target: "tradehost::plugins", plugin = %self.name,
                "plugin quarantined after {} faults in {:?}; last: {fault}. Fix it and replace the file to load it again",
                self.failures.len(), self.settings.failure_window
            );
        } else {
            let exponent = (self.failures.len() as u32).saturating_sub(1).min(10);
            let delay = self.settings.restart_backoff * 2u32.pow(exponent);
            self.retry_at = Some(now + delay);
            self.counters
                .set_health(format!("down ({}), restarting in {delay:?}", fault.kind));
            tracing::error!(
                target: "tradehost::plugins", plugin = %self.name,
                "plugin disabled: {fault}; rebuilding from its last snapshot in {delay:?}"
            );
        }
    }

    /// Stop a plugin that keeps sending orders the broker refuses, as repeated faults do
    /// (and, like them, until its file is replaced or it is reloaded).
    fn quarantine_for_refusals(&mut self, over: OverLimit) {
        self.alive = false;
        self.retry_at = None;
        let reason = over.reason(&self.name);
        self.counters.set_error(format!("quarantined: {reason}"));
        self.counters
            .set_quarantined(true, "quarantined (orders refused)");
        tracing::error!(target: "tradehost::plugins", plugin = %self.name, "plugin quarantined: {reason}");
    }

    /// Rebuild the instance if it is down and its backoff has passed.
    fn ensure_alive(&mut self) -> bool {
        if self.alive {
            return true;
        }
        if self.counters.is_quarantined() || self.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        match self.rebuild() {
            Ok(instance) => {
                self.current.instance = instance;
                self.alive = true;
                self.retry_at = None;
                PluginCounters::bump(&self.counters.restarts, 1);
                self.counters.set_health("running");
                tracing::info!(target: "tradehost::plugins", plugin = %self.name, "plugin rebuilt from its last snapshot");
                true
            }
            Err(fault) => {
                self.fault(fault);
                false
            }
        }
    }

    fn rebuild(&mut self) -> Result<PluginInstance, Fault> {
        let state = HostState::new(
            self.name.clone(),
            self.current.max_memory,
            self.view.clone(),
            self.symbols.clone(),
            self.settings.random_seed,
        );
        let mut instance = PluginInstance::instantiate(
            &self.runtime,
            &self.current.prepared.pre,
            state,
            self.current.limits,
        )?;
        let refused = |stage: &str, msg: String| Fault {
            kind: super::instance::FaultKind::Trap,
            detail: format!("{stage} refused during rebuild: {msg}"),
        };
        instance
            .init(&self.current.init_config)?
            .map_err(|m| refused("init", m))?;
        if let Some(state) = &self.last_snapshot {
            instance
                .restore(state)?
                .map_err(|m| refused("restore", m))?;
        }
        Ok(instance)
    }
}
