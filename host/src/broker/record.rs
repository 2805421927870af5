//! The entries of the broker's journal: accepted orders, refusals, fills, cancellations and
//! kill-switch changes.
//!
//! Replaying them in order rebuilds the broker's state: positions and realised PnL from the
//! fills, the book of resting orders from orders minus fills and cancellations, and whether
//! trading is halted from the last kill-switch change.

use crate::types::{Fill, OrderRequest, Rejection, Symbol, TimestampMs};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Why the broker cancelled a resting order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelReason {
    /// The plugin asked for it (`PluginAction::Cancel`).
    Requested,
    /// The kill switch was engaged.
    KillSwitch,
    /// The engine removed the plugin's orders (plugin unloaded or quarantined).
    PluginRemoved,
}

/// One entry of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JournalRecord {
    /// An order that passed the risk checks; it rests until it fills or is cancelled.
    Order {
        /// Broker-assigned id, increasing from 1.
        order_id: u64,
        /// The plugin that placed it.
        plugin: Arc<str>,
        /// The order as the plugin asked for it.
        request: OrderRequest,
        /// When it was accepted (engine time).
        time_ms: TimestampMs,
    },
    /// An order the risk checks refused.
    Rejected {
        /// The order as the plugin asked for it.
        request: OrderRequest,
        /// The refusal returned to the plugin.
        rejection: Rejection,
    },
    /// A paper fill of a whole resting order.
    Fill {
        /// The fill delivered to the plugin.
        fill: Fill,
    },
    /// A resting order taken out of the book.
    Cancel {
        /// The order's id.
        order_id: u64,
        /// The plugin that placed it.
        plugin: Arc<str>,
        /// The plugin's tag.
        tag: u32,
        /// The instrument.
        symbol: Symbol,
        /// Why.
        reason: CancelReason,
        /// When (engine time).
        time_ms: TimestampMs,
    },
    /// The kill switch was engaged or released (format version 2 and later).
    KillSwitch {
        /// True when trading was halted, false when it resumed.
        engaged: bool,
        /// Who or what changed it, as given by the operator.
        reason: String,
        /// When (engine time).
        time_ms: TimestampMs,
    },
}
