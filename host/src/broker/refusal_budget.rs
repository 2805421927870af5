//! How many refusals of one plugin are journaled per minute of market time.
//!
//! A refusal changes no state, but each is a journal record: a plugin that keeps sending
//! orders the risk checks refuse (a position limit set too low, a bug) would otherwise fill
//! the disk (1.2 million refusal records in 90 s were measured). Past the budget a plugin's
//! refusals are still returned to it, counted and summarised in the log, but not journaled
//! until the next minute. The budget runs on market time, so a backtest journals the same
//! records at every batch size.

use crate::types::TimestampMs;
use std::collections::HashMap;
use std::sync::Arc;

/// Length of the budget's window.
const WINDOW_MS: TimestampMs = 60_000;

/// Journaled refusals per plugin in the current minute.
#[derive(Debug)]
pub struct RefusalBudget {
    per_minute: u32,
    windows: HashMap<Arc<str>, (TimestampMs, u32)>,
}

impl RefusalBudget {
    /// A budget of `per_minute` journaled refusals per plugin per minute of market time.
    pub fn new(per_minute: u32) -> Self {
        RefusalBudget {
            per_minute,
            windows: HashMap::new(),
        }
    }

    /// May this refusal of `plugin` at `now_ms` be journaled? Counts it either way.
    pub fn journal(&mut self, plugin: &Arc<str>, now_ms: TimestampMs) -> bool {
        let minute = now_ms.div_euclid(WINDOW_MS);
        let window = self.windows.entry(plugin.clone()).or_insert((minute, 0));
        if window.0 != minute {
            *window = (minute, 0);
        }
        window.1 = window.1.saturating_add(1);
        window.1 <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_plugin_gets_its_budget_every_market_minute() {
        let mut b = RefusalBudget::new(3);
        let (p, q): (Arc<str>, Arc<str>) = ("p".into(), "q".into());
        let journaled = |b: &mut RefusalBudget, plugin: &Arc<str>, t| {
            (0..5).filter(|_| b.journal(plugin, t)).count()
        };
        assert_eq!(journaled(&mut b, &p, 1_000), 3);
        assert_eq!(
            journaled(&mut b, &q, 1_000),
            3,
            "another plugin's budget is its own"
        );
        assert_eq!(journaled(&mut b, &p, 59_999), 0, "same minute");
        assert_eq!(journaled(&mut b, &p, 60_000), 3, "a new minute");
    }
}
