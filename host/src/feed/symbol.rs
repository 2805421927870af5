//! Mapping between the user's symbol notation and Finnhub's.
//!
//! Users write `STOCK:AAPL`, `FOREX:USD/JPY` or `CRYPTO:BTC/USDT`; Finnhub wants `AAPL`,
//! `OANDA:USD_JPY` and `BINANCE:BTCUSDT`. Anything else passes through unchanged, so a user can
//! always give Finnhub's own notation. Events always carry the user's notation.

use super::error::FeedError;

/// Longest symbol accepted, in bytes (Finnhub's are far shorter).
const MAX_SYMBOL_LEN: usize = 64;

/// Check a symbol in the user's notation: non-empty, short, no spaces or control characters.
pub fn validate_symbol(symbol: &str) -> Result<(), FeedError> {
    let reason = if symbol.is_empty() {
        "it is empty"
    } else if symbol.len() > MAX_SYMBOL_LEN {
        "it is longer than 64 characters"
    } else if symbol
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '"')
    {
        "it contains spaces, quotes or control characters"
    } else if symbol.ends_with(':') {
        "nothing follows the prefix"
    } else {
        return Ok(());
    };
    Err(FeedError::InvalidSymbol {
        symbol: symbol.to_string(),
        reason: reason.to_string(),
    })
}

/// Finnhub's notation for a symbol in the user's notation.
pub fn to_provider(symbol: &str) -> String {
    if let Some(rest) = symbol.strip_prefix("STOCK:") {
        rest.to_string()
    } else if let Some(rest) = symbol.strip_prefix("FOREX:") {
        format!("OANDA:{}", rest.replace('/', "_"))
    } else if let Some(rest) = symbol.strip_prefix("CRYPTO:") {
        format!("BINANCE:{}", rest.replace('/', ""))
    } else {
        symbol.to_string()
    }
}

/// Which REST candle endpoint serves a symbol in the user's notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetClass {
    /// `/stock/candle`.
    Stock,
    /// `/forex/candle`.
    Forex,
    /// `/crypto/candle`.
    Crypto,
}

impl AssetClass {
    /// The class of a symbol: by prefix, or by the provider's exchange prefix.
    pub fn of(symbol: &str) -> Self {
        let upper = symbol.to_ascii_uppercase();
        let forex = [
            "FOREX:",
            "OANDA:",
            "FXCM:",
            "FXPRO:",
            "IC MARKETS:",
            "PEPPERSTONE:",
        ];
        let crypto = [
            "CRYPTO:",
            "BINANCE:",
            "COINBASE:",
            "KRAKEN:",
            "BITFINEX:",
            "BITSTAMP:",
        ];
        if forex.iter().any(|p| upper.starts_with(p)) {
            AssetClass::Forex
        } else if crypto.iter().any(|p| upper.starts_with(p)) {
            AssetClass::Crypto
        } else {
            AssetClass::Stock
        }
    }

    /// The REST path segment: `stock`, `forex` or `crypto`.
    pub fn path(self) -> &'static str {
        match self {
            AssetClass::Stock => "stock",
            AssetClass::Forex => "forex",
            AssetClass::Crypto => "crypto",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_table() {
        // TC: (user notation, Finnhub notation, REST class)
        let table = [
            ("STOCK:AAPL", "AAPL", AssetClass::Stock),
            ("AAPL", "AAPL", AssetClass::Stock),
            ("FOREX:USD/JPY", "OANDA:USD_JPY", AssetClass::Forex),
            ("FOREX:EUR/USD", "OANDA:EUR_USD", AssetClass::Forex),
            ("CRYPTO:BTC/USDT", "BINANCE:BTCUSDT", AssetClass::Crypto),
            ("CRYPTO:ETH/BTC", "BINANCE:ETHBTC", AssetClass::Crypto),
            ("BINANCE:BTCUSDT", "BINANCE:BTCUSDT", AssetClass::Crypto),
            ("OANDA:EUR_USD", "OANDA:EUR_USD", AssetClass::Forex),
            ("IC MARKETS:1", "IC MARKETS:1", AssetClass::Forex),
            ("BRK.B", "BRK.B", AssetClass::Stock),
        ];
        for (user, provider, class) in table {
            assert_eq!(to_provider(user), provider, "{user}");
            assert_eq!(AssetClass::of(user), class, "{user}");
        }
    }

    #[test]
    fn validation_table() {
        let table = [
            ("AAPL", true),
            ("FOREX:USD/JPY", true),
            ("", false),
            ("A APL", false),
            ("STOCK:", false),
            ("AA\"PL", false),
            ("X\n", false),
        ];
        for (symbol, ok) in table {
            assert_eq!(validate_symbol(symbol).is_ok(), ok, "{symbol:?}");
        }
        let long = "A".repeat(65);
        let err = validate_symbol(&long).unwrap_err();
        assert!(err.to_string().contains("64"), "{err}");
    }
}
