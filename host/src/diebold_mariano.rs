//! The Diebold–Mariano test of equal forecast accuracy: do two forecasters of the same
//! outcomes have the same expected squared-error loss?
//!
//! Used by backtest forecast scoring (`backtest::forecast_score`, two-sided, model against
//! predict-zero) and by the trainer's deploy gate (`trainer::gate`, one-sided, candidate
//! against the deployed model or predict-zero). One implementation for both.
//!
//! With errors `e1`, `e2` on the same rows, the loss differential is `d = e1² − e2²`. The
//! statistic is `mean(d) / sqrt(V / n)` where `V` is the Newey–West long-run variance of `d`
//! over `h − 1` lags (uniform weights, as in Diebold and Mariano, 1995): forecasts `h` bars
//! ahead made at consecutive bars overlap, so their losses are autocorrelated up to lag
//! `h − 1`. Under equal accuracy the statistic is standard normal for large `n`.

/// The Diebold–Mariano statistic of two forecasters on the same rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DieboldMariano {
    /// Mean loss differential over its standard error; negative when the first
    /// forecaster's squared errors are smaller.
    pub statistic: f64,
    /// Rows compared.
    pub rows: usize,
}

impl DieboldMariano {
    /// Tests forecast errors `e1` against `e2` (forecast minus outcome, row for row; the
    /// longer is cut to the shorter) at horizon `h` bars. `None` with fewer than two rows or a
    /// long-run variance that is not positive (for instance identical losses on every row).
    pub fn test(e1: &[f64], e2: &[f64], h: usize) -> Option<Self> {
        let d: Vec<f64> = e1.iter().zip(e2).map(|(a, b)| a * a - b * b).collect();
        let n = d.len();
        if n < 2 {
            return None;
        }
        let mean = d.iter().sum::<f64>() / n as f64;
        let autocov = |k: usize| -> f64 {
            (k..n)
                .map(|t| (d[t] - mean) * (d[t - k] - mean))
                .sum::<f64>()
                / n as f64
        };
        let lags = h.saturating_sub(1).min(n - 1);
        let variance = autocov(0) + 2.0 * (1..=lags).map(autocov).sum::<f64>();
        // NaN too: a variance that is not positive gives no test.
        if variance.is_nan() || variance <= 0.0 {
            return None;
        }
        let statistic = mean / (variance / n as f64).sqrt();
        statistic
            .is_finite()
            .then_some(DieboldMariano { statistic, rows: n })
    }

    /// Two-sided p-value: the chance of a statistic at least this far from zero, either way,
    /// if both forecasters were equally accurate.
    pub fn p_two_sided(&self) -> f64 {
        libm::erfc(self.statistic.abs() / std::f64::consts::SQRT_2)
    }

    /// One-sided p-value of "the first forecaster is more accurate": the chance of a
    /// statistic this low or lower if it were not (standard normal CDF of the statistic).
    pub fn p_first_better(&self) -> f64 {
        0.5 * libm::erfc(-self.statistic / std::f64::consts::SQRT_2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diebold_mariano_matches_a_hand_computed_series() {
        // d = e1² − e2² = [−3, 0, 5, 12]: mean 3.5, variance 32.25 (h = 1).
        let dm = DieboldMariano::test(&[1.0, 2.0, 3.0, 4.0], &[2.0; 4], 1).unwrap();
        assert_eq!(dm.rows, 4);
        assert!(
            (dm.statistic - 1.232_631_268_855_873).abs() < 1e-12,
            "{dm:?}"
        );
        assert!((dm.p_two_sided() - 0.217_713_365_314_237_9).abs() < 1e-9);
        // One-sided: the first is worse here, so "first better" is unlikely: 1 − 0.1089.
        assert!((dm.p_first_better() - (1.0 - 0.217_713_365_314_237_9 / 2.0)).abs() < 1e-9);
        // h = 2 adds the lag-1 autocovariance 7.5625: variance 47.375.
        let dm = DieboldMariano::test(&[1.0, 2.0, 3.0, 4.0], &[2.0; 4], 2).unwrap();
        assert!(
            (dm.statistic - 1.017_005_797_209_007).abs() < 1e-12,
            "{dm:?}"
        );
        assert_eq!(DieboldMariano::test(&[1.0], &[2.0], 1), None);
        assert_eq!(
            DieboldMariano::test(&[1.0, 1.0], &[2.0, 2.0], 1),
            None,
            "no variance"
        );
    }

    #[test]
    fn the_one_sided_p_value_is_half_the_two_sided_one_on_the_better_side() {
        // Swapping the forecasters flips the sign of the statistic.
        let e1 = [0.5, 1.0, 0.2, 0.1, 0.9];
        let e2 = [1.0, 1.5, 0.1, 0.8, 1.0];
        let better = DieboldMariano::test(&e1, &e2, 1).unwrap();
        let worse = DieboldMariano::test(&e2, &e1, 1).unwrap();
        assert!(better.statistic < 0.0);
        assert_eq!(better.statistic, -worse.statistic);
        assert!((better.p_first_better() - better.p_two_sided() / 2.0).abs() < 1e-15);
        assert!((better.p_first_better() + worse.p_first_better() - 1.0).abs() < 1e-15);
        assert_eq!(better.p_two_sided(), worse.p_two_sided());
    }
}
