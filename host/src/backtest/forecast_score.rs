//! Forecast scoring: every forecast a backtest made, against the return that followed.
//!
//! A forecast made at the close of bar *i* with a horizon of *h* bars predicts the log return
//! `ln(close[i + h] / close[i])`. Per symbol the score compares its squared error with two
//! baselines the model must beat to be worth anything (predict zero, and predict the last
//! *h*-bar return), counts how often it had the direction right, and tests whether it beats
//! predict-zero by more than luck with a Diebold–Mariano test ([`crate::diebold_mariano`]:
//! squared-error loss, Newey–West variance over *h − 1* lags, two-sided p-value from the
//! normal distribution; the trainer's deploy gate runs the same test, one-sided).

use crate::diebold_mariano::DieboldMariano;
use crate::types::{Bar, Prediction, Symbol};
use serde::Serialize;
use std::collections::BTreeMap;

/// One symbol's forecasts, scored.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ForecastScore {
    /// Forecasts made.
    pub forecasts: usize,
    /// Forecasts whose horizon ended within the data (the rest cannot be scored).
    pub scored: usize,
    /// Mean squared error of the forecasts.
    pub mse_model: f64,
    /// Mean squared error of predicting a zero return.
    pub mse_zero: f64,
    /// Mean squared error of predicting the last `h`-bar return.
    pub mse_last: f64,
    /// Share of forecasts with the sign of the return that followed (moves of zero left out).
    pub directional_accuracy: f64,
    /// Diebold–Mariano statistic of model against predict-zero (negative: the model's
    /// errors are smaller); `None` with fewer than two scored forecasts or no variance.
    pub dm_statistic: Option<f64>,
    /// Its two-sided p-value.
    pub dm_p_value: Option<f64>,
}

/// Collects bars and forecasts during a backtest.
#[derive(Debug, Default)]
pub struct ForecastScorer {
    /// Per symbol and bar period, (bar end time, close) of each bar.
    closes: BTreeMap<(Symbol, u32), Vec<(i64, f64)>>,
    forecasts: Vec<Prediction>,
}

impl ForecastScorer {
    /// A completed bar.
    pub fn bar(&mut self, bar: &Bar) {
        let end = bar.start_ms + i64::from(bar.period_secs) * 1000;
        self.closes
            .entry((bar.symbol.clone(), bar.period_secs))
            .or_default()
            .push((end, bar.close));
    }

    /// A forecast made at a completed bar.
    pub fn forecast(&mut self, p: &Prediction) {
        self.forecasts.push(p.clone());
    }

    /// Every symbol's score.
    pub fn finish(&self) -> BTreeMap<String, ForecastScore> {
        let mut errors: BTreeMap<String, Errors> = BTreeMap::new();
        for p in &self.forecasts {
            let e = errors.entry(p.symbol.to_string()).or_default();
            e.forecasts += 1;
            let Some(closes) = self.closes.get(&(p.symbol.clone(), p.bar_secs)) else {
                continue;
            };
            let h = p.horizon_bars.max(1) as usize;
            let Ok(i) = closes.binary_search_by_key(&p.time_ms, |c| c.0) else {
                continue;
            };
            let (Some(ahead), Some(back)) = (closes.get(i + h), i.checked_sub(h)) else {
                continue;
            };
            let now = closes[i].1;
            let realised = (ahead.1 / now).ln();
            let last = (now / closes[back].1).ln();
            if !(realised.is_finite() && last.is_finite() && p.expected_return.is_finite()) {
                continue;
            }
            e.horizon = h;
            e.model.push(p.expected_return - realised);
            e.zero.push(-realised);
            e.last.push(last - realised);
            if realised != 0.0 {
                e.directions += 1;
                if (p.expected_return > 0.0) == (realised > 0.0) && p.expected_return != 0.0 {
                    e.right += 1;
                }
            }
        }
        errors.into_iter().map(|(s, e)| (s, e.score())).collect()
    }
}

/// One symbol's forecast errors.
#[derive(Debug, Default)]
struct Errors {
    forecasts: usize,
    horizon: usize,
    model: Vec<f64>,
    zero: Vec<f64>,
    last: Vec<f64>,
    directions: usize,
    right: usize,
}

impl Errors {
    fn score(&self) -> ForecastScore {
        let mse = |e: &[f64]| {
            if e.is_empty() {
                0.0
            } else {
                e.iter().map(|x| x * x).sum::<f64>() / e.len() as f64
            }
        };
        let dm = DieboldMariano::test(&self.model, &self.zero, self.horizon);
        ForecastScore {
            forecasts: self.forecasts,
            scored: self.model.len(),
            mse_model: mse(&self.model),
            mse_zero: mse(&self.zero),
            mse_last: mse(&self.last),
            directional_accuracy: if self.directions == 0 {
                0.0
            } else {
                self.right as f64 / self.directions as f64
            },
            dm_statistic: dm.map(|d| d.statistic),
            dm_p_value: dm.map(|d| d.p_two_sided()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(i: i64, close: f64) -> Bar {
        Bar {
            symbol: "SPY".into(),
            start_ms: i * 60_000,
            period_secs: 60,
            open: close,
            high: close,
            low: close,
            close,
            volume: 1.0,
            imputed: false,
        }
    }

    fn forecast(at_bar: i64, expected_return: f64) -> Prediction {
        Prediction {
            symbol: "SPY".into(),
            expected_return,
            horizon_bars: 1,
            model_version: 1,
            time_ms: (at_bar + 1) * 60_000,
            bar_secs: 60,
        }
    }

    #[test]
    fn forecasts_are_scored_against_the_return_that_followed() {
        let mut s = ForecastScorer::default();
        for (i, close) in [100.0, 101.0, 100.0, 102.0].into_iter().enumerate() {
            s.bar(&bar(i as i64, close));
        }
        s.forecast(&forecast(1, -0.01)); // 101 → 100: right direction
        s.forecast(&forecast(2, -0.01)); // 100 → 102: wrong
        s.forecast(&forecast(3, 0.02)); // past the data: counted, not scored
        let score = &s.finish()["SPY"];
        assert_eq!((score.forecasts, score.scored), (3, 2));
        assert_eq!(score.directional_accuracy, 0.5);
        let r1 = (100.0f64 / 101.0).ln();
        let r2 = (102.0f64 / 100.0).ln();
        let mse_model = ((-0.01 - r1).powi(2) + (-0.01 - r2).powi(2)) / 2.0;
        assert!((score.mse_model - mse_model).abs() < 1e-15);
        assert!((score.mse_zero - (r1 * r1 + r2 * r2) / 2.0).abs() < 1e-15);
        let last1 = (101.0f64 / 100.0).ln();
        let last2 = (100.0f64 / 101.0).ln();
        let mse_last = ((last1 - r1).powi(2) + (last2 - r2).powi(2)) / 2.0;
        assert!((score.mse_last - mse_last).abs() < 1e-15);
        assert!(score.dm_p_value.is_some_and(|p| (0.0..=1.0).contains(&p)));
    }
}
