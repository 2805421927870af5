//! tradehost-sdk: write trading strategies for tradehost as WebAssembly components.
//!
//! A strategy is a type implementing [`Strategy`], exported with [`export_strategy!`] from a
//! `cdylib` crate built for `wasm32-wasip2`. The host delivers market events in batches; the
//! SDK calls the matching hook for each event in order and returns the orders the hooks placed
//! through the [`Context`].
//!
//! # Layout
//! - [`strategy`](Strategy): the trait an author implements, and [`Info`] describing it.
//! - [`context`](Context): host calls (prediction, position, bars, log, clock, symbols) and
//!   order helpers.
//! - [`config`](Config): typed access to the parameters and symbols from the settings file.
//! - [`parameters!`]: typed parameters declared once (type, default, range, doc comment).
//! - [`types`]: the plain data types of the WIT interface ([`Trade`], [`Bar`], [`Fill`]...).
//! - [`indicators`]: incremental O(1) indicators (SMA, EMA, RSI, MACD, Bollinger, ATR).
//! - [`BarBuilder`]: fixed-interval bars built from trades inside the strategy.
//! - [`batch`]: event batches as the host sends them (trades by column) and their walk in
//!   order.
//! - [`testing`]: an in-process stand-in for the host, to unit-test strategies natively.
//! - `export_strategy!`: the glue, including automatic snapshot/restore for strategies that
//!   derive `Serialize + Deserialize`.
//!
//! # The calls, in order
//! The host calls `describe` (→ [`Strategy::info`]), then `init` (→ `S::default()` and
//! [`Strategy::start`]), then possibly `restore` (→ the snapshot replaces the value, then
//! [`Strategy::on_restore`]), then `on-events` for each batch (→ one hook per event; the
//! orders placed are returned at the end of the batch), and `snapshot` whenever it wants to
//! keep the state.
//!
//! # Building
//! `tradehost new my-strategy` creates a crate set up for this SDK; in it:
//! ```text
//! tradehost build --install plugins/   # cargo build --release --target wasm32-wasip2, check, copy
//! ```
//! Inside the tradehost workspace, `scripts/build-plugins.sh` builds the examples with the
//! workspace's `guest` profile (`target/wasm32-wasip2/guest/NAME.wasm`).

#![deny(missing_docs)]

/// Bindings generated from `wit/strategy.wit`; used by [`export_strategy!`], not by authors.
#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "strategy-plugin",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "tradehost_sdk::bindings",
        runtime_path: "tradehost_sdk::__private::wit_bindgen::rt",
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
    });
}

// Lets the generated bindings name this crate as `tradehost_sdk` from inside it, too.
extern crate self as tradehost_sdk;

pub mod bar_builder;
pub mod batch;
pub mod config;
pub mod context;
mod export;
mod host;
pub mod indicators;
pub mod parameters;
pub mod prelude;
pub mod strategy;
pub mod symbol_map;
pub mod testing;
pub mod types;

pub use bar_builder::BarBuilder;
pub use batch::BatchItem;
pub use config::{Config, ConfigError};
pub use context::{Context, Tag};
pub use parameters::Parameters;
pub use strategy::{Info, Parameter, Strategy};
pub use symbol_map::SymbolMap;
pub use types::*;

/// Re-exported so strategies can derive their state without naming another crate version.
pub use serde;

/// Items used by the expansion of [`export_strategy!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::*;
    pub use wit_bindgen;
}

/// The WIT package this SDK was built against; the host refuses other major versions.
pub const WIT_PACKAGE: &str = "tradehost:strategy@0.3.0";
