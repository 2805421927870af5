//! The daemon: wires feed → market → trainer → plugins → broker and runs until shutdown.
//!
//! [`run`] takes the configuration and a shutdown future (SIGINT/SIGTERM in the binary, a
//! oneshot in tests). Threads: the tokio runtime runs the feed client, the demo server and
//! the status API; the engine thread runs the [`pipeline::Pipeline`]; each plugin has its
//! worker; the trainer has its own. Shutdown stops the feed, drains in-flight events,
//! snapshots every plugin to the state directory and flushes the journal.

pub mod backfill;
pub mod broker_board;
pub mod broker_desk;
pub mod broker_host;
pub mod bus_checkpoint;
pub mod checkpointer;
pub mod console_summary;
pub mod control;
pub mod core;
pub mod daemon;
pub mod demo_history;
pub mod deployment;
pub mod engine_error;
pub mod engine_thread;
pub mod event_loop;
pub mod feed_desk;
pub mod feed_host;
pub mod feed_runtime;
pub mod flatten;
pub mod host_status;
pub mod latency;
pub mod local_feed;
pub mod lockstep;
pub mod order_route;
pub mod pipeline;
pub mod plugin_control;
pub mod plugin_startup;
pub mod quarantine_list;
pub mod snapshot;
pub mod state_saver;
pub mod state_store;
pub mod status_server;
pub mod status_source;
pub mod strategy_link;
pub mod subscription_follower;
pub use daemon::{Wiring, run, run_with};
pub use engine_error::EngineError;
