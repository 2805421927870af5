//! The status API: `/health`, `/metrics` (Prometheus text), `/api/status` (JSON), and the
//! kill switch at `/api/kill-switch`.
//!
//! Reading: the engine publishes a fresh [`StatusReport`] through a [`StatusSource`] and the
//! handlers serialise it. Changing: requests go to the engine through a [`Control`], guarded
//! by [`ControlAccess`] (see [`control`]).

pub mod client;
pub mod control;
pub mod prometheus;
pub mod report;

pub use control::{Control, ControlAccess, KillSwitchChange, KillSwitchRequest, KillSwitchView};
pub use report::StatusReport;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the handlers share.
#[derive(Clone)]
struct Api {
    source: Arc<dyn StatusSource>,
    control: Option<Arc<dyn Control>>,
    access: ControlAccess,
}

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

/// The router; serve it with `into_make_service_with_connect_info::<SocketAddr>()` (control
/// checks the peer address). Without a `control`, changes answer 503.
pub fn router(
    source: Arc<dyn StatusSource>,
    control: Option<Arc<dyn Control>>,
    access: ControlAccess,
) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/status", get(status))
        .route("/api/kill-switch", get(kill_switch).post(set_kill_switch))
        .route("/api/latency/reset", axum::routing::post(reset_latency))
        .with_state(Api {
            source,
            control,
            access,
        })
}

/// Bind `addr` and serve until `shutdown` completes. Returns the bound address (useful
/// with port 0) and the server future to spawn.
pub async fn serve(
    addr: SocketAddr,
    source: Arc<dyn StatusSource>,
    control: Option<Arc<dyn Control>>,
    access: ControlAccess,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = ()>), StatusError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StatusError { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StatusError { addr, source })?;
    let app = router(source, control, access).into_make_service_with_connect_info::<SocketAddr>();
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

async fn health(State(api): State<Api>) -> impl IntoResponse {
    let r = api.source.report();
    let body = serde_json::json!({
        "status": "ok",
        "feed": r.feed.state,
        "plugins": r.plugins.len(),
        "uptime_secs": r.uptime_secs,
    });
    (StatusCode::OK, Json(body))
}

async fn metrics(State(api): State<Api>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        prometheus::render(&api.source.report()),
    )
}

async fn status(State(api): State<Api>) -> impl IntoResponse {
    Json(api.source.report())
}

async fn kill_switch(State(api): State<Api>) -> impl IntoResponse {
    Json(api.source.report().broker.kill_switch)
}

async fn set_kill_switch(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(request): Json<KillSwitchRequest>,
) -> Response {
    if let Err((code, message)) = api.access.check(peer, &headers) {
        tracing::warn!("kill-switch request from {peer} refused: {message}");
        return error(code, message);
    }
    let Some(control) = &api.control else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server has no engine to control".into(),
        );
    };
    let reason = request
        .reason
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "status API".into());
    let reason = format!("{reason} (from {peer})");
    let answer = match control.set_kill_switch(request.engaged, reason) {
        Ok(rx) => rx
            .await
            .unwrap_or_else(|_| Err("the engine stopped before answering".into())),
        Err(e) => Err(e),
    };
    match answer {
        Ok(change) => (StatusCode::OK, Json(change)).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn reset_latency(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err((code, message)) = api.access.check(peer, &headers) {
        return error(code, message);
    }
    match &api.control {
        Some(control) => {
            control.reset_latency();
            (StatusCode::OK, Json(serde_json::json!({ "reset": true }))).into_response()
        }
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server has no engine to control".into(),
        ),
    }
}

fn error(code: StatusCode, message: String) -> Response {
    (code, Json(serde_json::json!({ "error": message }))).into_response()
}
