//! The one latency histogram: HDR from 1 ns to 60 s, allocated once, shared between the
//! thread that records and the status readers. The engine times tick to order with three
//! significant digits (about 100 KB); the plugin host times each plugin's calls with two
//! ([`LatencyHistogram::coarse`], about 10 KB: a sweep has a hundred plugins, and their
//! histograms then stay in the CPU's caches).

use hdrhistogram::Histogram;
use std::sync::Mutex;

/// Slowest latency the histogram holds (60 s, in nanoseconds); slower samples are clamped.
pub const MAX_NS: u64 = 60_000_000_000;

/// Percentiles of the samples so far, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quantiles {
    /// Samples recorded.
    pub samples: u64,
    /// Median.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Largest.
    pub max_ns: u64,
}

/// A latency histogram behind a lock.
#[derive(Debug)]
pub struct LatencyHistogram(Mutex<Option<Histogram<u64>>>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram(Mutex::new(Histogram::new_with_bounds(1, MAX_NS, 3).ok()))
    }
}

impl LatencyHistogram {
    /// Two significant digits (1 % resolution): for the many per-plugin histograms.
    pub fn coarse() -> Self {
        LatencyHistogram(Mutex::new(Histogram::new_with_bounds(1, MAX_NS, 2).ok()))
    }

    /// Record one sample.
    pub fn record(&self, ns: u64) {
        if let Ok(mut guard) = self.0.lock()
            && let Some(h) = guard.as_mut()
        {
            let _ = h.record(ns.clamp(1, MAX_NS));
        }
    }

    /// The percentiles so far (all zero before the first sample).
    pub fn quantiles(&self) -> Quantiles {
        let Ok(guard) = self.0.lock() else {
            return Quantiles::default();
        };
        match guard.as_ref().filter(|h| !h.is_empty()) {
            Some(h) => Quantiles {
                samples: h.len(),
                p50_ns: h.value_at_quantile(0.5),
                p99_ns: h.value_at_quantile(0.99),
                p999_ns: h.value_at_quantile(0.999),
                max_ns: h.max(),
            },
            None => Quantiles::default(),
        }
    }

    /// Forget every sample (a benchmark's warm-up).
    pub fn reset(&self) {
        if let Ok(mut guard) = self.0.lock()
            && let Some(h) = guard.as_mut()
        {
            h.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_within_three_digits_and_clamped() {
        let h = LatencyHistogram::default();
        assert_eq!(h.quantiles(), Quantiles::default());
        for ns in 1..=1000u64 {
            h.record(ns * 1000);
        }
        h.record(u64::MAX);
        let q = h.quantiles();
        assert_eq!(q.samples, 1001);
        // The median of 1..=1000 µs and one clamped outlier is the 501st sample: 501 µs.
        assert!(
            (q.p50_ns as f64 - 501_000.0).abs() / 501_000.0 < 1e-3,
            "{q:?}"
        );
        assert!(
            q.max_ns >= MAX_NS && (q.max_ns as f64) < MAX_NS as f64 * 1.001,
            "{q:?}"
        );
        h.reset();
        assert_eq!(h.quantiles().samples, 0);
    }
}
