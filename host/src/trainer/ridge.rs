//! Ridge regression: the linear candidate beside the MLP, fitted in closed form.
//!
//! On the same standardised features and scaled targets as the MLP it minimises
//! `mean((y - b - w·x)²) + λ·|w|²` (the intercept is not penalised). The normal equations are
//! `(C + λI) w = c`, with `C` the covariance of the training features and `c` their covariance
//! with the target, solved by a Cholesky factorisation of the `features × features` matrix.
//! `λ` is chosen from [`LAMBDA_GRID`] by the loss on the validation rows; the held-out rows
//! are never seen here. Short-horizon returns have little but mostly linear structure (bid-ask
//! bounce makes 1-minute returns negatively autocorrelated), which a closed-form fit finds
//! without the variance of a network's training.

use super::error::TrainerError;
use super::training::Rows;
use super::weights::read_tensor;
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::time::Instant;

/// Penalties tried, in units of the (standardised) feature variance.
pub const LAMBDA_GRID: [f64; 12] = [
    1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 1000.0,
];

const WEIGHT_TENSOR: &str = "ridge.weight";
const BIAS_TENSOR: &str = "ridge.bias";

/// The fitted linear model, for serving and saving.
#[derive(Debug, Clone, PartialEq)]
pub struct RidgeWeights {
    /// One coefficient per standardised feature.
    coef: Vec<f32>,
    /// The intercept (scaled target units).
    bias: f32,
}

impl RidgeWeights {
    /// The forecast (scaled target) for one standardised row.
    pub fn forward(&self, row: &[f32]) -> f32 {
        let dot: f64 = self
            .coef
            .iter()
            .zip(row)
            .map(|(w, x)| f64::from(*w) * f64::from(*x))
            .sum();
        (f64::from(self.bias) + dot) as f32
    }

    /// Features per row.
    pub fn inputs(&self) -> usize {
        self.coef.len()
    }

    /// The coefficients, in feature order.
    pub fn coefficients(&self) -> &[f32] {
        &self.coef
    }

    /// The weights as named tensors, for safetensors.
    pub fn to_tensors(&self) -> Result<HashMap<String, Tensor>, TrainerError> {
        let w = Tensor::from_slice(&self.coef, (1, self.coef.len()), &Device::Cpu)
            .map_err(TrainerError::candle("exporting ridge weights"))?;
        let b = Tensor::from_slice(&[self.bias], 1, &Device::Cpu)
            .map_err(TrainerError::candle("exporting the ridge bias"))?;
        Ok(HashMap::from([
            (WEIGHT_TENSOR.to_string(), w),
            (BIAS_TENSOR.to_string(), b),
        ]))
    }

    /// Reads `ridge.weight` `(1, inputs)` and `ridge.bias` `(1)`; checks shapes and values.
    pub fn from_tensors(
        inputs: usize,
        tensors: &HashMap<String, Tensor>,
    ) -> Result<RidgeWeights, String> {
        let coef = read_tensor(tensors, WEIGHT_TENSOR, &[1, inputs])?;
        let bias = read_tensor(tensors, BIAS_TENSOR, &[1])?[0];
        if tensors.len() != 2 {
            return Err(format!("{} tensors, expected 2", tensors.len()));
        }
        Ok(RidgeWeights { coef, bias })
    }
}

/// A ridge fit and how the penalty was chosen.
#[derive(Debug, Clone)]
pub struct RidgeFit {
    /// The weights at the chosen penalty.
    pub weights: RidgeWeights,
    /// The chosen penalty.
    pub lambda: f64,
    /// Mean squared error on the training rows (scaled targets).
    pub train_loss: f64,
    /// Mean squared error on the validation rows (scaled targets), the lowest of the grid.
    pub validation_loss: f64,
    /// Validation loss of every penalty tried, in grid order.
    pub grid: Vec<(f64, f64)>,
    /// Wall time of the fit.
    pub seconds: f64,
}

/// Fits ridge regression on `train` for every penalty of [`LAMBDA_GRID`] and keeps the one
/// with the lowest loss on `validation`. `None` when no penalty gives a solution (only
/// possible with non-finite rows).
pub fn fit_ridge(width: usize, train: Rows, validation: Rows) -> Option<RidgeFit> {
    let started = Instant::now();
    let n = train.y.len();
    if n == 0 || width == 0 || train.x.len() != n * width {
        return None;
    }
    let (x_mean, y_mean) = means(width, train);
    // Covariance of the centred features (upper and lower triangles) and with the target.
    let mut cov = vec![0f64; width * width];
    let mut cross = vec![0f64; width];
    let mut centred = vec![0f64; width];
    for (row, y) in train.x.chunks_exact(width).zip(train.y) {
        for (c, (x, m)) in centred.iter_mut().zip(row.iter().zip(&x_mean)) {
            *c = f64::from(*x) - m;
        }
        let dy = f64::from(*y) - y_mean;
        for i in 0..width {
            cross[i] += centred[i] * dy;
            for j in 0..=i {
                cov[i * width + j] += centred[i] * centred[j];
            }
        }
    }
    for i in 0..width {
        cross[i] /= n as f64;
        for j in 0..=i {
            cov[i * width + j] /= n as f64;
            cov[j * width + i] = cov[i * width + j];
        }
    }
    let mut best: Option<(f64, f64, RidgeWeights)> = None;
    let mut grid = Vec::new();
    for lambda in LAMBDA_GRID {
        let mut a = cov.clone();
        for i in 0..width {
            a[i * width + i] += lambda;
        }
        let Some(w) = solve_spd(&mut a, &cross, width) else {
            continue;
        };
        let bias = y_mean - w.iter().zip(&x_mean).map(|(w, m)| w * m).sum::<f64>();
        let weights = RidgeWeights {
            coef: w.iter().map(|v| *v as f32).collect(),
            bias: bias as f32,
        };
        let loss = mse(&weights, width, validation);
        if !loss.is_finite() {
            continue;
        }
        grid.push((lambda, loss));
        if best.as_ref().is_none_or(|(l, _, _)| loss < *l) {
            best = Some((loss, lambda, weights));
        }
    }
    let (validation_loss, lambda, weights) = best?;
    Some(RidgeFit {
        train_loss: mse(&weights, width, train),
        weights,
        lambda,
        validation_loss,
        grid,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Mean squared error of `weights` on `rows`.
pub fn mse(weights: &RidgeWeights, width: usize, rows: Rows) -> f64 {
    let n = rows.y.len();
    let se: f64 = rows
        .x
        .chunks_exact(width)
        .zip(rows.y)
        .map(|(r, y)| (f64::from(weights.forward(r)) - f64::from(*y)).powi(2))
        .sum();
    if n == 0 { f64::NAN } else { se / n as f64 }
}

fn means(width: usize, rows: Rows) -> (Vec<f64>, f64) {
    let n = rows.y.len().max(1) as f64;
    let mut x_mean = vec![0f64; width];
    for row in rows.x.chunks_exact(width) {
        for (m, x) in x_mean.iter_mut().zip(row) {
            *m += f64::from(*x);
        }
    }
    for m in &mut x_mean {
        *m /= n;
    }
    let y_mean = rows.y.iter().map(|y| f64::from(*y)).sum::<f64>() / n;
    (x_mean, y_mean)
}

/// Solves `a·x = b` for a symmetric positive definite `a` (row-major, `n × n`) by Cholesky;
/// `a` is overwritten by its factor. `None` when `a` is not positive definite.
fn solve_spd(a: &mut [f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    // a = L·Lᵀ, L stored in the lower triangle.
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if !(d > 0.0 && d.is_finite()) {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    // Forward (L·z = b), then back substitution (Lᵀ·x = z).
    let mut x = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            x[i] -= a[i * n + k] * x[k];
        }
        x[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            x[i] -= a[k * n + i] * x[k];
        }
        x[i] /= a[i * n + i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows with `y = 0.5 + 0.8·x0 - 0.4·x1 + 0·x2 + noise`, features uniform in ±1.
    fn linear(n: usize, seed: u64, noise: f32) -> (Vec<f32>, Vec<f32>) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let x: Vec<f32> = (0..n * 3).map(|_| rng.f32() * 2.0 - 1.0).collect();
        let y = x
            .chunks_exact(3)
            .map(|r| 0.5 + 0.8 * r[0] - 0.4 * r[1] + noise * (rng.f32() - 0.5))
            .collect();
        (x, y)
    }

    #[test]
    fn recovers_a_known_linear_relation() {
        let (x, y) = linear(2000, 1, 0.1);
        let (xv, yv) = linear(500, 2, 0.1);
        let fit = fit_ridge(3, Rows { x: &x, y: &y }, Rows { x: &xv, y: &yv }).unwrap();
        let w = fit.weights.coefficients();
        assert!((w[0] - 0.8).abs() < 0.02, "{w:?}");
        assert!((w[1] + 0.4).abs() < 0.02, "{w:?}");
        assert!(w[2].abs() < 0.02, "{w:?}");
        assert!(
            (fit.weights.bias - 0.5).abs() < 0.02,
            "{}",
            fit.weights.bias
        );
        // Uniform noise of width 0.1 has variance 0.1²/12: the fit is at the noise floor.
        assert!(fit.validation_loss < 0.1f64.powi(2) / 12.0 * 1.2, "{fit:?}");
        // A relation this clear wants almost no shrinkage.
        assert!(fit.lambda <= 0.01, "{}", fit.lambda);
        assert_eq!(fit.grid.len(), LAMBDA_GRID.len());
        // Heavy shrinkage costs validation loss here.
        assert!(
            fit.grid.last().unwrap().1 > 10.0 * fit.validation_loss,
            "{:?}",
            fit.grid
        );
    }

    /// Two features, by hand: with centred data, w = (C + λI)⁻¹ c is a 2×2 inverse.
    #[test]
    fn matches_the_closed_form_on_a_tiny_problem() {
        let x = [1.0f32, 2.0, 2.0, 1.0, 3.0, 5.0, 4.0, 3.0, 5.0, 4.0];
        let y = [1.0f32, 2.0, 4.0, 3.0, 6.0];
        let rows = Rows { x: &x, y: &y };
        let n = 5.0;
        let (mx, my) = means(2, rows);
        let mut c = [[0f64; 2]; 2];
        let mut cy = [0f64; 2];
        for (r, t) in x.chunks_exact(2).zip(&y) {
            let d = [f64::from(r[0]) - mx[0], f64::from(r[1]) - mx[1]];
            for i in 0..2 {
                cy[i] += d[i] * (f64::from(*t) - my) / n;
                for j in 0..2 {
                    c[i][j] += d[i] * d[j] / n;
                }
            }
        }
        let closed = |lambda: f64| {
            let (a, b, d) = (c[0][0] + lambda, c[0][1], c[1][1] + lambda);
            let det = a * d - b * b;
            let w = [(d * cy[0] - b * cy[1]) / det, (a * cy[1] - b * cy[0]) / det];
            (w, [a, b, b, d])
        };
        for lambda in [1e-3, 0.3, 10.0] {
            let (want, mut m) = closed(lambda);
            let got = solve_spd(&mut m, &cy, 2).unwrap();
            for k in 0..2 {
                assert!(
                    (got[k] - want[k]).abs() < 1e-12,
                    "λ={lambda}: {got:?} vs {want:?}"
                );
            }
        }
        // The fit at its chosen penalty has those coefficients and the matching intercept.
        let fit = fit_ridge(2, rows, rows).unwrap();
        let (want, _) = closed(fit.lambda);
        let w = fit.weights.coefficients();
        for k in 0..2 {
            assert!(
                (f64::from(w[k]) - want[k]).abs() < 1e-5,
                "{w:?} vs {want:?}"
            );
        }
        let bias = my - want[0] * mx[0] - want[1] * mx[1];
        assert!((f64::from(fit.weights.bias) - bias).abs() < 1e-5);
        assert!(solve_spd(&mut [0.0, 0.0, 0.0, 0.0], &[1.0, 1.0], 2).is_none());
    }

    #[test]
    fn tensors_round_trip_and_wrong_shapes_are_refused() {
        let (x, y) = linear(200, 3, 0.1);
        let fit = fit_ridge(3, Rows { x: &x, y: &y }, Rows { x: &x, y: &y }).unwrap();
        let tensors = fit.weights.to_tensors().unwrap();
        assert_eq!(
            RidgeWeights::from_tensors(3, &tensors).unwrap(),
            fit.weights
        );
        let err = RidgeWeights::from_tensors(4, &tensors).unwrap_err();
        assert!(err.contains("ridge.weight"), "{err}");
    }
}
