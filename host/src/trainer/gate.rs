//! The deploy gate. A new model goes live only when, on the same held-out rows,
//! - its MSE is below that of the live model (if any) and of both naive baselines (predict
//!   zero, predict the last return), and
//! - a one-sided Diebold–Mariano test ([`crate::diebold_mariano`], squared-error loss,
//!   Newey–West variance over `horizon − 1` lags) finds its losses lower than those of the
//!   live model, or of predict-zero when none is deployed, at `TRAINER_GATE_SIGNIFICANCE`
//!   (p-value below it), on at least [`MIN_TEST_ROWS`] rows.
//!
//! Otherwise it is kept as a candidate, and every condition it failed is returned with the
//! numbers. The test, with its statistic and p-value, is recorded with the decision either way.

use super::evaluation::Evaluation;
use crate::diebold_mariano::DieboldMariano;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Fewest held-out rows on which the gate trusts the test's normal approximation; with fewer
/// a model is kept as a candidate, whatever its p-value.
pub const MIN_TEST_ROWS: usize = 30;

/// The held-out forecast errors (forecast minus outcome) the gate tests, row for row.
#[derive(Debug, Clone, Copy)]
pub struct HeldOutErrors<'a> {
    /// The new model's.
    pub model: &'a [f64],
    /// Predict-zero's (minus the outcomes).
    pub zero: &'a [f64],
    /// The deployed model's, with its version, when one is deployed.
    pub live: Option<(u32, &'a [f64])>,
    /// Bars ahead the forecasts span: losses overlap over `horizon − 1` rows.
    pub horizon: usize,
}

/// The one-sided Diebold–Mariano test the gate ran, recorded with its decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateTest {
    /// The rival the new model had to beat: `live model vN`, or `predict zero`.
    pub against: String,
    /// Held-out rows compared.
    pub rows: usize,
    /// The statistic (negative: the new model's squared errors are smaller); `None` when the
    /// loss differences have no variance (for instance the same forecasts).
    pub dm_statistic: Option<f64>,
    /// One-sided p-value of "the new model is more accurate than the rival".
    pub p_value: Option<f64>,
    /// The level the p-value had to be below (`TRAINER_GATE_SIGNIFICANCE`).
    pub significance: f64,
}

impl GateTest {
    /// True when the test says the new model is better: enough rows and a p-value below the
    /// significance.
    pub fn passed(&self) -> bool {
        self.rows >= MIN_TEST_ROWS && self.p_value.is_some_and(|p| p < self.significance)
    }
}

impl fmt::Display for GateTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            against,
            rows,
            significance,
            ..
        } = self;
        match (self.dm_statistic, self.p_value) {
            (Some(dm), Some(p)) => {
                let side = if p < *significance { "<" } else { ">=" };
                write!(
                    f,
                    "Diebold-Mariano vs {against} on {rows} rows: DM {dm:.3}, one-sided p {p:.4} {side} {significance}"
                )
            }
            _ => write!(
                f,
                "Diebold-Mariano vs {against} on {rows} rows: no difference in losses to test"
            ),
        }
    }
}

/// What the gate decided about a new model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DeployDecision {
    /// The model goes live.
    Deploy {
        /// Why, with the numbers.
        reason: String,
        /// The significance test (absent in models stored before the gate had one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gate_test: Option<GateTest>,
    },
    /// The model is kept as a candidate only.
    Refuse {
        /// Every condition it failed, with the numbers.
        reasons: Vec<String>,
        /// The significance test, when the model's scores allowed one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gate_test: Option<GateTest>,
    },
}

impl DeployDecision {
    /// True for [`DeployDecision::Deploy`].
    pub fn deploys(&self) -> bool {
        matches!(self, DeployDecision::Deploy { .. })
    }

    /// The significance test behind the decision, if one ran.
    pub fn gate_test(&self) -> Option<&GateTest> {
        match self {
            DeployDecision::Deploy { gate_test, .. } | DeployDecision::Refuse { gate_test, .. } => {
                gate_test.as_ref()
            }
        }
    }
}

impl fmt::Display for DeployDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeployDecision::Deploy { reason, .. } => write!(f, "deploy: {reason}"),
            DeployDecision::Refuse { reasons, .. } => {
                write!(f, "keep as candidate: {}", reasons.join("; "))
            }
        }
    }
}

/// Decides on the new model from its held-out scores `e` and the errors behind them, with
/// the significance test at level `significance` (between 0 and 1).
pub fn decide(e: &Evaluation, errors: &HeldOutErrors<'_>, significance: f64) -> DeployDecision {
    let new = e.model.mse;
    if !new.is_finite() || e.model.samples == 0 {
        return DeployDecision::Refuse {
            reasons: vec![format!("held-out MSE is {new} on {} rows", e.model.samples)],
            gate_test: None,
        };
    }
    let mut rivals = vec![
        ("predict zero".to_string(), e.zero.mse),
        ("predict last return".to_string(), e.last_return.mse),
    ];
    if let Some((version, live)) = &e.live {
        rivals.push((format!("live model v{version}"), live.mse));
    }
    let mut lost: Vec<String> = rivals
        .iter()
        .filter(|(_, mse)| new.partial_cmp(mse) != Some(std::cmp::Ordering::Less))
        .map(|(name, mse)| format!("held-out MSE {new:.4e} is not below {name} {mse:.4e}"))
        .collect();
    let test = significance_test(errors, significance);
    if test.rows < MIN_TEST_ROWS {
        lost.push(format!(
            "only {} held-out rows: the significance test needs at least {MIN_TEST_ROWS}",
            test.rows
        ));
    } else if !test.passed() {
        lost.push(format!("not significantly better: {test}"));
    }
    if lost.is_empty() {
        let beaten = rivals
            .iter()
            .map(|(name, mse)| format!("{name} {mse:.4e}"))
            .collect::<Vec<_>>()
            .join(", ");
        DeployDecision::Deploy {
            reason: format!(
                "held-out MSE {new:.4e} beats {beaten} on {} rows; {test}",
                e.model.samples
            ),
            gate_test: Some(test),
        }
    } else {
        DeployDecision::Refuse {
            reasons: lost,
            gate_test: Some(test),
        }
    }
}

/// The one-sided test of the new model against the live model, or predict-zero without one.
fn significance_test(errors: &HeldOutErrors<'_>, significance: f64) -> GateTest {
    let (against, rival) = match errors.live {
        Some((version, live)) => (format!("live model v{version}"), live),
        None => ("predict zero".to_string(), errors.zero),
    };
    let dm = DieboldMariano::test(errors.model, rival, errors.horizon);
    GateTest {
        against,
        rows: errors.model.len().min(rival.len()),
        dm_statistic: dm.map(|d| d.statistic),
        p_value: dm.map(|d| d.p_first_better()),
        significance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainer::evaluation::Metrics;

    /// `n` deterministic values, uniform in [-1, 1).
    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    fn metrics(errors: &[f64]) -> Metrics {
        let n = errors.len() as f64;
        Metrics {
            samples: errors.len(),
            mse: errors.iter().map(|e| e * e).sum::<f64>() / n,
            mae: errors.iter().map(|e| e.abs()).sum::<f64>() / n,
            directional_accuracy: 0.5,
        }
    }

    /// Predict-zero's errors on `n` rows of outcomes, and a model's errors made from them.
    fn series(n: usize, model: impl Fn(usize, f64) -> f64) -> (Vec<f64>, Vec<f64>) {
        let zero: Vec<f64> = noise(n, 1).iter().map(|t| -t).collect();
        let model = zero.iter().enumerate().map(|(i, z)| model(i, *z)).collect();
        (zero, model)
    }

    /// The gate's decision on these errors; predict-last-return's MSE is `last`.
    fn gate(
        model: &[f64],
        zero: &[f64],
        live: Option<&[f64]>,
        last: f64,
        significance: f64,
    ) -> DeployDecision {
        let e = Evaluation {
            train_samples: 500,
            validation_samples: 100,
            model: metrics(model),
            zero: metrics(zero),
            last_return: Metrics {
                mse: last,
                ..metrics(zero)
            },
            live: live.map(|l| (3, metrics(l))),
            test_range_ms: (0, 1),
        };
        let errors = HeldOutErrors {
            model,
            zero,
            live: live.map(|l| (3, l)),
            horizon: 1,
        };
        decide(&e, &errors, significance)
    }

    #[test]
    fn a_clearly_better_model_deploys_with_its_p_value() {
        let (zero, model) = series(200, |i, z| 0.5 * z + 0.05 * noise(200, 2)[i]);
        let d = gate(&model, &zero, None, 1.0, 0.05);
        assert!(d.deploys(), "{d}");
        let t = d.gate_test().unwrap();
        assert_eq!((t.against.as_str(), t.rows), ("predict zero", 200));
        assert!(
            t.dm_statistic.unwrap() < -5.0 && t.p_value.unwrap() < 1e-6,
            "{t:?}"
        );
        assert!(d.to_string().contains("one-sided p"), "{d}");
    }

    #[test]
    fn an_equal_model_is_kept() {
        let (zero, model) = series(200, |_, z| z);
        let d = gate(&model, &zero, None, 1.0, 0.05);
        assert!(!d.deploys(), "{d}");
        let t = d.gate_test().unwrap();
        assert_eq!((t.dm_statistic, t.p_value), (None, None));
        assert!(d.to_string().contains("no difference in losses"), "{d}");
    }

    #[test]
    fn a_worse_model_is_kept() {
        let (zero, model) = series(200, |i, z| 1.5 * z + 0.05 * noise(200, 2)[i]);
        let d = gate(&model, &zero, None, 1.0, 0.05);
        assert!(!d.deploys(), "{d}");
        assert!(d.gate_test().unwrap().p_value.unwrap() > 0.5, "{d}");
        assert!(d.to_string().contains("not significantly better"), "{d}");
    }

    #[test]
    fn a_lower_mse_by_luck_is_kept() {
        // Half the rows much better, half worse: a lower MSE, but not reliably.
        let (zero, model) = series(200, |i, z| if i % 2 == 0 { 0.5 * z } else { 1.3 * z });
        let d = gate(&model, &zero, None, 1.0, 0.05);
        assert!(metrics(&model).mse < metrics(&zero).mse);
        assert!(!d.deploys(), "{d}");
        let p = d.gate_test().unwrap().p_value.unwrap();
        assert!((0.05..0.5).contains(&p), "{d}");
    }

    #[test]
    fn too_few_rows_are_kept_with_a_reason() {
        let (zero, model) = series(MIN_TEST_ROWS - 1, |_, z| 0.1 * z);
        let d = gate(&model, &zero, None, 1.0, 0.05);
        assert!(!d.deploys(), "{d}");
        assert!(
            d.to_string()
                .contains("only 29 held-out rows: the significance test needs at least 30"),
            "{d}"
        );
    }

    #[test]
    fn the_significance_is_the_threshold() {
        let (zero, model) = series(200, |i, z| 0.97 * z + 0.2 * noise(200, 3)[i]);
        let p = gate(&model, &zero, None, 1.0, 0.5)
            .gate_test()
            .and_then(|t| t.p_value)
            .unwrap();
        assert!(p > 0.0 && p < 0.5, "{p}");
        assert!(gate(&model, &zero, None, 1.0, p * 1.01).deploys());
        assert!(!gate(&model, &zero, None, 1.0, p * 0.99).deploys());
    }

    #[test]
    fn with_a_live_model_the_test_is_against_it() {
        let (zero, live) = series(200, |i, z| 0.5 * z + 0.05 * noise(200, 2)[i]);
        // TC0: as good as the live model (the same forecasts): kept.
        let d = gate(&live, &zero, Some(&live), 1.0, 0.05);
        assert!(!d.deploys(), "TC0: {d}");
        assert_eq!(d.gate_test().unwrap().against, "live model v3");
        assert!(d.to_string().contains("live model v3"), "TC0: {d}");
        // TC1: clearly better than the live model: deployed.
        let better: Vec<f64> = live.iter().map(|e| 0.5 * e).collect();
        let d = gate(&better, &zero, Some(&live), 1.0, 0.05);
        assert!(d.deploys(), "TC1: {d}");
        assert!(d.to_string().contains("vs live model v3"), "TC1: {d}");
    }

    #[test]
    fn the_plain_comparisons_still_hold() {
        let (zero, model) = series(200, |i, z| 0.5 * z + 0.05 * noise(200, 2)[i]);
        // TC0: worse than predict-last-return; TC1: NaN.
        let d = gate(&model, &zero, None, 1e-9, 0.05);
        assert!(
            !d.deploys() && d.to_string().contains("predict last return"),
            "TC0: {d}"
        );
        let nan = vec![f64::NAN; 200];
        let d = gate(&nan, &zero, None, 1.0, 0.05);
        assert!(!d.deploys() && d.to_string().contains("NaN"), "TC1: {d}");
        assert!(d.gate_test().is_none());
    }

    #[test]
    fn decisions_stored_before_the_test_still_load() {
        let old: DeployDecision = serde_json::from_str(r#"{"Deploy":{"reason":"x"}}"#).unwrap();
        assert_eq!(old.gate_test(), None);
        assert!(old.deploys());
    }
}
