//! The feed's errors, with the decisions that depend on them.
//!
//! Messages name the thing (symbol, file and line, endpoint) and say what to check; they never
//! contain the API key (URLs are redacted before they get here). [`FeedError::is_terminal`]
//! decides in one place whether the client stops or keeps reconnecting.

use crate::data::DataError;
use std::time::Duration;

/// Everything that can go wrong in the feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The server refused the API key (HTTP 401/403 on the WebSocket handshake).
    #[error(
        "Finnhub refused the API key (HTTP {status} from {url}): check FINNHUB_API_KEY \
         (copy it again from https://finnhub.io/dashboard), that the account is active, and \
         that no other program uses the same key; not retrying"
    )]
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// The endpoint, token redacted.
        url: String,
    },
    /// A REST endpoint answered 403: the key works but the plan has no access to it.
    #[error(
        "Finnhub answered 403 for {endpoint}: your plan has no access to this data (candles \
         need a plan that includes them); check the subscription tier, and FINNHUB_SECRET if \
         you set one"
    )]
    Forbidden {
        /// The REST path, e.g. `/stock/candle`.
        endpoint: String,
    },
    /// HTTP 429: too many requests or connections for this key.
    #[error(
        "Finnhub rate limit hit (HTTP 429 from {url}): the free tier allows 60 REST calls per \
         minute and one WebSocket connection per key; close other programs using this key or \
         lower FINNHUB_REST_RATE_LIMIT{}",
        retry_after.map(|d| format!("; retry after {} s", d.as_secs())).unwrap_or_default()
    )]
    RateLimited {
        /// The endpoint, token redacted.
        url: String,
        /// The server's `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// The server answered the handshake with another non-101 status.
    #[error("WebSocket handshake with {url} failed with HTTP {status}")]
    Handshake {
        /// The HTTP status.
        status: u16,
        /// The endpoint, token redacted.
        url: String,
    },
    /// TCP, TLS or WebSocket failure while connecting or connected.
    #[error(
        "cannot reach {url}: {reason}; check the network, a proxy or firewall, and \
         FINNHUB_WS_URL"
    )]
    Connect {
        /// The endpoint, token redacted.
        url: String,
        /// What failed, secrets removed.
        reason: String,
    },
    /// The handshake did not finish in time.
    #[error(
        "connecting to {url} took longer than {timeout:?} (CONNECT_TIMEOUT); check the network"
    )]
    ConnectTimeout {
        /// The endpoint, token redacted.
        url: String,
        /// The limit.
        timeout: Duration,
    },
    /// No pong and no other traffic after a ping: the link is dead.
    #[error(
        "no pong and no data for {silent:?} after a ping (PONG_TIMEOUT): the link is dead or \
         very slow; check network latency, a firewall or proxy that drops idle WebSocket \
         connections, or raise PONG_TIMEOUT"
    )]
    PongTimeout {
        /// How long the link was silent.
        silent: Duration,
    },
    /// A frame or an acknowledgement could not be written in time.
    #[error(
        "sending to the server took longer than {timeout:?}: the server stopped reading \
         (acknowledgement timeout); check network latency and firewalls"
    )]
    SendTimeout {
        /// The limit.
        timeout: Duration,
    },
    /// The client-side symbol limit is reached.
    #[error(
        "cannot subscribe to {symbol}: already {limit} symbols (MAX_SYMBOLS={limit}); the free \
         Finnhub tier allows about 50, unsubscribe others or raise MAX_SYMBOLS if your plan \
         allows more"
    )]
    TooManySymbols {
        /// The refused symbol.
        symbol: String,
        /// The limit.
        limit: usize,
    },
    /// A symbol the client cannot send.
    #[error("invalid symbol {symbol:?}: {reason}")]
    InvalidSymbol {
        /// The symbol as given.
        symbol: String,
        /// Why.
        reason: String,
    },
    /// The client task has stopped (shut down, terminated, or its consumer went away).
    #[error("the feed client has stopped")]
    Stopped,
    /// REST candles: the server has no data for the range.
    #[error(
        "no candles for {symbol} at resolution {resolution} from {from} to {to} (Finnhub \
         answered no_data): check the symbol, the dates (unix seconds) and market hours"
    )]
    NoData {
        /// The symbol, user notation.
        symbol: String,
        /// The resolution asked for.
        resolution: String,
        /// Range start, unix seconds.
        from: i64,
        /// Range end, unix seconds.
        to: i64,
    },
    /// REST: another HTTP status or a transport error.
    #[error("REST request {endpoint} failed: {reason}")]
    Http {
        /// The REST path.
        endpoint: String,
        /// Status or transport error, secrets removed.
        reason: String,
    },
    /// A response or frame that does not follow the protocol.
    #[error("unexpected response from {endpoint}: {reason}")]
    Protocol {
        /// Where it came from.
        endpoint: String,
        /// What was wrong.
        reason: String,
    },
    /// The events cannot be written out (`tradehost feed`).
    #[error("cannot write to standard output: {0}")]
    Output(std::io::Error),
    /// A trade file (replay, demo tape) cannot be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The client stopped for good; the reason says why and what to check.
    #[error("{reason}")]
    Terminated {
        /// As in `FeedStatus::Terminated`.
        reason: String,
    },
    /// The demo server cannot start.
    #[error("demo server: {0}")]
    Demo(String),
}

impl FeedError {
    /// True when retrying cannot help (bad key, bad input); the client stops.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            FeedError::Unauthorized { .. }
                | FeedError::Forbidden { .. }
                | FeedError::InvalidSymbol { .. }
                | FeedError::TooManySymbols { .. }
                | FeedError::Stopped
                | FeedError::Terminated { .. }
                | FeedError::Demo(_)
        ) || matches!(self, FeedError::Data(d) if d.is_content())
    }

    /// True when the same request may succeed later (network, 429, 5xx, timeouts).
    pub fn is_retryable(&self) -> bool {
        !self.is_terminal() && !matches!(self, FeedError::NoData { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_table() {
        let url = "ws://h?token=***".to_string();
        let table: [(FeedError, bool, bool); 8] = [
            (
                FeedError::Data(DataError::BadRow {
                    path: "t.csv".into(),
                    line: 3,
                    reason: "bad price".into(),
                }),
                true,
                false,
            ),
            (
                FeedError::Data(DataError::Io {
                    path: "t.csv".into(),
                    source: std::io::Error::other("disk"),
                }),
                false,
                true,
            ),
            (
                FeedError::Unauthorized {
                    status: 401,
                    url: url.clone(),
                },
                true,
                false,
            ),
            (
                FeedError::RateLimited {
                    url: url.clone(),
                    retry_after: None,
                },
                false,
                true,
            ),
            (
                FeedError::Handshake {
                    status: 502,
                    url: url.clone(),
                },
                false,
                true,
            ),
            (
                FeedError::PongTimeout {
                    silent: Duration::from_secs(25),
                },
                false,
                true,
            ),
            (
                FeedError::TooManySymbols {
                    symbol: "X".into(),
                    limit: 50,
                },
                true,
                false,
            ),
            (
                FeedError::NoData {
                    symbol: "X".into(),
                    resolution: "D".into(),
                    from: 0,
                    to: 1,
                },
                false,
                false,
            ),
        ];
        for (err, terminal, retryable) in table {
            assert_eq!(err.is_terminal(), terminal, "{err}");
            assert_eq!(err.is_retryable(), retryable, "{err}");
        }
    }

    #[test]
    fn troubleshooting_messages_say_what_to_check() {
        let e = FeedError::Unauthorized {
            status: 401,
            url: "wss://ws.finnhub.io?token=***".into(),
        };
        assert!(e.to_string().contains("FINNHUB_API_KEY"));
        let e = FeedError::TooManySymbols {
            symbol: "AAPL".into(),
            limit: 50,
        };
        assert!(e.to_string().contains("MAX_SYMBOLS=50"));
        let e = FeedError::PongTimeout {
            silent: Duration::from_secs(25),
        };
        assert!(e.to_string().contains("PONG_TIMEOUT"));
    }
}
