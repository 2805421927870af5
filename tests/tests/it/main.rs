//! tradehost's integration tests: one binary, one module per subsystem pairing.

mod backfill;
mod backtest;
mod blocking;
mod daemon;
mod feed;
mod operator;
mod pipeline;
mod plugins;
