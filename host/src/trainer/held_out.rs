//! The held-out rows of a cycle: the candidate, the baselines (predict zero, predict the last
//! return) and the deployed model forecast them, and each is scored against what followed.
//! The errors, kept per row, are what the deploy gate's significance test compares.

use super::dataset::{Dataset, Split};
use super::evaluation::{Evaluation, Metrics};
use super::features::FEATURE_COUNT;
use super::gate::HeldOutErrors;
use super::predictor::DeployedModel;

/// The scores and the per-row errors of every forecaster on the held-out rows.
pub struct HeldOut {
    /// The scores, as stored with the model and printed.
    pub evaluation: Evaluation,
    model_errors: Vec<f64>,
    zero_errors: Vec<f64>,
    live_errors: Option<(u32, Vec<f64>)>,
}

impl HeldOut {
    /// Scores `model` (a forecast from one normalised row of `x_test`) and `live` on the
    /// test rows of `split`; `train_samples` and `validation_samples` come from the split.
    pub fn score(
        data: &Dataset,
        split: &Split,
        x_test: &[f32],
        model: impl Fn(&[f32]) -> f64,
        live: Option<&DeployedModel>,
    ) -> HeldOut {
        let targets: Vec<f64> = data.y[split.test.clone()]
            .iter()
            .map(|y| f64::from(*y))
            .collect();
        let model_pred: Vec<f64> = x_test.chunks_exact(FEATURE_COUNT).map(model).collect();
        let last: Vec<f64> = data.last_return[split.test.clone()]
            .iter()
            .map(|r| f64::from(*r))
            .collect();
        let live_pred: Option<(u32, Vec<f64>)> = live.map(|m| {
            let pred = data
                .rows(&split.test)
                .chunks_exact(FEATURE_COUNT)
                .map(|r| m.predict_row(r))
                .collect();
            (m.version(), pred)
        });
        let zero = vec![0.0; targets.len()];
        let evaluation = Evaluation {
            train_samples: split.train.len(),
            validation_samples: split.validation.len(),
            model: Metrics::score(&model_pred, &targets),
            zero: Metrics::score(&zero, &targets),
            last_return: Metrics::score(&last, &targets),
            live: live_pred
                .as_ref()
                .map(|(v, pred)| (*v, Metrics::score(pred, &targets))),
            test_range_ms: (data.times[split.test.start], data.times[split.test.end - 1]),
        };
        let errors =
            |pred: &[f64]| -> Vec<f64> { pred.iter().zip(&targets).map(|(p, t)| p - t).collect() };
        HeldOut {
            evaluation,
            model_errors: errors(&model_pred),
            zero_errors: errors(&zero),
            live_errors: live_pred.as_ref().map(|(v, pred)| (*v, errors(pred))),
        }
    }

    /// The errors as the gate takes them; forecasts span `horizon` bars.
    pub fn errors(&self, horizon: usize) -> HeldOutErrors<'_> {
        HeldOutErrors {
            model: &self.model_errors,
            zero: &self.zero_errors,
            live: self.live_errors.as_ref().map(|(v, e)| (*v, e.as_slice())),
            horizon,
        }
    }
}
