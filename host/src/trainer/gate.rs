//! The deploy gate: a new model goes live only if its held-out MSE is below that of the live
//! model and of both naive baselines, on the same rows. Otherwise it is kept as a candidate
//! and the reasons, with the numbers, are logged and returned.

use super::evaluation::Evaluation;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What the gate decided about a new model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DeployDecision {
    /// The model goes live.
    Deploy {
        /// Why, with the numbers.
        reason: String,
    },
    /// The model is kept as a candidate only.
    Refuse {
        /// Every comparison it lost, with the numbers.
        reasons: Vec<String>,
    },
}

impl DeployDecision {
    /// True for [`DeployDecision::Deploy`].
    pub fn deploys(&self) -> bool {
        matches!(self, DeployDecision::Deploy { .. })
    }
}

impl fmt::Display for DeployDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeployDecision::Deploy { reason } => write!(f, "deploy: {reason}"),
            DeployDecision::Refuse { reasons } => {
                write!(f, "keep as candidate: {}", reasons.join("; "))
            }
        }
    }
}

/// Compares the new model with every rival on the held-out MSE.
pub fn decide(e: &Evaluation) -> DeployDecision {
    let new = e.model.mse;
    let mut rivals = vec![
        ("predict zero".to_string(), e.zero.mse),
        ("predict last return".to_string(), e.last_return.mse),
    ];
    if let Some((version, live)) = &e.live {
        rivals.push((format!("live model v{version}"), live.mse));
    }
    if !new.is_finite() || e.model.samples == 0 {
        return DeployDecision::Refuse {
            reasons: vec![format!("held-out MSE is {new} on {} rows", e.model.samples)],
        };
    }
    let lost: Vec<String> = rivals
        .iter()
        .filter(|(_, mse)| new.partial_cmp(mse) != Some(std::cmp::Ordering::Less))
        .map(|(name, mse)| format!("held-out MSE {new:.4e} is not below {name} {mse:.4e}"))
        .collect();
    if lost.is_empty() {
        let beaten = rivals
            .iter()
            .map(|(name, mse)| format!("{name} {mse:.4e}"))
            .collect::<Vec<_>>()
            .join(", ");
        DeployDecision::Deploy {
            reason: format!(
                "held-out MSE {new:.4e} beats {beaten} on {} rows",
                e.model.samples
            ),
        }
    } else {
        DeployDecision::Refuse { reasons: lost }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainer::evaluation::Metrics;

    fn m(mse: f64) -> Metrics {
        Metrics {
            samples: 100,
            mse,
            mae: mse.sqrt(),
            directional_accuracy: 0.5,
        }
    }

    fn eval(model: f64, zero: f64, last: f64, live: Option<f64>) -> Evaluation {
        Evaluation {
            train_samples: 500,
            validation_samples: 100,
            model: m(model),
            zero: m(zero),
            last_return: m(last),
            live: live.map(|l| (3, m(l))),
            test_range_ms: (0, 1),
        }
    }

    #[test]
    fn only_a_model_better_than_every_rival_deploys() {
        // TC0: beats all; TC1: worse than live; TC2: worse than zero; TC3: tie with last
        // return; TC4: no live model; TC5: NaN.
        let cases = [
            (eval(1.0, 2.0, 3.0, Some(1.5)), true, ""),
            (eval(1.0, 2.0, 3.0, Some(0.9)), false, "live model v3"),
            (eval(1.0, 0.99, 3.0, None), false, "predict zero"),
            (eval(1.0, 2.0, 1.0, None), false, "predict last return"),
            (eval(1.0, 2.0, 3.0, None), true, ""),
            (eval(f64::NAN, 2.0, 3.0, None), false, "NaN"),
        ];
        for (i, (e, deploys, named)) in cases.into_iter().enumerate() {
            let d = decide(&e);
            assert_eq!(d.deploys(), deploys, "TC{i}: {d}");
            assert!(d.to_string().contains(named), "TC{i}: {d}");
        }
    }
}
