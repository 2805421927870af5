//! The dashboard's clock: a task that sends changed bars four times a second, and every
//! second the status document, the strategies' equity, and notices for what changed since
//! the last second (a plugin faulted or was reloaded, a model was deployed, the feed's link,
//! the kill switch, the health verdict).

use super::event::{EquityView, Level, Notice};
use super::hub::EventHub;
use crate::plugins::PluginRunState;
use crate::status::{Reporter, StatusReport};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Bars go out this often.
const BAR_TICK: Duration = Duration::from_millis(250);
/// The status document goes out every this many bar ticks.
const STATUS_EVERY: u32 = 4;

/// Run until `closing` turns true.
pub async fn run(hub: Arc<EventHub>, reporter: Arc<Reporter>, mut closing: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(BAR_TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut previous: Option<StatusReport> = None;
    let mut n: u32 = 0;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = closing.changed() => {}
        }
        if *closing.borrow() {
            return;
        }
        hub.flush_bars();
        n = n.wrapping_add(1);
        if !n.is_multiple_of(STATUS_EVERY) {
            continue;
        }
        let report = reporter.report();
        let now = crate::plugins::view::wall_clock_ms();
        if let Some(before) = &previous {
            for notice in changes(before, &report, now) {
                hub.notice(notice);
            }
        }
        let equity: BTreeMap<String, f64> =
            report
                .broker
                .positions
                .iter()
                .fold(BTreeMap::new(), |mut m, p| {
                    *m.entry(p.plugin.clone()).or_default() += p.realised_pnl + p.unrealised_pnl;
                    m
                });
        if !equity.is_empty() {
            hub.equity(EquityView {
                time_ms: now,
                equity,
            });
        }
        hub.status(report.clone());
        previous = Some(report);
    }
}

/// Notices for what changed between two status documents.
pub fn changes(before: &StatusReport, after: &StatusReport, now_ms: i64) -> Vec<Notice> {
    let mut out = Vec::new();
    let mut note = |level, subject: &str, text: String| {
        out.push(Notice {
            time_ms: now_ms,
            level,
            subject: subject.to_string(),
            text,
        })
    };
    for p in &after.plugins {
        let name = &p.info.name;
        let Some(old) = before.plugins.iter().find(|o| &o.info.name == name) else {
            note(
                Level::Info,
                "plugin",
                format!("{name} {} loaded", p.info.version),
            );
            continue;
        };
        let (s, o) = (&p.stats, &old.stats);
        if s.reloads_ok > o.reloads_ok {
            note(
                Level::Info,
                "plugin",
                format!(
                    "{name} reloaded: {} -> {}",
                    old.info.version, p.info.version
                ),
            );
        }
        if s.reloads_failed > o.reloads_failed {
            let why = s.last_error.as_deref().unwrap_or("see the log");
            note(
                Level::Warning,
                "plugin",
                format!("{name}: a new version was refused, the old one keeps serving ({why})"),
            );
        }
        if s.state != o.state {
            let level = match s.state {
                PluginRunState::Running | PluginRunState::Disabled => Level::Info,
                PluginRunState::Faulted => Level::Warning,
                PluginRunState::Quarantined => Level::Error,
            };
            let why = match (s.state, &s.last_error) {
                (PluginRunState::Faulted | PluginRunState::Quarantined, Some(e)) => {
                    format!(": {e}")
                }
                _ => String::new(),
            };
            note(
                level,
                "plugin",
                format!("{name} is {}{why}", state_word(s.state)),
            );
        }
    }
    for old in &before.plugins {
        if !after.plugins.iter().any(|p| p.info.name == old.info.name) {
            note(
                Level::Warning,
                "plugin",
                format!("{} unloaded", old.info.name),
            );
        }
    }
    for m in &after.models {
        let old = before.models.iter().find(|o| o.symbol == m.symbol);
        if m.version.is_some() && old.is_none_or(|o| o.version != m.version) {
            let v = m.version.unwrap_or_default();
            note(
                Level::Info,
                "model",
                format!("{}: model v{v} deployed", m.symbol),
            );
        }
    }
    if before.feed.link != after.feed.link {
        let level = if after.feed.link.is_up() {
            Level::Info
        } else {
            Level::Warning
        };
        let text = serde_json::to_value(&after.feed.link)
            .ok()
            .and_then(|v| v.get("state").and_then(|s| s.as_str()).map(str::to_string))
            .unwrap_or_default();
        note(level, "feed", format!("feed {text}"));
    }
    let (k0, k1) = (&before.broker.kill_switch, &after.broker.kill_switch);
    if k0.engaged != k1.engaged {
        let (level, word) = if k1.engaged {
            (Level::Warning, "engaged")
        } else {
            (Level::Info, "released")
        };
        note(
            level,
            "kill_switch",
            format!("kill switch {word}: {}", k1.reason),
        );
    }
    if before.health.healthy != after.health.healthy {
        match after.health.healthy {
            true => note(Level::Info, "health", "healthy again".into()),
            false => note(Level::Error, "health", after.health.messages.join("; ")),
        }
    }
    out
}

/// A plugin state in words.
fn state_word(s: PluginRunState) -> &'static str {
    match s {
        PluginRunState::Running => "running",
        PluginRunState::Faulted => "faulted (restarting)",
        PluginRunState::Quarantined => "quarantined",
        PluginRunState::Disabled => "disabled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::{PluginStats, PluginStatus};

    fn plugin(version: &str, stats: PluginStats) -> PluginStatus {
        crate::status::health::test_plugin("sma", version, stats)
    }

    #[test]
    fn reloads_faults_and_halts_become_notices() {
        let before = StatusReport {
            plugins: vec![plugin("1.0.0", PluginStats::default())],
            ..Default::default()
        };
        let mut after = StatusReport {
            plugins: vec![plugin(
                "2.0.0",
                PluginStats {
                    reloads_ok: 1,
                    state: PluginRunState::Quarantined,
                    last_error: Some("trap: unreachable".into()),
                    ..Default::default()
                },
            )],
            ..Default::default()
        };
        after.broker.kill_switch.engaged = true;
        after.broker.kill_switch.reason = "test".into();
        let texts: Vec<String> = changes(&before, &after, 0)
            .into_iter()
            .map(|n| n.text)
            .collect();
        assert_eq!(
            texts,
            [
                "sma reloaded: 1.0.0 -> 2.0.0",
                "sma is quarantined: trap: unreachable",
                "kill switch engaged: test"
            ]
        );
        assert!(changes(&after, &after, 0).is_empty());
    }
}
