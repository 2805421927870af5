//! The names on the bus: subjects, streams, buckets, and the host names that appear in them.
//!
//! Every subject starts with `tradehost.`. Symbols and plugin names are free text
//! (`FOREX:EUR/USD`, `BRK.B`), but a NATS subject token may not contain `.`, spaces or the
//! wildcards, so they are percent-encoded into one token: letters, digits, `-` and `_` stay,
//! everything else becomes `%XX` (`FOREX%3AEUR%2FUSD`). Host names are chosen by the operator
//! and must already be such a token, because they also name durable consumers and KV keys.

use super::error::BusError;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// Bytes that are percent-encoded in a subject token: all but letters, digits, `-` and `_`.
const TOKEN: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');

/// Stream of market data: trades, bars, forecasts (`tradehost.md.>`) and feed status.
pub const MARKET_STREAM: &str = "TRADEHOST_MD";
/// Work-queue stream of orders from strategy hosts to the broker.
pub const ORDER_STREAM: &str = "TRADEHOST_ORDERS";
/// Stream of broker outcomes and fills back to strategy hosts.
pub const OUTCOME_STREAM: &str = "TRADEHOST_OUTCOMES";
/// Stream where undecodable messages are parked with the reason, never dropped.
pub const DEAD_LETTER_STREAM: &str = "TRADEHOST_DEAD";
/// KV bucket of leases (the feed's one Finnhub connection).
pub const LEASE_BUCKET: &str = "tradehost_leases";
/// KV bucket of each host's health record.
pub const HEALTH_BUCKET: &str = "tradehost_hosts";

/// Every market-data subject (the market stream's first subject).
pub const MARKET_ALL: &str = "tradehost.md.>";
/// The feed host's connection status, in the market stream so it keeps its place among trades.
pub const FEED_STATUS: &str = "tradehost.feed.status";
/// Every order subject.
pub const ORDERS_ALL: &str = "tradehost.orders.>";
/// Every outcome subject.
pub const OUTCOMES_ALL: &str = "tradehost.outcomes.>";
/// Every dead-letter subject.
pub const DEAD_ALL: &str = "tradehost.dead.>";

/// What a market-data subject carries for its symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarketKind {
    /// Trade prints.
    Trade,
    /// Completed bars.
    Bar,
    /// Model forecasts.
    Forecast,
}

impl MarketKind {
    /// The subject's last token.
    pub fn token(self) -> &'static str {
        match self {
            MarketKind::Trade => "trade",
            MarketKind::Bar => "bar",
            MarketKind::Forecast => "forecast",
        }
    }
}

/// `symbol` (or a plugin name) as one subject token.
pub fn token(text: &str) -> String {
    utf8_percent_encode(text, TOKEN).to_string()
}

/// The text a [`token`] was made from.
pub fn untoken(token: &str) -> Option<String> {
    percent_decode_str(token)
        .decode_utf8()
        .ok()
        .map(|t| t.into_owned())
}

/// `tradehost.md.<symbol>.<kind>`, e.g. `tradehost.md.AAPL.trade`.
pub fn market(symbol: &str, kind: MarketKind) -> String {
    format!("tradehost.md.{}.{}", token(symbol), kind.token())
}

/// Every market-data subject of `symbol`: `tradehost.md.<symbol>.*`.
pub fn market_of(symbol: &str) -> String {
    format!("tradehost.md.{}.*", token(symbol))
}

/// `tradehost.orders.<host>.<plugin>`: orders of one plugin on one strategy host.
pub fn orders(host: &HostName, plugin: &str) -> String {
    format!("tradehost.orders.{host}.{}", token(plugin))
}

/// `tradehost.outcomes.<host>.<plugin>`: what became of a plugin's orders, and its fills.
pub fn outcomes(host: &HostName, plugin: &str) -> String {
    format!("tradehost.outcomes.{host}.{}", token(plugin))
}

/// Every outcome subject of one strategy host.
pub fn outcomes_of(host: &HostName) -> String {
    format!("tradehost.outcomes.{host}.>")
}

/// `tradehost.dead.<origin>`: where a message that came from `origin` is parked.
pub fn dead_letter(origin: &str) -> String {
    format!("tradehost.dead.{}", token(origin))
}

/// The name of one host of a deployment: 1 to 64 letters, digits, `-` or `_`.
///
/// It is a subject token, part of durable consumer names and a KV key, so it is checked once
/// here rather than escaped everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostName(Arc<str>);

impl HostName {
    /// The longest name accepted.
    pub const MAX_LEN: usize = 64;

    /// Checks `name`; the error says which character is at fault.
    pub fn new(name: &str) -> Result<HostName, BusError> {
        let bad = |reason: String| BusError::InvalidName {
            what: "host name",
            value: name.to_string(),
            reason,
        };
        if name.is_empty() || name.len() > Self::MAX_LEN {
            return Err(bad(format!(
                "it must have 1 to {} characters (BUS_HOST, e.g. feed-1)",
                Self::MAX_LEN
            )));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(bad(format!(
                "{c:?} is not allowed: use letters, digits, '-' and '_' only (BUS_HOST, e.g. strategies-2)"
            )));
        }
        Ok(HostName(name.into()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `tradehost`, for a deployment of one host.
impl Default for HostName {
    fn default() -> Self {
        HostName("tradehost".into())
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for HostName {
    type Error = BusError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        HostName::new(&value)
    }
}

impl From<HostName> for String {
    fn from(value: HostName) -> String {
        value.0.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_become_single_tokens_and_back() {
        // TC: (symbol, token)
        let cases = [
            ("AAPL", "AAPL"),
            ("FOREX:EUR/USD", "FOREX%3AEUR%2FUSD"),
            ("BRK.B", "BRK%2EB"),
            ("OANDA:USD_JPY", "OANDA%3AUSD_JPY"),
            ("a b*>", "a%20b%2A%3E"),
            ("é", "%C3%A9"),
        ];
        for (symbol, want) in cases {
            let t = token(symbol);
            assert_eq!(t, want, "{symbol}");
            assert!(!t.contains(['.', ' ', '*', '>']), "{t}");
            assert_eq!(untoken(&t).as_deref(), Some(symbol));
        }
        assert_eq!(
            market("FOREX:EUR/USD", MarketKind::Trade),
            "tradehost.md.FOREX%3AEUR%2FUSD.trade"
        );
    }

    #[test]
    fn host_names_are_checked() {
        assert_eq!(HostName::new("feed-1_a").unwrap().as_str(), "feed-1_a");
        // TC: (name, words the error must contain)
        let cases = [
            ("", "1 to 64"),
            ("a.b", "'.' is not allowed"),
            ("a b", "' ' is not allowed"),
            ("x*", "'*' is not allowed"),
            (&"h".repeat(65), "1 to 64"),
        ];
        for (name, words) in cases {
            let e = HostName::new(name).unwrap_err().to_string();
            assert!(e.contains(words), "{name:?}: {e}");
        }
        let host = HostName::new("s1").unwrap();
        assert_eq!(
            orders(&host, "sma crossover"),
            "tradehost.orders.s1.sma%20crossover"
        );
        assert_eq!(outcomes_of(&host), "tradehost.outcomes.s1.>");
    }
}
