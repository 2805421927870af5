//! The operator's actions over HTTP: the kill switch (`GET`/`POST /api/kill-switch`), the
//! latency reset (`POST /api/latency/reset`), and a plugin's reload, disable, enable and
//! flatten (`POST /api/plugins/{name}/{action}`).
//!
//! Each change is checked by [`ControlAccess`](super::ControlAccess), applied through the
//! engine's [`Control`](super::Control), logged with who asked (and journaled, for the kill
//! switch and the orders of a flatten), and shown on the dashboard as a notice.

use super::control::{Actor, ControlError, KillSwitchError, KillSwitchRequest, PluginCommand};
use super::{Api, Control};
use crate::dashboard::event::{Level, Notice};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for the engine thread's answer to a kill switch or flatten: one that is
/// stopping may never answer, and a request must not hold the server's shutdown up.
const ENGINE_ANSWER: Duration = Duration::from_secs(10);
/// Longest wait for a plugin load, reload or unload to finish (it compiles and starts one).
const PLUGIN_ANSWER: Duration = Duration::from_secs(60);

/// The answer on `rx`, or `None` when it is dropped unanswered or takes longer than `limit`.
async fn answer<T>(rx: tokio::sync::oneshot::Receiver<T>, limit: Duration) -> Option<T> {
    tokio::time::timeout(limit, rx).await.ok()?.ok()
}

/// `GET /api/kill-switch`.
pub(crate) async fn kill_switch(State(api): State<Api>) -> impl IntoResponse {
    Json(api.reporter.report().broker.kill_switch)
}

/// `POST /api/kill-switch` with `{"engaged": bool, "reason": "..."}`.
pub(crate) async fn set_kill_switch(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(request): Json<KillSwitchRequest>,
) -> Response {
    let (actor, control) = match allowed(&api, peer, &headers, "kill-switch") {
        Ok(v) => v,
        Err(refused) => return *refused,
    };
    let reason = request
        .reason
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "status API".into());
    // The journal keeps the reason: who asked goes with it.
    let reason = format!("{reason} (from {actor})");
    let answer = match control.set_kill_switch(request.engaged, reason) {
        Ok(rx) => answer(rx, ENGINE_ANSWER)
            .await
            .unwrap_or(Err(KillSwitchError::Stopping)),
        Err(e) => Err(e),
    };
    match answer {
        Ok(change) => {
            if change.changed {
                let word = if request.engaged {
                    "engaged"
                } else {
                    "released"
                };
                notice(
                    &api,
                    Level::Warning,
                    format!("{actor} {word} the kill switch: {}", change.state.reason),
                );
            }
            (StatusCode::OK, Json(change)).into_response()
        }
        Err(e) => error(e.status(), e.to_string()),
    }
}

/// `POST /api/latency/reset`.
pub(crate) async fn reset_latency(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    match allowed(&api, peer, &headers, "latency reset") {
        Ok((actor, control)) => {
            control.reset_latency();
            tracing::info!(target: "tradehost::control", "{actor} reset the latency histograms");
            (StatusCode::OK, Json(serde_json::json!({ "reset": true }))).into_response()
        }
        Err(refused) => *refused,
    }
}

/// The optional body of a plugin action.
#[derive(Debug, Default, Deserialize)]
struct ActionRequest {
    /// Why, for the log.
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/plugins/{name}/{action}`: `reload`, `disable`, `enable` or `flatten`, with an
/// optional JSON body `{"reason": "..."}`.
pub(crate) async fn plugin(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((name, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (actor, control) = match allowed(&api, peer, &headers, &action) {
        Ok(v) => v,
        Err(refused) => return *refused,
    };
    let request: ActionRequest = match body.is_empty() {
        true => ActionRequest::default(),
        false => match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the body must be JSON like {{\"reason\": \"why\"}} or empty: {e}"),
                );
            }
        },
    };
    let why = request
        .reason
        .filter(|r| !r.trim().is_empty())
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    tracing::warn!(target: "tradehost::control", plugin = %name, "{actor} asked to {action} plugin {name}{why}");
    if action == "flatten" {
        let answer = match control.flatten(&name, &actor) {
            Ok(rx) => answer(rx, ENGINE_ANSWER)
                .await
                .unwrap_or(Err(ControlError::Stopping)),
            Err(e) => Err(e),
        };
        return match answer {
            Ok(outcome) => {
                let refused = outcome
                    .orders
                    .iter()
                    .filter(|o| o.refused.is_some())
                    .count();
                let level = if refused > 0 {
                    Level::Warning
                } else {
                    Level::Info
                };
                notice(
                    &api,
                    level,
                    format!(
                        "{actor} flattened {name}{why}: {} resting orders cancelled, {} closing orders placed, {refused} refused",
                        outcome.cancelled_orders,
                        outcome.orders.len() - refused
                    ),
                );
                (StatusCode::OK, Json(outcome)).into_response()
            }
            Err(e) => control_error(&api, &actor, &name, &action, e),
        };
    }
    let Some(command) = PluginCommand::parse(&action) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("unknown action {action:?}: use reload, disable, enable or flatten"),
        );
    };
    let answer = match control.plugin(&name, command, &actor) {
        Ok(rx) => answer(rx, PLUGIN_ANSWER)
            .await
            .unwrap_or(Err(ControlError::Stopping)),
        Err(e) => Err(e),
    };
    match answer {
        Ok(change) => {
            let version = change
                .version
                .as_deref()
                .map(|v| format!(" (version {v})"))
                .unwrap_or_default();
            let done = match command {
                PluginCommand::Reload => "reloaded",
                PluginCommand::Disable => "disabled",
                PluginCommand::Enable => "enabled",
            };
            notice(
                &api,
                Level::Info,
                format!("{actor} {done} {name}{version}{why}"),
            );
            (StatusCode::OK, Json(change)).into_response()
        }
        Err(e) => control_error(&api, &actor, &name, &action, e),
    }
}

/// The actor and the control, or the refusal to send back.
fn allowed(
    api: &Api,
    peer: SocketAddr,
    headers: &HeaderMap,
    what: &str,
) -> Result<(Actor, Arc<dyn Control>), Box<Response>> {
    let actor = api.access.check(peer, headers).map_err(|(code, message)| {
        tracing::warn!(target: "tradehost::control", "{what} request from {peer} refused: {message}");
        Box::new(error(code, message))
    })?;
    let control = api.control.clone().ok_or_else(|| {
        Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            ControlError::Unavailable.to_string(),
        ))
    })?;
    Ok((actor, control))
}

fn control_error(api: &Api, actor: &Actor, name: &str, action: &str, e: ControlError) -> Response {
    tracing::warn!(target: "tradehost::control", plugin = %name, "{action} of {name} asked by {actor} failed: {e}");
    notice(
        api,
        Level::Warning,
        format!("{action} of {name} failed: {e}"),
    );
    error(e.status(), e.to_string())
}

fn notice(api: &Api, level: Level, text: String) {
    api.hub.notice(Notice {
        time_ms: crate::plugins::view::wall_clock_ms(),
        level,
        subject: "control".into(),
        text,
    });
}

/// An error answer: `{"error": "..."}`.
pub(crate) fn error(code: StatusCode, message: String) -> Response {
    (code, Json(serde_json::json!({ "error": message }))).into_response()
}
