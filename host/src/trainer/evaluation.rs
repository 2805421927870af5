//! Scoring forecasts on the held-out window: MSE, MAE and directional accuracy of the model
//! beside the naive baselines (predict a zero return; predict the last `horizon`-bar return)
//! and the live model, all on the same rows.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Scores of one forecaster on one set of rows (log returns).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Rows scored.
    pub samples: usize,
    /// Mean squared error.
    pub mse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Share of rows with a non-zero outcome whose sign was forecast right; a zero forecast
    /// counts as half right (a coin flip), so "predict zero" scores 0.5.
    pub directional_accuracy: f64,
}

impl Metrics {
    /// Scores `predictions` against `targets` (same length).
    pub fn score(predictions: &[f64], targets: &[f64]) -> Metrics {
        let n = predictions.len().min(targets.len());
        let (mut se, mut ae, mut hits, mut moved) = (0.0, 0.0, 0.0, 0usize);
        for (p, t) in predictions.iter().zip(targets) {
            let e = p - t;
            se += e * e;
            ae += e.abs();
            if *t != 0.0 {
                moved += 1;
                hits += if *p == 0.0 {
                    0.5
                } else if p.signum() == t.signum() {
                    1.0
                } else {
                    0.0
                };
            }
        }
        let per = |x: f64, d: usize| if d == 0 { f64::NAN } else { x / d as f64 };
        Metrics {
            samples: n,
            mse: per(se, n),
            mae: per(ae, n),
            directional_accuracy: per(hits, moved),
        }
    }
}

/// Everything measured on one held-out window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Rows the model was fitted on.
    pub train_samples: usize,
    /// Rows used for early stopping.
    pub validation_samples: usize,
    /// The new model on the held-out rows.
    pub model: Metrics,
    /// Always predicting a zero return.
    pub zero: Metrics,
    /// Predicting the return of the last `horizon` bars.
    pub last_return: Metrics,
    /// The deployed model on the same rows, with its version, if there is one.
    pub live: Option<(u32, Metrics)>,
    /// Start of the first and last held-out rows' bars (ms).
    pub test_range_ms: (i64, i64),
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b) = self.test_range_ms;
        let date = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default()
        };
        writeln!(
            f,
            "rows: {} train, {} validation, {} held out ({} to {} UTC)",
            self.train_samples,
            self.validation_samples,
            self.model.samples,
            date(a),
            date(b)
        )?;
        writeln!(f, "| forecaster | MSE | MAE | directional accuracy |")?;
        writeln!(f, "| --- | ---: | ---: | ---: |")?;
        let mut row = |name: String, m: &Metrics| {
            writeln!(
                f,
                "| {name} | {:.4e} | {:.4e} | {:.2}% |",
                m.mse,
                m.mae,
                m.directional_accuracy * 100.0
            )
        };
        row("new model".into(), &self.model)?;
        if let Some((v, m)) = &self.live {
            row(format!("live model v{v}"), m)?;
        }
        row("predict zero".into(), &self.zero)?;
        row("predict last return".into(), &self.last_return)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_follow_their_definitions() {
        // TC0: perfect; TC1: zero forecasts; TC2: all signs wrong.
        let t = [0.01, -0.02, 0.0, 0.03];
        let cases: [(&[f64], f64, f64, f64); 3] = [
            (&[0.01, -0.02, 0.0, 0.03], 0.0, 0.0, 1.0),
            (&[0.0; 4], (1e-4 + 4e-4 + 9e-4) / 4.0, 0.06 / 4.0, 0.5),
            (
                &[-0.01, 0.02, 0.0, -0.03],
                (4e-4 + 16e-4 + 36e-4) / 4.0,
                0.12 / 4.0,
                0.0,
            ),
        ];
        for (p, mse, mae, da) in cases {
            let m = Metrics::score(p, &t);
            assert_eq!(m.samples, 4);
            assert!(
                (m.mse - mse).abs() < 1e-12 && (m.mae - mae).abs() < 1e-12,
                "{m:?}"
            );
            assert!((m.directional_accuracy - da).abs() < 1e-12, "{m:?}");
        }
        assert!(Metrics::score(&[], &[]).mse.is_nan());
    }
}
