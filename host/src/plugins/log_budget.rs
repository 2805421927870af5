//! A plugin's budget of log output, shared by its `log` calls and its stderr.
//!
//! A plugin may write [`LINES_PER_SEC`] lines a second on average, in bursts of up to
//! [`BURST_LINES`]; each line is at most [`MAX_GUEST_TEXT_CHARS`](super::guest_text::MAX_GUEST_TEXT_CHARS)
//! characters, so one plugin adds at most about 50 KiB a second to the logs however it
//! writes. Lines over the budget are counted, not written, and the count is reported in the
//! next line that gets through.

use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Lines a second a plugin may write on average (log and stderr together).
pub const LINES_PER_SEC: f64 = 50.0;
/// Lines a plugin may write at once after being quiet.
pub const BURST_LINES: f64 = 200.0;

/// Whether a line may be written.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Write it; `dropped` lines were refused since the last one written.
    Write {
        /// Lines dropped before this one.
        dropped: u64,
    },
    /// Over budget: counted, not written.
    Drop,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
    dropped: u64,
    dropped_total: u64,
}

/// One plugin's log budget; clones share it.
#[derive(Debug, Clone)]
pub struct LogBudget {
    inner: Arc<Mutex<Bucket>>,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget {
            inner: Arc::new(Mutex::new(Bucket {
                tokens: BURST_LINES,
                refilled: Instant::now(),
                dropped: 0,
                dropped_total: 0,
            })),
        }
    }
}

impl LogBudget {
    /// Ask to write one line now.
    pub fn admit(&self) -> Admit {
        self.admit_at(Instant::now())
    }

    /// Ask to write one of `plugin`'s lines now; the first line after a drop is preceded by
    /// a line saying how many were dropped.
    pub fn take_line(&self, plugin: &str) -> bool {
        match self.admit() {
            Admit::Drop => false,
            Admit::Write { dropped } => {
                if dropped > 0 {
                    tracing::warn!(target: "tradehost::plugin", plugin, "{dropped} log lines dropped (over the budget of {LINES_PER_SEC} lines/s, log and stderr together)");
                }
                true
            }
        }
    }

    /// Lines dropped since the plugin started.
    pub fn dropped_total(&self) -> u64 {
        self.lock().dropped_total
    }

    fn admit_at(&self, now: Instant) -> Admit {
        let mut b = self.lock();
        let elapsed = now.saturating_duration_since(b.refilled).as_secs_f64();
        b.refilled = now;
        b.tokens = (b.tokens + elapsed * LINES_PER_SEC).min(BURST_LINES);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Admit::Write {
                dropped: std::mem::take(&mut b.dropped),
            }
        } else {
            b.dropped += 1;
            b.dropped_total += 1;
            Admit::Drop
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_then_lines_are_counted_and_reported() {
        let budget = LogBudget::default();
        let t0 = Instant::now();
        let written = (0..1000)
            .filter(|_| matches!(budget.admit_at(t0), Admit::Write { .. }))
            .count();
        assert_eq!(written, BURST_LINES as usize);
        assert_eq!(budget.dropped_total(), 1000 - BURST_LINES as u64);
        // A second later, LINES_PER_SEC lines are allowed again; the first says what was lost.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(budget.admit_at(t1), Admit::Write { dropped: 800 });
        let more = (0..1000)
            .filter(|_| matches!(budget.admit_at(t1), Admit::Write { .. }))
            .count();
        assert_eq!(more, LINES_PER_SEC as usize - 1);
    }

    #[test]
    fn clones_share_one_budget() {
        let log = LogBudget::default();
        let stderr = log.clone();
        let t0 = Instant::now();
        for _ in 0..BURST_LINES as usize {
            assert!(matches!(log.admit_at(t0), Admit::Write { .. }));
        }
        assert_eq!(stderr.admit_at(t0), Admit::Drop);
    }
}
