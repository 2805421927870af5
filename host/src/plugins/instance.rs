//! One live instance of a plugin: its `Store`, its bindings, and guarded calls into it.
//!
//! Every call runs under a deadline of CPU time (checked at epoch ticks, see
//! [`call_clock`](super::call_clock)) and optional fuel, inside a memory cap. A trap
//! poisons the instance, so a failed call returns a [`Fault`] and the caller (the worker)
//! drops this instance and later builds a new one from the `...Pre` and the last snapshot.

use super::bindings::{StrategyPlugin, StrategyPluginPre, wit};
use super::call_clock::{CallClock, Verdict};
use super::epoch_ticker::EpochTicker;
use super::runtime::PluginRuntime;
use super::sandbox::HostState;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Store, Trap, UpdateDeadline};

/// Per-call limits of an instance.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// Deadline of a normal call (`on-events`, `snapshot`).
    pub call: Duration,
    /// Deadline of start-up calls (`describe`, `init`, `restore`), which may do more work.
    pub start: Duration,
    /// Fuel per call, when fuel metering is on.
    pub fuel: Option<u64>,
}

/// Why a call into a plugin failed. The instance is unusable afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// The class of failure.
    pub kind: FaultKind,
    /// Details: the trap message and the guest's last stderr output (panic message).
    pub detail: String,
}

/// Classes of plugin failure, for counters and log messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// The call used more than its deadline of CPU time (an endless loop or far too much work).
    Deadline,
    /// The call waited in WASI (a sleep or poll) past its deadline of wall time.
    WallDeadline,
    /// The call used up its fuel.
    OutOfFuel,
    /// The guest tried to grow memory past its cap.
    OutOfMemory,
    /// The guest's call stack overflowed (runaway recursion).
    StackOverflow,
    /// The guest panicked or executed `unreachable`.
    Panic,
    /// The guest returned more than the host accepts in one call.
    OutputTooLarge,
    /// The guest broke the interface's rules (consumed no event, or more than it was given).
    Protocol,
    /// Any other trap.
    Trap,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultKind::Deadline => "CPU-time deadline exceeded",
            FaultKind::WallDeadline => "wall-time deadline exceeded",
            FaultKind::OutOfFuel => "out of fuel",
            FaultKind::OutOfMemory => "memory limit exceeded",
            FaultKind::StackOverflow => "stack overflow",
            FaultKind::Panic => "panic",
            FaultKind::OutputTooLarge => "output too large",
            FaultKind::Protocol => "protocol violation",
            FaultKind::Trap => "trap",
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// What one `on-events` call did.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    /// Events of the batch handled, from the first (all of them unless it returned early).
    pub consumed: usize,
    /// The orders and cancellations placed.
    pub actions: Vec<wit::Action>,
}

/// A running plugin instance.
pub struct PluginInstance {
    store: Store<HostState>,
    bindings: StrategyPlugin,
    limits: CallLimits,
    clock: Arc<CallClock>,
    /// Held while a call runs, so that the epoch advances (deadlines).
    ticker: Arc<EpochTicker>,
}

impl PluginInstance {
    /// Instantiate `pre` in a new store holding `state`.
    pub fn instantiate(
        runtime: &PluginRuntime,
        pre: &StrategyPluginPre<HostState>,
        state: HostState,
        limits: CallLimits,
    ) -> Result<Self, Fault> {
        let mut store = Store::new(runtime.engine(), state);
        store.limiter(|s| &mut s.limits);
        let clock = CallClock::new();
        let check = clock.clone();
        store.epoch_deadline_callback(move |_| {
            Ok(match check.check() {
                Verdict::Extend(left) => UpdateDeadline::Continue(PluginRuntime::ticks_for(left)),
                Verdict::Expired => UpdateDeadline::Interrupt,
            })
        });
        let ticker = runtime.ticker().clone();
        arm(&mut store, &clock, limits.start, limits.fuel);
        let running = ticker.hold();
        let bindings = pre
            .instantiate(&mut store)
            .map_err(|e| classify(&store, &e, limits.start))?;
        drop(running);
        Ok(PluginInstance {
            store,
            bindings,
            limits,
            clock,
            ticker,
        })
    }

    /// Call `describe`.
    pub fn describe(&mut self) -> Result<wit::StrategyInfo, Fault> {
        let limit = self.limits.start;
        self.guarded(limit, |b, s| {
            b.tradehost_strategy_strategy().call_describe(s)
        })
    }

    /// Call `init`; the guest's own refusal is `Ok(Err(message))`.
    pub fn init(&mut self, config: &[(String, String)]) -> Result<Result<(), String>, Fault> {
        let limit = self.limits.start;
        self.guarded(limit, |b, s| {
            b.tradehost_strategy_strategy().call_init(s, config)
        })
    }

    /// Call `on-events` with a batch; returns how many events the guest handled and the
    /// actions it placed. The batch is the call's context for host functions that answer
    /// "at" one of its events.
    pub fn on_events(
        &mut self,
        batch: &Arc<wit::EventBatch>,
        max_actions: usize,
    ) -> Result<CallOutcome, Fault> {
        let limit = self.limits.call;
        self.store.data_mut().begin_call(batch.clone());
        let outcome = self.guarded(limit, |b, s| {
            b.tradehost_strategy_strategy().call_on_events(s, batch)
        });
        self.store.data_mut().end_call();
        let outcome = outcome?;
        let len = super::batch::len(batch);
        let consumed = outcome.consumed as usize;
        if len > 0 && consumed == 0 || consumed > len {
            return Err(Fault {
                kind: FaultKind::Protocol,
                detail: format!(
                    "on-events said it handled {consumed} of the batch's {len} events; it must \
                     handle at least one and at most all (see batch-outcome in wit/strategy.wit)"
                ),
            });
        }
        if outcome.actions.len() > max_actions {
            return Err(Fault {
                kind: FaultKind::OutputTooLarge,
                detail: format!(
                    "returned {} actions in one call; the limit is {max_actions} \
                     (PLUGIN_MAX_ACTIONS_PER_CALL): all of them were dropped",
                    outcome.actions.len()
                ),
            });
        }
        self.store.data_mut().delivered(batch, consumed);
        Ok(CallOutcome {
            consumed,
            actions: outcome.actions,
        })
    }

    /// Call `snapshot`.
    pub fn snapshot(&mut self) -> Result<Vec<u8>, Fault> {
        let limit = self.limits.start;
        self.guarded(limit, |b, s| {
            b.tradehost_strategy_strategy().call_snapshot(s)
        })
    }

    /// Call `restore`; the guest's own refusal is `Ok(Err(message))`.
    pub fn restore(&mut self, state: &[u8]) -> Result<Result<(), String>, Fault> {
        let limit = self.limits.start;
        self.guarded(limit, |b, s| {
            b.tradehost_strategy_strategy().call_restore(s, state)
        })
    }

    /// The plugin's name.
    pub fn plugin_name(&self) -> &str {
        self.store.data().plugin()
    }

    fn guarded<R: Send>(
        &mut self,
        deadline: Duration,
        call: impl FnOnce(&StrategyPlugin, &mut Store<HostState>) -> wasmtime::Result<R> + Send,
    ) -> Result<R, Fault> {
        if tokio::runtime::Handle::try_current().is_ok() {
            // wasmtime-wasi's synchronous host functions (stderr, sleep) `block_on` a runtime,
            // which panics on a thread inside a tokio runtime, so guest code never runs on one:
            // the call moves to a thread of its own (a slow path; callers avoid it).
            return std::thread::scope(|scope| {
                let worker = std::thread::Builder::new()
                    .name("plugin-call".into())
                    .spawn_scoped(scope, || self.guarded_here(deadline, call));
                match worker {
                    Ok(handle) => handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    Err(e) => Err(Fault {
                        kind: FaultKind::Trap,
                        detail: format!("cannot start a thread for the plugin call: {e}"),
                    }),
                }
            });
        }
        self.guarded_here(deadline, call)
    }

    fn guarded_here<R>(
        &mut self,
        deadline: Duration,
        call: impl FnOnce(&StrategyPlugin, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, Fault> {
        arm(&mut self.store, &self.clock, deadline, self.limits.fuel);
        let _running = self.ticker.hold();
        call(&self.bindings, &mut self.store).map_err(|e| classify(&self.store, &e, deadline))
    }
}

/// Set the deadline (and fuel) for the next call, made on this thread: `deadline` of CPU
/// time, and as much wall time for waits in WASI.
fn arm(store: &mut Store<HostState>, clock: &CallClock, deadline: Duration, fuel: Option<u64>) {
    clock.start(deadline);
    store.data_mut().start_wait_budget(deadline);
    store.set_epoch_deadline(PluginRuntime::ticks_for(deadline));
    if let Some(fuel) = fuel {
        // Fuel is only enabled in the engine when configured, so this cannot fail.
        let _ = store.set_fuel(fuel);
    }
}

/// Turn a wasmtime error into a fault with a reason a user can act on.
fn classify(store: &Store<HostState>, err: &wasmtime::Error, deadline: Duration) -> Fault {
    let stderr = store.data().take_stderr();
    let message = super::error::chain(err);
    if let Some(wait) = err.downcast_ref::<super::wait_limit::WaitTooLong>() {
        let mut detail = wait.to_string();
        if !stderr.is_empty() {
            detail.push_str(" | guest stderr: ");
            detail.push_str(&stderr);
        }
        return Fault {
            kind: FaultKind::WallDeadline,
            detail,
        };
    }
    let kind = match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => FaultKind::Deadline,
        Some(Trap::OutOfFuel) => FaultKind::OutOfFuel,
        Some(Trap::StackOverflow) => FaultKind::StackOverflow,
        Some(Trap::UnreachableCodeReached) => FaultKind::Panic,
        _ if message.contains("forcing trap when growing memory")
            || message.contains("memory growth failure") =>
        {
            FaultKind::OutOfMemory
        }
        _ => FaultKind::Trap,
    };
    let mut detail = match kind {
        FaultKind::Deadline => format!("call used more than {deadline:?} of CPU time"),
        _ => message,
    };
    if !stderr.is_empty() {
        detail.push_str(" | guest stderr: ");
        detail.push_str(&stderr);
    }
    Fault { kind, detail }
}
