//! Live counters of one host's traffic on the bus, shown in its health record.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters updated by the publishers and subscribers of one host.
#[derive(Debug, Default)]
pub struct BusStats {
    /// Messages published and confirmed by the server.
    pub published: AtomicU64,
    /// Messages received and delivered to the engine.
    pub received: AtomicU64,
    /// Market messages known to be missed (sequence jumps).
    pub missed: AtomicU64,
    /// Times the market publisher changed under a subscriber (restart or takeover).
    pub new_sessions: AtomicU64,
    /// Messages that did not decode, parked in the dead-letter stream.
    pub malformed: AtomicU64,
    /// Repeats dropped: market messages seen twice, orders the broker had already handled.
    pub duplicates: AtomicU64,
    /// Publishes that failed (and were retried, or reported as a gap downstream).
    pub publish_failures: AtomicU64,
    /// Times the connection to the server came back after a loss.
    pub reconnects: AtomicU64,
}

/// A copy of [`BusStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusCounters {
    /// Messages published and confirmed by the server.
    pub published: u64,
    /// Messages received and delivered to the engine.
    pub received: u64,
    /// Market messages known to be missed.
    pub missed: u64,
    /// Times the market publisher changed under a subscriber.
    pub new_sessions: u64,
    /// Messages parked in the dead-letter stream.
    pub malformed: u64,
    /// Repeats dropped.
    pub duplicates: u64,
    /// Publishes that failed.
    pub publish_failures: u64,
    /// Reconnections to the server.
    pub reconnects: u64,
}

impl BusStats {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The current values.
    pub fn snapshot(&self) -> BusCounters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BusCounters {
            published: get(&self.published),
            received: get(&self.received),
            missed: get(&self.missed),
            new_sessions: get(&self.new_sessions),
            malformed: get(&self.malformed),
            duplicates: get(&self.duplicates),
            publish_failures: get(&self.publish_failures),
            reconnects: get(&self.reconnects),
        }
    }
}
