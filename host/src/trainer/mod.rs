//! The model trainer: per symbol a candle MLP and a ridge regression compete, the better on
//! validation faces the deploy gate, and the deployed model publishes predictions.
//!
//! # Layout
//! - [`features`]: features over `FEATURE_WINDOW` bars, the forward-return target and the
//!   normalisation fitted on training rows; [`dataset`]: rows and time-ordered splits.
//! - [`model`]: the candle MLP and its plain-Rust twin used for serving; [`training`]: AdamW,
//!   mini-batches, early stopping, fixed seed.
//! - [`ridge`]: closed-form ridge regression, its penalty chosen on the validation rows;
//!   [`candidates`]: both fitted on the same rows, chosen on validation loss only;
//!   [`weights`]: either kind's weights, as served and stored.
//! - [`evaluation`]: MSE, MAE, directional accuracy beside the naive baselines;
//!   [`gate`]: deploy only a model that beats the live one and the baselines, and is
//!   significantly better (one-sided Diebold–Mariano, `TRAINER_GATE_SIGNIFICANCE`) than the
//!   live one or, without one, predict-zero.
//! - [`store`]: `models/<symbol>/<version>/` (safetensors + JSON metadata, atomic);
//!   [`predictor`]: a loaded model serving forecasts.
//! - [`cycle`]: one cycle for one symbol; [`service`]: the trainer threads, the
//!   [`TrainerHandle`] the engine talks to; [`board`]: the [`PredictionBoard`];
//!   [`status`]: the [`TrainerStatus`] snapshot;
//!   [`offline`]: `tradehost train --data FILE`; [`replay`]: the same cycle and forecasts
//!   run synchronously for backtests (models from a folder, or walk-forward retraining).
//!
//! All logs use targets under `tradehost::trainer` (the daemon routes them to
//! `logs/model_trainer.log`).

pub mod board;
pub mod candidates;
pub mod cycle;
pub mod dataset;
pub mod error;
pub mod evaluation;
pub mod features;
pub mod gate;
pub mod held_out;
pub mod model;
pub mod offline;
pub mod predictor;
pub mod replay;
pub mod ridge;
pub mod service;
pub mod status;
pub mod store;
pub mod training;
pub mod weights;

pub use board::PredictionBoard;
pub use cycle::CycleReport;
pub use error::TrainerError;
pub use offline::train_offline;
pub use predictor::DeployedModel;
pub use replay::{ReplayModels, ReplayTrainer, ReplayTrainingSummary};
pub use service::{CycleResults, Trainer, TrainerHandle};
pub use status::{CycleOutcome, SymbolStatus, TrainerStatus};
pub use weights::ModelKind;

use crate::market::CleaningConfig;
use crate::settings::{SettingError, Settings};
use std::time::Duration;

/// Tracing target of every trainer log line.
pub const LOG_TARGET: &str = "tradehost::trainer";

/// Settings of the trainer; the reference's names and defaults plus the model's.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainerConfig {
    /// Time between training cycles (`MODEL_TRAINING_INTERVAL`, default 3600 s).
    pub training_interval: Duration,
    /// Bars of history each feature row looks at (`FEATURE_WINDOW`, default 20).
    pub feature_window: usize,
    /// Bars ahead the target return spans (`PREDICTION_HORIZON`, default 5; 1 in demo mode).
    pub prediction_horizon: usize,
    /// Fewest usable rows to train at all (`MIN_TRAINING_SAMPLES`, default 100).
    pub min_training_samples: usize,
    /// Length of a bar in seconds when trades are aggregated (`UPDATE_INTERVAL`, default 60).
    pub update_interval_secs: u32,
    /// Kinds of model fitted each cycle, the lower validation loss chosen
    /// (`MODEL_CANDIDATES`, default `mlp,ridge`).
    pub candidates: Vec<ModelKind>,
    /// Hidden layer widths (`MODEL_HIDDEN_LAYERS`, default `64,32`).
    pub hidden_layers: Vec<usize>,
    /// AdamW learning rate (`MODEL_LEARNING_RATE`, default 0.001).
    pub learning_rate: f64,
    /// AdamW decoupled weight decay (`MODEL_WEIGHT_DECAY`, default 0.0001).
    pub weight_decay: f64,
    /// Most epochs per training run (`MODEL_EPOCHS`, default 50).
    pub epochs: usize,
    /// Rows per mini-batch (`MODEL_BATCH_SIZE`, default 256).
    pub batch_size: usize,
    /// Most recent fraction of rows held out for evaluation and the deploy gate
    /// (`MODEL_HOLDOUT_FRACTION`, default 0.2).
    pub holdout_fraction: f64,
    /// Significance of the deploy gate's one-sided Diebold–Mariano test: a new model goes
    /// live only if its p-value is below it (`TRAINER_GATE_SIGNIFICANCE`, default 0.05).
    pub gate_significance: f64,
    /// Most recent fraction of the remaining rows used for early stopping
    /// (`MODEL_VALIDATION_FRACTION`, default 0.15).
    pub validation_fraction: f64,
    /// Epochs without validation improvement before stopping (`MODEL_PATIENCE`, default 5).
    pub patience: usize,
    /// Seed of initialisation and shuffling (`MODEL_SEED`, default 42).
    pub seed: u64,
    /// Size of the trainer's own rayon pool (`MODEL_TRAINING_THREADS`, default 1). candle's
    /// matrix products also read the process-wide `RAYON_NUM_THREADS`; set it to 1 at start-up
    /// for small models (twice the training speed on 2 cores, see docs/performance.md).
    pub training_threads: usize,
    /// Bars kept per symbol for training (`MODEL_HISTORY_BARS`, default 50000).
    pub history_bars: usize,
    /// Gap and outlier handling (`CLEAN_*`).
    pub cleaning: CleaningConfig,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        TrainerConfig {
            training_interval: Duration::from_secs(3600),
            feature_window: 20,
            prediction_horizon: 5,
            min_training_samples: 100,
            update_interval_secs: 60,
            candidates: ModelKind::ALL.to_vec(),
            hidden_layers: vec![64, 32],
            learning_rate: 1e-3,
            weight_decay: 1e-4,
            epochs: 50,
            batch_size: 256,
            holdout_fraction: 0.2,
            gate_significance: 0.05,
            validation_fraction: 0.15,
            patience: 5,
            seed: 42,
            training_threads: 1,
            history_bars: 50_000,
            cleaning: CleaningConfig::default(),
        }
    }
}

impl TrainerConfig {
    /// Reads the trainer's variables; any invalid value is an error naming it.
    pub fn from_settings(s: &Settings) -> Result<Self, SettingError> {
        let d = TrainerConfig::default();
        let fraction = |name: &str, default: f64| {
            s.parse_with(
                name,
                default,
                "a fraction between 0.05 and 0.5, e.g. 0.2",
                |v| v.parse::<f64>().ok().filter(|f| (0.05..=0.5).contains(f)),
            )
        };
        let positive = |name: &str, default: f64, expected: &str| {
            s.parse_with(name, default, expected, |v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0 && *x < 1.0)
            })
        };
        Ok(TrainerConfig {
            training_interval: s.secs("MODEL_TRAINING_INTERVAL", d.training_interval)?,
            feature_window: s.int_in("FEATURE_WINDOW", d.feature_window, 5, 1000)?,
            prediction_horizon: s.int_in("PREDICTION_HORIZON", d.prediction_horizon, 1, 1000)?,
            min_training_samples: s.int_in(
                "MIN_TRAINING_SAMPLES",
                d.min_training_samples,
                10,
                100_000_000,
            )?,
            update_interval_secs: s.int_in("UPDATE_INTERVAL", d.update_interval_secs, 1, 86_400)?,
            candidates: s.parse_with(
                "MODEL_CANDIDATES",
                d.candidates.clone(),
                "a comma-separated list of mlp and ridge, e.g. mlp,ridge",
                parse_candidates,
            )?,
            hidden_layers: s.parse_with(
                "MODEL_HIDDEN_LAYERS",
                d.hidden_layers.clone(),
                "comma-separated layer widths from 1 to 4096, one to eight layers, e.g. 64,32",
                parse_layers,
            )?,
            learning_rate: positive(
                "MODEL_LEARNING_RATE",
                d.learning_rate,
                "a number between 0 and 1, e.g. 0.001",
            )?,
            weight_decay: s.parse_with(
                "MODEL_WEIGHT_DECAY",
                d.weight_decay,
                "a number from 0 to 1, e.g. 0.0001",
                |v| v.parse::<f64>().ok().filter(|x| (0.0..=1.0).contains(x)),
            )?,
            epochs: s.int_in("MODEL_EPOCHS", d.epochs, 1, 100_000)?,
            batch_size: s.int_in("MODEL_BATCH_SIZE", d.batch_size, 1, 1_000_000)?,
            holdout_fraction: fraction("MODEL_HOLDOUT_FRACTION", d.holdout_fraction)?,
            gate_significance: positive(
                "TRAINER_GATE_SIGNIFICANCE",
                d.gate_significance,
                "a significance level between 0 and 1 (exclusive), e.g. 0.05",
            )?,
            validation_fraction: fraction("MODEL_VALIDATION_FRACTION", d.validation_fraction)?,
            patience: s.int_in("MODEL_PATIENCE", d.patience, 1, 10_000)?,
            seed: s.get(
                "MODEL_SEED",
                d.seed,
                "a whole number from 0 to 18446744073709551615",
            )?,
            training_threads: s.int_in("MODEL_TRAINING_THREADS", d.training_threads, 1, 256)?,
            history_bars: s.int_in("MODEL_HISTORY_BARS", d.history_bars, 100, 100_000_000)?,
            cleaning: CleaningConfig::from_settings(s)?,
        })
    }
}

fn parse_candidates(v: &str) -> Option<Vec<ModelKind>> {
    let mut kinds = Vec::new();
    for name in v.split(',') {
        let kind = ModelKind::from_name(&name.trim().to_ascii_lowercase())?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    (!kinds.is_empty()).then_some(kinds)
}

fn parse_layers(v: &str) -> Option<Vec<usize>> {
    let layers: Option<Vec<usize>> = v
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<usize>()
                .ok()
                .filter(|w| (1..=4096).contains(w))
        })
        .collect();
    layers.filter(|l| (1..=8).contains(&l.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_reference_ones() {
        let c = TrainerConfig::from_settings(&Settings::default()).unwrap();
        assert_eq!(c, TrainerConfig::default());
        assert_eq!(
            (
                c.training_interval.as_secs(),
                c.feature_window,
                c.prediction_horizon,
                c.min_training_samples
            ),
            (3600, 20, 5, 100)
        );
    }

    #[test]
    fn invalid_values_name_the_variable() {
        // TC0..TC10: each bad value is refused with its own name.
        let cases = [
            ("MODEL_CANDIDATES", "mlp,forest"),
            ("FEATURE_WINDOW", "2"),
            ("PREDICTION_HORIZON", "zero"),
            ("MODEL_HIDDEN_LAYERS", "64,,32"),
            ("MODEL_LEARNING_RATE", "-1"),
            ("MODEL_HOLDOUT_FRACTION", "0.9"),
            ("MODEL_TRAINING_INTERVAL", "0"),
            ("TRAINER_GATE_SIGNIFICANCE", "0"),
            ("TRAINER_GATE_SIGNIFICANCE", "1"),
            ("TRAINER_GATE_SIGNIFICANCE", "5%"),
            ("TRAINER_GATE_SIGNIFICANCE", "NaN"),
        ];
        for (name, value) in cases {
            let err =
                TrainerConfig::from_settings(&Settings::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(err.name, name, "{err}");
        }
        let ok = TrainerConfig::from_settings(&Settings::from_pairs([(
            "MODEL_HIDDEN_LAYERS",
            "16, 8, 4",
        )]))
        .unwrap();
        assert_eq!(ok.hidden_layers, [16, 8, 4]);
        let ridge = TrainerConfig::from_settings(&Settings::from_pairs([(
            "MODEL_CANDIDATES",
            "Ridge, ridge",
        )]))
        .unwrap();
        assert_eq!(ridge.candidates, [ModelKind::Ridge]);
        let strict = TrainerConfig::from_settings(&Settings::from_pairs([(
            "TRAINER_GATE_SIGNIFICANCE",
            "0.01",
        )]))
        .unwrap();
        assert_eq!(strict.gate_significance, 0.01);
        let err = TrainerConfig::from_settings(&Settings::from_pairs([(
            "TRAINER_GATE_SIGNIFICANCE",
            "1.5",
        )]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid setting TRAINER_GATE_SIGNIFICANCE=\"1.5\": expected a significance level \
             between 0 and 1 (exclusive), e.g. 0.05"
        );
    }
}
