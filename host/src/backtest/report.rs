//! What a backtest produced: fills, PnL, drawdown, Sharpe and exposure per plugin, and the
//! equity curve (JSON and SVG).

use crate::trainer::ReplayTrainingSummary;
use crate::types::{Fill, TimestampMs};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// One point of a plugin's equity curve (realised + unrealised PnL).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct EquityPoint {
    /// Market time.
    pub time_ms: TimestampMs,
    /// PnL at that time.
    pub equity: f64,
}

/// Results of one plugin.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PluginResult {
    /// The plugin's name.
    pub plugin: String,
    /// Fills.
    pub fills: usize,
    /// Shares/contracts traded.
    pub volume: f64,
    /// Fees paid.
    pub fees: f64,
    /// Realised PnL at the end (fees included).
    pub realised_pnl: f64,
    /// Unrealised PnL at the last prices.
    pub unrealised_pnl: f64,
    /// Largest fall of equity from a previous peak.
    pub max_drawdown: f64,
    /// Sharpe ratio of the per-sample equity changes (not annualised; 0 when flat).
    pub sharpe: f64,
    /// Fraction of samples with an open position.
    pub exposure: f64,
    /// Equity samples (one per batch with a change, bounded).
    pub equity: Vec<EquityPoint>,
    /// Why it traded or did not (for the HTML report).
    pub diagnosis: PluginDiagnosis,
}

/// The whole backtest.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BacktestReport {
    /// Trades replayed.
    pub trades: u64,
    /// First and last market time.
    pub range_ms: (TimestampMs, TimestampMs),
    /// Wall-clock seconds of the engine loop.
    pub elapsed_secs: f64,
    /// Trades per wall-clock second.
    pub ticks_per_sec: f64,
    /// Per plugin.
    pub plugins: Vec<PluginResult>,
    /// Per symbol, what the trainer did (empty without predictions).
    pub training: BTreeMap<String, ReplayTrainingSummary>,
    /// Per symbol, every forecast against the return that followed (empty without
    /// predictions).
    pub forecast_scores: BTreeMap<String, super::forecast_score::ForecastScore>,
    /// Every fill, in order.
    #[serde(skip)]
    pub fill_log: Vec<Fill>,
    /// Plugins that could not be loaded, and why (the others ran).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_loaded: Vec<NotLoaded>,
    // What the HTML report draws (filled by `diagnosis::diagnose`).
    /// The currency PnL is in.
    pub currency: String,
    /// Per symbol, bars of the replayed trades (bounded, for the price charts).
    pub prices: BTreeMap<String, PriceSeries>,
    /// Fills for the price charts (all, or evenly thinned to a few thousand).
    pub fills: Vec<Fill>,
    /// Fills in the whole run.
    pub fills_total: usize,
}

/// A plugin file a backtest could not load.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NotLoaded {
    /// The file.
    pub file: std::path::PathBuf,
    /// Why.
    pub error: String,
}

impl NotLoaded {
    /// `" (FILE: WHY; FILE: WHY)"`, or nothing for an empty list: the end of a message.
    pub fn list(all: &[NotLoaded]) -> String {
        if all.is_empty() {
            return String::new();
        }
        let each: Vec<String> = all
            .iter()
            .map(|n| format!("{}: {}", n.file.display(), n.error))
            .collect();
        format!(" ({})", each.join("; "))
    }
}

/// Bars of one symbol, for a chart.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PriceSeries {
    /// Bar length in seconds.
    pub bar_secs: u32,
    /// The bars, in time order.
    pub bars: Vec<PriceBar>,
}

/// One bar of trade prices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PriceBar {
    /// Start of the bar (market time).
    pub start_ms: TimestampMs,
    /// First price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price.
    pub close: f64,
}

/// Why a plugin made the fills it made.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PluginDiagnosis {
    /// Symbols it asked for (`*`: every symbol).
    pub symbols: Vec<String>,
    /// Those the data held.
    pub symbols_with_data: Vec<String>,
    /// Events delivered to it.
    pub events: u64,
    /// Forecasts made for its symbols.
    pub forecasts: u64,
    /// Faults (traps, deadlines).
    pub faults: u64,
    /// Orders the broker accepted.
    pub orders: u64,
    /// Orders the broker refused.
    pub refusals: u64,
    /// The most frequent refusal reasons (reasons that differ only in numbers count as one).
    pub refusal_reasons: Vec<RefusalReason>,
    /// The answer, in words.
    pub verdict: String,
}

/// One reason orders were refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefusalReason {
    /// The first refusal's text.
    pub reason: String,
    /// Refusals of this kind.
    pub count: u64,
    /// When the first happened (market time).
    pub first_ms: TimestampMs,
}

/// The currency of every PnL figure: the paper broker converts nothing, so prices are
/// taken to be in the account currency (the bundled and shared data are US equities).
pub const CURRENCY: &str = "USD";

/// Builds per-plugin results from equity samples taken during the run.
#[derive(Debug, Default)]
pub struct EquityTracker {
    /// Plugin names, in the order of `curves`.
    names: Vec<String>,
    /// Per plugin: the curve's changes, samples taken, samples with a position.
    curves: Vec<(Vec<EquityPoint>, usize, usize)>,
}

impl EquityTracker {
    /// The place of `plugin`'s curve, for [`sample_at`](Self::sample_at); added if new.
    pub fn index(&mut self, plugin: &str) -> usize {
        match self.names.iter().position(|n| n == plugin) {
            Some(i) => i,
            None => {
                self.names.push(plugin.to_string());
                self.curves.push(Default::default());
                self.names.len() - 1
            }
        }
    }

    /// Record a plugin's equity and whether it holds a position at `time_ms`.
    pub fn sample(&mut self, plugin: &str, time_ms: TimestampMs, equity: f64, exposed: bool) {
        let i = self.index(plugin);
        self.sample_at(i, time_ms, equity, exposed);
    }

    /// [`sample`](Self::sample) by the curve's place: a sweep samples a hundred plugins every
    /// second of market time.
    pub fn sample_at(&mut self, i: usize, time_ms: TimestampMs, equity: f64, exposed: bool) {
        let Some((curve, samples, exposed_samples)) = self.curves.get_mut(i) else {
            return;
        };
        *samples += 1;
        if exposed {
            *exposed_samples += 1;
        }
        if curve.last().is_none_or(|p| p.equity != equity) {
            curve.push(EquityPoint { time_ms, equity });
        }
    }

    /// Drawdown, Sharpe and exposure of each plugin.
    pub fn finish(self) -> BTreeMap<String, (f64, f64, f64, Vec<EquityPoint>)> {
        self.names
            .into_iter()
            .zip(self.curves)
            .map(|(plugin, (curve, samples, exposed))| {
                let (mut peak, mut dd) = (f64::MIN, 0.0f64);
                for p in &curve {
                    peak = peak.max(p.equity);
                    dd = dd.max(peak - p.equity);
                }
                let changes: Vec<f64> = curve
                    .windows(2)
                    .map(|w| w[1].equity - w[0].equity)
                    .collect();
                let sharpe = if changes.len() > 1 {
                    let mean = changes.iter().sum::<f64>() / changes.len() as f64;
                    let var = changes.iter().map(|c| (c - mean).powi(2)).sum::<f64>()
                        / (changes.len() - 1) as f64;
                    if var > 0.0 { mean / var.sqrt() } else { 0.0 }
                } else {
                    0.0
                };
                let exposure = if samples > 0 {
                    exposed as f64 / samples as f64
                } else {
                    0.0
                };
                (plugin, (dd, sharpe, exposure, thin(curve, 2000)))
            })
            .collect()
    }
}

/// Keep at most `max` points, evenly spaced, always including the last.
fn thin(curve: Vec<EquityPoint>, max: usize) -> Vec<EquityPoint> {
    if curve.len() <= max {
        return curve;
    }
    let step = curve.len().div_ceil(max);
    let last = curve[curve.len() - 1];
    let mut out: Vec<EquityPoint> = curve.into_iter().step_by(step).collect();
    if out.last() != Some(&last) {
        out.push(last);
    }
    out
}

impl fmt::Display for BacktestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} trades in {:.2} s ({:.0} ticks/s)",
            self.trades, self.elapsed_secs, self.ticks_per_sec
        )?;
        writeln!(
            f,
            "{:<24} {:>7} {:>12} {:>12} {:>12} {:>10} {:>8} {:>8}",
            "plugin", "fills", "realised", "unrealised", "max dd", "fees", "sharpe", "exposure"
        )?;
        for p in &self.plugins {
            writeln!(
                f,
                "{:<24} {:>7} {:>12.2} {:>12.2} {:>12.2} {:>10.2} {:>8.3} {:>7.1}%",
                p.plugin,
                p.fills,
                p.realised_pnl,
                p.unrealised_pnl,
                p.max_drawdown,
                p.fees,
                p.sharpe,
                p.exposure * 100.0
            )?;
        }
        if !self.training.is_empty() {
            writeln!(
                f,
                "{:<10} {:>7} {:>9} {:>8} {:>12} {:>12} {:>8}",
                "symbol", "cycles", "deployed", "refused", "too little", "forecasts", "model"
            )?;
            for (symbol, t) in &self.training {
                writeln!(
                    f,
                    "{:<10} {:>7} {:>9} {:>8} {:>12} {:>12} {:>8}",
                    symbol,
                    t.cycles,
                    t.deployed,
                    t.refused,
                    t.not_enough_data,
                    t.predictions,
                    t.final_version.map_or("-".into(), |v| format!("v{v}"))
                )?;
            }
        }
        if !self.forecast_scores.is_empty() {
            writeln!(
                f,
                "{:<10} {:>9} {:>7} {:>11} {:>11} {:>11} {:>9} {:>8} {:>8}",
                "symbol",
                "forecasts",
                "scored",
                "MSE model",
                "MSE zero",
                "MSE last",
                "direction",
                "DM",
                "p"
            )?;
            for (symbol, s) in &self.forecast_scores {
                let dm = s.dm_statistic.map_or("-".into(), |d| format!("{d:.2}"));
                let p = s.dm_p_value.map_or("-".into(), |p| format!("{p:.3}"));
                writeln!(
                    f,
                    "{:<10} {:>9} {:>7} {:>11.3e} {:>11.3e} {:>11.3e} {:>8.1}% {:>8} {:>8}",
                    symbol,
                    s.forecasts,
                    s.scored,
                    s.mse_model,
                    s.mse_zero,
                    s.mse_last,
                    s.directional_accuracy * 100.0,
                    dm,
                    p
                )?;
            }
        }
        Ok(())
    }
}

pub use super::equity_svg::equity_svg;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_sharpe_and_exposure_from_samples() {
        let mut t = EquityTracker::default();
        for (i, (eq, exposed)) in [
            (0.0, false),
            (10.0, true),
            (4.0, true),
            (12.0, true),
            (6.0, false),
        ]
        .iter()
        .enumerate()
        {
            t.sample("p", i as i64, *eq, *exposed);
        }
        let (dd, sharpe, exposure, curve) = t.finish().remove("p").unwrap();
        assert_eq!(dd, 6.0);
        assert_eq!(exposure, 0.6);
        assert_eq!(curve.len(), 5);
        // changes 10, -6, 8, -6: mean 1.5, squared deviations 72.25+56.25+42.25+56.25 = 227
        assert!(
            (sharpe - 1.5 / (227.0f64 / 3.0).sqrt()).abs() < 1e-9,
            "{sharpe}"
        );
    }
}
