//! Exponential moving average, seeded with the simple average of its first N values.

use serde::{Deserialize, Serialize};

/// Exponential moving average with smoothing 2 / (period + 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ema {
    period: usize,
    alpha: f64,
    seen: usize,
    seed_sum: f64,
    value: Option<f64>,
}

impl Default for Ema {
    /// A 20-value average.
    fn default() -> Self {
        Ema::new(20)
    }
}

impl Ema {
    /// An average whose smoothing matches a `period`-value SMA (at least 1).
    pub fn new(period: usize) -> Ema {
        let period = period.max(1);
        Ema {
            period,
            alpha: 2.0 / (period as f64 + 1.0),
            seen: 0,
            seed_sum: 0.0,
            value: None,
        }
    }

    /// Adds a value; returns the average from the `period`-th value on.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        match self.value {
            Some(prev) => self.value = Some(prev + self.alpha * (x - prev)),
            None => {
                self.seen += 1;
                self.seed_sum += x;
                if self.seen == self.period {
                    self.value = Some(self.seed_sum / self.period as f64);
                }
            }
        }
        self.value
    }

    /// The current average, once warmed up.
    pub fn value(&self) -> Option<f64> {
        self.value
    }

    /// The period the smoothing corresponds to.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Forgets every value seen.
    pub fn reset(&mut self) {
        *self = Ema::new(self.period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::assert_close;

    #[test]
    fn seeds_with_the_sma_then_smooths() {
        // Period 3: alpha = 0.5; seed = (10 + 11 + 9) / 3 = 10; then 0.5*12 + 0.5*10 = 11;
        // then 0.5*8 + 0.5*11 = 9.5.
        let mut ema = Ema::new(3);
        assert_eq!(ema.update(10.0), None);
        assert_eq!(ema.update(11.0), None);
        assert_close(ema.update(9.0), 10.0);
        assert_close(ema.update(12.0), 11.0);
        assert_close(ema.update(8.0), 9.5);
    }

    #[test]
    fn period_one_follows_the_input() {
        let mut ema = Ema::new(1);
        assert_close(ema.update(4.0), 4.0);
        assert_close(ema.update(7.0), 7.0);
    }
}
