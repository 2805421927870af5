//! Strategy plugins: WebAssembly components in a sandbox, one worker each.
//!
//! A plugin's path through this module: [`watcher`] notices a complete file →
//! [`host::PluginHost::load_file`] reads it, [`validate`] checks the bytes, [`runtime`]
//! compiles it (through the [`cache`]) → [`instance`] starts it in a [`sandbox`] →
//! a [`worker`] owns it (on a thread of its own, or inline: [`mailbox`]), receiving event
//! batches from [`host::PluginHost::dispatch`] and sending its orders back as
//! [`worker::PluginOutput`].

pub mod batch;
pub mod bindings;
pub mod cache;
pub mod call_clock;
pub mod counters;
pub mod description_check;
pub mod dispatch_batch;
pub mod epoch_ticker;
pub mod error;
pub mod event_index;
pub mod guest_output;
pub mod guest_text;
pub mod host;
pub mod instance;
pub mod log_budget;
pub mod mailbox;
pub mod producers;
pub mod refusal_watch;
pub mod runtime;
pub mod sandbox;
pub mod settings_file;
pub mod symbols;
pub mod tape;
pub mod validate;
pub mod view;
pub mod virtual_clock;
pub mod wait_limit;
pub mod watcher;
pub mod worker;

pub use batch::BatchBuilder;
pub use bindings::wit;
pub use counters::{PluginRunState, PluginStats};
pub use dispatch_batch::DispatchBatch;
pub use error::PluginError;
pub use host::{PluginHost, PluginInfo, PluginStatus, SnapshotReply, SnapshotRequests, check_file};
pub use symbols::SymbolTable;
pub use view::{EmptyView, MarketView};
pub use worker::PluginOutput;

use crate::settings::{SettingError, Settings};
use std::path::PathBuf;
use std::time::Duration;

/// Settings of the plugin host. Every limit applies per plugin and can be overridden in
/// the plugin's `NAME.toml` where noted.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// Folder watched for `*.wasm` plugins (`PLUGIN_DIR`, default `plugins`).
    pub dir: PathBuf,
    /// Where compiled artifacts are cached (`PLUGIN_CACHE_DIR`, default `PLUGIN_DIR/.cache`;
    /// `off` disables the cache).
    pub cache_dir: Option<PathBuf>,
    /// Linear memory cap in bytes (`PLUGIN_MAX_MEMORY_MB`, default 64; `memory_mb`).
    pub max_memory_bytes: usize,
    /// CPU time one `on-events` call may use (`PLUGIN_CALL_DEADLINE_MS`, default 10;
    /// `call_deadline_ms`); wall time is capped at 20 times that, at least 1 s.
    pub call_deadline: Duration,
    /// Floor under every plugin's call deadline, settings files included (backtests: a
    /// call that ran long because the machine was busy must not change the results).
    pub min_call_deadline: Duration,
    /// CPU time of start-up calls: instantiate, describe, init, restore, snapshot
    /// (`PLUGIN_START_DEADLINE_MS`, default 2000).
    pub start_deadline: Duration,
    /// Wasm stack size limit in bytes (`PLUGIN_MAX_STACK_KB`, default 512).
    pub max_stack_bytes: usize,
    /// Fuel per call for deterministic limits (`PLUGIN_FUEL_PER_CALL`, default off).
    pub fuel_per_call: Option<u64>,
    /// Largest plugin file accepted (`PLUGIN_MAX_FILE_MB`, default 64).
    pub max_file_bytes: u64,
    /// Most core functions compiled per plugin (`PLUGIN_MAX_FUNCTIONS`, default 100000).
    pub max_functions: u64,
    /// Most orders and cancels accepted from one call (`PLUGIN_MAX_ACTIONS_PER_CALL`,
    /// default 1000); a call returning more faults and all of them are dropped.
    pub max_actions_per_call: usize,
    /// Largest snapshot a plugin may return (`PLUGIN_MAX_SNAPSHOT_MB`, default 16); a larger
    /// one is a fault and the last good snapshot is kept.
    pub max_snapshot_bytes: usize,
    /// Batches queued per plugin before new ones are dropped (`PLUGIN_QUEUE_BATCHES`,
    /// default 1024).
    pub queue_capacity: usize,
    /// Block the dispatcher instead of dropping when a queue is full (backtests).
    pub block_when_full: bool,
    /// Run each plugin on the thread that sends it events instead of a thread of its own
    /// (`PLUGIN_EXECUTION=inline`, default `threads`; always in backtests, which wait for every
    /// answer anyway). Inline there is no thread hand-off between a tick and the orders it
    /// causes, but a slow plugin holds up the others and the broker, up to its call deadline;
    /// see [`mailbox`].
    pub inline_workers: bool,
    /// First delay before rebuilding a faulted plugin, doubling each time
    /// (`PLUGIN_RESTART_BACKOFF_MS`, default 200).
    pub restart_backoff: Duration,
    /// Faults within `failure_window` that quarantine a plugin (`PLUGIN_MAX_FAULTS`,
    /// default 5).
    pub max_failures: usize,
    /// Window for counting faults (`PLUGIN_FAULT_WINDOW_SECS`, default 600).
    pub failure_window: Duration,
    /// Refusals of a plugin's orders within a minute of market time past which it is
    /// quarantined (`PLUGIN_MAX_REFUSALS_PER_MIN`, default 1200); see [`refusal_watch`].
    pub max_refusals_per_min: u32,
    /// How often plugin state is snapshotted for recovery (`PLUGIN_SNAPSHOT_INTERVAL`,
    /// seconds, default 5).
    pub snapshot_interval: Duration,
    /// Watch the folder and hot-reload (`PLUGIN_WATCH`, default true).
    pub watch: bool,
    /// Quiet time after a write before reloading (`PLUGIN_RELOAD_DEBOUNCE_MS`, default 100).
    pub reload_debounce: Duration,
    /// Time a removed file may reappear before its plugin is unloaded
    /// (`PLUGIN_UNLOAD_GRACE_MS`, default 2000).
    pub unload_grace: Duration,
    /// Seed of the guests' random numbers (`PLUGIN_RANDOM_SEED`, default 0).
    pub random_seed: u64,
}

impl Default for PluginConfig {
    fn default() -> Self {
        let dir = PathBuf::from("plugins");
        PluginConfig {
            cache_dir: Some(dir.join(".cache")),
            dir,
            max_memory_bytes: 64 << 20,
            call_deadline: Duration::from_millis(10),
            min_call_deadline: Duration::ZERO,
            start_deadline: Duration::from_millis(2000),
            max_stack_bytes: 512 << 10,
            fuel_per_call: None,
            max_file_bytes: 64 << 20,
            max_functions: 100_000,
            max_actions_per_call: 1000,
            max_snapshot_bytes: 16 << 20,
            queue_capacity: 1024,
            block_when_full: false,
            inline_workers: false,
            restart_backoff: Duration::from_millis(200),
            max_failures: 5,
            failure_window: Duration::from_secs(600),
            max_refusals_per_min: 1200,
            snapshot_interval: Duration::from_secs(5),
            watch: true,
            reload_debounce: Duration::from_millis(100),
            unload_grace: Duration::from_millis(2000),
            random_seed: 0,
        }
    }
}

impl PluginConfig {
    /// Read the `PLUGIN_*` settings.
    pub fn from_settings(s: &Settings) -> Result<Self, SettingError> {
        let d = PluginConfig::default();
        let dir = PathBuf::from(s.raw("PLUGIN_DIR").unwrap_or("plugins"));
        let cache_dir = match s.raw("PLUGIN_CACHE_DIR") {
            Some("off") => None,
            Some(p) => Some(PathBuf::from(p)),
            None => Some(dir.join(".cache")),
        };
        let ms = |name: &str, default: Duration, max: u64| -> Result<Duration, SettingError> {
            s.int_in(name, default.as_millis() as u64, 1, max)
                .map(Duration::from_millis)
        };
        let fuel = match s.raw("PLUGIN_FUEL_PER_CALL") {
            None | Some("off") => None,
            Some(_) => Some(s.int_in("PLUGIN_FUEL_PER_CALL", 0u64, 1000, u64::MAX / 2)?),
        };
        Ok(PluginConfig {
            dir,
            cache_dir,
            max_memory_bytes: s.int_in("PLUGIN_MAX_MEMORY_MB", 64usize, 1, 4096)? << 20,
            call_deadline: ms("PLUGIN_CALL_DEADLINE_MS", d.call_deadline, 60_000)?,
            min_call_deadline: d.min_call_deadline,
            start_deadline: ms("PLUGIN_START_DEADLINE_MS", d.start_deadline, 600_000)?,
            max_stack_bytes: s.int_in("PLUGIN_MAX_STACK_KB", 512usize, 64, 65_536)? << 10,
            fuel_per_call: fuel,
            max_file_bytes: s.int_in("PLUGIN_MAX_FILE_MB", 64u64, 1, 1024)? << 20,
            max_functions: s.int_in("PLUGIN_MAX_FUNCTIONS", d.max_functions, 1, 10_000_000)?,
            max_actions_per_call: s.int_in(
                "PLUGIN_MAX_ACTIONS_PER_CALL",
                d.max_actions_per_call,
                1,
                1_000_000,
            )?,
            max_snapshot_bytes: s.int_in("PLUGIN_MAX_SNAPSHOT_MB", 16usize, 1, 1024)? << 20,
            queue_capacity: s.int_in("PLUGIN_QUEUE_BATCHES", d.queue_capacity, 1, 1_000_000)?,
            block_when_full: d.block_when_full,
            inline_workers: s.parse_with(
                "PLUGIN_EXECUTION",
                d.inline_workers,
                "threads (a thread per plugin) or inline (on the engine thread)",
                |v| match v {
                    "threads" => Some(false),
                    "inline" => Some(true),
                    _ => None,
                },
            )?,
            restart_backoff: ms("PLUGIN_RESTART_BACKOFF_MS", d.restart_backoff, 3_600_000)?,
            max_failures: s.int_in("PLUGIN_MAX_FAULTS", d.max_failures, 1, 1000)?,
            failure_window: Duration::from_secs(s.int_in(
                "PLUGIN_FAULT_WINDOW_SECS",
                600u64,
                1,
                86_400 * 7,
            )?),
            max_refusals_per_min: s.int_in(
                "PLUGIN_MAX_REFUSALS_PER_MIN",
                d.max_refusals_per_min,
                1,
                10_000_000,
            )?,
            snapshot_interval: s.secs("PLUGIN_SNAPSHOT_INTERVAL", d.snapshot_interval)?,
            watch: s.flag("PLUGIN_WATCH", true)?,
            reload_debounce: ms("PLUGIN_RELOAD_DEBOUNCE_MS", d.reload_debounce, 60_000)?,
            unload_grace: ms("PLUGIN_UNLOAD_GRACE_MS", d.unload_grace, 3_600_000)?,
            random_seed: s.get("PLUGIN_RANDOM_SEED", 0u64, "a whole number")?,
        })
    }
}
