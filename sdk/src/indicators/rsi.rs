//! Relative strength index with Wilder's smoothing.

use serde::{Deserialize, Serialize};

/// Wilder's RSI over `period` price changes, between 0 and 100.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rsi {
    period: usize,
    previous: Option<f64>,
    changes: usize,
    avg_gain: f64,
    avg_loss: f64,
}

impl Default for Rsi {
    /// The classic 14-period RSI.
    fn default() -> Self {
        Rsi::new(14)
    }
}

impl Rsi {
    /// An RSI over `period` changes (at least 1); needs `period + 1` prices to warm up.
    pub fn new(period: usize) -> Rsi {
        Rsi {
            period: period.max(1),
            previous: None,
            changes: 0,
            avg_gain: 0.0,
            avg_loss: 0.0,
        }
    }

    /// Adds a price; returns the RSI once `period` changes have been seen.
    pub fn update(&mut self, price: f64) -> Option<f64> {
        let previous = self.previous.replace(price)?;
        let change = price - previous;
        let (gain, loss) = (change.max(0.0), (-change).max(0.0));
        let n = self.period as f64;
        self.changes += 1;
        if self.changes <= self.period {
            // Warm-up: the first averages are plain means of the first `period` changes.
            self.avg_gain += gain / n;
            self.avg_loss += loss / n;
        } else {
            self.avg_gain = (self.avg_gain * (n - 1.0) + gain) / n;
            self.avg_loss = (self.avg_loss * (n - 1.0) + loss) / n;
        }
        self.value()
    }

    /// The current RSI, once warmed up (50 when prices did not move at all).
    pub fn value(&self) -> Option<f64> {
        if self.changes < self.period {
            return None;
        }
        Some(match (self.avg_gain, self.avg_loss) {
            (g, l) if g == 0.0 && l == 0.0 => 50.0,
            (_, 0.0) => 100.0,
            (g, l) => 100.0 - 100.0 / (1.0 + g / l),
        })
    }

    /// Forgets every price seen.
    pub fn reset(&mut self) {
        *self = Rsi::new(self.period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::assert_close;

    #[test]
    fn matches_hand_computed_wilder_values() {
        // Prices 44 45 43 46 47 45 → changes +1 -2 +3 +1 -2, period 3.
        // After +1 -2 +3: gain 4/3, loss 2/3, RS 2, RSI 66.67.
        // +1: gain (8/3+1)/3 = 11/9, loss (4/3)/3 = 4/9, RS 2.75, RSI 73.33.
        // -2: gain 22/27, loss (8/9+2)/3 = 26/27, RS 11/13, RSI 45.83.
        let mut rsi = Rsi::new(3);
        for p in [44.0, 45.0, 43.0] {
            assert_eq!(rsi.update(p), None);
        }
        assert_close(rsi.update(46.0), 100.0 - 100.0 / 3.0);
        assert_close(rsi.update(47.0), 100.0 - 100.0 / 3.75);
        assert_close(rsi.update(45.0), 100.0 - 100.0 / (1.0 + 11.0 / 13.0));
    }

    #[test]
    fn extremes() {
        let table = [
            (vec![1.0, 2.0, 3.0], 100.0),
            (vec![3.0, 2.0, 1.0], 0.0),
            (vec![2.0, 2.0, 2.0], 50.0),
        ];
        for (prices, expected) in table {
            let mut rsi = Rsi::new(2);
            let last = prices.iter().map(|&p| rsi.update(p)).last().flatten();
            assert_close(last, expected);
        }
    }
}
