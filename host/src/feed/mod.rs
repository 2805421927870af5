//! Sources of market events: the Finnhub WebSocket client, the demo server, replay files and
//! REST history.
//!
//! # Layout
//! - [`config`]: [`FeedConfig`], every feed setting with its default.
//! - [`event`]: [`FeedEvent`] (trade batches and [`FeedStatus`]) and the [`FeedStats`] counters.
//! - [`error`]: [`FeedError`] and its decisions (`is_terminal`, `is_retryable`).
//! - [`protocol`]: typed parsing of Finnhub frames; [`symbol`]: user ↔ Finnhub notation.
//! - [`backoff`]: the reconnection schedule; [`subscriptions`]: the wanted symbols.
//! - [`client`]: [`FinnhubClient::spawn`] and its [`FeedHandle`]; `session`: one connection.
//! - [`candles`]: [`CandleClient`], REST history with [`rate_limit`]'s client-side limiter.
//! - [`redact`]: keeping the API key out of logs and errors.
//! - [`demo`]: [`DemoServer`], a Finnhub-compatible server on 127.0.0.1 replaying real trades.
//! - [`replay`]: [`TradeReader`] and [`BarReader`], streaming CSV/CSV.gz iterators;
//!   [`timestamp`]: their fast timestamp parser; [`player`]: the paced async replay source.
//! - [`printer`]: [`print_events`], the `tradehost feed` command.

pub mod backoff;
pub mod candles;
pub mod client;
pub mod config;
pub mod demo;
pub mod error;
pub mod event;
pub mod player;
pub mod printer;
pub mod protocol;
pub mod rate_limit;
pub mod redact;
pub mod replay;
mod session;
pub mod subscriptions;
pub mod symbol;
pub mod timestamp;

pub use backoff::{BackoffPolicy, ReconnectCause};
pub use candles::{CandleClient, Resolution};
pub use client::{FeedHandle, FeedSubscriber, FinnhubClient};
pub use config::{AckMode, DemoConfig, DemoTrades, FeedConfig, Secret};
pub use demo::DemoServer;
pub use error::FeedError;
pub use event::{FeedEvent, FeedStats, FeedStatsSnapshot, FeedStatus};
pub use player::{Pace, ReplaySummary, play};
pub use printer::print_events;
pub use replay::{BarReader, TradeReader};
