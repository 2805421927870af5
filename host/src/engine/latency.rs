//! Tick-to-order latency: from the moment a feed frame was read off the socket to the moment
//! an order it caused reaches the broker, recorded in an HDR histogram.
//!
//! The pipeline notes when each dispatched batch's frame was read, keyed by the batch's
//! sequence number; a plugin's answer carries that number back, and answers with actions
//! are timed against it. Only the newest batches are remembered (a plugin answering later
//! than that is too slow to be a latency sample worth keeping, and memory stays bounded).

use crate::status::report::LatencyReport;
use std::collections::VecDeque;
use std::time::Instant;

/// Batches remembered for matching answers.
const REMEMBERED: usize = 8192;
pub use crate::latency_histogram::LatencyHistogram;

impl LatencyHistogram {
    /// The percentiles so far, in microseconds, for the status API.
    pub fn report(&self) -> LatencyReport {
        let q = self.quantiles();
        let us = |ns: u64| ns as f64 / 1000.0;
        LatencyReport {
            samples: q.samples,
            p50_us: us(q.p50_ns),
            p99_us: us(q.p99_ns),
            p999_us: us(q.p999_ns),
            max_us: us(q.max_ns),
        }
    }
}

/// When the frames of recently dispatched batches were read, by batch sequence number.
#[derive(Debug, Default)]
pub struct FrameTimes {
    /// (batch seq, frame read), seqs increasing.
    recent: VecDeque<(u64, Instant)>,
}

impl FrameTimes {
    /// Batch `seq` carried trades whose frame was read at `received`.
    pub fn dispatched(&mut self, seq: u64, received: Instant) {
        if self.recent.len() == REMEMBERED {
            self.recent.pop_front();
        }
        self.recent.push_back((seq, received));
    }

    /// When the frame behind batch `seq` was read, if it is remembered.
    pub fn received(&self, seq: u64) -> Option<Instant> {
        let at = self.recent.binary_search_by_key(&seq, |e| e.0).ok()?;
        Some(self.recent[at].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn answers_are_matched_to_their_frame_and_old_ones_forgotten() {
        let t0 = Instant::now();
        let mut times = FrameTimes::default();
        let last = 2 * REMEMBERED as u64 + 1; // 3k + 2: from a frame; last - 1 is not
        for seq in 0..=last {
            // Every third batch held no trades from a frame (fills, predictions...).
            if seq % 3 != 1 {
                times.dispatched(seq, t0 + Duration::from_micros(seq));
            }
        }
        assert_eq!(times.received(last), Some(t0 + Duration::from_micros(last)));
        assert_eq!(times.received(last - 1), None, "not from a frame");
        assert_eq!(times.received(0), None, "forgotten");
        assert_eq!(times.recent.len(), REMEMBERED);
    }

    #[test]
    fn percentiles_come_from_the_samples() {
        let h = LatencyHistogram::default();
        assert_eq!(h.report(), LatencyReport::default());
        for us in 1..=1000u64 {
            h.record(us * 1000);
        }
        let r = h.report();
        assert_eq!(r.samples, 1000);
        assert!((r.p50_us - 500.0).abs() < 1.0, "{r:?}");
        assert!((r.p99_us - 990.0).abs() < 1.0, "{r:?}");
        assert!((r.max_us - 1000.0).abs() < 1.0, "{r:?}");
        h.reset();
        assert_eq!(h.report().samples, 0);
    }
}
