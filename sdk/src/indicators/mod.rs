//! Incremental indicators: each update costs O(1) time and the state is a fixed-size value.
//!
//! Every indicator is `Serialize + Deserialize`, so a strategy that keeps them in its state
//! carries them across hot reloads. `update` returns `None` until the indicator has seen enough
//! values (its warm-up), then the current value.

mod atr;
mod bollinger;
mod ema;
mod macd;
mod rsi;
mod sma;
mod window;

pub use atr::Atr;
pub use bollinger::{Bollinger, BollingerBands};
pub use ema::Ema;
pub use macd::{Macd, MacdValue};
pub use rsi::Rsi;
pub use sma::Sma;

#[cfg(test)]
pub(crate) fn assert_close(actual: Option<f64>, expected: f64) {
    let a = actual.unwrap_or_else(|| panic!("expected {expected}, got None"));
    assert!((a - expected).abs() < 1e-9, "expected {expected}, got {a}");
}
