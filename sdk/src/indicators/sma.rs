//! Simple moving average over the last N values.

use super::window::Window;
use serde::{Deserialize, Serialize};

/// Simple moving average of the last `period` values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sma {
    window: Window,
}

impl Default for Sma {
    /// A 20-value average.
    fn default() -> Self {
        Sma::new(20)
    }
}

impl Sma {
    /// An average over `period` values (at least 1).
    pub fn new(period: usize) -> Sma {
        Sma {
            window: Window::new(period),
        }
    }

    /// Adds a value; returns the average once `period` values have been seen.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.window.push(x);
        self.value()
    }

    /// The current average, once warmed up.
    pub fn value(&self) -> Option<f64> {
        self.window.is_full().then(|| self.window.mean())
    }

    /// The number of values averaged.
    pub fn period(&self) -> usize {
        self.window.capacity()
    }

    /// Forgets every value seen.
    pub fn reset(&mut self) {
        self.window.clear()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::assert_close;

    #[test]
    fn averages_the_last_period_values() {
        let mut sma = Sma::new(3);
        assert_eq!(sma.update(1.0), None);
        assert_eq!(sma.update(2.0), None);
        assert_close(sma.update(6.0), 3.0);
        assert_close(sma.update(4.0), 4.0);
        assert_close(sma.update(11.0), 7.0);
        sma.reset();
        assert_eq!(sma.update(5.0), None);
    }

    #[test]
    fn survives_a_serde_round_trip_mid_stream() {
        let mut sma = Sma::new(2);
        sma.update(1.0);
        let bytes = rmp_serde::to_vec(&sma).unwrap();
        let mut back: Sma = rmp_serde::from_slice(&bytes).unwrap();
        assert_close(back.update(3.0), 2.0);
    }
}
