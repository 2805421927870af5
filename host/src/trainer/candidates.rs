//! The candidates of a cycle: the MLP and ridge regression, fitted on the same standardised
//! training rows, and the choice between them on the validation loss only.
//!
//! The held-out rows are not an argument here on purpose: they judge the chosen model in the
//! gate, and choosing on them would make that judgement optimistic.

use super::error::TrainerError;
use super::ridge::fit_ridge;
use super::store::TrainingSummary;
use super::training::{Rows, TrainParams, train_mlp};
use super::weights::{ModelKind, ModelWeights};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How one candidate did on the validation rows (saved in the metadata of every version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    /// The candidate's kind.
    pub kind: ModelKind,
    /// Mean squared error on the validation rows (scaled targets).
    pub validation_loss: f64,
    /// Mean squared error on the training rows (scaled targets; the MLP's last epoch).
    pub train_loss: f64,
    /// Wall time of its fit.
    pub seconds: f64,
    /// MLP: epochs run and the epoch kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<(usize, usize)>,
    /// Ridge: the penalty chosen on the validation rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<f64>,
}

impl fmt::Display for CandidateScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:.4}", self.kind, self.validation_loss)?;
        match (self.epochs, self.lambda) {
            (Some((run, best)), _) => write!(f, " ({run} epochs, best {best})"),
            (None, Some(lambda)) => write!(f, " (lambda {lambda})"),
            (None, None) => Ok(()),
        }
    }
}

/// The chosen candidate and how every candidate did.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The weights of the candidate with the lowest validation loss.
    pub weights: ModelWeights,
    /// Its fit.
    pub training: TrainingSummary,
    /// Every candidate that could be fitted, in [`ModelKind::ALL`] order.
    pub scores: Vec<CandidateScore>,
}

impl Selection {
    /// The chosen kind.
    pub fn kind(&self) -> ModelKind {
        self.weights.kind()
    }
}

/// Fits each of `kinds` on `train` (`width` features per row) and keeps the one with the
/// lowest loss on `validation`; on a tie, the simpler (ridge). A candidate that fails is
/// logged and left out; when every one fails, the first error is returned.
pub fn fit_candidates(
    symbol: &str,
    width: usize,
    kinds: &[ModelKind],
    train: Rows,
    validation: Rows,
    params: &TrainParams,
) -> Result<Selection, TrainerError> {
    let mut fitted: Vec<(CandidateScore, ModelWeights, TrainingSummary)> = Vec::new();
    let mut first_error = None;
    for kind in ModelKind::ALL.into_iter().filter(|k| kinds.contains(k)) {
        let result = match kind {
            ModelKind::Mlp => train_mlp(symbol, width, train, validation, params).map(|m| {
                let score = CandidateScore {
                    kind,
                    validation_loss: m.validation_loss,
                    train_loss: m.train_loss,
                    seconds: m.seconds,
                    epochs: Some((m.epochs_run, m.best_epoch)),
                    lambda: None,
                };
                let summary = TrainingSummary {
                    epochs_run: m.epochs_run,
                    best_epoch: m.best_epoch,
                    train_loss: m.train_loss,
                    validation_loss: m.validation_loss,
                    seconds: m.seconds,
                    seed: params.seed,
                };
                (score, ModelWeights::Mlp(m.weights), summary)
            }),
            ModelKind::Ridge => fit_ridge(width, train, validation)
                .map(|r| {
                    let score = CandidateScore {
                        kind,
                        validation_loss: r.validation_loss,
                        train_loss: r.train_loss,
                        seconds: r.seconds,
                        epochs: None,
                        lambda: Some(r.lambda),
                    };
                    let summary = TrainingSummary {
                        epochs_run: 0,
                        best_epoch: 0,
                        train_loss: r.train_loss,
                        validation_loss: r.validation_loss,
                        seconds: r.seconds,
                        seed: params.seed,
                    };
                    (score, ModelWeights::Ridge(r.weights), summary)
                })
                .ok_or_else(|| TrainerError::NoFit {
                    symbol: symbol.to_string(),
                    kind,
                    reason: "no penalty gave a finite solution".into(),
                }),
        };
        match result {
            Ok(candidate) => fitted.push(candidate),
            Err(e) => {
                tracing::warn!(target: "tradehost::trainer::candidates", symbol, %kind, "candidate left out: {e}");
                first_error.get_or_insert(e);
            }
        }
    }
    let scores: Vec<CandidateScore> = fitted.iter().map(|(s, _, _)| s.clone()).collect();
    let Some(best) = choose(&scores) else {
        return Err(first_error.unwrap_or_else(|| TrainerError::NoFit {
            symbol: symbol.to_string(),
            kind: ModelKind::default(),
            reason: "no candidate kind is enabled (MODEL_CANDIDATES)".into(),
        }));
    };
    let (_, weights, training) = fitted.swap_remove(best);
    Ok(Selection {
        weights,
        training,
        scores,
    })
}

/// Index of the score with the lowest finite validation loss; ridge wins a tie.
pub fn choose(scores: &[CandidateScore]) -> Option<usize> {
    let simplicity = |k: ModelKind| match k {
        ModelKind::Ridge => 0,
        ModelKind::Mlp => 1,
    };
    scores
        .iter()
        .enumerate()
        .filter(|(_, s)| s.validation_loss.is_finite())
        .min_by(|(_, a), (_, b)| {
            a.validation_loss
                .total_cmp(&b.validation_loss)
                .then(simplicity(a.kind).cmp(&simplicity(b.kind)))
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainer::training::tests::params;

    /// `y = 0.3·x0 + b·x0·x1` over features uniform in ±1.
    fn rows(n: usize, seed: u64, b: f32) -> (Vec<f32>, Vec<f32>) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let x: Vec<f32> = (0..n * 2).map(|_| rng.f32() * 2.0 - 1.0).collect();
        let y = x
            .chunks_exact(2)
            .map(|r| 0.3 * r[0] + b * r[0] * r[1])
            .collect();
        (x, y)
    }

    fn mse(w: &ModelWeights, (x, y): &(Vec<f32>, Vec<f32>)) -> f64 {
        x.chunks_exact(2)
            .zip(y)
            .map(|(r, t)| f64::from(w.forward(r) - t).powi(2))
            .sum::<f64>()
            / y.len() as f64
    }

    /// Training and validation rows hold an interaction only the MLP can fit, so it wins on
    /// validation; in the later rows the interaction is gone and ridge would do better there.
    /// The choice follows validation.
    #[test]
    fn the_choice_follows_validation_even_when_later_rows_disagree() {
        let (x, y) = rows(800, 1, 1.0);
        let (xv, yv) = rows(200, 2, 1.0);
        let later = rows(200, 3, 0.0);
        let train = Rows { x: &x, y: &y };
        let val = Rows { x: &xv, y: &yv };
        let both = fit_candidates("T", 2, &ModelKind::ALL, train, val, &params(1)).unwrap();
        let mlp = fit_candidates("T", 2, &[ModelKind::Mlp], train, val, &params(1)).unwrap();
        let ridge = fit_candidates("T", 2, &[ModelKind::Ridge], train, val, &params(1)).unwrap();
        let [m, r] = &both.scores[..] else {
            panic!("{:?}", both.scores)
        };
        assert_eq!((m.kind, r.kind), (ModelKind::Mlp, ModelKind::Ridge));
        assert!(m.validation_loss < r.validation_loss, "{m} vs {r}");
        assert_eq!(both.kind(), ModelKind::Mlp);
        assert_eq!(both.weights, mlp.weights);
        assert_eq!(both.training.validation_loss, m.validation_loss);
        assert_eq!(ridge.kind(), ModelKind::Ridge);
        // On the later rows the other candidate would have been chosen.
        let (later_mlp, later_ridge) = (mse(&mlp.weights, &later), mse(&ridge.weights, &later));
        assert!(
            later_ridge < later_mlp,
            "ridge {later_ridge} vs mlp {later_mlp}"
        );
    }

    #[test]
    fn lowest_finite_loss_wins_and_ridge_wins_ties() {
        let s = |kind, validation_loss| CandidateScore {
            kind,
            validation_loss,
            train_loss: 0.0,
            seconds: 0.0,
            epochs: None,
            lambda: None,
        };
        // TC0: MLP lower; TC1: tie; TC2: NaN never wins; TC3: nothing to choose.
        let cases: [(Vec<CandidateScore>, Option<usize>); 4] = [
            (
                vec![s(ModelKind::Mlp, 0.9), s(ModelKind::Ridge, 1.0)],
                Some(0),
            ),
            (
                vec![s(ModelKind::Mlp, 1.0), s(ModelKind::Ridge, 1.0)],
                Some(1),
            ),
            (
                vec![s(ModelKind::Mlp, f64::NAN), s(ModelKind::Ridge, 2.0)],
                Some(1),
            ),
            (vec![], None),
        ];
        for (i, (scores, want)) in cases.into_iter().enumerate() {
            assert_eq!(choose(&scores), want, "TC{i}");
        }
    }
}
