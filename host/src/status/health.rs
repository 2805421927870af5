//! Whether the daemon can do its job, as `/health` answers it: 200 when it can, 503 with
//! the reasons when the journal has failed (no order can be placed or filled), the feed has
//! been down longer than `HEALTH_FEED_DOWN_SECS`, or every plugin is quarantined.

use super::report::StatusReport;
use crate::plugins::PluginRunState;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What counts as unhealthy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthPolicy {
    /// How long the feed may be down before the daemon reports itself unhealthy
    /// (`HEALTH_FEED_DOWN_SECS`, default 60): a reconnection within it is routine.
    pub feed_down_limit: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            feed_down_limit: Duration::from_secs(60),
        }
    }
}

/// One reason the daemon is not healthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum HealthProblem {
    /// The journal stopped accepting records: nothing is placed or filled.
    JournalFailed {
        /// The journal's error.
        error: String,
    },
    /// The feed has been down longer than the limit.
    FeedDown {
        /// Seconds down so far.
        down_secs: f64,
        /// The limit.
        limit_secs: f64,
    },
    /// Every loaded plugin is quarantined: no strategy runs.
    AllPluginsQuarantined {
        /// How many.
        plugins: usize,
    },
}

impl HealthProblem {
    /// The problem in words, with what to do.
    pub fn message(&self) -> String {
        match self {
            HealthProblem::JournalFailed { error } => format!(
                "the journal has failed ({error}): no order is placed or filled until the cause \
                 is fixed and the daemon restarted"
            ),
            HealthProblem::FeedDown {
                down_secs,
                limit_secs,
            } => format!(
                "the market-data feed has been down for {down_secs:.0} s (limit \
                 HEALTH_FEED_DOWN_SECS={limit_secs:.0}): see feed.link in /api/status and the log"
            ),
            HealthProblem::AllPluginsQuarantined { plugins } => format!(
                "all {plugins} plugins are quarantined after repeated faults: fix and replace \
                 their files, or enable them again"
            ),
        }
    }
}

/// The verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// True when there is no problem.
    pub healthy: bool,
    /// What is wrong.
    pub problems: Vec<HealthProblem>,
    /// The same, in words.
    pub messages: Vec<String>,
}

impl HealthPolicy {
    /// Judge a report made at `now_ms` (wall clock).
    pub fn assess(&self, r: &StatusReport, now_ms: i64) -> HealthReport {
        let mut problems = Vec::new();
        if let Some(error) = &r.broker.journal.failure {
            problems.push(HealthProblem::JournalFailed {
                error: error.clone(),
            });
        }
        if let Some(since) = r.feed.down_since_ms {
            let down = Duration::from_millis(u64::try_from(now_ms - since).unwrap_or(0));
            if down > self.feed_down_limit {
                problems.push(HealthProblem::FeedDown {
                    down_secs: down.as_secs_f64(),
                    limit_secs: self.feed_down_limit.as_secs_f64(),
                });
            }
        }
        let loaded: Vec<_> = r
            .plugins
            .iter()
            .filter(|p| p.stats.state != PluginRunState::Disabled)
            .collect();
        if !loaded.is_empty()
            && loaded
                .iter()
                .all(|p| p.stats.state == PluginRunState::Quarantined)
        {
            problems.push(HealthProblem::AllPluginsQuarantined {
                plugins: loaded.len(),
            });
        }
        HealthReport {
            healthy: problems.is_empty(),
            messages: problems.iter().map(HealthProblem::message).collect(),
            problems,
        }
    }
}

/// A plugin's status as tests need it.
#[cfg(test)]
pub(crate) fn test_plugin(
    name: &str,
    version: &str,
    stats: crate::plugins::PluginStats,
) -> crate::plugins::PluginStatus {
    crate::plugins::PluginStatus {
        info: crate::plugins::PluginInfo {
            name: name.into(),
            file: format!("{name}.wasm").into(),
            strategy: name.into(),
            version: version.into(),
            description: String::new(),
            symbols: vec![],
            config: vec![],
            bar_periods: vec![],
            interface_version: "0.3.0".into(),
            compile_ms: 0.0,
            cached: false,
        },
        stats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::{PluginStats, PluginStatus};

    fn plugin(state: PluginRunState) -> PluginStatus {
        let stats = PluginStats {
            state,
            ..PluginStats::default()
        };
        test_plugin("p", "1", stats)
    }

    #[test]
    fn each_problem_is_found_and_named() {
        let policy = HealthPolicy::default();
        let now = 1_000_000;
        let base = StatusReport::default();
        assert!(policy.assess(&base, now).healthy);

        // TC0..: (change to the report, problem expected)
        type Change = fn(&mut StatusReport);
        let cases: [(Change, Option<&str>); 6] = [
            (
                |r| r.broker.journal.failure = Some("disk full".into()),
                Some("journal_failed"),
            ),
            (
                |r| r.feed.down_since_ms = Some(1_000_000 - 61_000),
                Some("feed_down"),
            ),
            (|r| r.feed.down_since_ms = Some(1_000_000 - 59_000), None),
            (
                |r| r.plugins = vec![plugin(PluginRunState::Quarantined)],
                Some("all_plugins_quarantined"),
            ),
            (
                |r| {
                    r.plugins = vec![
                        plugin(PluginRunState::Quarantined),
                        plugin(PluginRunState::Faulted),
                    ]
                },
                None,
            ),
            (
                |r| {
                    r.plugins = vec![
                        plugin(PluginRunState::Quarantined),
                        plugin(PluginRunState::Disabled),
                    ]
                },
                Some("all_plugins_quarantined"),
            ),
        ];
        for (i, (change, want)) in cases.into_iter().enumerate() {
            let mut r = base.clone();
            change(&mut r);
            let h = policy.assess(&r, now);
            let got = h.problems.first().map(|p| {
                serde_json::to_value(p).unwrap()["problem"]
                    .as_str()
                    .unwrap()
                    .to_string()
            });
            assert_eq!(got.as_deref(), want, "TC{i}: {h:?}");
            assert_eq!(h.healthy, want.is_none(), "TC{i}");
            assert_eq!(h.messages.len(), h.problems.len(), "TC{i}");
        }
    }
}
