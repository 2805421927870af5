//! Training rows from cleaned bars, and their time-ordered split.
//!
//! Rows are kept in time order. The most recent `holdout_fraction` is the held-out window on
//! which models and baselines are compared; the most recent `validation_fraction` of the rest
//! drives early stopping; the oldest rows train. Between two parts, `horizon` rows are left
//! out, because a training row's target spans the next `horizon` bars and would otherwise
//! overlap the rows it is evaluated on.

use super::features::{FEATURE_COUNT, features_at, target_at};
use crate::types::{Bar, TimestampMs};
use std::ops::Range;

/// Feature rows, targets and the baselines' inputs of one symbol.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Row-major features, `FEATURE_COUNT` per row.
    pub x: Vec<f32>,
    /// Forward log return over the horizon.
    pub y: Vec<f32>,
    /// The return over the `horizon` bars up to the row (the "predict last return" baseline).
    pub last_return: Vec<f32>,
    /// Start time of each row's bar.
    pub times: Vec<TimestampMs>,
}

impl Dataset {
    /// Rows of every real bar with a full window and a real target end.
    pub fn build(bars: &[Bar], window: usize, horizon: usize) -> Dataset {
        let mut d = Dataset::default();
        for t in window.max(horizon)..bars.len() {
            if bars[t].imputed {
                continue;
            }
            let (Some(f), Some(y)) = (features_at(bars, t, window), target_at(bars, t, horizon))
            else {
                continue;
            };
            d.x.extend_from_slice(&f);
            d.y.push(y as f32);
            d.last_return
                .push((bars[t].close / bars[t - horizon].close).ln() as f32);
            d.times.push(bars[t].start_ms);
        }
        d
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Features of the rows in `range`.
    pub fn rows(&self, range: &Range<usize>) -> &[f32] {
        &self.x[range.start * FEATURE_COUNT..range.end * FEATURE_COUNT]
    }
}

/// Row ranges of the three parts, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Rows the model is fitted on (and the normaliser).
    pub train: Range<usize>,
    /// Rows for early stopping.
    pub validation: Range<usize>,
    /// The held-out most recent rows.
    pub test: Range<usize>,
}

impl Split {
    /// Splits `n` rows; `None` when a part would be empty.
    pub fn new(
        n: usize,
        holdout_fraction: f64,
        validation_fraction: f64,
        horizon: usize,
    ) -> Option<Split> {
        let test_len = ((n as f64) * holdout_fraction).round() as usize;
        let test_start = n.checked_sub(test_len)?;
        let rest = test_start.checked_sub(horizon)?;
        let val_len = ((rest as f64) * validation_fraction).round() as usize;
        let val_start = rest.checked_sub(val_len)?;
        let train_end = val_start.checked_sub(horizon)?;
        let split = Split {
            train: 0..train_end,
            validation: val_start..rest,
            test: test_start..n,
        };
        (!split.train.is_empty() && !split.validation.is_empty() && !split.test.is_empty())
            .then_some(split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::read_bars_csv;
    use crate::market::{CleaningConfig, clean_bars};
    use std::path::Path;

    #[test]
    fn splits_are_ordered_purged_and_cover_the_fractions() {
        // TC0: the default fractions; TC1: tiny data refuses to split.
        let s = Split::new(1000, 0.2, 0.15, 5).unwrap();
        assert_eq!(s.test, 800..1000);
        assert_eq!(s.validation.end + 5, s.test.start);
        assert_eq!(s.train.end + 5, s.validation.start);
        assert_eq!(s.validation.len(), (795.0f64 * 0.15).round() as usize);
        assert!(Split::new(8, 0.2, 0.15, 5).is_none());
    }

    #[test]
    fn rows_skip_imputed_bars_and_keep_time_order() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/SPY_1m_2013-10-04_2013-10-11.csv");
        let (bars, report) = clean_bars(
            &read_bars_csv(&path, "SPY", None).unwrap(),
            &CleaningConfig::default(),
        );
        let d = Dataset::build(&bars, 20, 5);
        assert!(d.len() > 3000 && d.len() < bars.len() - report.interpolated - report.imputed);
        assert!(d.times.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(d.x.len(), d.len() * FEATURE_COUNT);
        let imputed_starts: std::collections::HashSet<_> = bars
            .iter()
            .filter(|b| b.imputed)
            .map(|b| b.start_ms)
            .collect();
        assert!(d.times.iter().all(|t| !imputed_starts.contains(t)));
    }
}
