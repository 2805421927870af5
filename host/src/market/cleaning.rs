//! Cleaning a bar series before features are computed: gaps and outliers, counted.
//!
//! The rules, applied to one symbol's bars in this order:
//! 1. **Invalid rows** (non-finite or non-positive prices, negative volume) are dropped; they
//!    become gaps. Bars are put in time order; a repeated start keeps the last bar.
//! 2. **Gaps.** `k` missing periods between two bars are
//!    - a *session break* when they span at least `session_break_secs` (market closed:
//!      overnight, weekend); left alone, since inventing bars there would distort every
//!      rolling statistic;
//!    - *interpolated* linearly (close and volume) when `k <= interpolate_max_bars`;
//!    - *imputed* otherwise: the previous close is carried, volume is zero.
//!
//!    Both kinds of filled bars are flagged `imputed: true`: their prices are guesses (an
//!    interpolated one even depends on the bar after it), so they never become training rows
//!    or targets. They keep the time grid regular so windows and horizons count real periods.
//! 3. **Outliers**: a rolling median/MAD (Hampel) filter on close-to-close log returns over
//!    the previous `outlier_window` real bars. A return further than `outlier_threshold`
//!    robust standard deviations (1.4826 x MAD) from the median is clipped to that bound and
//!    the bar rebuilt from it (open at the previous close, high/low the body). Later bars
//!    keep their own prices, so a spike up and back becomes two clipped returns that cancel,
//!    and a genuine jump is spread over two bars instead of shifting every later price.
//!    Wicks beyond the same bound from the body are clipped too. σ has a floor of 1 basis
//!    point. Returns across a session break (overnight gaps) follow another distribution and
//!    are left out of the filter. The window only looks back, so cleaning never uses the
//!    future of a real bar.

use crate::settings::{SettingError, Settings};
use crate::types::Bar;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Settings of the bar cleaner.
#[derive(Debug, Clone, PartialEq)]
pub struct CleaningConfig {
    /// Gaps of at most this many bars are interpolated (`CLEAN_INTERPOLATE_BARS`, default 3).
    pub interpolate_max_bars: usize,
    /// A gap spanning at least this many seconds is a closed market, not missing data
    /// (`CLEAN_SESSION_BREAK`, default 14400 = 4 h).
    pub session_break_secs: u64,
    /// Returns in the rolling median/MAD window (`CLEAN_OUTLIER_WINDOW`, default 50).
    pub outlier_window: usize,
    /// Clip returns beyond this many robust standard deviations (`CLEAN_OUTLIER_THRESHOLD`,
    /// default 8).
    pub outlier_threshold: f64,
}

impl Default for CleaningConfig {
    fn default() -> Self {
        CleaningConfig {
            interpolate_max_bars: 3,
            session_break_secs: 4 * 3600,
            outlier_window: 50,
            outlier_threshold: 8.0,
        }
    }
}

impl CleaningConfig {
    /// Reads the `CLEAN_*` variables.
    pub fn from_settings(s: &Settings) -> Result<Self, SettingError> {
        let d = CleaningConfig::default();
        Ok(CleaningConfig {
            interpolate_max_bars: s.int_in(
                "CLEAN_INTERPOLATE_BARS",
                d.interpolate_max_bars,
                0,
                1000,
            )?,
            session_break_secs: s
                .secs(
                    "CLEAN_SESSION_BREAK",
                    std::time::Duration::from_secs(d.session_break_secs),
                )?
                .as_secs(),
            outlier_window: s.int_in("CLEAN_OUTLIER_WINDOW", d.outlier_window, 5, 10_000)?,
            outlier_threshold: s.parse_with(
                "CLEAN_OUTLIER_THRESHOLD",
                d.outlier_threshold,
                "a number of robust standard deviations above 1, e.g. 8",
                |v| v.parse::<f64>().ok().filter(|t| t.is_finite() && *t > 1.0),
            )?,
        })
    }
}

/// How many bars each rule touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleaningReport {
    /// Bars given.
    pub input_bars: usize,
    /// Bars returned (input - dropped + filled).
    pub output_bars: usize,
    /// Rows dropped for invalid prices or volume.
    pub invalid_dropped: usize,
    /// Rows dropped because another bar had the same start.
    pub duplicates_dropped: usize,
    /// Bars filled by linear interpolation.
    pub interpolated: usize,
    /// Bars filled by carrying the last price.
    pub imputed: usize,
    /// Gaps left alone as closed-market breaks.
    pub session_breaks: usize,
    /// Close-to-close returns clipped by the median/MAD filter.
    pub outliers_clipped: usize,
    /// Highs or lows clipped to the same bound beyond the bar's body.
    pub wicks_clipped: usize,
}

impl std::fmt::Display for CleaningReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} bars in, {} out: {} interpolated, {} imputed, {} outliers and {} wicks clipped, {} invalid and {} duplicate rows dropped, {} session breaks",
            self.input_bars,
            self.output_bars,
            self.interpolated,
            self.imputed,
            self.outliers_clipped,
            self.wicks_clipped,
            self.invalid_dropped,
            self.duplicates_dropped,
            self.session_breaks
        )
    }
}

/// Cleans one symbol's bars (any order); returns time-ordered bars and what was done.
pub fn clean_bars(bars: &[Bar], config: &CleaningConfig) -> (Vec<Bar>, CleaningReport) {
    let mut report = CleaningReport {
        input_bars: bars.len(),
        ..Default::default()
    };
    let mut valid: Vec<Bar> = bars.iter().filter(|b| is_valid(b)).cloned().collect();
    report.invalid_dropped = bars.len() - valid.len();
    valid.sort_by_key(|b| b.start_ms);
    let before = valid.len();
    // Keep the last of equal starts: dedup_by keeps the first, so reverse around it.
    valid.reverse();
    valid.dedup_by_key(|b| b.start_ms);
    valid.reverse();
    report.duplicates_dropped = before - valid.len();
    for b in &mut valid {
        b.high = b.high.max(b.open).max(b.close);
        b.low = b.low.min(b.open).min(b.close);
    }
    let mut filled = fill_gaps(&valid, config, &mut report);
    (report.outliers_clipped, report.wicks_clipped) = clip_outliers(&mut filled, config);
    report.output_bars = filled.len();
    (filled, report)
}

fn is_valid(b: &Bar) -> bool {
    let prices = [b.open, b.high, b.low, b.close];
    prices.iter().all(|p| p.is_finite() && *p > 0.0) && b.volume.is_finite() && b.volume >= 0.0
}

fn fill_gaps(bars: &[Bar], config: &CleaningConfig, report: &mut CleaningReport) -> Vec<Bar> {
    let mut out = Vec::with_capacity(bars.len());
    for (i, bar) in bars.iter().enumerate() {
        if let Some(prev) = i.checked_sub(1).map(|j| &bars[j]) {
            let period_ms = i64::from(prev.period_secs.max(1)) * 1000;
            let missing = ((bar.start_ms - prev.start_ms) / period_ms - 1).max(0) as usize;
            if missing > 0 {
                let span_secs = missing as u64 * u64::from(prev.period_secs.max(1));
                if span_secs >= config.session_break_secs {
                    report.session_breaks += 1;
                } else if missing <= config.interpolate_max_bars {
                    report.interpolated += missing;
                    for k in 1..=missing {
                        let w = k as f64 / (missing + 1) as f64;
                        let open =
                            lerp(prev.close, bar.close, (k - 1) as f64 / (missing + 1) as f64);
                        let close = lerp(prev.close, bar.close, w);
                        let volume = lerp(prev.volume, bar.volume, w);
                        out.push(filled_bar(prev, k as i64 * period_ms, open, close, volume));
                    }
                } else {
                    report.imputed += missing;
                    for k in 1..=missing {
                        out.push(filled_bar(
                            prev,
                            k as i64 * period_ms,
                            prev.close,
                            prev.close,
                            0.0,
                        ));
                    }
                }
            }
        }
        out.push(bar.clone());
    }
    out
}

fn lerp(a: f64, b: f64, w: f64) -> f64 {
    a + (b - a) * w
}

fn filled_bar(prev: &Bar, offset_ms: i64, open: f64, close: f64, volume: f64) -> Bar {
    Bar {
        symbol: prev.symbol.clone(),
        start_ms: prev.start_ms + offset_ms,
        period_secs: prev.period_secs,
        open,
        high: open.max(close),
        low: open.min(close),
        close,
        volume,
        imputed: true,
    }
}

/// Hampel filter on log returns; returns how many returns and wicks were clipped.
fn clip_outliers(bars: &mut [Bar], config: &CleaningConfig) -> (usize, usize) {
    let min_history = config.outlier_window.min(10);
    let mut window: VecDeque<f64> = VecDeque::with_capacity(config.outlier_window);
    let mut scratch = Vec::with_capacity(config.outlier_window);
    let (mut clipped, mut wicks) = (0, 0);
    let mut prev_raw_close = match bars.first() {
        Some(b) => b.close,
        None => return (0, 0),
    };
    for i in 1..bars.len() {
        let raw_close = bars[i].close;
        let raw_return = (raw_close / prev_raw_close).ln();
        prev_raw_close = raw_close;
        let prev_close = bars[i - 1].close;
        let bounds = (window.len() >= min_history)
            .then(|| robust_bounds(&window, &mut scratch, config.outlier_threshold))
            .flatten();
        let period_ms = i64::from(bars[i - 1].period_secs.max(1)) * 1000;
        // Returns over a session break (overnight, weekend) are neither judged nor counted.
        let after_break = bars[i].start_ms - bars[i - 1].start_ms > period_ms;
        let bar = &mut bars[i];
        let mut ret = raw_return;
        if let Some((lo, hi, width)) = bounds {
            if !bar.imputed && !after_break && (raw_return < lo || raw_return > hi) {
                ret = raw_return.clamp(lo, hi);
                clipped += 1;
                bar.open = prev_close;
                bar.close = prev_close * ret.exp();
                bar.high = bar.open.max(bar.close);
                bar.low = bar.open.min(bar.close);
            } else {
                let (body_hi, body_lo) = (bar.open.max(bar.close), bar.open.min(bar.close));
                let (wick_hi, wick_lo) = (body_hi * width.exp(), body_lo * (-width).exp());
                if bar.high > wick_hi || bar.low < wick_lo {
                    wicks += 1;
                    bar.high = bar.high.min(wick_hi);
                    bar.low = bar.low.max(wick_lo);
                }
            }
        }
        if !bar.imputed && !after_break {
            if window.len() == config.outlier_window {
                window.pop_front();
            }
            window.push_back(ret);
        }
    }
    (clipped, wicks)
}

/// Smallest robust deviation of a log return (1 basis point): in quiet markets most returns
/// are zero or one tick, and a tiny MAD would flag every ordinary tick as an outlier.
const MIN_SIGMA: f64 = 1e-4;

/// `(median - k·σ, median + k·σ, k·σ)` with σ = 1.4826·MAD, or the mean absolute deviation
/// when more than half the returns are equal (quiet markets), and at least [`MIN_SIGMA`].
fn robust_bounds(
    window: &VecDeque<f64>,
    scratch: &mut Vec<f64>,
    k: f64,
) -> Option<(f64, f64, f64)> {
    scratch.clear();
    scratch.extend(window.iter().copied());
    let median = median_of(scratch);
    for x in scratch.iter_mut() {
        *x = (*x - median).abs();
    }
    let mad = median_of(scratch);
    let sigma = if mad > 0.0 {
        1.4826 * mad
    } else {
        1.2533 * scratch.iter().sum::<f64>() / scratch.len() as f64
    };
    let sigma = sigma.max(MIN_SIGMA);
    Some((median - k * sigma, median + k * sigma, k * sigma))
}

fn median_of(xs: &mut [f64]) -> f64 {
    let mid = xs.len() / 2;
    let (_, m, _) = xs.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if xs.len() % 2 == 1 {
        m
    } else {
        let below = xs[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (below + m) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bar_file::read_bars_csv;
    use std::path::Path;

    fn spy(name: &str) -> Vec<Bar> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(name);
        read_bars_csv(&path, "SPY", None).unwrap()
    }

    fn at(bars: &[Bar], start_ms: i64) -> &Bar {
        bars.iter()
            .find(|b| b.start_ms == start_ms)
            .expect("bar at that time")
    }

    #[test]
    fn real_minute_bars_keep_their_values_and_fill_only_short_gaps() {
        let raw = spy("SPY_1m_2013-10-04_2013-10-11.csv");
        let (clean, report) = clean_bars(&raw, &CleaningConfig::default());
        assert_eq!(
            report.output_bars,
            raw.len() + report.interpolated + report.imputed
        );
        assert_eq!(
            clean.iter().filter(|b| b.imputed).count(),
            report.interpolated + report.imputed
        );
        // The data has 446 gaps: 385 of 1-3 minutes, 56 longer, 5 overnight/weekend breaks.
        assert_eq!(report.session_breaks, 5);
        assert!(report.interpolated > 0 && report.imputed > 0);
        // Real bars are kept (the filter clips a handful of genuine extremes at most).
        let unchanged = raw
            .iter()
            .filter(|r| (at(&clean, r.start_ms).close - r.close).abs() < 1e-9)
            .count();
        assert!(
            unchanged * 100 >= raw.len() * 95,
            "{unchanged} of {} unchanged; {report}",
            raw.len()
        );
        assert!(report.outliers_clipped * 100 < raw.len(), "{report}");
    }

    #[test]
    fn injected_gaps_are_interpolated_or_imputed_by_length() {
        // 2013-10-08 11:37 to 20:49 UTC: 553 consecutive real minutes.
        let raw = spy("SPY_1m_2013-10-04_2013-10-11.csv");
        let day: Vec<Bar> = raw.into_iter().skip(1642).take(553).collect();
        assert!(
            day.windows(2)
                .all(|w| w[1].start_ms - w[0].start_ms == 60_000)
        );
        // TC0: 2 bars removed -> interpolated; TC1: 12 removed -> imputed; TC2: 0 -> nothing.
        for (missing, interpolated, imputed) in [(2usize, 2usize, 0usize), (12, 0, 12), (0, 0, 0)] {
            let cut = 200;
            let mut bars = day.clone();
            bars.drain(cut..cut + missing);
            let (clean, report) = clean_bars(&bars, &CleaningConfig::default());
            assert_eq!(
                (report.interpolated, report.imputed),
                (interpolated, imputed),
                "missing {missing}"
            );
            assert_eq!(clean.len(), day.len());
            let (before, after) = (&day[cut - 1], &day[cut + missing]);
            for k in 0..missing {
                let filled = &clean[cut + k];
                assert!(filled.imputed);
                assert_eq!(filled.start_ms, day[cut + k].start_ms);
                let want = if interpolated > 0 {
                    before.close
                        + (after.close - before.close) * (k + 1) as f64 / (missing + 1) as f64
                } else {
                    before.close
                };
                assert!(
                    (filled.close - want).abs() < 1e-9,
                    "close {} want {want}",
                    filled.close
                );
                if imputed > 0 {
                    assert_eq!(filled.volume, 0.0);
                }
            }
            assert!(!clean[cut + missing].imputed);
        }
    }

    #[test]
    fn injected_spikes_are_clipped_and_the_level_recovers() {
        let raw = spy("SPY_1h_2020-02-11_2021-03-31.csv");
        let config = CleaningConfig::default();
        let (base, base_report) = clean_bars(&raw, &config);
        let mut spiked = raw.clone();
        // TC0: a bad print 40% up in close and high; TC1: 30% down in close and low.
        // Spikes inside a session (the filter leaves returns over overnight breaks alone).
        let inside = |from: usize| {
            (from..raw.len() - 2)
                .find(|&i| raw[i + 1].start_ms - raw[i - 1].start_ms == 2 * 3_600_000)
                .expect("a mid-session bar")
        };
        let (up, down) = (inside(900), inside(1500));
        spiked[up].close *= 1.4;
        spiked[up].high = spiked[up].close;
        spiked[down].close *= 0.7;
        spiked[down].low = spiked[down].close;
        let (clean, report) = clean_bars(&spiked, &config);
        assert!(
            report.outliers_clipped >= base_report.outliers_clipped + 4,
            "{report} vs {base_report}"
        );
        for i in [up, down] {
            let (c, b) = (at(&clean, raw[i].start_ms), at(&base, raw[i].start_ms));
            assert!(
                (c.close / b.close - 1.0).abs() < 0.03,
                "spike left at {}: {} vs {}",
                i,
                c.close,
                b.close
            );
            assert!(c.high / b.high < 1.03 && c.low / b.low > 0.97);
            let later =
                at(&clean, raw[i + 5].start_ms).close / at(&base, raw[i + 5].start_ms).close;
            assert!(
                (later - 1.0).abs() < 0.01,
                "level after the spike off by {later}"
            );
        }
    }

    #[test]
    fn invalid_and_duplicate_rows_are_dropped_and_counted() {
        let mut bars = spy("SPY_1h_2020-02-11_2021-03-31.csv")[..10].to_vec();
        bars[3].close = f64::NAN;
        bars[5].volume = -1.0;
        let mut dup = bars[7].clone();
        dup.close += 0.01;
        bars.push(dup.clone());
        bars.swap(0, 9);
        let (clean, report) = clean_bars(&bars, &CleaningConfig::default());
        assert_eq!((report.invalid_dropped, report.duplicates_dropped), (2, 1));
        assert!(clean.windows(2).all(|w| w[0].start_ms < w[1].start_ms));
        assert_eq!(at(&clean, dup.start_ms).close, dup.close);
        assert!(clean_bars(&[], &CleaningConfig::default()).0.is_empty());
    }

    #[test]
    fn settings_are_validated() {
        let s = Settings::from_pairs([("CLEAN_OUTLIER_THRESHOLD", "0.5")]);
        assert_eq!(
            CleaningConfig::from_settings(&s).unwrap_err().name,
            "CLEAN_OUTLIER_THRESHOLD"
        );
        let s = Settings::from_pairs([("CLEAN_INTERPOLATE_BARS", "5")]);
        assert_eq!(
            CleaningConfig::from_settings(&s)
                .unwrap()
                .interpolate_max_bars,
            5
        );
    }
}
