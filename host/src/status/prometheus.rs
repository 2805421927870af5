//! Rendering a [`StatusReport`] in the Prometheus text exposition format.

use super::report::StatusReport;
use std::fmt::Write;

/// The report as Prometheus metrics.
pub fn render(r: &StatusReport) -> String {
    let mut out = String::with_capacity(4096);
    let mut metric = |name: &str, help: &str, kind: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP tradehost_{name} {help}");
        let _ = writeln!(out, "# TYPE tradehost_{name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "tradehost_{name}{labels} {value}");
        }
    };
    let one = |v: f64| vec![(String::new(), v)];
    metric(
        "uptime_seconds",
        "Seconds since start.",
        "gauge",
        one(r.uptime_secs),
    );
    metric(
        "feed_connected",
        "1 when the market-data feed is connected.",
        "gauge",
        one(if r.feed.state == "connected" {
            1.0
        } else {
            0.0
        }),
    );
    metric(
        "feed_reconnects_total",
        "Feed reconnections.",
        "counter",
        one(r.feed.reconnects as f64),
    );
    metric(
        "feed_trades_total",
        "Trades received from the feed.",
        "counter",
        one(r.feed.trades_in as f64),
    );
    metric(
        "feed_malformed_frames_total",
        "Feed frames that could not be parsed.",
        "counter",
        one(r.feed.malformed_frames as f64),
    );
    metric(
        "feed_dropped_events_total",
        "Feed events dropped by a slow consumer.",
        "counter",
        one(r.feed.dropped_events as f64),
    );
    metric(
        "engine_trades_total",
        "Trades processed by the engine.",
        "counter",
        one(r.engine.trades as f64),
    );
    metric(
        "engine_bars_total",
        "Bars completed.",
        "counter",
        one(r.engine.bars as f64),
    );
    let lat = &r.engine.tick_to_order;
    metric(
        "tick_to_order_seconds",
        "From a feed frame read off the socket to an order it caused reaching the broker.",
        "summary",
        vec![
            ("{quantile=\"0.5\"}".into(), lat.p50_us / 1e6),
            ("{quantile=\"0.99\"}".into(), lat.p99_us / 1e6),
            ("{quantile=\"0.999\"}".into(), lat.p999_us / 1e6),
            ("_count".into(), lat.samples as f64),
        ],
    );
    let per_plugin = |f: &dyn Fn(&crate::plugins::PluginStatus) -> f64| -> Vec<(String, f64)> {
        r.plugins
            .iter()
            .map(|p| (format!("{{plugin=\"{}\"}}", escape(&p.info.name)), f(p)))
            .collect()
    };
    metric(
        "plugin_calls_total",
        "Calls into each plugin.",
        "counter",
        per_plugin(&|p| p.stats.calls as f64),
    );
    metric(
        "plugin_events_total",
        "Events delivered to each plugin.",
        "counter",
        per_plugin(&|p| p.stats.events as f64),
    );
    metric(
        "plugin_orders_total",
        "Orders and cancels returned by each plugin.",
        "counter",
        per_plugin(&|p| p.stats.actions as f64),
    );
    metric(
        "plugin_traps_total",
        "Faults (traps, deadlines, memory) of each plugin.",
        "counter",
        per_plugin(&|p| p.stats.faults as f64),
    );
    metric(
        "plugin_restarts_total",
        "Rebuilds after faults.",
        "counter",
        per_plugin(&|p| p.stats.restarts as f64),
    );
    metric(
        "plugin_reloads_total",
        "Successful hot reloads.",
        "counter",
        per_plugin(&|p| p.stats.reloads_ok as f64),
    );
    metric(
        "plugin_reload_failures_total",
        "Failed hot reloads.",
        "counter",
        per_plugin(&|p| p.stats.reloads_failed as f64),
    );
    metric(
        "plugin_dropped_batches_total",
        "Batches dropped on a full plugin queue.",
        "counter",
        per_plugin(&|p| p.stats.batches_dropped as f64),
    );
    metric(
        "plugin_healthy",
        "1 when the plugin is running, 0 when down or quarantined.",
        "gauge",
        per_plugin(&|p| {
            if p.stats.health == "running" {
                1.0
            } else {
                0.0
            }
        }),
    );
    let mut latency = Vec::new();
    for p in &r.plugins {
        for (q, v) in [
            ("0.5", p.stats.latency_p50_ns),
            ("0.99", p.stats.latency_p99_ns),
            ("0.999", p.stats.latency_p999_ns),
        ] {
            latency.push((
                format!("{{plugin=\"{}\",quantile=\"{q}\"}}", escape(&p.info.name)),
                v as f64 / 1e9,
            ));
        }
    }
    metric(
        "plugin_call_latency_seconds",
        "Latency of on-events calls.",
        "summary",
        latency,
    );
    metric(
        "broker_orders_total",
        "Orders accepted by the broker.",
        "counter",
        one(r.broker.orders as f64),
    );
    metric(
        "broker_fills_total",
        "Paper fills.",
        "counter",
        one(r.broker.fills as f64),
    );
    metric(
        "broker_refusals_total",
        "Orders refused by risk checks.",
        "counter",
        one(r.broker.refusals as f64),
    );
    metric(
        "broker_realised_pnl",
        "Realised PnL over all plugins.",
        "gauge",
        one(r.broker.realised_pnl),
    );
    metric(
        "broker_unrealised_pnl",
        "Unrealised PnL over all plugins.",
        "gauge",
        one(r.broker.unrealised_pnl),
    );
    metric(
        "broker_kill_switch",
        "1 when the kill switch is on.",
        "gauge",
        one(if r.broker.kill_switch.engaged {
            1.0
        } else {
            0.0
        }),
    );
    let pnl: Vec<(String, f64)> = r
        .broker
        .positions
        .iter()
        .map(|p| {
            (
                format!(
                    "{{plugin=\"{}\",symbol=\"{}\"}}",
                    escape(&p.plugin),
                    escape(&p.symbol)
                ),
                p.realised_pnl + p.unrealised_pnl,
            )
        })
        .collect();
    metric(
        "position_pnl",
        "Realised plus unrealised PnL per plugin and symbol.",
        "gauge",
        pnl,
    );
    let models = |f: &dyn Fn(&super::report::ModelReport) -> Option<f64>| -> Vec<(String, f64)> {
        r.models
            .iter()
            .filter_map(|m| f(m).map(|v| (format!("{{symbol=\"{}\"}}", escape(&m.symbol)), v)))
            .collect()
    };
    metric(
        "model_version",
        "Deployed model version per symbol.",
        "gauge",
        models(&|m| m.version.map(f64::from)),
    );
    metric(
        "model_mse",
        "Held-out MSE of the deployed model.",
        "gauge",
        models(&|m| m.mse),
    );
    metric(
        "model_directional_accuracy",
        "Held-out directional accuracy of the deployed model.",
        "gauge",
        models(&|m| m.directional_accuracy),
    );
    out
}

/// Escape a label value.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::report::{BrokerReport, PositionReport};

    #[test]
    fn renders_counters_with_escaped_labels() {
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
        assert!(text.contains("tradehost_broker_fills_total 3\n"), "{text}");
        assert!(
            text.contains("tradehost_position_pnl{plugin=\"a\\\"b\",symbol=\"SPY\"} 2.5\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE tradehost_feed_trades_total counter"));
    }
}
