//! What the HTML report needs beyond the numbers: price bars of the replayed trades, the
//! fills to mark on them, and for each plugin why it traded or did not (no data for its
//! symbols, no forecasts, nothing triggered, orders refused: top reasons with counts).
//!
//! Filled in after the run from its inputs and its journal, so the engine loop is not
//! touched and the answers are those the journal holds.

use super::report::{BacktestReport, PluginDiagnosis, PriceBar, PriceSeries, RefusalReason};
use crate::broker::refusal_log::reason_kind;
use crate::broker::{Journal, JournalRecord};
use crate::plugins::PluginStatus;
use crate::types::{Fill, Trade};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bars kept per symbol for the price charts.
const MAX_BARS: usize = 1500;
/// Fills kept for the price charts.
pub const MAX_FILLS: usize = 5000;
/// Refusal reasons listed per plugin.
const TOP_REASONS: usize = 5;
/// Bar lengths the charts use, in seconds: the shortest that keeps under `MAX_BARS`.
const BAR_SECS: [u32; 9] = [
    60,
    300,
    900,
    1800,
    3600,
    4 * 3600,
    86_400,
    7 * 86_400,
    30 * 86_400,
];

/// Fill `report`'s prices, fills and per-plugin diagnoses from the run's trades, plugins
/// (their status before shutdown) and journal.
pub fn diagnose(
    report: &mut BacktestReport,
    trades: &[&[Trade]],
    plugins: &[PluginStatus],
    journal: &Path,
) {
    report.prices = price_series(trades);
    report.fills_total = report.fill_log.len();
    report.fills = thin_fills(&report.fill_log);
    let records = match Journal::read_all(journal) {
        Ok(c) => c.records,
        Err(e) => {
            tracing::warn!("the report cannot explain orders: {e}");
            Vec::new()
        }
    };
    let with_data: BTreeSet<&str> = report.prices.keys().map(String::as_str).collect();
    for result in &mut report.plugins {
        let status = plugins.iter().find(|p| p.info.name == result.plugin);
        let wanted: Vec<String> = status.map(|s| s.info.symbols.clone()).unwrap_or_default();
        let all = wanted.iter().any(|s| s == "*");
        let fed: Vec<String> = if all {
            with_data.iter().map(|s| s.to_string()).collect()
        } else {
            wanted
                .iter()
                .filter(|s| with_data.contains(s.as_str()))
                .cloned()
                .collect()
        };
        let forecasts: u64 = report
            .training
            .iter()
            .filter(|(symbol, _)| fed.contains(symbol))
            .map(|(_, t)| t.predictions)
            .sum();
        let mut d = PluginDiagnosis {
            symbols: wanted,
            symbols_with_data: fed,
            events: status.map_or(0, |s| s.stats.events),
            faults: status.map_or(0, |s| s.stats.faults),
            forecasts,
            ..Default::default()
        };
        count_orders(&mut d, &result.plugin, &records);
        d.verdict = verdict(&d, result.fills, !report.training.is_empty(), &with_data);
        result.diagnosis = d;
    }
}

/// Orders accepted and refused by the journal, refusals grouped by reason.
fn count_orders(d: &mut PluginDiagnosis, plugin: &str, records: &[JournalRecord]) {
    let mut reasons: BTreeMap<String, RefusalReason> = BTreeMap::new();
    for r in records {
        match r {
            JournalRecord::Order { plugin: p, .. } if &**p == plugin => d.orders += 1,
            JournalRecord::Rejected { rejection, .. } if &*rejection.plugin == plugin => {
                d.refusals += 1;
                let entry = reasons
                    .entry(reason_kind(&rejection.reason))
                    .or_insert_with(|| RefusalReason {
                        reason: rejection.reason.clone(),
                        count: 0,
                        first_ms: rejection.time_ms,
                    });
                entry.count += 1;
            }
            _ => {}
        }
    }
    let mut top: Vec<RefusalReason> = reasons.into_values().collect();
    top.sort_by(|a, b| b.count.cmp(&a.count).then(a.first_ms.cmp(&b.first_ms)));
    top.truncate(TOP_REASONS);
    d.refusal_reasons = top;
}

/// Why a plugin made the fills it made, in words.
fn verdict(d: &PluginDiagnosis, fills: usize, forecasting: bool, data: &BTreeSet<&str>) -> String {
    if fills > 0 {
        return format!("traded: {fills} fills of {} accepted orders", d.orders);
    }
    let mut why = if d.symbols_with_data.is_empty() {
        format!(
            "no data for its symbols: it wants {}, the data holds {}",
            list(&d.symbols),
            list(&data.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        )
    } else if d.orders == 0 && d.refusals == 0 {
        match (forecasting, d.forecasts) {
            (false, _) => "placed no orders: its rules never fired on this data (and no \
                           forecasts were made: a strategy that trades on forecasts needs \
                           --models or --walk-forward)"
                .to_string(),
            (true, 0) => format!(
                "placed no orders; no forecasts were made for {} (too little history for the \
                 trainer, or the gate deployed no model)",
                list(&d.symbols_with_data)
            ),
            (true, n) => {
                format!("placed no orders: its rules never fired ({n} forecasts received)")
            }
        }
    } else if d.orders == 0 {
        let top = d.refusal_reasons.first().map_or(String::new(), |r| {
            format!(": most often {} ({} times)", r.reason, r.count)
        });
        format!("every one of its {} orders was refused{top}", d.refusals)
    } else {
        format!(
            "{} orders accepted but none filled (limit prices never reached, or cancelled)",
            d.orders
        )
    };
    if d.faults > 0 {
        why.push_str(&format!("; it faulted {} times (see the log)", d.faults));
    }
    why
}

fn list(items: &[String]) -> String {
    match items.len() {
        0 => "nothing".into(),
        _ => items.join(", "),
    }
}

/// Bars of each symbol at the shortest length that keeps under `MAX_BARS` bars.
fn price_series(parts: &[&[Trade]]) -> BTreeMap<String, PriceSeries> {
    let first = parts.iter().find_map(|p| p.first());
    let last = parts.iter().rev().find_map(|p| p.last());
    let span_secs = match (first, last) {
        (Some(a), Some(b)) => ((b.time_ms - a.time_ms) / 1000).max(1) as u64,
        _ => return BTreeMap::new(),
    };
    let bar_secs = BAR_SECS
        .into_iter()
        .find(|s| span_secs / u64::from(*s) < MAX_BARS as u64)
        .unwrap_or(BAR_SECS[BAR_SECS.len() - 1]);
    let bar_ms = i64::from(bar_secs) * 1000;
    let mut out: BTreeMap<String, PriceSeries> = BTreeMap::new();
    for t in parts
        .iter()
        .flat_map(|p| p.iter())
        .filter(|t| t.price.is_finite() && t.price > 0.0)
    {
        let start_ms = t.time_ms.div_euclid(bar_ms) * bar_ms;
        let series = match out.get_mut(&*t.symbol) {
            Some(s) => s,
            None => out.entry(t.symbol.to_string()).or_insert(PriceSeries {
                bar_secs,
                bars: Vec::new(),
            }),
        };
        match series.bars.last_mut() {
            Some(b) if b.start_ms == start_ms => {
                b.high = b.high.max(t.price);
                b.low = b.low.min(t.price);
                b.close = t.price;
            }
            Some(b) if b.start_ms > start_ms => {}
            _ => series.bars.push(PriceBar {
                start_ms,
                open: t.price,
                high: t.price,
                low: t.price,
                close: t.price,
            }),
        }
    }
    out
}

/// At most `MAX_FILLS` fills, evenly spread, always the last.
fn thin_fills(fills: &[Fill]) -> Vec<Fill> {
    if fills.len() <= MAX_FILLS {
        return fills.to_vec();
    }
    let step = fills.len().div_ceil(MAX_FILLS);
    let mut out: Vec<Fill> = fills.iter().step_by(step).cloned().collect();
    if let Some(last) = fills.last()
        && out.last() != Some(last)
    {
        out.push(last.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_as_short_as_the_span_allows() {
        let trade = |t: i64, p: f64| Trade {
            symbol: "SPY".into(),
            price: p,
            size: 1.0,
            time_ms: t,
        };
        // 30 minutes: one-minute bars, from trades in parts (a streamed read's chunks).
        let series = price_series(&[
            &[trade(0, 10.0), trade(30_000, 11.0)],
            &[],
            &[trade(90_000, 9.0), trade(1_800_000, 10.5)],
        ]);
        let spy = &series["SPY"];
        assert_eq!(spy.bar_secs, 60);
        assert_eq!(spy.bars.len(), 3);
        assert_eq!(
            (spy.bars[0].open, spy.bars[0].high, spy.bars[0].close),
            (10.0, 11.0, 11.0)
        );
        // Five days: 300 s bars would be 1440, under the cap.
        let series = price_series(&[&[trade(0, 1.0)], &[trade(5 * 86_400_000, 1.0)], &[]]);
        assert_eq!(series["SPY"].bar_secs, 300);
    }
}
