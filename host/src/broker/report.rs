//! What the broker tells the engine: the report of rebuilding its state from the journal at
//! start-up, and running totals for metrics and the status API.

use super::frame::TornTail;
use crate::types::TimestampMs;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// What [`PaperBroker::open`] rebuilt from the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryReport {
    /// The journal file.
    pub journal: PathBuf,
    /// The journal did not exist (or had only a torn header) and was created.
    pub created: bool,
    /// Valid records replayed.
    pub records: u64,
    /// Accepted orders among them.
    pub orders: u64,
    /// Fills among them.
    pub fills: u64,
    /// Refusals among them.
    pub rejections: u64,
    /// Cancellations among them.
    pub cancels: u64,
    /// Orders still resting after the replay (back in the book).
    pub resting_orders: usize,
    /// Non-flat positions after the replay.
    pub open_positions: usize,
    /// The last kill-switch change in the journal, if there was one.
    pub kill_switch: Option<KillSwitchState>,
    /// The torn tail that was cut off, if any.
    pub torn_tail: Option<TornTail>,
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "journal {}: {} records ({} orders, {} fills, {} refusals, {} cancels), {} resting orders, {} open positions",
            self.journal.display(),
            self.records,
            self.orders,
            self.fills,
            self.rejections,
            self.cancels,
            self.resting_orders,
            self.open_positions
        )?;
        if self.created {
            write!(f, ", new file")?;
        }
        if let Some(k) = self.kill_switch.as_ref().filter(|k| k.engaged) {
            write!(f, "; kill switch engaged ({k})")?;
        }
        if let Some(t) = &self.torn_tail {
            write!(f, "; torn tail: {t}")?;
        }
        Ok(())
    }
}

/// Counters and PnL over the whole journal, for metrics and the status API.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BrokerTotals {
    /// Realised PnL, fees included, over every plugin and symbol.
    pub realised_pnl: f64,
    /// Unrealised PnL at the last trade prices.
    pub unrealised_pnl: f64,
    /// Orders accepted.
    pub orders: u64,
    /// Fills.
    pub fills: u64,
    /// Orders refused.
    pub refusals: u64,
    /// Malformed orders (non-finite, dust, absurd) refused without a journal record, since
    /// start; they are also counted in `refusals`.
    pub malformed: u64,
    /// Refusals past a plugin's `RISK_MAX_REFUSALS_PER_MIN`, since start: returned to the
    /// plugin, counted in `refusals`, not journaled.
    pub unjournaled_refusals: u64,
    /// Resting orders cancelled.
    pub cancels: u64,
    /// Orders resting now.
    pub resting_orders: usize,
    /// Journal writes that failed (since start).
    pub journal_errors: u64,
    /// Size of the journal in bytes.
    pub journal_bytes: u64,
}

/// Whether trading is halted, since when and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KillSwitchState {
    /// Trading is halted: resting orders were cancelled and new orders are refused.
    pub engaged: bool,
    /// Why, as given by whoever changed it (`KILL_SWITCH setting` when the setting engaged it).
    pub reason: String,
    /// When it was last changed (engine time; none when it never was).
    pub since_ms: Option<TimestampMs>,
}

impl fmt::Display for KillSwitchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.engaged { "engaged" } else { "released" })?;
        if let Some(t) = self.since_ms {
            write!(f, " at {}", crate::types::format_time_ms(t))?;
        }
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}
