//! What the broker tells the engine: the report of rebuilding its state from the journal at
//! start-up, and running totals for metrics and the status API.

use super::frame::TornTail;
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
    /// Resting orders cancelled.
    pub cancels: u64,
    /// Orders resting now.
    pub resting_orders: usize,
    /// Journal writes that failed (since start).
    pub journal_errors: u64,
    /// Size of the journal in bytes.
    pub journal_bytes: u64,
}
