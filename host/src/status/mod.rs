//! The status API and the dashboard's server: `/health` (200, or 503 with reasons),
//! `/metrics` (OpenMetrics text), `/api/status` (typed JSON, schema in `docs/api.md`), the
//! operator's controls (`/api/kill-switch`, `/api/plugins/{name}/{action}`), and the
//! dashboard itself (`/`, `/assets/…`, the event stream `/api/events`, see [`crate::dashboard`]).
//!
//! Reading: the engine publishes a fresh [`StatusReport`] through a [`StatusSource`]; the
//! [`Reporter`] adds what the control knows (disabled plugins) and the health verdict, and
//! the handlers serialise it. Changing: requests go to the engine through a [`Control`],
//! guarded by [`ControlAccess`] (see [`control`] and [`actions`]).

pub mod actions;
pub mod client;
pub mod control;
pub mod feed;
pub mod health;
pub mod metrics;
pub mod report;

pub use control::{
    Actor, Answer, Control, ControlAccess, ControlError, FlattenOutcome, KillSwitchChange,
    KillSwitchError, KillSwitchRequest, KillSwitchView, PluginChange, PluginCommand,
};
pub use health::{HealthPolicy, HealthReport};
pub use report::StatusReport;

use crate::dashboard::{Dashboard, EventHub};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// Something that can produce the current status.
pub trait StatusSource: Send + Sync + 'static {
    /// The current report.
    fn report(&self) -> StatusReport;
}

/// Makes the status document every reader sees: the source's report, the plugins an
/// operator disabled, and the health verdict.
pub struct Reporter {
    /// The engine's report.
    pub source: Arc<dyn StatusSource>,
    /// The engine's control, which knows the disabled plugins.
    pub control: Option<Arc<dyn Control>>,
    /// What counts as unhealthy.
    pub health: HealthPolicy,
}

impl Reporter {
    /// The status document now.
    pub fn report(&self) -> StatusReport {
        let mut r = self.source.report();
        if let Some(control) = &self.control {
            for d in control.disabled_plugins() {
                if !r.plugins.iter().any(|p| p.info.name == d.info.name) {
                    r.plugins.push(d);
                }
            }
        }
        r.health = self
            .health
            .assess(&r, crate::plugins::view::wall_clock_ms());
        r
    }
}

/// What the server is built from.
pub struct ApiConfig {
    /// The engine's status.
    pub source: Arc<dyn StatusSource>,
    /// The engine's control (without it, changes answer 503).
    pub control: Option<Arc<dyn Control>>,
    /// Who may change things.
    pub access: ControlAccess,
    /// What counts as unhealthy.
    pub health: HealthPolicy,
    /// The dashboard's live events, fed by the engine.
    pub hub: Arc<EventHub>,
}

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) reporter: Arc<Reporter>,
    pub(crate) control: Option<Arc<dyn Control>>,
    pub(crate) access: ControlAccess,
    pub(crate) hub: Arc<EventHub>,
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

/// The router, and the dashboard state whose pump must run beside it; serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` (control checks the peer address).
/// Event streams end when `closing` turns true.
pub fn router(config: ApiConfig, closing: watch::Receiver<bool>) -> (Router, Dashboard) {
    let reporter = Arc::new(Reporter {
        source: config.source,
        control: config.control.clone(),
        health: config.health,
    });
    let dashboard = Dashboard {
        hub: config.hub.clone(),
        reporter: reporter.clone(),
        closing,
    };
    let api = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/status", get(status))
        .route(
            "/api/kill-switch",
            get(actions::kill_switch).post(actions::set_kill_switch),
        )
        .route("/api/latency/reset", post(actions::reset_latency))
        .route("/api/plugins/{name}/{action}", post(actions::plugin))
        .with_state(Api {
            reporter,
            control: config.control,
            access: config.access,
            hub: config.hub,
        });
    (
        api.merge(crate::dashboard::router(dashboard.clone())),
        dashboard,
    )
}

/// Bind `addr` for the status API. The daemon does this first, so that a port already in
/// use is reported before minutes of training and plugin loading.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, StatusError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StatusError { addr, source })
}

/// Bind `addr` and serve until `shutdown` completes. Returns the bound address (useful
/// with port 0) and the server future to spawn.
pub async fn serve(
    addr: SocketAddr,
    config: ApiConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = ()>), StatusError> {
    serve_on(bind(addr).await?, config, shutdown)
}

/// Serve on a bound `listener` until `shutdown` completes; the bound address and the
/// server future to spawn.
pub fn serve_on(
    listener: tokio::net::TcpListener,
    config: ApiConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = ()>), StatusError> {
    let addr = listener.local_addr().map_err(|source| StatusError {
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StatusError { addr, source })?;
    let (closing_tx, closing) = watch::channel(false);
    let (app, dashboard) = router(config, closing);
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let server = async move {
        let pump =
            crate::dashboard::pump::run(dashboard.hub, dashboard.reporter, dashboard.closing);
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            // Event streams never end on their own: end them, or shutdown would wait on them.
            let _ = closing_tx.send(true);
        });
        let (served, ()) = tokio::join!(serve, pump);
        if let Err(e) = served {
            tracing::error!("status API stopped: {e}");
        }
    };
    Ok((bound, server))
}

async fn health(State(api): State<Api>) -> impl IntoResponse {
    let r = api.reporter.report();
    let code = if r.health.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if r.health.healthy { "ok" } else { "unhealthy" },
        "problems": r.health.problems,
        "messages": r.health.messages,
        "feed": r.feed.link,
        "plugins": r.plugins.len(),
        "uptime_secs": r.uptime_secs,
    });
    (code, Json(body))
}

async fn metrics(State(api): State<Api>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&api.reporter.report()),
    )
}

async fn status(State(api): State<Api>) -> impl IntoResponse {
    Json(api.reporter.report())
}
