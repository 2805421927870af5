//! The set of loaded plugins: loading, hot reload, unloading, and fan-out of events.
//!
//! Loading a file validates and compiles it, starts an instance (`describe`, `init`) on the
//! caller's thread, and only then either starts a worker for a new plugin or hands the new
//! instance to the running worker as a swap. A file that fails any step leaves the running
//! version untouched. Plugins are named after their file (`sma.wasm` → `sma`).

use super::PluginConfig;
use super::bindings::wit;
use super::counters::{PluginCounters, PluginStats};
use super::dispatch_batch::{BatchPoints, DispatchBatch};
use super::error::PluginError;
use super::instance::{CallLimits, Fault, PluginInstance};
use super::mailbox::{Mailbox, Undelivered};
use super::runtime::PluginRuntime;
use super::sandbox::HostState;
use super::settings_file::PluginSettings;
use super::symbols::SymbolIds;
use super::symbols::SymbolTable;
use super::tape::EventFilter;
use super::view::MarketView;
use super::worker::{Loaded, PluginOutput, Worker, WorkerCommand, WorkerSettings};
use crate::doorbell::RingingSender;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long to wait for a worker to answer a swap, snapshot or stop.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where one plugin's requested snapshot arrives (`None`: it had none to give).
pub type SnapshotReply = crossbeam_channel::Receiver<Option<Vec<u8>>>;

/// Snapshots asked of every plugin, to collect.
#[derive(Debug)]
pub struct SnapshotRequests(pub Vec<(String, SnapshotReply)>);

impl SnapshotRequests {
    /// Each plugin's snapshot, waiting at most `wait` in all; a plugin that did not answer
    /// in time, or had nothing to give, gets `None`.
    pub fn collect(self, wait: Duration) -> Vec<(String, Option<Vec<u8>>)> {
        let deadline = std::time::Instant::now() + wait;
        self.0
            .into_iter()
            .map(|(name, rx)| (name, rx.recv_deadline(deadline).ok().flatten()))
            .collect()
    }
}
/// How long shutdown waits for all plugins together to stop and hand over their state.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// What the host knows about a loaded plugin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PluginInfo {
    /// The plugin's name: its file name without `.wasm`.
    pub name: String,
    /// The file it was loaded from.
    pub file: PathBuf,
    /// The strategy's own name.
    pub strategy: String,
    /// The strategy's own version.
    pub version: String,
    /// What the strategy does.
    pub description: String,
    /// Symbols it receives events for.
    pub symbols: Vec<String>,
    /// Parameters as passed to `init`.
    pub config: Vec<(String, String)>,
    /// The interface version it was built against.
    pub interface_version: String,
    /// Milliseconds spent compiling (or loading the cached artifact).
    pub compile_ms: f64,
    /// Whether the compiled artifact came from the cache.
    pub cached: bool,
    /// Bar periods (seconds) it asked for besides the host's own.
    pub bar_periods: Vec<u32>,
}

/// A plugin's info and counters, for status pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginStatus {
    /// Static facts.
    pub info: PluginInfo,
    /// Counters.
    pub stats: PluginStats,
}

struct Slot {
    info: PluginInfo,
    /// Ids of the symbols it receives (`None`: all).
    symbol_ids: Option<SymbolIds>,
    mailbox: Mailbox,
    thread: Option<JoinHandle<()>>,
    counters: Arc<PluginCounters>,
}

/// All loaded plugins.
pub struct PluginHost {
    runtime: Arc<PluginRuntime>,
    config: PluginConfig,
    view: Arc<dyn MarketView>,
    symbols: SymbolTable,
    out: RingingSender<PluginOutput>,
    slots: RwLock<BTreeMap<Arc<str>, Slot>>,
    /// Set once shutdown begins (see [`PluginHost::begin_shutdown`]).
    stopping: Arc<std::sync::atomic::AtomicBool>,
    seq: AtomicU64,
    /// Advanced on every change to the plugins (load, reload, removal).
    generation: AtomicU64,
}

impl PluginHost {
    /// A host with no plugins; actions of every plugin go to `out`.
    pub fn new(
        config: PluginConfig,
        view: Arc<dyn MarketView>,
        symbols: SymbolTable,
        out: impl Into<RingingSender<PluginOutput>>,
    ) -> Result<Self, PluginError> {
        Ok(PluginHost {
            runtime: PluginRuntime::new(&config)?,
            config,
            view,
            symbols,
            out: out.into(),
            slots: RwLock::new(BTreeMap::new()),
            stopping: Arc::default(),
            seq: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        })
    }

    /// The host's configuration.
    pub fn config(&self) -> &PluginConfig {
        &self.config
    }

    /// The symbol table shared with the engine.
    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }

    /// Load every `*.wasm` in the plugin directory that `skip` does not pass over, in name
    /// order. Failures are returned beside the path; they do not stop the others.
    pub fn load_dir(
        &self,
        state: &dyn Fn(&str) -> Option<Vec<u8>>,
        skip: &dyn Fn(&Path) -> bool,
    ) -> Vec<(PathBuf, Result<PluginInfo, PluginError>)> {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&self.config.dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_plugin_file(p) && !skip(p))
                .collect(),
            Err(e) => {
                tracing::warn!(target: "tradehost::plugins", "cannot read plugin directory {}: {e}", self.config.dir.display());
                Vec::new()
            }
        };
        files.sort();
        files
            .into_iter()
            .map(|path| {
                let saved = plugin_name(&path).ok().and_then(|n| state(&n));
                let result = self.load_file(&path, saved);
                (path, result)
            })
            .collect()
    }

    /// Load (or hot-reload) the plugin in `path`. Blocking: compiles and starts the new
    /// version on this thread. `saved_state` is restored into a plugin that is not running
    /// yet (state saved by a previous run); a running plugin passes its own state across.
    pub fn load_file(
        &self,
        path: &Path,
        saved_state: Option<Vec<u8>>,
    ) -> Result<PluginInfo, PluginError> {
        let name: Arc<str> = plugin_name(path)?.into();
        let started = Instant::now();
        let running = self
            .read_slots()
            .get(&name)
            .map(|s| (s.mailbox.clone(), s.counters.clone(), s.info.clone()));
        let result = self.start_version(
            &name,
            path,
            if running.is_some() {
                None
            } else {
                saved_state.as_deref()
            },
        );
        let (loaded, info) = match result {
            Ok(v) => v,
            Err(e) => {
                if let Some((_, counters, _)) = &running {
                    PluginCounters::bump(&counters.reloads_failed, 1);
                    counters.set_error(e.to_string());
                }
                return Err(e);
            }
        };
        let symbol_ids = loaded.symbols.clone();
        match running {
            Some((mailbox, counters, old)) => {
                let (reply_tx, reply_rx) = crossbeam_channel::bounded(1);
                let swap = WorkerCommand::Swap {
                    next: Box::new(loaded),
                    reply: reply_tx,
                };
                mailbox
                    .send(swap, true)
                    .map_err(|_| PluginError::NotRunning(name.to_string()))?;
                let outcome = reply_rx
                    .recv_timeout(REPLY_TIMEOUT)
                    .map_err(|_| PluginError::NotRunning(name.to_string()))?;
                if let Err(reason) = outcome {
                    PluginCounters::bump(&counters.reloads_failed, 1);
                    counters.set_error(reason.clone());
                    return Err(PluginError::Start {
                        plugin: name.to_string(),
                        stage: "swap",
                        reason,
                    });
                }
                PluginCounters::bump(&counters.reloads_ok, 1);
                if let Some(slot) = self.write_slots().get_mut(&name) {
                    slot.info = info.clone();
                    slot.symbol_ids = symbol_ids;
                }
                tracing::info!(
                    target: "tradehost::plugins", plugin = %name,
                    "reloaded {} {} -> {} in {:.1} ms (compile {:.1} ms{})",
                    path.display(), old.version, info.version, started.elapsed().as_secs_f64() * 1e3,
                    info.compile_ms, if info.cached { ", cached" } else { "" }
                );
            }
            None => {
                self.spawn_worker(name.clone(), loaded, info.clone(), saved_state)?;
                tracing::info!(
                    target: "tradehost::plugins", plugin = %name,
                    "loaded {} ({} {}, symbols {}) in {:.1} ms",
                    path.display(), info.strategy, info.version, info.symbols.join(","),
                    started.elapsed().as_secs_f64() * 1e3
                );
            }
        }
        Ok(info)
    }

    /// Stop a plugin; returns its final state.
    pub fn unload(&self, name: &str) -> Option<Vec<u8>> {
        let slot = self.write_slots().remove(name)?;
        let state = stop_slot(slot);
        tracing::info!(target: "tradehost::plugins", plugin = name, "unloaded");
        state
    }

    /// Send a batch of market events to every plugin; returns how many plugins got it
    /// (each answers with one [`PluginOutput`]).
    pub fn dispatch(&self, batch: Arc<wit::EventBatch>) -> usize {
        self.dispatch_seq(batch, BatchPoints::default()).1
    }

    /// [`dispatch`](Self::dispatch), also returning the batch's sequence number, which the
    /// plugins' answers carry back.
    pub fn dispatch_seq(&self, batch: Arc<wit::EventBatch>, points: BatchPoints) -> (u64, usize) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let sent = self
            .read_slots()
            .iter()
            .filter(|(name, slot)| {
                let command = WorkerCommand::Events {
                    seq,
                    batch: batch.clone(),
                    shared: true,
                    points,
                };
                self.send(name, slot, command)
            })
            .count();
        (seq, sent)
    }

    /// An empty batch of events for plugins, with room for `trades` trades.
    pub fn batch(&self, trades: usize) -> DispatchBatch {
        DispatchBatch::new(&self.symbols, trades)
    }

    /// Send `batch` to every running plugin (each takes what it subscribed to): the batch's
    /// sequence number and how many plugins will answer. An empty batch goes nowhere.
    pub fn send_to_all(&self, batch: DispatchBatch) -> (u64, usize) {
        if batch.is_empty() {
            return (0, 0);
        }
        let points = batch.points();
        self.dispatch_seq(Arc::new(batch.finish()), points)
    }

    /// Send `batch` to one plugin; true when it will answer. An empty batch goes nowhere.
    pub fn send_to(&self, plugin: &str, batch: DispatchBatch) -> bool {
        let points = batch.points();
        !batch.is_empty() && self.deliver_at(plugin, batch.finish(), points)
    }

    /// Send events (fills, rejections) to one plugin; true when it will answer.
    pub fn deliver(&self, plugin: &str, events: wit::EventBatch) -> bool {
        self.deliver_at(plugin, events, BatchPoints::default())
    }

    /// [`deliver`](Self::deliver) of events that stand at `points` in the market stream.
    fn deliver_at(&self, plugin: &str, events: wit::EventBatch, points: BatchPoints) -> bool {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let slots = self.read_slots();
        let command = WorkerCommand::Events {
            seq,
            batch: Arc::new(events),
            shared: false,
            points,
        };
        match slots.get_key_value(plugin) {
            Some((name, slot)) => self.send(name, slot, command),
            None => false,
        }
    }

    /// One `on-events` call of one plugin with `events` (already chosen for it); true when
    /// it will answer, with one [`PluginOutput`] saying how many events it handled.
    pub fn call(&self, plugin: &str, seq: u64, events: Arc<wit::EventBatch>) -> bool {
        let slots = self.read_slots();
        match slots.get_key_value(plugin) {
            Some((name, slot)) => self.send(name, slot, WorkerCommand::Call { seq, batch: events }),
            None => false,
        }
    }

    fn send(&self, name: &str, slot: &Slot, command: WorkerCommand) -> bool {
        match slot.mailbox.send(command, self.config.block_when_full) {
            Ok(()) => true,
            Err(Undelivered::Full) => {
                let dropped = slot
                    .counters
                    .batches_dropped
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(target: "tradehost::plugins", plugin = name, "plugin is too slow: its queue is full, {dropped} batches dropped so far");
                }
                false
            }
            Err(Undelivered::Gone) => {
                tracing::error!(target: "tradehost::plugins", plugin = name, "plugin worker has exited");
                false
            }
        }
    }

    /// Names of the loaded plugins.
    pub fn names(&self) -> Vec<String> {
        self.read_slots().keys().map(|k| k.to_string()).collect()
    }

    /// The running plugins (loaded, not quarantined) in name order, with the events each
    /// receives; `host_period` is the host's own bar period, which all of them receive.
    pub fn lanes(&self, host_period: u32) -> Vec<(Arc<str>, EventFilter)> {
        self.read_slots()
            .iter()
            .filter(|(_, s)| !s.counters.is_quarantined())
            .map(|(name, s)| {
                let filter = EventFilter {
                    symbols: s.symbol_ids.clone(),
                    bar_periods: s.info.bar_periods.clone(),
                    host_period,
                };
                (name.clone(), filter)
            })
            .collect()
    }

    /// A number that changes whenever the plugins do (load, reload, removal): what is derived
    /// from them needs computing again only then.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Every bar period some loaded plugin asked for besides the host's own.
    pub fn wanted_bar_periods(&self) -> BTreeSet<u32> {
        self.read_slots()
            .values()
            .flat_map(|s| s.info.bar_periods.iter().copied())
            .collect()
    }

    /// Names of the plugins that are running: loaded and not quarantined.
    pub fn running(&self) -> Vec<Arc<str>> {
        self.read_slots()
            .iter()
            .filter(|(_, s)| !s.counters.is_quarantined())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Info and counters of every plugin.
    pub fn statuses(&self) -> Vec<PluginStatus> {
        self.read_slots()
            .values()
            .map(|s| PluginStatus {
                info: s.info.clone(),
                stats: s.counters.stats(),
            })
            .collect()
    }

    /// The union of the symbols the loaded plugins want.
    pub fn wanted_symbols(&self) -> BTreeSet<String> {
        self.read_slots()
            .values()
            .flat_map(|s| s.info.symbols.iter().filter(|s| s.as_str() != "*").cloned())
            .collect()
    }

    /// Snapshot every plugin's state now.
    pub fn snapshot_all(&self) -> Vec<(String, Vec<u8>)> {
        SnapshotRequests(self.request_snapshots())
            .collect(REPLY_TIMEOUT)
            .into_iter()
            .filter_map(|(name, s)| s.map(|s| (name, s)))
            .collect()
    }

    /// Ask every plugin for its state without waiting: each snapshot is taken after the
    /// batches already sent to that plugin, so it reflects exactly the events dispatched
    /// before this call (the scale-out's checkpoints rely on that).
    pub fn request_snapshots(&self) -> Vec<(String, SnapshotReply)> {
        self.read_slots()
            .iter()
            .filter_map(|(name, slot)| {
                let (tx, rx) = crossbeam_channel::bounded(1);
                let snapshot = WorkerCommand::Snapshot { reply: tx };
                slot.mailbox.send(snapshot, true).ok()?;
                Some((name.to_string(), rx))
            })
            .collect()
    }

    /// Shutdown has begun: workers skip the event batches still queued (counted as skipped),
    /// so that snapshots and the stop are answered after at most the call under way.
    pub fn begin_shutdown(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stop every plugin, returning each one's final state.
    ///
    /// Every plugin is asked at once, each on a thread of its own, and all of them are
    /// waited for together at most [`SHUTDOWN_WAIT`]: a plugin stuck in a long call (a raised
    /// deadline, a sleep in WASI) holds up neither the others' final snapshots nor the
    /// daemon's exit. One that does not answer in time gets `None` (its last saved snapshot
    /// stays on disk) and its thread is left to end with the process.
    pub fn shutdown(&self) -> Vec<(String, Option<Vec<u8>>)> {
        self.begin_shutdown();
        let slots = std::mem::take(&mut *self.write_slots());
        let names: Vec<String> = slots.keys().map(|n| n.to_string()).collect();
        let (tx, rx) = crossbeam_channel::unbounded();
        for (name, slot) in slots {
            let tx = tx.clone();
            let stopper = std::thread::Builder::new()
                .name("plugin-stop".into())
                .spawn(move || {
                    let _ = tx.send((name.to_string(), stop_slot(slot)));
                });
            if let Err(e) = stopper {
                tracing::error!(target: "tradehost::plugins", "cannot start a thread to stop a plugin: {e}");
            }
        }
        drop(tx);
        let deadline = std::time::Instant::now() + SHUTDOWN_WAIT;
        let mut stopped: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
        while stopped.len() < names.len() {
            match rx.recv_deadline(deadline) {
                Ok((name, state)) => {
                    stopped.insert(name, state);
                }
                Err(_) => break,
            }
        }
        names
            .into_iter()
            .map(|name| {
                let state = stopped.remove(&name).unwrap_or_else(|| {
                    tracing::warn!(target: "tradehost::plugins", plugin = %name, "plugin {name} did not stop within {SHUTDOWN_WAIT:?} (busy in a call); its last saved state is kept");
                    None
                });
                (name, state)
            })
            .collect()
    }

    fn start_version(
        &self,
        name: &Arc<str>,
        path: &Path,
        saved_state: Option<&[u8]>,
    ) -> Result<(Loaded, PluginInfo), PluginError> {
        let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let (settings, text) = PluginSettings::load_for(path)?;
        let prepared = Arc::new(self.runtime.prepare(path, &bytes)?);
        let max_memory = settings
            .limits
            .memory_mb
            .map(|mb| mb as usize * 1024 * 1024)
            .unwrap_or(self.config.max_memory_bytes);
        let limits = CallLimits {
            call: settings
                .limits
                .call_deadline_ms
                .map(|ms| Duration::from_millis(u64::from(ms)))
                .unwrap_or(self.config.call_deadline)
                .max(self.config.min_call_deadline),
            start: settings
                .limits
                .start_deadline_ms
                .map(|ms| Duration::from_millis(u64::from(ms)))
                .unwrap_or(self.config.start_deadline),
            fuel: self.config.fuel_per_call,
        };
        let start_error = |stage: &'static str| {
            let plugin = name.to_string();
            move |f: Fault| PluginError::Start {
                plugin,
                stage,
                reason: f.to_string(),
            }
        };
        let state = HostState::new(
            name.clone(),
            max_memory,
            self.view.clone(),
            self.symbols.clone(),
            self.config.random_seed,
        );
        let mut instance = PluginInstance::instantiate(&self.runtime, &prepared.pre, state, limits)
            .map_err(start_error("instantiate"))?;
        let described = instance.describe().map_err(start_error("describe"))?;
        super::description_check::check(&described).map_err(|reason| PluginError::Start {
            plugin: name.to_string(),
            stage: "describe",
            reason,
        })?;
        // Errors about settings name the settings file, not the component.
        let toml = super::settings_file::settings_path(path);
        let init_config = settings.init_config(&toml, text.as_deref(), &described)?;
        let refused = |stage: &'static str, reason: String| PluginError::Start {
            plugin: name.to_string(),
            stage,
            reason,
        };
        instance
            .init(&init_config)
            .map_err(start_error("init"))?
            .map_err(|r| match &text {
                // The strategy refused its parameters: say where they came from.
                Some(_) => refused("init", format!("{r} (parameters from {})", toml.display())),
                None => refused("init", r),
            })?;
        if let Some(state) = saved_state {
            instance
                .restore(state)
                .map_err(start_error("restore"))?
                .map_err(|r| {
                    refused("restore", format!("{r} (the saved state was not restored)"))
                })?;
        }
        let symbols = settings.symbols(&described);
        let filter = if symbols.iter().any(|s| s == "*") {
            None
        } else {
            Some(
                symbols
                    .iter()
                    .map(|s| self.symbols.intern(s))
                    .collect::<SymbolIds>(),
            )
        };
        let info = PluginInfo {
            name: name.to_string(),
            file: path.to_path_buf(),
            strategy: described.name.clone(),
            version: described.version.clone(),
            description: described.description.clone(),
            symbols,
            config: init_config.clone(),
            interface_version: prepared.facts.interface_version.clone(),
            compile_ms: prepared.compile_time.as_secs_f64() * 1e3,
            cached: prepared.cached,
            bar_periods: described.bar_periods.clone(),
        };
        let loaded = Loaded {
            instance,
            prepared,
            init_config,
            symbols: filter,
            limits,
            max_memory,
        };
        Ok((loaded, info))
    }

    fn spawn_worker(
        &self,
        name: Arc<str>,
        loaded: Loaded,
        info: PluginInfo,
        saved_state: Option<Vec<u8>>,
    ) -> Result<(), PluginError> {
        let loaded_ids = loaded.symbols.clone();
        let counters = Arc::new(PluginCounters::default());
        let worker = Worker::new(
            name.clone(),
            self.runtime.clone(),
            self.view.clone(),
            self.symbols.clone(),
            WorkerSettings {
                max_actions: self.config.max_actions_per_call,
                max_snapshot_bytes: self.config.max_snapshot_bytes,
                stopping: self.stopping.clone(),
                snapshot_interval: self.config.snapshot_interval,
                restart_backoff: self.config.restart_backoff,
                max_failures: self.config.max_failures,
                failure_window: self.config.failure_window,
                max_refusals_per_min: self.config.max_refusals_per_min,
                random_seed: self.config.random_seed,
            },
            counters.clone(),
            self.out.clone(),
            loaded,
            saved_state,
        );
        let (mailbox, thread) = Mailbox::start(
            worker,
            self.config.inline_workers,
            self.config.queue_capacity,
            format!("plugin-{name}"),
        )
        .map_err(|e| PluginError::Runtime(format!("cannot start a worker thread: {e}")))?;
        self.write_slots().insert(
            name,
            Slot {
                symbol_ids: loaded_ids,
                info,
                mailbox,
                thread,
                counters,
            },
        );
        Ok(())
    }

    fn read_slots(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Arc<str>, Slot>> {
        self.slots.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_slots(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Arc<str>, Slot>> {
        let slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
        // Under the lock: a reader that sees the new number reads the slots after the change.
        self.generation.fetch_add(1, Ordering::AcqRel);
        slots
    }
}

impl Drop for PluginHost {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn stop_slot(mut slot: Slot) -> Option<Vec<u8>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let state = match slot.mailbox.send(WorkerCommand::Stop { reply: tx }, true) {
        Ok(()) => rx.recv_timeout(REPLY_TIMEOUT).ok().flatten(),
        Err(_) => None,
    };
    drop(slot.mailbox);
    if let Some(thread) = slot.thread.take() {
        let _ = thread.join();
    }
    state
}

/// True for files the host loads: `*.wasm`, not hidden.
pub fn is_plugin_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm")
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('.'))
}

/// A plugin's name: its file stem.
pub fn plugin_name(path: &Path) -> Result<String, PluginError> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| PluginError::NotAComponent {
            path: path.to_path_buf(),
            what: "the file name is not valid UTF-8 text".to_string(),
        })
}

/// Validate a plugin file completely (bytes, version, compile, instantiate, describe,
/// settings, init) without running it: what `tradehost check` does.
pub fn check_file(config: PluginConfig, path: &Path) -> Result<PluginInfo, PluginError> {
    let (tx, _rx) = crossbeam_channel::unbounded();
    let host = PluginHost::new(
        config,
        Arc::new(super::view::EmptyView),
        SymbolTable::new(),
        tx,
    )?;
    let info = host.load_file(path, None);
    host.shutdown();
    info
}
