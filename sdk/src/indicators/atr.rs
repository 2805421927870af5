//! Average true range with Wilder's smoothing.

use crate::types::Bar;
use serde::{Deserialize, Serialize};

/// Wilder's ATR over `period` bars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Atr {
    period: usize,
    previous_close: Option<f64>,
    seen: usize,
    value: f64,
}

impl Default for Atr {
    /// The classic 14-bar ATR.
    fn default() -> Self {
        Atr::new(14)
    }
}

impl Atr {
    /// An ATR over `period` bars (at least 1).
    pub fn new(period: usize) -> Atr {
        Atr {
            period: period.max(1),
            previous_close: None,
            seen: 0,
            value: 0.0,
        }
    }

    /// Adds a bar's high, low and close; returns the ATR from the `period`-th bar on.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let range = high - low;
        let true_range = match self.previous_close.replace(close) {
            Some(pc) => range.max((high - pc).abs()).max((low - pc).abs()),
            None => range,
        };
        let n = self.period as f64;
        self.seen += 1;
        if self.seen <= self.period {
            self.value += true_range / n;
        } else {
            self.value = (self.value * (n - 1.0) + true_range) / n;
        }
        self.value()
    }

    /// Adds a bar.
    pub fn update_bar(&mut self, bar: &Bar) -> Option<f64> {
        self.update(bar.high, bar.low, bar.close)
    }

    /// The current ATR, once warmed up.
    pub fn value(&self) -> Option<f64> {
        (self.seen >= self.period).then_some(self.value)
    }

    /// Forgets every bar seen.
    pub fn reset(&mut self) {
        *self = Atr::new(self.period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::assert_close;

    #[test]
    fn matches_hand_computed_wilder_values() {
        // (h, l, c): true ranges 2, 2, 3, 4, 1 → ATR(3) 7/3, then (14/3 + 4)/3 = 26/9,
        // then (52/9 + 1)/3 = 61/27.
        let bars = [
            (10.0, 8.0, 9.0),
            (11.0, 9.0, 10.0),
            (12.0, 9.0, 11.0),
            (11.0, 7.0, 8.0),
            (9.0, 8.0, 8.5),
        ];
        let mut atr = Atr::new(3);
        let out: Vec<Option<f64>> = bars.iter().map(|&(h, l, c)| atr.update(h, l, c)).collect();
        assert_eq!(&out[..2], &[None, None]);
        assert_close(out[2], 7.0 / 3.0);
        assert_close(out[3], 26.0 / 9.0);
        assert_close(out[4], 61.0 / 27.0);
    }

    #[test]
    fn gaps_count_in_the_true_range() {
        let mut atr = Atr::new(1);
        atr.update(10.0, 9.0, 10.0);
        // Gap up: range 1 but 13 - 10 = 3 from the previous close.
        assert_close(atr.update(13.0, 12.0, 12.5), 3.0);
    }
}
