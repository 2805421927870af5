//! tradehost's integration tests: one binary, one module per subsystem pairing.

mod authoring;
mod backfill;
mod backtest;
mod bar_periods;
mod blocking;
mod broker_restart;
mod bus;
mod controls;
mod daemon;
mod dashboard;
mod exactness;
mod feed;
mod hostile;
mod hostile_describe;
mod live_fills;
mod operator;
mod pipeline;
mod plugins;
mod python;
mod scale_out;
mod sweep;
