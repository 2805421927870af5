//! Sources of market events: the Finnhub WebSocket client, the demo server, paced replay of
//! files (read by [`crate::data`]) and REST history.
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
//! - [`player`]: the paced async replay source of a [`crate::data::TradeReader`].
//! - [`printer`]: [`print_events`], the `tradehost feed` command.
//!
//! # Use
//! Live or demo: `let (tx, rx) = tokio::sync::mpsc::channel(4096);` then
//! `let feed = FinnhubClient::spawn(config, tx);` and `feed.subscribe("STOCK:AAPL")?` for each
//! symbol (before or after the connection opens; all are resubscribed after every reconnect).
//! Read [`FeedEvent`]s from `rx`: `Trades` batches and `Status` changes in order; after
//! `Terminated` nothing more comes. Stop with `feed.shutdown().await` (or drop the handle).
//! Finnhub allows one connection per key: spawn one client per key. For demo mode, start a
//! [`DemoServer`] first and spawn the client with `config.with_ws_url(server.url())` (and
//! `api_key: None`: the key is never sent to the demo server).
//! Replay: [`play`] paces a [`crate::data::TradeReader`] into the same kind of channel. History: [`CandleClient::candles`].

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
pub mod sender;
mod session;
pub mod subscriptions;
pub mod symbol;

pub use backoff::{BackoffPolicy, ReconnectCause};
pub use candles::{CandleClient, Resolution};
pub use client::{FeedHandle, FeedSubscriber, FinnhubClient};
pub use config::{AckMode, DemoConfig, DemoTrades, FeedConfig, Secret};
pub use demo::DemoServer;
pub use error::FeedError;
pub use event::{FeedEvent, FeedStats, FeedStatsSnapshot, FeedStatus, TradeBatch};
pub use player::{Pace, ReplaySummary, play};
pub use printer::print_events;
pub use sender::{FeedReceiver, FeedSender, thread_channel};
