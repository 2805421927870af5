//! The Finnhub WebSocket protocol: typed parsing of server frames, encoding of client frames.
//!
//! Server frames are JSON objects tagged by `type`: `trade` (a batch of trades), `ping`,
//! `error` and `news`. Field order is not fixed (Finnhub sends `data` before `type`), so a
//! frame is read twice: once for its type, once for its payload. Symbols are borrowed from the
//! frame when they need no unescaping, so a trade costs no allocation before it is mapped.

use std::borrow::Cow;

use serde::Deserialize;

/// One trade as the server sent it (Finnhub's notation).
#[derive(Debug, Clone, PartialEq)]
pub struct WireTrade<'a> {
    /// Finnhub symbol, e.g. `AAPL` or `BINANCE:BTCUSDT`.
    pub symbol: Cow<'a, str>,
    /// Price.
    pub price: f64,
    /// Volume (0 when absent).
    pub size: f64,
    /// Exchange time, ms since the Unix epoch.
    pub time_ms: i64,
}

/// A parsed server frame.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage<'a> {
    /// A batch of trades; `invalid` counts entries skipped for impossible values.
    Trades {
        /// The valid trades, in order.
        trades: Vec<WireTrade<'a>>,
        /// Entries with a non-positive price, negative volume or bad time.
        invalid: usize,
    },
    /// The server's keep-alive.
    Ping,
    /// An error text, e.g. `Subscribing to too many symbols`.
    Error(String),
    /// Company news (not forwarded); the number of items.
    News(usize),
    /// A frame of a type this client does not know.
    Unknown(String),
}

/// Why a text frame is not a Finnhub message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("malformed frame: {0}")]
pub struct ParseError(pub String);

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    msg: Option<String>,
}

#[derive(Deserialize)]
struct TradeFrame<'a> {
    #[serde(borrow)]
    data: Vec<RawTrade<'a>>,
}

#[derive(Deserialize)]
struct RawTrade<'a> {
    #[serde(borrow)]
    s: Cow<'a, str>,
    p: f64,
    // Milliseconds; read as f64 so `1700000000123.0` is accepted too.
    t: f64,
    #[serde(default)]
    v: Option<f64>,
}

#[derive(Deserialize)]
struct NewsFrame {
    #[serde(default)]
    data: Option<Vec<serde::de::IgnoredAny>>,
}

/// Parse one text frame.
pub fn parse(text: &str) -> Result<ServerMessage<'_>, ParseError> {
    let env: Envelope<'_> = serde_json::from_str(text).map_err(|e| ParseError(e.to_string()))?;
    match env.kind.as_ref() {
        "trade" => {
            let frame: TradeFrame<'_> =
                serde_json::from_str(text).map_err(|e| ParseError(format!("trade: {e}")))?;
            let mut invalid = 0;
            let trades = frame
                .data
                .into_iter()
                .filter_map(|r| {
                    let size = r.v.unwrap_or(0.0);
                    let ok = r.p.is_finite()
                        && r.p > 0.0
                        && size.is_finite()
                        && size >= 0.0
                        && r.t.is_finite()
                        && r.t > 0.0
                        && r.t < 1e15
                        && !r.s.is_empty();
                    if !ok {
                        invalid += 1;
                        return None;
                    }
                    Some(WireTrade {
                        symbol: r.s,
                        price: r.p,
                        size,
                        time_ms: r.t as i64,
                    })
                })
                .collect();
            Ok(ServerMessage::Trades { trades, invalid })
        }
        "ping" => Ok(ServerMessage::Ping),
        "error" => Ok(ServerMessage::Error(
            env.msg.unwrap_or_else(|| "(no message)".into()),
        )),
        "news" => {
            let frame: NewsFrame =
                serde_json::from_str(text).map_err(|e| ParseError(format!("news: {e}")))?;
            Ok(ServerMessage::News(frame.data.map_or(0, |d| d.len())))
        }
        other => Ok(ServerMessage::Unknown(other.to_string())),
    }
}

/// `{"type":"subscribe","symbol":...}`.
pub fn subscribe(provider_symbol: &str) -> String {
    command("subscribe", provider_symbol)
}

/// `{"type":"unsubscribe","symbol":...}`.
pub fn unsubscribe(provider_symbol: &str) -> String {
    command("unsubscribe", provider_symbol)
}

fn command(kind: &str, symbol: &str) -> String {
    // Written by hand so `type` comes first, as in Finnhub's documentation.
    let symbol = serde_json::Value::String(symbol.to_string());
    format!(r#"{{"type":"{kind}","symbol":{symbol}}}"#)
}

/// The reference platform's acknowledgement, `{"type":"ping"}`.
pub const ACK: &str = r#"{"type":"ping"}"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(s: &str, p: f64, v: f64, t: i64) -> WireTrade<'_> {
        WireTrade {
            symbol: Cow::Borrowed(s),
            price: p,
            size: v,
            time_ms: t,
        }
    }

    #[test]
    fn parses_server_frames() {
        // TC0: a real-shaped batch, data before type, c present, null or absent.
        let tc0 = r#"{"data":[{"c":["1","12"],"p":189.2,"s":"AAPL","t":1700000000123,"v":100},{"c":null,"p":189.25,"s":"AAPL","t":1700000000124,"v":5},{"p":43000.5,"s":"BINANCE:BTCUSDT","t":1700000000125,"v":0.0012}],"type":"trade"}"#;
        // TC1: escaped symbol (cannot be borrowed) and float time.
        let tc1 = r#"{"type":"trade","data":[{"s":"OANDA:EUR\/USD","p":1.1,"t":1700000000000.0}]}"#;
        // TC2: invalid entries are skipped and counted.
        let tc2 = r#"{"type":"trade","data":[{"s":"X","p":-1,"t":1,"v":1},{"s":"X","p":1,"t":5,"v":-3},{"s":"X","p":2,"t":5,"v":3}]}"#;
        let table: [(&str, ServerMessage<'_>); 7] = [
            (
                tc0,
                ServerMessage::Trades {
                    trades: vec![
                        trade("AAPL", 189.2, 100.0, 1700000000123),
                        trade("AAPL", 189.25, 5.0, 1700000000124),
                        trade("BINANCE:BTCUSDT", 43000.5, 0.0012, 1700000000125),
                    ],
                    invalid: 0,
                },
            ),
            (
                tc1,
                ServerMessage::Trades {
                    trades: vec![trade("OANDA:EUR/USD", 1.1, 0.0, 1700000000000)],
                    invalid: 0,
                },
            ),
            (
                tc2,
                ServerMessage::Trades {
                    trades: vec![trade("X", 2.0, 3.0, 5)],
                    invalid: 2,
                },
            ),
            (r#"{"type":"ping"}"#, ServerMessage::Ping),
            (
                r#"{"type":"error","msg":"Subscribing to too many symbols"}"#,
                ServerMessage::Error("Subscribing to too many symbols".into()),
            ),
            (
                r#"{"type":"news","data":[{"headline":"x"},{}]}"#,
                ServerMessage::News(2),
            ),
            (
                r#"{"type":"quote","data":{}}"#,
                ServerMessage::Unknown("quote".into()),
            ),
        ];
        for (i, (text, want)) in table.into_iter().enumerate() {
            assert_eq!(parse(text).unwrap(), want, "TC{i}");
        }
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let table = [
            "",
            "not json",
            "{}",
            "[1,2]",
            r#"{"type":7}"#,
            r#"{"type":"trade"}"#,
            r#"{"type":"trade","data":[{"s":"A","p":"x","t":1}]}"#,
            r#"{"type":"trade","data":null}"#,
            "{\"type\":\"trade\",\"data\":[{\"s\":\"A\",\"p\":1,\"t\":1}",
        ];
        for text in table {
            assert!(parse(text).is_err(), "{text:?} should be malformed");
        }
    }

    #[test]
    fn encodes_client_frames() {
        assert_eq!(subscribe("AAPL"), r#"{"type":"subscribe","symbol":"AAPL"}"#);
        assert_eq!(
            unsubscribe("OANDA:USD_JPY"),
            r#"{"type":"unsubscribe","symbol":"OANDA:USD_JPY"}"#
        );
        assert_eq!(subscribe("A\"B"), r#"{"type":"subscribe","symbol":"A\"B"}"#);
        assert_eq!(parse(ACK).unwrap(), ServerMessage::Ping);
    }
}
