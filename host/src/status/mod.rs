//! The status API: `/health`, `/metrics` (Prometheus text) and `/api/status` (JSON).
//!
//! The server only reads: the engine publishes a fresh [`StatusReport`] through a
//! [`StatusSource`] and the handlers serialise it.

pub mod prometheus;
pub mod report;

pub use report::StatusReport;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// Something that can produce the current status.
pub trait StatusSource: Send + Sync + 'static {
    /// The current report.
    fn report(&self) -> StatusReport;
}

/// The status server could not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot serve the status API on {addr}: {source} (set STATUS_ADDR to a free address, or `off`)"
)]
pub struct StatusError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// The bind error.
    pub source: std::io::Error,
}

/// The router, for tests and embedding.
pub fn router(source: Arc<dyn StatusSource>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/status", get(status))
        .with_state(source)
}

/// Bind `addr` and serve until `shutdown` completes. Returns the bound address (useful
/// with port 0) and the server future to spawn.
pub async fn serve(
    addr: SocketAddr,
    source: Arc<dyn StatusSource>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = ()>), StatusError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StatusError { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StatusError { addr, source })?;
    let app = router(source);
    let server = async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!("status API stopped: {e}");
        }
    };
    Ok((bound, server))
}

async fn health(State(source): State<Arc<dyn StatusSource>>) -> impl IntoResponse {
    let r = source.report();
    let body = serde_json::json!({
        "status": "ok",
        "feed": r.feed.state,
        "plugins": r.plugins.len(),
        "uptime_secs": r.uptime_secs,
    });
    (StatusCode::OK, Json(body))
}

async fn metrics(State(source): State<Arc<dyn StatusSource>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        prometheus::render(&source.report()),
    )
}

async fn status(State(source): State<Arc<dyn StatusSource>>) -> impl IntoResponse {
    Json(source.report())
}
