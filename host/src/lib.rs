//! tradehost: a real-time trading host with sandboxed WebAssembly strategies.
//!
//! # Layout
//! The path of a tick, from socket to fill:
//! - [`feed`]: sources of market events (Finnhub WebSocket, demo server, replay files).
//! - [`market`]: per-symbol state: last trade, bars aggregated from trades, bounded history,
//!   and the cleaning of bars (gaps, outliers) shared with the trainer.
//! - [`trainer`]: the candle model per symbol, retrained on a cycle, serving predictions.
//! - [`plugins`]: strategies as WebAssembly components, one worker thread each, hot-reloaded.
//! - [`broker`]: paper fills of strategy orders, risk checks, positions and the journal.
//! - [`types`]: the plain values that cross between them.

pub mod backtest;
pub mod broker;
pub mod config;
pub mod engine;
pub mod feed;
pub mod logging;
pub mod market;
pub mod plugins;
pub mod settings;
pub mod status;
pub mod trainer;
pub mod types;
