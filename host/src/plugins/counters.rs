//! Per-plugin counters and call-latency histogram, for logs, `/metrics` and `/api/status`.

use crate::latency_histogram::LatencyHistogram;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Live counters of one plugin, updated by its worker thread.
#[derive(Debug)]
pub struct PluginCounters {
    /// Calls into the guest (`on-events` and others).
    pub calls: AtomicU64,
    /// Events delivered to the guest.
    pub events: AtomicU64,
    /// Events not delivered because the instance was down or quarantined.
    pub events_skipped: AtomicU64,
    /// Batches dropped because the plugin's queue was full (it is too slow).
    pub batches_dropped: AtomicU64,
    /// Actions (orders and cancels) the guest returned.
    pub actions: AtomicU64,
    /// Actions refused at the boundary (unknown symbol id).
    pub invalid_actions: AtomicU64,
    /// Traps and other faults.
    pub faults: AtomicU64,
    /// Instances rebuilt after a fault.
    pub restarts: AtomicU64,
    /// Successful hot reloads.
    pub reloads_ok: AtomicU64,
    /// Failed hot reloads (the old version kept serving).
    pub reloads_failed: AtomicU64,
    /// Stopped after repeated faults until the file is replaced.
    quarantined: AtomicBool,
    last_error: Mutex<Option<String>>,
    health: Mutex<String>,
    latency_ns: LatencyHistogram,
}

impl Default for PluginCounters {
    fn default() -> Self {
        PluginCounters {
            calls: AtomicU64::new(0),
            events: AtomicU64::new(0),
            events_skipped: AtomicU64::new(0),
            batches_dropped: AtomicU64::new(0),
            actions: AtomicU64::new(0),
            invalid_actions: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            quarantined: AtomicBool::new(false),
            last_error: Mutex::new(None),
            health: Mutex::new("running".to_string()),
            latency_ns: LatencyHistogram::coarse(),
        }
    }
}

/// Whether a plugin runs, as status pages show it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginRunState {
    /// Loaded and answering.
    #[default]
    Running,
    /// Its instance faulted; it is rebuilt from its last snapshot after a backoff.
    Faulted,
    /// Stopped after repeated faults until its file is replaced (or it is enabled again).
    Quarantined,
    /// Unloaded by an operator; its state is saved and it can be enabled again.
    Disabled,
}

/// A point-in-time copy of a plugin's counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PluginStats {
    /// Running, faulted, quarantined or disabled.
    pub state: PluginRunState,
    /// Calls into the guest.
    pub calls: u64,
    /// Events delivered.
    pub events: u64,
    /// Events skipped while down or quarantined.
    pub events_skipped: u64,
    /// Batches dropped on a full queue.
    pub batches_dropped: u64,
    /// Actions returned.
    pub actions: u64,
    /// Actions refused at the boundary.
    pub invalid_actions: u64,
    /// Faults (traps, deadlines, memory).
    pub faults: u64,
    /// Rebuilds after faults.
    pub restarts: u64,
    /// Successful reloads.
    pub reloads_ok: u64,
    /// Failed reloads.
    pub reloads_failed: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// `running`, `down (...)` or `quarantined (...)`.
    pub health: String,
    /// Median `on-events` call latency in nanoseconds.
    pub latency_p50_ns: u64,
    /// 99th percentile call latency.
    pub latency_p99_ns: u64,
    /// 99.9th percentile call latency.
    pub latency_p999_ns: u64,
    /// Slowest call.
    pub latency_max_ns: u64,
}

impl PluginCounters {
    /// Add one to a counter.
    pub fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    /// Record one call's duration.
    pub fn record_call(&self, d: Duration) {
        Self::bump(&self.calls, 1);
        self.latency_ns
            .record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Remember the latest error.
    pub fn set_error(&self, error: impl Into<String>) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(error.into());
        }
    }

    /// Mark the plugin quarantined (or not), with the health line to show.
    pub fn set_quarantined(&self, quarantined: bool, health: impl Into<String>) {
        self.quarantined.store(quarantined, Ordering::Relaxed);
        self.set_health(health);
    }

    /// Whether the plugin is quarantined: loaded, but not running until replaced.
    pub fn is_quarantined(&self) -> bool {
        self.quarantined.load(Ordering::Relaxed)
    }

    /// Set the health line.
    pub fn set_health(&self, health: impl Into<String>) {
        if let Ok(mut h) = self.health.lock() {
            *h = health.into();
        }
    }

    /// Copy everything out.
    pub fn stats(&self) -> PluginStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let q = self.latency_ns.quantiles();
        let health = self.health.lock().map(|h| h.clone()).unwrap_or_default();
        // The worker sets the health line to exactly "running" when the instance serves.
        let state = if self.is_quarantined() {
            PluginRunState::Quarantined
        } else if health == "running" {
            PluginRunState::Running
        } else {
            PluginRunState::Faulted
        };
        PluginStats {
            state,
            calls: get(&self.calls),
            events: get(&self.events),
            events_skipped: get(&self.events_skipped),
            batches_dropped: get(&self.batches_dropped),
            actions: get(&self.actions),
            invalid_actions: get(&self.invalid_actions),
            faults: get(&self.faults),
            restarts: get(&self.restarts),
            reloads_ok: get(&self.reloads_ok),
            reloads_failed: get(&self.reloads_failed),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
            health,
            latency_p50_ns: q.p50_ns,
            latency_p99_ns: q.p99_ns,
            latency_p999_ns: q.p999_ns,
            latency_max_ns: q.max_ns,
        }
    }
}
