//! Bollinger bands: a moving average with bands K population standard deviations away.

use super::window::Window;
use serde::{Deserialize, Serialize};

/// One Bollinger reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BollingerBands {
    /// The simple moving average.
    pub middle: f64,
    /// Middle plus K standard deviations.
    pub upper: f64,
    /// Middle minus K standard deviations.
    pub lower: f64,
}

impl BollingerBands {
    /// Where `price` sits: 0 at the lower band, 1 at the upper (%b); 0.5 when the bands are flat.
    pub fn percent_b(&self, price: f64) -> f64 {
        let width = self.upper - self.lower;
        if width <= 0.0 {
            0.5
        } else {
            (price - self.lower) / width
        }
    }
}

/// Bollinger bands over `period` values, `k` standard deviations wide (classically 20, 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bollinger {
    window: Window,
    k: f64,
}

impl Default for Bollinger {
    /// Bollinger(20, 2).
    fn default() -> Self {
        Bollinger::new(20, 2.0)
    }
}

impl Bollinger {
    /// Bands over `period` values (at least 1), `k` deviations from the middle.
    pub fn new(period: usize, k: f64) -> Bollinger {
        Bollinger {
            window: Window::new(period),
            k,
        }
    }

    /// Adds a value; returns the bands once `period` values have been seen.
    pub fn update(&mut self, x: f64) -> Option<BollingerBands> {
        self.window.push(x);
        self.value()
    }

    /// The current bands, once warmed up.
    pub fn value(&self) -> Option<BollingerBands> {
        if !self.window.is_full() {
            return None;
        }
        let middle = self.window.mean();
        let spread = self.k * self.window.variance().sqrt();
        Some(BollingerBands {
            middle,
            upper: middle + spread,
            lower: middle - spread,
        })
    }

    /// Forgets every value seen.
    pub fn reset(&mut self) {
        self.window.clear()
    }

    /// Values seen so far, up to the period.
    pub fn len(&self) -> usize {
        self.window.len()
    }

    /// True before the first value.
    pub fn is_empty(&self) -> bool {
        self.window.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::assert_close;

    #[test]
    fn matches_hand_computed_bands() {
        // 2 4 6: mean 4, variance (4 + 0 + 4) / 3 = 8/3.
        // 4 6 9: mean 19/3, squares of deviations 49/9 + 1/9 + 64/9 = 114/9, variance 38/9.
        let mut b = Bollinger::new(3, 2.0);
        assert_eq!(b.update(2.0), None);
        assert_eq!(b.update(4.0), None);
        let v = b.update(6.0);
        assert_close(v.map(|v| v.middle), 4.0);
        assert_close(v.map(|v| v.upper), 4.0 + 2.0 * (8.0f64 / 3.0).sqrt());
        assert_close(v.map(|v| v.lower), 4.0 - 2.0 * (8.0f64 / 3.0).sqrt());
        let v = b.update(9.0);
        assert_close(v.map(|v| v.middle), 19.0 / 3.0);
        assert_close(v.map(|v| v.upper - v.middle), 2.0 * (38.0f64 / 9.0).sqrt());
        assert_close(v.map(|v| v.percent_b(v.upper)), 1.0);
    }
}
