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
    /// An operator flattened the plugin's positions, which first cancels its orders.
    Flattened,
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
        /// The order's id on the message bus, when it came over one (format version 3): a
        /// restarted broker rebuilds the set of orders it handled from these.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<Arc<str>>,
        /// The market stream position the broker host had read when it accepted the order
        /// (format version 4): a restarted broker reads the stream again from the latest.
        /// Written only with an `origin` (records are arrays: a trailing field may be left
        /// out, not one in the middle).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        market_position: Option<u64>,
        /// The position its strategy host had handled, when later than `market_position`
        /// (format version 4; written only with it). The order fills only at trades after
        /// both.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<u64>,
    },
    /// An order the risk checks refused.
    Rejected {
        /// The order as the plugin asked for it.
        request: OrderRequest,
        /// The refusal returned to the plugin.
        rejection: Rejection,
        /// The order's id on the message bus, when it came over one (format version 3).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<Arc<str>>,
    },
    /// A paper fill of a whole resting order.
    Fill {
        /// The fill delivered to the plugin.
        fill: Fill,
        /// The market stream position of the trade that made it, on a broker host (format
        /// version 4): a restarted broker reads the stream again from its journal's last.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        market_position: Option<u64>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{OrderKind, Side};

    fn request() -> OrderRequest {
        OrderRequest {
            symbol: "SPY".into(),
            side: Side::Buy,
            quantity: 5.0,
            kind: OrderKind::Market,
            tag: 3,
        }
    }

    /// An order record as format version 2 wrote it (no origin).
    #[derive(Serialize)]
    enum V2Record {
        Order {
            order_id: u64,
            plugin: Arc<str>,
            request: OrderRequest,
            time_ms: TimestampMs,
        },
    }

    #[test]
    fn origin_is_written_only_when_present_and_old_records_still_read() {
        let v2 = rmp_serde::to_vec(&V2Record::Order {
            order_id: 1,
            plugin: "sma".into(),
            request: request(),
            time_ms: 9,
        })
        .unwrap();
        let local = JournalRecord::Order {
            order_id: 1,
            plugin: "sma".into(),
            request: request(),
            time_ms: 9,
            origin: None,
            market_position: None,
            cause: None,
        };
        // Journals of runs without a bus stay byte-identical to version 2's records.
        assert_eq!(rmp_serde::to_vec(&local).unwrap(), v2);
        assert_eq!(rmp_serde::from_slice::<JournalRecord>(&v2).unwrap(), local);
        let from_bus = JournalRecord::Order {
            order_id: 1,
            plugin: "sma".into(),
            request: request(),
            time_ms: 9,
            origin: Some("s1/sma/0/p3".into()),
            market_position: Some(12),
            cause: None,
        };
        let bytes = rmp_serde::to_vec(&from_bus).unwrap();
        assert_eq!(
            rmp_serde::from_slice::<JournalRecord>(&bytes).unwrap(),
            from_bus
        );
    }
}
