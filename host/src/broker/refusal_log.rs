//! Refused orders in the log, summarised per reason: the first few of each plugin's reason
//! in full, then one line each time that reason's count doubles. A strategy that hits a
//! limit thousands of times (a backtest at a large batch size, a position limit set too
//! low) leaves a few readable lines instead of one per order; the journal keeps every one.

use std::collections::HashMap;
use std::sync::Arc;

/// Refusals of one reason logged in full before the summary lines.
const IN_FULL: u64 = 3;

/// Counts of refusals per plugin and reason.
#[derive(Debug, Default)]
pub struct RefusalLog {
    counts: HashMap<(Arc<str>, String), u64>,
}

impl RefusalLog {
    /// Count a refusal; returns the line to log, if this one gets one.
    pub fn record(&mut self, plugin: &Arc<str>, reason: &str) -> Option<String> {
        let n = self
            .counts
            .entry((plugin.clone(), reason_kind(reason)))
            .or_insert(0);
        *n += 1;
        let n = *n;
        if n <= IN_FULL {
            Some(format!("order refused: {reason}"))
        } else if n.is_power_of_two() {
            Some(format!(
                "{n} orders refused so far for the same reason (lines are summarised, the journal has each): {reason}"
            ))
        } else {
            None
        }
    }
}

/// A refusal reason without its numbers, so that "position could reach 300" and "... 400"
/// are one reason.
pub fn reason_kind(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut in_number = false;
    for c in reason.chars() {
        let numeric = c.is_ascii_digit() || (in_number && matches!(c, '.' | 'e' | '-'));
        if numeric && !in_number {
            out.push('#');
        } else if !numeric {
            out.push(c);
        }
        in_number = numeric;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_differing_only_in_numbers_are_one_reason() {
        // TC0..: (reason, kind)
        let cases = [
            (
                "position in SPY could reach 300 (now 200, resting 0 on this side), beyond RISK_MAX_POSITION=200",
                "position in SPY could reach # (now #, resting # on this side), beyond RISK_MAX_POSITION=#",
            ),
            (
                "notional 1.5e5 (quantity 1000 at 150.25) exceeds",
                "notional # (quantity # at #) exceeds",
            ),
            (
                "kill switch is on: trading is halted (KILL_SWITCH)",
                "kill switch is on: trading is halted (KILL_SWITCH)",
            ),
        ];
        for (i, (reason, kind)) in cases.into_iter().enumerate() {
            assert_eq!(reason_kind(reason), kind, "TC{i}");
        }
    }

    #[test]
    fn the_first_few_then_each_doubling() {
        let mut log = RefusalLog::default();
        let p: Arc<str> = "sma".into();
        let logged: Vec<u64> = (1..=100u64)
            .filter(|n| {
                log.record(&p, &format!("position could reach {n}"))
                    .is_some()
            })
            .collect();
        assert_eq!(logged, [1, 2, 3, 4, 8, 16, 32, 64]);
        let other: Arc<str> = "rsi".into();
        assert!(
            log.record(&other, "position could reach 1").is_some(),
            "counted per plugin"
        );
    }
}
