//! Features over the last `FEATURE_WINDOW` bars, the forward-return target, and the
//! normalisation that is fitted on training rows only and saved with the model.
//!
//! Every feature at bar `t` is computed from bars `t - window ..= t` only; the target at `t`
//! is `ln(close[t + horizon] / close[t])`. Rows at imputed bars are never samples, and a
//! target ending on an imputed bar is no target (see `market::cleaning`).

use crate::types::Bar;
use serde::{Deserialize, Serialize};

/// Names of the features, in column order (saved in model metadata).
pub const FEATURE_NAMES: [&str; 16] = [
    "ret_1",
    "ret_lag_1",
    "ret_lag_2",
    "ret_5",
    "ret_window",
    "volatility",
    "volatility_ratio_5",
    "rsi_14",
    "close_to_sma",
    "sma_5_to_sma",
    "volume_zscore",
    "bar_range",
    "close_in_bar",
    "close_in_channel",
    "imputed_fraction",
    "after_break",
];

/// Number of features per row.
pub const FEATURE_COUNT: usize = FEATURE_NAMES.len();

/// The features of bar `t`, or `None` when fewer than `window` bars precede it.
pub fn features_at(bars: &[Bar], t: usize, window: usize) -> Option<[f32; FEATURE_COUNT]> {
    if t < window || t >= bars.len() || window < 5 {
        return None;
    }
    let w = &bars[t - window..=t];
    let close = |i: usize| w[i].close;
    let last = window;
    let rets: Vec<f64> = (1..=window)
        .map(|i| (close(i) / close(i - 1)).ln())
        .collect();
    let ln = |a: f64, b: f64| {
        if a > 0.0 && b > 0.0 {
            (a / b).ln()
        } else {
            0.0
        }
    };
    let vol = std_dev(&rets);
    let vol_5 = std_dev(&rets[window - 5..]);
    let sma = w[1..].iter().map(|b| b.close).sum::<f64>() / window as f64;
    let sma_5 = w[last - 4..].iter().map(|b| b.close).sum::<f64>() / 5.0;
    let rsi_n = window.min(14);
    let (gain, loss) = rets[window - rsi_n..].iter().fold((0.0, 0.0), |(g, l), r| {
        if *r > 0.0 { (g + r, l) } else { (g, l - r) }
    });
    let rsi = if gain + loss > 0.0 {
        gain / (gain + loss) - 0.5
    } else {
        0.0
    };
    let volumes: Vec<f64> = w[1..].iter().map(|b| b.volume.max(0.0).ln_1p()).collect();
    let (vol_mean, vol_std) = (mean(&volumes), std_dev(&volumes));
    let volume_z = if vol_std > 0.0 {
        (volumes[window - 1] - vol_mean) / vol_std
    } else {
        0.0
    };
    let bar = &w[last];
    let in_range = |x: f64, lo: f64, hi: f64| {
        if hi > lo {
            (x - lo) / (hi - lo) - 0.5
        } else {
            0.0
        }
    };
    let channel_hi = w[1..].iter().map(|b| b.high).fold(f64::MIN, f64::max);
    let channel_lo = w[1..].iter().map(|b| b.low).fold(f64::MAX, f64::min);
    let imputed = w[1..].iter().filter(|b| b.imputed).count() as f64 / window as f64;
    let period_ms = i64::from(bar.period_secs.max(1)) * 1000;
    let after_break = f64::from(u8::from(bar.start_ms - w[last - 1].start_ms > period_ms));
    let row = [
        rets[window - 1],
        rets[window - 2],
        rets[window - 3],
        ln(close(last), close(last - 5)),
        ln(close(last), close(0)),
        vol,
        if vol > 0.0 { vol_5 / vol } else { 1.0 },
        rsi,
        ln(close(last), sma),
        ln(sma_5, sma),
        volume_z,
        ln(bar.high, bar.low),
        in_range(bar.close, bar.low, bar.high),
        in_range(bar.close, channel_lo, channel_hi),
        imputed,
        after_break,
    ];
    let mut out = [0f32; FEATURE_COUNT];
    for (o, v) in out.iter_mut().zip(row) {
        *o = if v.is_finite() { v as f32 } else { 0.0 };
    }
    Some(out)
}

/// The forward log return from bar `t` over `horizon` bars, if it ends on a real bar.
pub fn target_at(bars: &[Bar], t: usize, horizon: usize) -> Option<f64> {
    let end = bars.get(t + horizon)?;
    let start = bars.get(t)?;
    (!end.imputed && !start.imputed)
        .then(|| (end.close / start.close).ln())
        .filter(|r| r.is_finite())
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

fn std_dev(xs: &[f64]) -> f64 {
    let m = mean(xs);
    (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len().max(1) as f64).sqrt()
}

/// Per-feature standardisation and the target scale, fitted on training rows only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normaliser {
    /// Mean of each feature over the training rows.
    pub mean: Vec<f32>,
    /// Standard deviation of each feature (1 where it was 0).
    pub scale: Vec<f32>,
    /// Root mean square of the training targets; the model predicts `target / target_scale`.
    pub target_scale: f32,
}

/// Standardised features are clipped to this many deviations, so one wild row cannot
/// dominate a batch or a prediction.
const CLIP: f32 = 10.0;

impl Normaliser {
    /// Fits on `rows` (row-major, `width` columns) and their targets.
    pub fn fit(rows: &[f32], width: usize, targets: &[f32]) -> Normaliser {
        let n = (rows.len() / width.max(1)).max(1) as f64;
        let mut mean = vec![0f64; width];
        let mut sq = vec![0f64; width];
        for row in rows.chunks_exact(width) {
            for (j, &x) in row.iter().enumerate() {
                mean[j] += f64::from(x);
                sq[j] += f64::from(x) * f64::from(x);
            }
        }
        let mean: Vec<f64> = mean.iter().map(|s| s / n).collect();
        let scale = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| (s / n - m * m).max(0.0).sqrt())
            .map(|s| if s > 1e-12 { s as f32 } else { 1.0 });
        let rms = (targets.iter().map(|y| f64::from(*y).powi(2)).sum::<f64>()
            / targets.len().max(1) as f64)
            .sqrt();
        Normaliser {
            mean: mean.iter().map(|m| *m as f32).collect(),
            scale: scale.collect(),
            target_scale: if rms > 1e-12 { rms as f32 } else { 1.0 },
        }
    }

    /// Standardises rows in place.
    pub fn apply(&self, rows: &mut [f32]) {
        let width = self.mean.len();
        for row in rows.chunks_exact_mut(width) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *x = ((*x - m) / s).clamp(-CLIP, CLIP);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::read_bars_csv;
    use crate::market::{CleaningConfig, clean_bars};
    use std::path::Path;

    fn hourly() -> Vec<Bar> {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/SPY_1h_2020-02-11_2021-03-31.csv");
        clean_bars(
            &read_bars_csv(&path, "SPY", None).unwrap(),
            &CleaningConfig::default(),
        )
        .0
    }

    /// Changing any bar after `t` (price, volume, flags, or cutting the series) never changes
    /// the features at `t`; changing a bar inside the window does.
    #[test]
    fn features_never_look_ahead() {
        let bars = hourly();
        let window = 20;
        for t in [20usize, 21, 500, 1234, bars.len() - 6] {
            let before = features_at(&bars, t, window).unwrap();
            for later in [t + 1, t + 2, t + 5, bars.len() - 1] {
                if later >= bars.len() {
                    continue;
                }
                let mut changed = bars.clone();
                let b = &mut changed[later];
                b.close *= 1.5;
                b.high *= 2.0;
                b.low *= 0.5;
                b.volume *= 10.0;
                b.imputed = !b.imputed;
                assert_eq!(
                    features_at(&changed, t, window).unwrap(),
                    before,
                    "t={t} later={later}"
                );
            }
            assert_eq!(
                features_at(&bars[..=t], t, window).unwrap(),
                before,
                "cut after t={t}"
            );
            let mut inside = bars.clone();
            inside[t - 3].close *= 1.01;
            assert_ne!(
                features_at(&inside, t, window).unwrap(),
                before,
                "window bar must matter at t={t}"
            );
        }
        assert!(features_at(&bars, 19, window).is_none());
    }

    #[test]
    fn target_is_the_forward_log_return_and_skips_imputed_ends() {
        let mut bars = hourly();
        let t = 100;
        let want = (bars[105].close / bars[100].close).ln();
        assert!((target_at(&bars, t, 5).unwrap() - want).abs() < 1e-12);
        bars[105].imputed = true;
        assert!(target_at(&bars, t, 5).is_none());
        assert!(target_at(&bars, bars.len() - 3, 5).is_none());
    }

    #[test]
    fn normaliser_standardises_the_fitted_rows() {
        let bars = hourly();
        let rows: Vec<f32> = (20..1000)
            .flat_map(|t| features_at(&bars, t, 20).unwrap())
            .collect();
        let targets: Vec<f32> = (20..1000)
            .map(|t| target_at(&bars, t, 5).unwrap_or(0.0) as f32)
            .collect();
        let norm = Normaliser::fit(&rows, FEATURE_COUNT, &targets);
        let mut scaled = rows.clone();
        norm.apply(&mut scaled);
        let n = (scaled.len() / FEATURE_COUNT) as f32;
        for j in [0, 5, 10] {
            let m: f32 = scaled
                .chunks_exact(FEATURE_COUNT)
                .map(|r| r[j])
                .sum::<f32>()
                / n;
            assert!(m.abs() < 0.05, "feature {j} mean {m}");
        }
        assert!(
            norm.target_scale > 1e-4 && norm.target_scale < 0.1,
            "{}",
            norm.target_scale
        );
    }
}
