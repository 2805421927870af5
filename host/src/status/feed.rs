//! The feed's connection as the status API shows it: a typed [`FeedLink`], when it last
//! changed and since when it has been down, the gaps so far, and trades per second.
//!
//! [`FeedState`] folds the feed's status events (on the engine thread) and samples the
//! trade counter (when a report is made); the health check reads `down_since_ms`.

use crate::feed::FeedStatus;
use crate::plugins::view::wall_clock_ms;
use crate::types::TimestampMs;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The link to the market-data server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FeedLink {
    /// No real-time feed (`REAL_TIME_MODE=false`): plugins and the trainer run on history.
    Off,
    /// Started, not connected yet.
    #[default]
    Connecting,
    /// The WebSocket is open.
    Connected {
        /// The endpoint, token redacted.
        url: String,
    },
    /// The link was lost; a reconnection follows.
    Disconnected {
        /// Why, in words.
        reason: String,
    },
    /// Waiting before a reconnection attempt.
    Reconnecting {
        /// 1-based attempt since the last stable connection.
        attempt: u32,
        /// Wait before the attempt, in seconds.
        delay_secs: f64,
    },
    /// The client stopped for good (bad key, retries exhausted).
    Stopped {
        /// Why, and what to check.
        reason: String,
    },
}

impl FeedLink {
    /// True when trades can flow.
    pub fn is_up(&self) -> bool {
        matches!(self, FeedLink::Connected { .. })
    }
}

/// A symbol the client or the server refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedSymbol {
    /// User notation.
    pub symbol: String,
    /// Why, and what to do.
    pub reason: String,
}

/// Trade-counter samples kept to compute trades per second.
const RATE_WINDOW_MS: TimestampMs = 5_000;

/// The feed's latest state, updated by the engine thread.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedState {
    /// The link now.
    pub link: FeedLink,
    /// When the link last changed (wall clock, ms).
    pub since_ms: TimestampMs,
    /// Since when the feed has been down (none while connected or off).
    pub down_since_ms: Option<TimestampMs>,
    /// Reconnection attempts so far.
    pub reconnects: u64,
    /// Connections lost so far: each is a gap in the trades.
    pub gaps: u64,
    /// Symbols subscribed.
    pub subscriptions: Vec<String>,
    /// Symbols refused, latest last.
    pub rejected: Vec<RejectedSymbol>,
    /// The last error message from the server that named no symbol.
    pub server_error: Option<String>,
    /// (time, trades received so far), oldest first, for trades per second.
    samples: VecDeque<(TimestampMs, u64)>,
}

impl Default for FeedState {
    fn default() -> Self {
        FeedState::new(true)
    }
}

impl FeedState {
    /// The state at start-up: connecting (down since now) when a feed runs, else off.
    pub fn new(real_time: bool) -> Self {
        let now = wall_clock_ms();
        FeedState {
            link: if real_time {
                FeedLink::Connecting
            } else {
                FeedLink::Off
            },
            since_ms: now,
            down_since_ms: real_time.then_some(now),
            reconnects: 0,
            gaps: 0,
            subscriptions: Vec::new(),
            rejected: Vec::new(),
            server_error: None,
            samples: VecDeque::new(),
        }
    }

    /// Fold a status event into the state.
    pub fn apply(&mut self, status: &FeedStatus) {
        self.apply_at(status, wall_clock_ms());
    }

    /// [`apply`](Self::apply) at a given time.
    pub fn apply_at(&mut self, status: &FeedStatus, now_ms: TimestampMs) {
        let link = match status {
            FeedStatus::Connected { url } => FeedLink::Connected { url: url.clone() },
            FeedStatus::Disconnected { reason } => {
                if self.link.is_up() {
                    self.gaps += 1;
                }
                FeedLink::Disconnected {
                    reason: reason.clone(),
                }
            }
            FeedStatus::Reconnecting { attempt, delay } => {
                self.reconnects += 1;
                FeedLink::Reconnecting {
                    attempt: *attempt,
                    delay_secs: delay.as_secs_f64(),
                }
            }
            FeedStatus::Terminated { reason } => FeedLink::Stopped {
                reason: reason.clone(),
            },
            FeedStatus::Rejected { symbol, reason } => {
                self.rejected.retain(|r| *r.symbol != **symbol);
                self.rejected.push(RejectedSymbol {
                    symbol: symbol.to_string(),
                    reason: reason.clone(),
                });
                return;
            }
            FeedStatus::ServerError { message } => {
                self.server_error = Some(message.clone());
                return;
            }
            _ => return,
        };
        if self.link.is_up() && !link.is_up() {
            self.down_since_ms = Some(now_ms);
        } else if link.is_up() {
            self.down_since_ms = None;
        }
        self.link = link;
        self.since_ms = now_ms;
    }

    /// Record the trade counter at `now_ms`; returns trades per second over the last
    /// few seconds (0 until two samples are apart).
    pub fn sample_trades(&mut self, trades: u64, now_ms: TimestampMs) -> f64 {
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now_ms - t > RATE_WINDOW_MS)
        {
            self.samples.pop_front();
        }
        if self.samples.back().is_none_or(|(t, _)| now_ms > *t) {
            self.samples.push_back((now_ms, trades));
        }
        match (self.samples.front(), self.samples.back()) {
            (Some((t0, n0)), Some((t1, n1))) if t1 > t0 => {
                n1.saturating_sub(*n0) as f64 * 1000.0 / (t1 - t0) as f64
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_lost_connection_is_a_gap_and_down_until_reconnected() {
        let mut s = FeedState::new(true);
        assert_eq!(s.link, FeedLink::Connecting);
        assert!(s.down_since_ms.is_some(), "down until the first connection");
        let up = FeedStatus::Connected {
            url: "ws://x".into(),
        };
        s.apply_at(&up, 1_000);
        assert_eq!(s.down_since_ms, None);
        s.apply_at(
            &FeedStatus::Disconnected {
                reason: "closed".into(),
            },
            2_000,
        );
        s.apply_at(
            &FeedStatus::Reconnecting {
                attempt: 2,
                delay: Duration::from_millis(1500),
            },
            2_100,
        );
        assert_eq!(
            s.link,
            FeedLink::Reconnecting {
                attempt: 2,
                delay_secs: 1.5
            }
        );
        assert_eq!(
            (s.down_since_ms, s.gaps, s.reconnects, s.since_ms),
            (Some(2_000), 1, 1, 2_100),
            "down since the loss, not since the last attempt"
        );
        s.apply_at(&up, 5_000);
        assert_eq!((s.down_since_ms, s.gaps), (None, 1));
        let json = serde_json::to_value(&s.link).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"state": "connected", "url": "ws://x"})
        );
        assert_eq!(
            FeedState::new(false).down_since_ms,
            None,
            "no feed is not a down feed"
        );
    }

    #[test]
    fn trades_per_second_over_a_sliding_window() {
        let mut s = FeedState::new(true);
        assert_eq!(s.sample_trades(0, 0), 0.0);
        assert_eq!(s.sample_trades(100, 1_000), 100.0);
        assert_eq!(s.sample_trades(300, 2_000), 150.0);
        // The first sample leaves the 5 s window: (900 - 100) over 6 s - 1 s.
        assert_eq!(s.sample_trades(900, 6_000), 160.0);
    }
}
