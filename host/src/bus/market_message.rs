//! What the feed host publishes: trades of one symbol, a bar, a forecast or a feed status,
//! stamped with the publisher's session and a sequence number per subject.
//!
//! The numbers let a subscriber see what it missed: a jump in a subject's sequence is a gap,
//! a new session means the feed host restarted or a standby took over (trades may be missing
//! around it, as across a WebSocket reconnect).

use crate::feed::{FeedEvent, FeedStatus, TradeBatch};
use crate::types::{Bar, Prediction, Symbol, TimestampMs, Trade};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// One market-data message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketMessage {
    /// Random per publisher run: a change tells subscribers the source restarted.
    pub session: u64,
    /// 1, 2, 3... per subject within a session.
    pub seq: u64,
    /// Publisher's wall clock when it published (for lag).
    pub published_ms: TimestampMs,
    /// The content.
    pub body: MarketBody,
}

/// The content of a market-data message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MarketBody {
    /// Consecutive trades of one symbol, in the feed's order.
    Trades {
        /// The instrument, in the user's notation.
        symbol: Symbol,
        /// Price, size and time of each trade.
        rows: Vec<TradeRow>,
    },
    /// A completed bar.
    Bar(Bar),
    /// A model forecast.
    Forecast(Prediction),
    /// A change of the feed host's connection to Finnhub.
    Status(#[serde(with = "FeedStatusDef")] FeedStatus),
}

/// One trade without its symbol: price, size, time (ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TradeRow(pub f64, pub f64, pub TimestampMs);

impl MarketBody {
    /// The trades of `trades` (all of one symbol), symbol written once.
    pub fn trades(symbol: Symbol, trades: &[Trade]) -> MarketBody {
        MarketBody::Trades {
            symbol,
            rows: trades
                .iter()
                .map(|t| TradeRow(t.price, t.size, t.time_ms))
                .collect(),
        }
    }

    /// The symbol this body is about, if any (feed status is about the connection).
    pub fn symbol(&self) -> Option<&Symbol> {
        match self {
            MarketBody::Trades { symbol, .. } => Some(symbol),
            MarketBody::Bar(b) => Some(&b.symbol),
            MarketBody::Forecast(p) => Some(&p.symbol),
            MarketBody::Status(_) => None,
        }
    }

    /// The value the engine consumes; a trade batch is stamped as received at `received`.
    pub fn into_event(self, received: Instant) -> super::seam::MarketEvent {
        use super::seam::MarketEvent;
        match self {
            MarketBody::Trades { symbol, rows } => {
                let trades = rows
                    .into_iter()
                    .map(|TradeRow(price, size, time_ms)| Trade {
                        symbol: symbol.clone(),
                        price,
                        size,
                        time_ms,
                    })
                    .collect();
                MarketEvent::Feed(FeedEvent::Trades(TradeBatch::received_at(trades, received)))
            }
            MarketBody::Bar(b) => MarketEvent::Bar(b),
            MarketBody::Forecast(p) => MarketEvent::Forecast(p),
            MarketBody::Status(s) => MarketEvent::Feed(FeedEvent::Status(s)),
        }
    }
}

/// [`FeedStatus`] as it travels: the same variants, externally tagged (MessagePack has no
/// room for the JSON form's inline tag). The compiler keeps the two in step.
#[derive(Serialize, Deserialize)]
#[serde(remote = "FeedStatus")]
enum FeedStatusDef {
    Connected { url: String },
    Disconnected { reason: String },
    Reconnecting { attempt: u32, delay: Duration },
    Subscribed { symbol: Symbol },
    Unsubscribed { symbol: Symbol },
    Rejected { symbol: Symbol, reason: String },
    ServerError { message: String },
    SlowConsumer { dropped_trades: u64 },
    EndOfData,
    Terminated { reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::codec::{decode, encode};
    use crate::bus::seam::MarketEvent;

    fn trade(symbol: &Symbol, price: f64, time_ms: i64) -> Trade {
        Trade {
            symbol: symbol.clone(),
            price,
            size: 100.0,
            time_ms,
        }
    }

    #[test]
    fn every_body_round_trips() {
        let spy: Symbol = "SPY".into();
        let bodies = vec![
            MarketBody::trades(
                spy.clone(),
                &[trade(&spy, 170.25, 1), trade(&spy, 170.5, 2)],
            ),
            MarketBody::Bar(Bar {
                symbol: spy.clone(),
                start_ms: 60_000,
                period_secs: 60,
                open: 1.0,
                high: 2.0,
                low: 0.5,
                close: 1.5,
                volume: 300.0,
                imputed: true,
            }),
            MarketBody::Forecast(Prediction {
                symbol: spy.clone(),
                expected_return: -1e-4,
                horizon_bars: 1,
                model_version: 3,
                time_ms: 5,
                bar_secs: 60,
            }),
            MarketBody::Status(FeedStatus::Reconnecting {
                attempt: 2,
                delay: Duration::from_millis(1500),
            }),
            MarketBody::Status(FeedStatus::Rejected {
                symbol: spy.clone(),
                reason: "unknown".into(),
            }),
            MarketBody::Status(FeedStatus::EndOfData),
        ];
        for body in bodies {
            let m = MarketMessage {
                session: u64::MAX,
                seq: 42,
                published_ms: 1_700_000_000_000,
                body,
            };
            let bytes = encode("market", &m).unwrap();
            assert_eq!(decode::<MarketMessage>("market", &bytes).unwrap(), m);
        }
    }

    #[test]
    fn trades_travel_compactly_and_come_back_with_their_symbol() {
        let spy: Symbol = "SPY".into();
        let trades: Vec<Trade> = (0..100).map(|i| trade(&spy, 170.0 + i as f64, i)).collect();
        let m = MarketMessage {
            session: 1,
            seq: 1,
            published_ms: 0,
            body: MarketBody::trades(spy.clone(), &trades),
        };
        let bytes = encode("market", &m).unwrap();
        assert!(
            bytes.len() < 100 * 24,
            "{} bytes for 100 trades",
            bytes.len()
        );
        let back = decode::<MarketMessage>("market", &bytes).unwrap();
        match back.body.into_event(Instant::now()) {
            MarketEvent::Feed(FeedEvent::Trades(batch)) => assert_eq!(batch.trades, trades),
            other => panic!("{other:?}"),
        }
    }
}
