//! The set of symbols the user wants, independent of any connection.
//!
//! The client keeps this set across reconnects: everything in it is (re)subscribed each time a
//! connection opens, so a subscription made while disconnected is simply pending until then.
//! It also maps Finnhub's symbols in trades back to the user's notation, enforces the
//! client-side limit (`MAX_SYMBOLS`) and works out which symbol a server error is about.

use std::collections::HashMap;

use crate::types::Symbol;

use super::error::FeedError;
use super::symbol::{to_provider, validate_symbol};

/// One wanted symbol in both notations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// User notation, as carried by events.
    pub user: Symbol,
    /// Finnhub notation, as sent to the server.
    pub provider: String,
}

/// What [`Subscriptions::add`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// Newly wanted; subscribe now if connected.
    New(Subscription),
    /// Already wanted; nothing to send.
    Already,
}

/// The wanted symbols, in the order they were added.
#[derive(Debug, Clone)]
pub struct Subscriptions {
    limit: usize,
    entries: Vec<Subscription>,
    by_provider: HashMap<String, Symbol>,
}

impl Subscriptions {
    /// An empty set allowing at most `limit` symbols.
    pub fn new(limit: usize) -> Self {
        Subscriptions {
            limit,
            entries: Vec::new(),
            by_provider: HashMap::new(),
        }
    }

    /// Want `user` (user notation); refused when invalid, an alias of a wanted symbol, or over
    /// the limit.
    pub fn add(&mut self, user: &str) -> Result<Added, FeedError> {
        validate_symbol(user)?;
        if self.entries.iter().any(|e| &*e.user == user) {
            return Ok(Added::Already);
        }
        let provider = to_provider(user);
        if let Some(other) = self.by_provider.get(&provider) {
            return Err(FeedError::InvalidSymbol {
                symbol: user.to_string(),
                reason: format!(
                    "it is the same instrument ({provider}) as {other}, already subscribed"
                ),
            });
        }
        if self.entries.len() >= self.limit {
            return Err(FeedError::TooManySymbols {
                symbol: user.to_string(),
                limit: self.limit,
            });
        }
        let sub = Subscription {
            user: Symbol::from(user),
            provider,
        };
        self.by_provider
            .insert(sub.provider.clone(), sub.user.clone());
        self.entries.push(sub.clone());
        Ok(Added::New(sub))
    }

    /// Stop wanting `user`; the removed entry, if it was wanted.
    pub fn remove(&mut self, user: &str) -> Option<Subscription> {
        let i = self.entries.iter().position(|e| &*e.user == user)?;
        let sub = self.entries.remove(i);
        self.by_provider.remove(&sub.provider);
        Some(sub)
    }

    /// The user's symbol for a Finnhub symbol, if wanted.
    pub fn user_of(&self, provider: &str) -> Option<&Symbol> {
        self.by_provider.get(provider)
    }

    /// Everything wanted, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Subscription> {
        self.entries.iter()
    }

    /// Number of wanted symbols.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is wanted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The wanted symbol a server error message is about: the one it names first (the longest
    /// at the same place), or for a symbol-limit error the most recently added one; `None` when
    /// it names none.
    pub fn blame(&self, message: &str) -> Option<Symbol> {
        let named = self
            .entries
            .iter()
            .filter_map(|e| {
                let at = [mention(message, &e.provider), mention(message, &e.user)]
                    .into_iter()
                    .flatten()
                    .min()?;
                Some((at, std::cmp::Reverse(e.provider.len()), e))
            })
            .min_by_key(|(at, len, _)| (*at, *len));
        if let Some((_, _, e)) = named {
            return Some(e.user.clone());
        }
        let lower = message.to_ascii_lowercase();
        if lower.contains("too many symbols") || lower.contains("symbol limit") {
            return self.entries.last().map(|e| e.user.clone());
        }
        None
    }
}

/// Where `word` first occurs in `text` not as part of a longer symbol.
fn mention(text: &str, word: &str) -> Option<usize> {
    let is_symbol_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '/' | '-');
    text.match_indices(word).map(|(at, _)| at).find(|&at| {
        let before = text[..at].chars().next_back();
        // Punctuation that ends a sentence or clause ("AAPL.", "XYZ: ...") is not part of the
        // symbol; inside one (BRK.B, OANDA:EUR_USD) it is.
        let mut rest = text[at + word.len()..].chars();
        let after = match rest.next() {
            Some('.' | ':' | '/' | '-')
                if !rest.next().is_some_and(|c| c.is_ascii_alphanumeric()) =>
            {
                None
            }
            other => other,
        };
        !before.is_some_and(is_symbol_char) && !after.is_some_and(is_symbol_char)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_maps_and_removes() {
        let mut s = Subscriptions::new(3);
        assert!(matches!(s.add("STOCK:AAPL").unwrap(), Added::New(ref e) if e.provider == "AAPL"));
        assert_eq!(s.add("STOCK:AAPL").unwrap(), Added::Already);
        s.add("FOREX:USD/JPY").unwrap();
        assert_eq!(
            s.user_of("OANDA:USD_JPY").map(|s| &**s),
            Some("FOREX:USD/JPY")
        );
        assert_eq!(s.user_of("AAPL").map(|s| &**s), Some("STOCK:AAPL"));
        assert!(s.user_of("MSFT").is_none());
        assert_eq!(s.remove("STOCK:AAPL").unwrap().provider, "AAPL");
        assert!(s.user_of("AAPL").is_none());
        assert!(s.remove("STOCK:AAPL").is_none());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn refuses_aliases_and_enforces_the_limit() {
        let mut s = Subscriptions::new(2);
        s.add("STOCK:AAPL").unwrap();
        let err = s.add("AAPL").unwrap_err();
        assert!(err.to_string().contains("same instrument"), "{err}");
        s.add("MSFT").unwrap();
        let err = s.add("IBM").unwrap_err();
        assert!(
            matches!(err, FeedError::TooManySymbols { limit: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("MAX_SYMBOLS=2"));
        s.remove("MSFT");
        assert!(s.add("IBM").is_ok(), "room again after a removal");
    }

    #[test]
    fn blames_the_symbol_an_error_is_about() {
        let mut s = Subscriptions::new(10);
        for sym in ["A", "AAPL", "BINANCE:BTCUSDT", "FOREX:EUR/USD"] {
            s.add(sym).unwrap();
        }
        let table = [
            ("Unknown symbol AAPL", Some("AAPL")),
            ("Invalid symbol: BINANCE:BTCUSDT.", Some("BINANCE:BTCUSDT")),
            ("bad OANDA:EUR_USD", Some("FOREX:EUR/USD")),
            ("Symbol A not found", Some("A")),
            ("Subscribing to too many symbols", Some("FOREX:EUR/USD")),
            ("Internal error", None),
            ("AAPLX unknown", None),
            ("Unknown symbol A: the server has AAPL", Some("A")),
            ("AAPL.X is not AAPL", Some("AAPL")),
        ];
        for (msg, want) in table {
            assert_eq!(s.blame(msg).as_deref(), want, "{msg}");
        }
    }
}
