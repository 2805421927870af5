//! Moving average convergence/divergence: fast EMA minus slow EMA, with its signal EMA.

use super::ema::Ema;
use serde::{Deserialize, Serialize};

/// One MACD reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MacdValue {
    /// Fast EMA minus slow EMA.
    pub macd: f64,
    /// EMA of the MACD line.
    pub signal: f64,
    /// MACD minus signal.
    pub histogram: f64,
}

/// MACD with configurable fast, slow and signal periods (classically 12, 26, 9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
    value: Option<MacdValue>,
}

impl Default for Macd {
    /// MACD(12, 26, 9).
    fn default() -> Self {
        Macd::new(12, 26, 9)
    }
}

impl Macd {
    /// A MACD from its three EMA periods.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Macd {
        Macd {
            fast: Ema::new(fast),
            slow: Ema::new(slow),
            signal: Ema::new(signal),
            value: None,
        }
    }

    /// Adds a price; returns a reading once the signal line has warmed up.
    pub fn update(&mut self, price: f64) -> Option<MacdValue> {
        let (fast, slow) = (self.fast.update(price), self.slow.update(price));
        let (Some(fast), Some(slow)) = (fast, slow) else {
            return None;
        };
        let macd = fast - slow;
        let signal = self.signal.update(macd)?;
        self.value = Some(MacdValue {
            macd,
            signal,
            histogram: macd - signal,
        });
        self.value
    }

    /// The latest reading, once warmed up.
    pub fn value(&self) -> Option<MacdValue> {
        self.value
    }

    /// Forgets every price seen.
    pub fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
        self.value = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::assert_close;

    #[test]
    fn matches_hand_computed_values() {
        // Fast EMA(2) (alpha 2/3), slow EMA(3) (alpha 1/2), signal EMA(2) over 10 12 11 13 15 14:
        //   fast: -, 11, 11, 37/3, 127/9, 379/27
        //   slow: -, -, 11, 12, 13.5, 13.75
        //   macd: -, -, 0, 1/3, 11/18, 379/27 - 13.75
        //   signal: seed (0 + 1/3)/2 = 1/6; then 2/3*11/18 + 1/3*1/6 = 25/54; ...
        let mut m = Macd::new(2, 3, 2);
        for p in [10.0, 12.0, 11.0] {
            assert_eq!(m.update(p), None);
        }
        let v = m.update(13.0);
        assert_close(v.map(|v| v.macd), 1.0 / 3.0);
        assert_close(v.map(|v| v.signal), 1.0 / 6.0);
        assert_close(v.map(|v| v.histogram), 1.0 / 6.0);
        assert_close(m.update(15.0).map(|v| v.signal), 25.0 / 54.0);
        let macd6 = 379.0 / 27.0 - 13.75;
        let v = m.update(14.0);
        assert_close(v.map(|v| v.macd), macd6);
        assert_close(v.map(|v| v.signal), 2.0 / 3.0 * macd6 + 25.0 / 54.0 / 3.0);
        assert_eq!(m.value(), v);
    }
}
