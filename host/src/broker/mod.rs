//! Paper broker: risk checks, paper fills against the trade stream, positions and PnL per
//! plugin and symbol, and the journal they are rebuilt from.
//!
//! # Layout
//! - [`config`]: [`BrokerConfig`], read from the `BROKER_*`, `RISK_*`, `KILL_SWITCH` and
//!   `JOURNAL_*` settings.
//! - [`error`]: [`BrokerError`], what stops the journal from keeping its promise.
//! - [`risk`]: the checks every order passes before it is accepted, and the order-rate window.
//! - [`book`]: resting orders and last prices per symbol, and the fill rule.
//! - [`trade_point`]: [`TradePoint`], a trade's place in the stream, which orders are
//!   placed after.
//! - [`recent_trades`]: the last trades processed, so a late order fills as of its cause.
//! - [`ledger`]: positions, average prices, realised and unrealised PnL.
//! - [`record`]: [`JournalRecord`], the entries of the journal.
//! - [`refusal_log`]: refusals in the log, summarised per reason.
//! - [`frame`]: the journal's on-disk format and torn-tail detection.
//! - [`journal`]: [`Journal`], the append-only file, its fsync policy and recovery.
//! - [`report`]: [`RecoveryReport`] and [`BrokerTotals`], what the broker tells the engine.
//! - [`paper`]: [`PaperBroker`], which ties them together for the engine.
//!
//! # Driving it
//! The engine owns one `PaperBroker` and calls it from one task or thread: `open` at start-up
//! (it logs the [`RecoveryReport`]), `on_trade` for every trade *before* the plugins see that
//! trade (fills go back to their plugins), `submit` with each plugin's actions (outcomes go
//! back to that plugin), and `flush` at shutdown. Live, where plugins answer after the broker
//! went on, `submit_caused` names the trade that caused the actions, and `take_late_fills`
//! returns what such orders filled at on arrival (after `keep_recent_trades`).

pub mod book;
pub mod config;
pub mod error;
pub mod frame;
pub mod journal;
pub mod ledger;
pub mod paper;
pub mod recent_trades;
pub mod record;
pub mod refusal_budget;
pub mod refusal_log;
pub mod report;
pub mod risk;
pub mod trade_point;

#[cfg(test)]
mod tests;

pub use book::RestingOrder;
pub use config::{BrokerConfig, FsyncPolicy};
pub use error::BrokerError;
pub use frame::{TornReason, TornTail};
pub use journal::{Journal, JournalContents, JournalScan};
pub use ledger::PositionEntry;
pub use paper::{BrokerOutcome, PaperBroker};
pub use record::{CancelReason, JournalRecord};
pub use report::{BrokerTotals, KillSwitchState, RecoveryReport};
pub use trade_point::TradePoint;
