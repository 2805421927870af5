//! A fixed-length ring of the last N values with their running sum and sum of squares.
//!
//! The running sums are recomputed from the ring each time it wraps, so rounding errors do not
//! accumulate over millions of updates while an update stays O(1) amortised.

use serde::{Deserialize, Serialize};

/// The last `capacity` values, oldest overwritten first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Window {
    values: Vec<f64>,
    capacity: usize,
    next: usize,
    sum: f64,
    sum_sq: f64,
}

impl Window {
    /// An empty window of `capacity` values (at least 1).
    pub(crate) fn new(capacity: usize) -> Window {
        let capacity = capacity.max(1);
        Window {
            values: Vec::with_capacity(capacity),
            capacity,
            next: 0,
            sum: 0.0,
            sum_sq: 0.0,
        }
    }

    /// Adds `x`, dropping the oldest value when full.
    pub(crate) fn push(&mut self, x: f64) {
        if self.values.len() < self.capacity {
            self.values.push(x);
        } else {
            let old = std::mem::replace(&mut self.values[self.next], x);
            self.sum -= old;
            self.sum_sq -= old * old;
        }
        self.sum += x;
        self.sum_sq += x * x;
        self.next = (self.next + 1) % self.capacity;
        if self.next == 0 {
            self.sum = self.values.iter().sum();
            self.sum_sq = self.values.iter().map(|v| v * v).sum();
        }
    }

    /// True once `capacity` values have been pushed.
    pub(crate) fn is_full(&self) -> bool {
        self.values.len() == self.capacity
    }

    /// The number of values held.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// The mean of the values held (NaN when empty).
    pub(crate) fn mean(&self) -> f64 {
        self.sum / self.values.len() as f64
    }

    /// The population variance of the values held (never negative).
    pub(crate) fn variance(&self) -> f64 {
        let n = self.values.len() as f64;
        let mean = self.sum / n;
        (self.sum_sq / n - mean * mean).max(0.0)
    }

    /// The window's length.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Empties the window.
    pub(crate) fn clear(&mut self) {
        *self = Window::new(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_stay_exact_over_many_wraps() {
        let mut w = Window::new(3);
        for i in 0..1_000_000u32 {
            w.push(1e6 + f64::from(i % 7) * 0.1);
        }
        // Last three values: i = 999_997, 999_998, 999_999 → i % 7 = 5, 6, 0.
        let expected = 1e6 + (0.5 + 0.6 + 0.0) / 3.0;
        assert!((w.mean() - expected).abs() < 1e-9, "{}", w.mean());
        assert!(w.variance() >= 0.0);
    }
}
