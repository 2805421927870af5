//! `/metrics`: a [`StatusReport`] in the OpenMetrics text format, encoded by the
//! `prometheus-client` crate from one table of metric definitions ([`METRICS`]).
//!
//! The values already live in the report (counters the subsystems keep, percentiles of
//! their histograms), so each scrape encodes them as constant metrics through a
//! [`Collector`] rather than mirroring every counter into a second set of atomics.

use super::report::{LatencyReport, StatusReport};
use crate::plugins::{PluginRunState, PluginStatus};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// The content type of the encoded text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Label pairs of one sample.
pub type Labels = Vec<(&'static str, String)>;

/// One metric: its name (prefixed `tradehost_`; counters get `_total`), help, type, and
/// how to read its samples from a report.
pub struct MetricDef {
    /// Name without prefix or `_total`.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: MetricType,
    /// The samples, each with its labels.
    pub samples: fn(&StatusReport) -> Vec<(Labels, f64)>,
}

fn one(v: f64) -> Vec<(Labels, f64)> {
    vec![(Vec::new(), v)]
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

fn per_plugin(r: &StatusReport, f: fn(&PluginStatus) -> f64) -> Vec<(Labels, f64)> {
    r.plugins
        .iter()
        .map(|p| (vec![("plugin", p.info.name.clone())], f(p)))
        .collect()
}

/// A latency's quantiles, in seconds.
fn latency(l: &LatencyReport) -> Vec<(Labels, f64)> {
    [("0.5", l.p50_us), ("0.99", l.p99_us), ("0.999", l.p999_us)]
        .into_iter()
        .map(|(q, us)| (vec![("quantile", q.to_string())], us / 1e6))
        .collect()
}

const C: MetricType = MetricType::Counter;
const G: MetricType = MetricType::Gauge;

/// Every metric `/metrics` exposes.
#[rustfmt::skip]
pub const METRICS: &[MetricDef] = &[
    MetricDef { name: "uptime_seconds", help: "Seconds since start.", kind: G, samples: |r| one(r.uptime_secs) },
    MetricDef { name: "healthy", help: "1 when /health answers 200.", kind: G, samples: |r| one(flag(r.health.healthy)) },
    MetricDef { name: "feed_connected", help: "1 when the market-data feed is connected.", kind: G, samples: |r| one(flag(r.feed.link.is_up())) },
    MetricDef { name: "feed_reconnects", help: "Feed reconnection attempts.", kind: C, samples: |r| one(r.feed.reconnects as f64) },
    MetricDef { name: "feed_gaps", help: "Feed connections lost (gaps in the trades).", kind: C, samples: |r| one(r.feed.gaps as f64) },
    MetricDef { name: "feed_trades", help: "Trades received from the feed.", kind: C, samples: |r| one(r.feed.trades_in as f64) },
    MetricDef { name: "feed_malformed_frames", help: "Feed frames that could not be parsed.", kind: C, samples: |r| one(r.feed.malformed_frames as f64) },
    MetricDef { name: "feed_dropped_events", help: "Feed events dropped by a slow consumer.", kind: C, samples: |r| one(r.feed.dropped_events as f64) },
    MetricDef { name: "engine_trades", help: "Trades processed by the engine.", kind: C, samples: |r| one(r.engine.trades as f64) },
    MetricDef { name: "engine_bars", help: "Bars completed.", kind: C, samples: |r| one(r.engine.bars as f64) },
    MetricDef { name: "engine_predictions", help: "Forecasts forwarded to plugins.", kind: C, samples: |r| one(r.engine.predictions as f64) },
    MetricDef { name: "tick_to_order_seconds", help: "Quantiles of the time from a feed frame read off the socket to an order it caused reaching the broker.", kind: G, samples: |r| latency(&r.engine.tick_to_order) },
    MetricDef { name: "tick_to_journaled_seconds", help: "Quantiles of the time from a feed frame read off the socket to an order it caused being journaled.", kind: G, samples: |r| latency(&r.engine.tick_to_journaled) },
    MetricDef { name: "tick_to_order_samples", help: "Answers with orders timed from their frame.", kind: C, samples: |r| one(r.engine.tick_to_order.samples as f64) },
    MetricDef { name: "plugin_calls", help: "Calls into each plugin.", kind: C, samples: |r| per_plugin(r, |p| p.stats.calls as f64) },
    MetricDef { name: "plugin_events", help: "Events delivered to each plugin.", kind: C, samples: |r| per_plugin(r, |p| p.stats.events as f64) },
    MetricDef { name: "plugin_events_skipped", help: "Events not delivered while a plugin was down or quarantined.", kind: C, samples: |r| per_plugin(r, |p| p.stats.events_skipped as f64) },
    MetricDef { name: "plugin_orders", help: "Orders and cancels returned by each plugin.", kind: C, samples: |r| per_plugin(r, |p| p.stats.actions as f64) },
    MetricDef { name: "plugin_traps", help: "Faults (traps, deadlines, memory) of each plugin.", kind: C, samples: |r| per_plugin(r, |p| p.stats.faults as f64) },
    MetricDef { name: "plugin_restarts", help: "Rebuilds after faults.", kind: C, samples: |r| per_plugin(r, |p| p.stats.restarts as f64) },
    MetricDef { name: "plugin_reloads", help: "Successful hot reloads.", kind: C, samples: |r| per_plugin(r, |p| p.stats.reloads_ok as f64) },
    MetricDef { name: "plugin_reload_failures", help: "Failed hot reloads.", kind: C, samples: |r| per_plugin(r, |p| p.stats.reloads_failed as f64) },
    MetricDef { name: "plugin_dropped_batches", help: "Batches dropped on a full plugin queue.", kind: C, samples: |r| per_plugin(r, |p| p.stats.batches_dropped as f64) },
    MetricDef { name: "plugin_healthy", help: "1 when the plugin is running, 0 when faulted, quarantined or disabled.", kind: G, samples: |r| per_plugin(r, |p| flag(p.stats.state == PluginRunState::Running)) },
    MetricDef {
        name: "plugin_call_latency_seconds",
        help: "Quantiles of the latency of on-events calls.",
        kind: G,
        samples: |r| {
            r.plugins
                .iter()
                .flat_map(|p| {
                    let s = &p.stats;
                    [("0.5", s.latency_p50_ns), ("0.99", s.latency_p99_ns), ("0.999", s.latency_p999_ns)]
                        .map(|(q, ns)| (vec![("plugin", p.info.name.clone()), ("quantile", q.to_string())], ns as f64 / 1e9))
                })
                .collect()
        },
    },
    MetricDef { name: "broker_orders", help: "Orders accepted by the broker.", kind: C, samples: |r| one(r.broker.orders as f64) },
    MetricDef { name: "broker_fills", help: "Paper fills.", kind: C, samples: |r| one(r.broker.fills as f64) },
    MetricDef { name: "broker_refusals", help: "Orders refused by risk checks.", kind: C, samples: |r| one(r.broker.refusals as f64) },
    MetricDef { name: "broker_resting_orders", help: "Orders resting now.", kind: G, samples: |r| one(r.broker.resting_orders as f64) },
    MetricDef { name: "broker_realised_pnl", help: "Realised PnL over all plugins.", kind: G, samples: |r| one(r.broker.realised_pnl) },
    MetricDef { name: "broker_unrealised_pnl", help: "Unrealised PnL over all plugins.", kind: G, samples: |r| one(r.broker.unrealised_pnl) },
    MetricDef { name: "broker_kill_switch", help: "1 when the kill switch is on.", kind: G, samples: |r| one(flag(r.broker.kill_switch.engaged)) },
    MetricDef { name: "journal_bytes", help: "Size of the broker's journal.", kind: G, samples: |r| one(r.broker.journal.bytes as f64) },
    MetricDef { name: "journal_write_errors", help: "Journal writes that failed.", kind: C, samples: |r| one(r.broker.journal.write_errors as f64) },
    MetricDef { name: "journal_failed", help: "1 when the journal stopped accepting records.", kind: G, samples: |r| one(flag(r.broker.journal.failure.is_some())) },
    MetricDef {
        name: "position_pnl",
        help: "Realised plus unrealised PnL per plugin and symbol.",
        kind: G,
        samples: |r| {
            r.broker
                .positions
                .iter()
                .map(|p| (vec![("plugin", p.plugin.clone()), ("symbol", p.symbol.clone())], p.realised_pnl + p.unrealised_pnl))
                .collect()
        },
    },
    MetricDef { name: "model_version", help: "Deployed model version per symbol.", kind: G, samples: |r| models(r, |m| m.version.map(f64::from)) },
    MetricDef { name: "model_mse", help: "Held-out MSE of the deployed model.", kind: G, samples: |r| models(r, |m| m.mse) },
    MetricDef { name: "model_directional_accuracy", help: "Held-out directional accuracy of the deployed model.", kind: G, samples: |r| models(r, |m| m.directional_accuracy) },
];

fn models(
    r: &StatusReport,
    f: fn(&super::report::ModelReport) -> Option<f64>,
) -> Vec<(Labels, f64)> {
    r.models
        .iter()
        .filter_map(|m| f(m).map(|v| (vec![("symbol", m.symbol.clone())], v)))
        .collect()
}

/// Encodes one report's values on a scrape.
#[derive(Debug)]
struct ReportCollector(StatusReport);

impl Collector for ReportCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for def in METRICS {
            let samples = (def.samples)(&self.0);
            let mut family = encoder.encode_descriptor(def.name, def.help, None, def.kind)?;
            for (labels, value) in samples {
                let sample = family.encode_family(&labels)?;
                // Whole numbers print as such (`1`, not `1.0`).
                let whole = value.fract() == 0.0 && value.abs() < 9e15;
                match (def.kind, whole) {
                    (MetricType::Counter, true) => {
                        ConstCounter::new(value.max(0.0) as u64).encode(sample)?
                    }
                    (MetricType::Counter, false) => {
                        ConstCounter::new(value.max(0.0)).encode(sample)?
                    }
                    (_, true) => ConstGauge::new(value as i64).encode(sample)?,
                    (_, false) => ConstGauge::new(value).encode(sample)?,
                }
            }
        }
        Ok(())
    }
}

/// The report in the OpenMetrics text format.
pub fn render(report: &StatusReport) -> String {
    let mut registry = Registry::with_prefix("tradehost");
    registry.register_collector(Box::new(ReportCollector(report.clone())));
    let mut out = String::with_capacity(8192);
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::report::{BrokerReport, PositionReport};

    #[test]
    fn renders_counters_gauges_and_escaped_labels() {
        let report = StatusReport {
            broker: BrokerReport {
                fills: 3,
                positions: vec![PositionReport {
                    plugin: "a\"b".into(),
                    symbol: "SPY".into(),
                    realised_pnl: 1.5,
                    unrealised_pnl: 1.0,
                    ..Default::default()
                }],
                ..Default::default()
            },
            ..Default::default()
        };
        let text = render(&report);
        assert!(text.contains("tradehost_broker_fills_total 3"), "{text}");
        assert!(
            text.contains("# TYPE tradehost_broker_fills counter"),
            "{text}"
        );
        assert!(
            text.contains("tradehost_position_pnl{plugin=\"a\\\"b\",symbol=\"SPY\"} 2.5"),
            "{text}"
        );
        assert!(text.contains("tradehost_broker_kill_switch 0"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn every_name_is_unique_and_unprefixed() {
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate metric names");
        for m in METRICS {
            assert!(
                !m.name.starts_with("tradehost_") && !m.name.ends_with("_total"),
                "{}",
                m.name
            );
        }
    }
}
