//! A stored model ready to serve: its metadata (features, normalisation, scores) and weights
//! of either kind (MLP or ridge), applied the same way: standardise, forward, unscale.

use super::features::{FEATURE_COUNT, FEATURE_NAMES, features_at};
use super::store::ModelMetadata;
use super::weights::ModelWeights;
use crate::market::{CleaningConfig, clean_bars};
use crate::types::{Bar, Prediction, Symbol};

/// A model that can forecast: metadata plus plain-Rust weights.
#[derive(Debug, Clone)]
pub struct DeployedModel {
    /// What it is and how it was trained.
    pub meta: ModelMetadata,
    /// The MLP or ridge weights.
    pub weights: ModelWeights,
}

/// What a model must match to be used with the current settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Compatibility {
    /// `FEATURE_WINDOW`.
    pub feature_window: usize,
    /// `PREDICTION_HORIZON`.
    pub horizon: usize,
    /// Bar length the model will see, when known (live daemon: `UPDATE_INTERVAL`).
    pub bar_secs: Option<u32>,
}

impl Compatibility {
    /// Why `meta` cannot be used under these settings, or `None` when it can.
    pub fn mismatch(&self, meta: &ModelMetadata) -> Option<String> {
        if meta.features != FEATURE_NAMES {
            return Some(format!(
                "it uses features {:?}, this build computes {:?}",
                meta.features, FEATURE_NAMES
            ));
        }
        if meta.feature_window != self.feature_window {
            return Some(format!(
                "FEATURE_WINDOW was {}, is now {}",
                meta.feature_window, self.feature_window
            ));
        }
        if meta.horizon != self.horizon {
            return Some(format!(
                "PREDICTION_HORIZON was {}, is now {}",
                meta.horizon, self.horizon
            ));
        }
        match self.bar_secs {
            Some(secs) if secs != meta.bar_secs => Some(format!(
                "it was trained on {} s bars, the bars are {secs} s",
                meta.bar_secs
            )),
            _ => None,
        }
    }
}

impl DeployedModel {
    /// Version number of the model.
    pub fn version(&self) -> u32 {
        self.meta.version
    }

    /// Expected log return over the horizon for one row of raw (unscaled) features.
    pub fn predict_row(&self, raw: &[f32]) -> f64 {
        let norm = &self.meta.normaliser;
        let mut row = [0f32; FEATURE_COUNT];
        for (j, x) in raw.iter().take(FEATURE_COUNT).enumerate() {
            row[j] = x.to_owned();
        }
        norm.apply(&mut row);
        f64::from(self.weights.forward(&row)) * f64::from(norm.target_scale)
    }

    /// The forecast made at the last of `bars` (cleaned, oldest first), if the window is full.
    pub fn predict_latest(&self, bars: &[Bar]) -> Option<f64> {
        let t = bars.len().checked_sub(1)?;
        let row = features_at(bars, t, self.meta.feature_window)?;
        Some(self.predict_row(&row))
    }

    /// Raw bars a forecast needs: the feature window plus the cleaning's look-back.
    pub fn bars_needed(&self, cleaning: &CleaningConfig) -> usize {
        self.meta.feature_window + cleaning.outlier_window + 2 * cleaning.interpolate_max_bars + 8
    }

    /// The forecast for `symbol` made when the newest of `recent` (raw bars, oldest first,
    /// [`bars_needed`](Self::bars_needed) of them) closed, cleaned the way training cleans.
    pub fn forecast(
        &self,
        symbol: &Symbol,
        recent: &[Bar],
        cleaning: &CleaningConfig,
    ) -> Option<Prediction> {
        let (clean, _) = clean_bars(recent, cleaning);
        let expected_return = self.predict_latest(&clean)?;
        let last = clean.last()?;
        Some(Prediction {
            symbol: symbol.clone(),
            expected_return,
            horizon_bars: self.meta.horizon as u32,
            model_version: self.version(),
            time_ms: last.start_ms + i64::from(last.period_secs) * 1000,
            bar_secs: last.period_secs,
        })
    }
}
