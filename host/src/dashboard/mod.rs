//! The live web dashboard, served by the daemon's status server at `/`, and the HTML view
//! of backtest reports.
//!
//! # Layout
//! - [`hub`]: [`EventHub`], the narrow interface the engine feeds (trades of a batch, fills,
//!   broker outcomes, forecasts), with a bounded recent history for snapshots.
//! - [`event`]: the typed events and the [`event::Snapshot`] a browser starts from.
//! - [`pump`]: sends changed bars four times a second, and every second the status
//!   document, equity and notices of what changed.
//! - [`stream`]: `GET /api/events`, one Server-Sent Events stream per browser.
//! - [`assets`]: the page's HTML, scripts, style and the vendored chart library, embedded.
//! - [`report_page`]: the self-contained HTML report of backtests (`tradehost report`, and
//!   `report.html` beside every backtest's `report.json`), drawn by the same scripts.
//!
//! The page itself (`host/assets/dashboard/`) is plain ES modules over TradingView
//! Lightweight Charts; no build step. Its controls call the status API's actions (see
//! [`crate::status::actions`]), so the same access rules hold.

pub mod assets;
pub mod event;
pub mod hub;
pub mod pump;
pub mod report_page;
pub mod stream;

pub use hub::EventHub;

use crate::status::Reporter;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;
use tokio::sync::watch;

/// What the dashboard's handlers share.
#[derive(Clone)]
pub struct Dashboard {
    /// Live events and recent history.
    pub hub: Arc<EventHub>,
    /// The status document.
    pub reporter: Arc<Reporter>,
    /// Turns true when the server shuts down (event streams end then).
    pub closing: watch::Receiver<bool>,
}

/// `/`, `/assets/{file}` and `/api/events`.
pub fn router(dashboard: Dashboard) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{*path}", get(assets::file))
        .route("/api/events", get(stream::events))
        .with_state(dashboard)
}
