//! Per-symbol market state: last trade, bars, bounded history, bar cleaning.
//!
//! # Layout
//! - [`aggregator`]: [`BarAggregator`] turns trades into bars of `UPDATE_INTERVAL` seconds.
//! - [`state`]: [`MarketState`] keeps the last trade and a bounded bar history per symbol.
//! - [`cleaning`]: gaps (interpolation, imputation) and outliers (rolling median/MAD), shared by
//!   the live path and the trainer.
//! - [`snippet`]: cutting a time window of trade files, and writing the bars the aggregator
//!   builds from them (how the bundled demo data is made). Files are read by [`crate::data`].
//!
//! The engine owns one [`MarketState`]: it calls [`MarketState::apply_trade`] for every trade
//! and [`MarketState::flush_until`] from a timer; both return the bars that just closed, which
//! the engine forwards to the trainer and the plugins.

pub mod aggregator;
pub mod cleaning;
pub mod error;
pub mod snippet;
pub mod state;

pub use aggregator::BarAggregator;
pub use cleaning::{CleaningConfig, CleaningReport, clean_bars};
pub use error::MarketError;
pub use state::MarketState;

use crate::settings::{SettingError, Settings};

/// Settings of the market state.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketConfig {
    /// Length of a bar in seconds (`UPDATE_INTERVAL`, default 60).
    pub update_interval_secs: u32,
    /// Bars kept per symbol (`MARKET_HISTORY_BARS`, default 2000).
    pub history_bars: usize,
}

impl Default for MarketConfig {
    fn default() -> Self {
        MarketConfig {
            update_interval_secs: 60,
            history_bars: 2000,
        }
    }
}

impl MarketConfig {
    /// Reads `UPDATE_INTERVAL` and `MARKET_HISTORY_BARS`.
    pub fn from_settings(s: &Settings) -> Result<Self, SettingError> {
        let d = MarketConfig::default();
        Ok(MarketConfig {
            update_interval_secs: s.int_in("UPDATE_INTERVAL", d.update_interval_secs, 1, 86_400)?,
            history_bars: s.int_in("MARKET_HISTORY_BARS", d.history_bars, 10, 1_000_000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_update_interval_and_rejects_zero() {
        let c = MarketConfig::from_settings(&Settings::from_pairs([("UPDATE_INTERVAL", "300")]));
        assert_eq!(c.unwrap().update_interval_secs, 300);
        let e = MarketConfig::from_settings(&Settings::from_pairs([("UPDATE_INTERVAL", "0")]));
        assert_eq!(e.unwrap_err().name, "UPDATE_INTERVAL");
        assert_eq!(
            MarketConfig::from_settings(&Settings::default()).unwrap(),
            MarketConfig::default()
        );
    }
}
