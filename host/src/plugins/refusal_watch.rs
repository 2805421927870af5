//! A plugin that keeps sending orders the broker refuses is quarantined.
//!
//! The broker already throttles what such a plugin costs (`RISK_MAX_REFUSALS_PER_MIN` of its
//! refusals are journaled per minute, the log summarises), but the plugin still takes the
//! engine's time with every order, and nothing it does is trading: a strategy refused more
//! than `PLUGIN_MAX_REFUSALS_PER_MIN` times within a minute is stopped like one that keeps
//! faulting, with a reason that says how many, over what time, and what to do.
//!
//! The count runs on the refusals the guest has *handled* (the events it consumed) and on
//! their market time, never on the wall clock or on how events were batched: a backtest
//! quarantines the plugin after the same refusal at every batch size and in both execution
//! modes, and the orders it would place from then on never reach the broker.

use super::batch::others;
use super::bindings::wit;
use super::guest_text::neutralise;
use std::collections::VecDeque;

/// Length of the window, in market-time milliseconds.
pub const WINDOW_MS: i64 = 60_000;

/// Granularity of the window: refusals are counted per second of market time.
const BUCKET_MS: i64 = 1_000;

/// Longest refusal reason quoted in the quarantine reason.
const QUOTED_REASON_CHARS: usize = 200;

/// Refusals a plugin handled in the last minute of market time.
#[derive(Debug, Clone)]
pub struct RefusalWatch {
    /// Most refusals allowed within a window; one more quarantines.
    limit: u32,
    /// (second of market time, refusals in it), oldest first; at most a window's worth.
    buckets: VecDeque<(i64, u32)>,
    /// Refusals in `buckets`.
    total: u64,
}

/// The verdict: more refusals within a minute than the limit allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    /// Refusals counted in the window.
    pub refusals: u64,
    /// The limit (`PLUGIN_MAX_REFUSALS_PER_MIN`).
    pub limit: u32,
    /// Market time of the first and of the last refusal counted, in ms.
    pub span_ms: (i64, i64),
    /// Why the last one was refused (neutralised, cut).
    pub last_reason: String,
}

impl OverLimit {
    /// Why `plugin` is quarantined and what to do about it, in one line.
    pub fn reason(&self, plugin: &str) -> String {
        let secs = (self.span_ms.1 - self.span_ms.0).max(0) as f64 / 1e3;
        format!(
            "{} orders refused within {secs:.1} s of market time, over the limit of {} per \
             minute (PLUGIN_MAX_REFUSALS_PER_MIN); the last was refused because: {}. Fix what \
             the strategy sends (each refusal event says why), then replace its file with the \
             new build, or reload it from the dashboard (POST /api/plugins/{plugin}/reload)",
            self.refusals, self.limit, self.last_reason
        )
    }
}

impl RefusalWatch {
    /// A watch that allows `limit` refusals per minute of market time.
    pub fn new(limit: u32) -> Self {
        RefusalWatch {
            limit,
            buckets: VecDeque::new(),
            total: 0,
        }
    }

    /// Count the refusals among the first `consumed` events of `batch` (those the guest
    /// handled); the verdict when they take the plugin over the limit.
    pub fn handled(&mut self, batch: &wit::EventBatch, consumed: usize) -> Option<OverLimit> {
        let trades = batch.trades.symbols.len();
        for (k, placed) in others(batch).iter().enumerate() {
            // Placed event k is event number `after_trades + k` of the batch.
            if (placed.after_trades as usize).min(trades) + k >= consumed {
                break;
            }
            if let wit::Event::Rejected(r) = &placed.event
                && let Some(over) = self.record(r.time, &r.reason)
            {
                // The plugin stops here: what it handled after does not count.
                return Some(over);
            }
        }
        None
    }

    /// Count one refusal at `time_ms`; the verdict when it is one too many.
    pub fn record(&mut self, time_ms: i64, reason: &str) -> Option<OverLimit> {
        let second = time_ms.div_euclid(BUCKET_MS);
        let oldest_kept = second - (WINDOW_MS / BUCKET_MS - 1);
        while let Some(&(s, n)) = self.buckets.front() {
            if s >= oldest_kept {
                break;
            }
            self.total -= u64::from(n);
            self.buckets.pop_front();
        }
        match self.buckets.back_mut() {
            // Market time that went back a little (a cancellation stamped before the last
            // trade) counts in the latest second.
            Some((s, n)) if *s >= second => *n = n.saturating_add(1),
            _ => self.buckets.push_back((second, 1)),
        }
        self.total += 1;
        (self.total > u64::from(self.limit)).then(|| OverLimit {
            refusals: self.total,
            limit: self.limit,
            span_ms: (
                self.buckets.front().map_or(time_ms, |(s, _)| s * BUCKET_MS),
                time_ms,
            ),
            last_reason: neutralise(reason, QUOTED_REASON_CHARS).into_owned(),
        })
    }

    /// Forget every refusal (a new version of the plugin starts with a clean count).
    pub fn reset(&mut self) {
        self.buckets.clear();
        self.total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::BatchBuilder;

    /// A refusal as the engine hands it to a plugin.
    fn refusal(time_ms: i64) -> wit::Event {
        let rejection = crate::types::Rejection {
            plugin: "spam".into(),
            tag: 1,
            symbol: "SPY".into(),
            reason: "quantity 1e12 exceeds RISK_MAX_ORDER_QTY=500".into(),
            time_ms,
        };
        crate::plugins::bindings::rejection_event(&rejection, &crate::plugins::SymbolTable::new())
    }

    #[test]
    fn more_than_the_limit_within_a_minute_of_market_time_is_over() {
        let mut w = RefusalWatch::new(3);
        // TC0: three in a minute are allowed, the fourth is one too many.
        assert!((0..3).all(|i| w.record(1_000 + i, "r").is_none()), "TC0");
        let over = w.record(59_999, "size\nforged").expect("TC0: over");
        assert_eq!((over.refusals, over.limit), (4, 3), "TC0");
        assert_eq!(over.span_ms, (1_000, 59_999), "TC0");
        assert_eq!(over.last_reason, "size\\nforged", "TC0: neutralised");
        // TC1: the same count spread over more than a minute never is.
        let mut w = RefusalWatch::new(3);
        let spread = [0, 30_000, 59_999, 60_000, 90_000, 119_999, 120_000, 150_000];
        assert!(spread.iter().all(|&t| w.record(t, "r").is_none()), "TC1");
        // TC2: a reset forgets.
        let mut w = RefusalWatch::new(1);
        assert!(w.record(0, "r").is_none());
        w.reset();
        assert!(w.record(1, "r").is_none(), "TC2");
        assert!(w.record(2, "r").is_some(), "TC2");
        // TC3: a time that went back counts in the latest second, and still counts.
        let mut w = RefusalWatch::new(2);
        assert!(w.record(5_000, "r").is_none());
        assert!(w.record(4_000, "r").is_none());
        assert!(w.record(5_500, "r").is_some(), "TC3");
    }

    #[test]
    fn only_refusals_the_guest_handled_are_counted() {
        // Events: trade, refusal, trade, refusal, refusal (indices 0..5).
        let mut b = BatchBuilder::default();
        b.trade(0, 1.0, 1.0, 10);
        b.event(refusal(10));
        b.trade(0, 1.0, 1.0, 11);
        b.event(refusal(11));
        b.event(refusal(11));
        let batch = b.finish();
        // TC0: the guest returned after event 2 (3 consumed): one refusal seen.
        let mut w = RefusalWatch::new(1);
        assert!(w.handled(&batch, 3).is_none(), "TC0");
        // TC1: the rest, sent again after the early return, brings it over.
        let rest = crate::plugins::event_index::rest(&batch, 3);
        let over = w.handled(&rest, 2).expect("TC1");
        assert_eq!(
            over.refusals, 2,
            "TC1: counted once, stopped at the first over"
        );
        // TC2: the whole batch at once gives the same verdict.
        let mut w = RefusalWatch::new(1);
        assert_eq!(w.handled(&batch, 5).map(|o| o.refusals), Some(2), "TC2");
        // TC3: nothing handled, nothing counted.
        let mut w = RefusalWatch::new(0);
        assert!(w.handled(&batch, 1).is_none(), "TC3");
        assert!(w.handled(&batch, 2).is_some(), "TC3");
    }

    #[test]
    fn the_reason_says_how_many_over_what_time_and_what_to_do() {
        let mut w = RefusalWatch::new(1);
        w.record(0, "r");
        let text = w.record(2_500, "kill switch is on").unwrap().reason("spam");
        for part in [
            "2 orders refused within 2.5 s of market time",
            "limit of 1 per minute (PLUGIN_MAX_REFUSALS_PER_MIN)",
            "kill switch is on",
            "replace its file",
            "POST /api/plugins/spam/reload",
        ] {
            assert!(text.contains(part), "{part:?} missing from: {text}");
        }
    }
}
