//! What the feed sends downstream: trade batches and connection status, plus live counters.
//!
//! Status is an event like trades, so every consumer sees gaps (`Disconnected` ..
//! `Connected`) in the order they happened. Counters that would be too chatty as events
//! (malformed frames, dropped trades) live in [`FeedStats`], shared through an `Arc`.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::types::{Symbol, Trade};

/// One thing that happened on the feed.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    /// The trades of one server message, symbols in the user's notation, in the server's order.
    Trades(TradeBatch),
    /// A change of the connection or subscriptions.
    Status(FeedStatus),
}

/// The trades of one server message, and when its frame was read off the socket.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeBatch {
    /// The trades, in the server's order.
    pub trades: Vec<Trade>,
    /// When the frame was read (or the replay produced it): the start of tick-to-order latency.
    pub received: Instant,
}

impl TradeBatch {
    /// A batch received now.
    pub fn new(trades: Vec<Trade>) -> Self {
        TradeBatch::received_at(trades, Instant::now())
    }

    /// A batch whose frame was read at `received`.
    pub fn received_at(trades: Vec<Trade>, received: Instant) -> Self {
        TradeBatch { trades, received }
    }
}

impl Deref for TradeBatch {
    type Target = [Trade];

    fn deref(&self) -> &[Trade] {
        &self.trades
    }
}

impl<'a> IntoIterator for &'a TradeBatch {
    type Item = &'a Trade;
    type IntoIter = std::slice::Iter<'a, Trade>;

    fn into_iter(self) -> Self::IntoIter {
        self.trades.iter()
    }
}

/// Connection and subscription status.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FeedStatus {
    /// The WebSocket is open (the endpoint shown with its token redacted).
    Connected {
        /// The endpoint, token redacted.
        url: String,
    },
    /// The link was lost; trades may be missing until the next `Connected`.
    Disconnected {
        /// Why, in words.
        reason: String,
    },
    /// A reconnection attempt will start after `delay`.
    Reconnecting {
        /// 1-based attempt number since the last stable connection.
        attempt: u32,
        /// Wait before the attempt.
        #[serde(serialize_with = "secs")]
        delay: Duration,
    },
    /// A subscribe message for this symbol was sent on the current connection.
    Subscribed {
        /// User notation.
        symbol: Symbol,
    },
    /// The symbol was unsubscribed.
    Unsubscribed {
        /// User notation.
        symbol: Symbol,
    },
    /// The client or the server refused this symbol; it is no longer subscribed.
    Rejected {
        /// User notation.
        symbol: Symbol,
        /// Why, and what to do.
        reason: String,
    },
    /// An error message from the server that names no subscribed symbol.
    ServerError {
        /// The server's text.
        message: String,
    },
    /// The consumer did not keep up: this many trades were dropped since the last report.
    SlowConsumer {
        /// Trades dropped.
        dropped_trades: u64,
    },
    /// A replay source reached the end of its data.
    EndOfData,
    /// The client stopped for good (bad key, retries exhausted); nothing more will come.
    Terminated {
        /// Why, and what to check.
        reason: String,
    },
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Counters of one feed client, updated live.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Text frames received.
    pub frames: AtomicU64,
    /// Trades forwarded to the consumer.
    pub trades: AtomicU64,
    /// Frames that were not valid Finnhub JSON (logged and skipped).
    pub malformed_frames: AtomicU64,
    /// Binary frames (Finnhub sends none; logged and skipped).
    pub binary_frames: AtomicU64,
    /// Trades inside valid frames skipped for impossible values (price <= 0, ...).
    pub invalid_trades: AtomicU64,
    /// Trades dropped because the consumer's channel stayed full.
    pub dropped_trades: AtomicU64,
    /// Successful connections.
    pub connections: AtomicU64,
    /// Reconnection attempts scheduled.
    pub reconnects: AtomicU64,
    /// Acknowledgements sent.
    pub acks: AtomicU64,
    /// Protocol pings sent.
    pub pings: AtomicU64,
}

/// A copy of [`FeedStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FeedStatsSnapshot {
    /// Text frames received.
    pub frames: u64,
    /// Trades forwarded to the consumer.
    pub trades: u64,
    /// Frames that were not valid Finnhub JSON.
    pub malformed_frames: u64,
    /// Binary frames received.
    pub binary_frames: u64,
    /// Trades skipped for impossible values.
    pub invalid_trades: u64,
    /// Trades dropped for a slow consumer.
    pub dropped_trades: u64,
    /// Successful connections.
    pub connections: u64,
    /// Reconnection attempts scheduled.
    pub reconnects: u64,
    /// Acknowledgements sent.
    pub acks: u64,
    /// Protocol pings sent.
    pub pings: u64,
}

impl FeedStats {
    /// Add `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The current values.
    pub fn snapshot(&self) -> FeedStatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FeedStatsSnapshot {
            frames: get(&self.frames),
            trades: get(&self.trades),
            malformed_frames: get(&self.malformed_frames),
            binary_frames: get(&self.binary_frames),
            invalid_trades: get(&self.invalid_trades),
            dropped_trades: get(&self.dropped_trades),
            connections: get(&self.connections),
            reconnects: get(&self.reconnects),
            acks: get(&self.acks),
            pings: get(&self.pings),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_serialises_as_flat_json() {
        let s = FeedStatus::Reconnecting {
            attempt: 2,
            delay: Duration::from_millis(1500),
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"status":"reconnecting","attempt":2,"delay":1.5}"#);
        let s = FeedStatus::Subscribed {
            symbol: "AAPL".into(),
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"status":"subscribed","symbol":"AAPL"}"#
        );
    }
}
