//! Operator control through the status API: the [`Control`] the engine implements, what
//! its commands answer, and [`ControlAccess`], who may send them.
//!
//! The status server does not touch the broker or the plugins itself: a request goes to the
//! engine through a [`Control`], which applies it (broker changes on the engine thread
//! between two events) and answers. Reading is open like the rest of the API; changing
//! needs either the `CONTROL_TOKEN` (as `Authorization: Bearer TOKEN`) or, when no token is
//! set, a request from loopback, so a status port exposed on a network cannot halt or
//! resume trading for anyone who finds it. There is no cookie, so a page of another site
//! cannot borrow a session; requests a browser marks as coming from another origin, and
//! loopback requests addressed to a name other than an IP literal or `localhost` (DNS
//! rebinding), are refused as well.

use crate::broker::KillSwitchState;
use crate::plugins::{PluginRunState, PluginStatus};
use crate::settings::Secret;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// The answer to a command, once the engine has applied it.
pub type Answer<T> = oneshot::Receiver<Result<T, ControlError>>;

/// Something that applies operator commands to the running engine.
pub trait Control: Send + Sync + 'static {
    /// Engage (`true`) or release the kill switch; the answer comes once it is applied.
    fn set_kill_switch(
        &self,
        engaged: bool,
        reason: String,
    ) -> Result<oneshot::Receiver<Result<KillSwitchChange, KillSwitchError>>, KillSwitchError>;

    /// Forget the tick-to-order latency samples so far.
    fn reset_latency(&self);

    /// Reload, disable or enable the plugin `name`, on behalf of `actor`.
    fn plugin(
        &self,
        name: &str,
        command: PluginCommand,
        actor: &Actor,
    ) -> Result<Answer<PluginChange>, ControlError> {
        let _ = (name, command, actor);
        Err(ControlError::Unavailable)
    }

    /// Close every position of the strategy `plugin` with market orders (journaled like any
    /// order), after cancelling its resting orders.
    fn flatten(&self, plugin: &str, actor: &Actor) -> Result<Answer<FlattenOutcome>, ControlError> {
        let _ = (plugin, actor);
        Err(ControlError::Unavailable)
    }

    /// Plugins an operator disabled, as status pages list them.
    fn disabled_plugins(&self) -> Vec<PluginStatus> {
        Vec::new()
    }
}

/// Why a kill-switch request did not (fully) take effect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KillSwitchError {
    /// Halted, but not journaled: a restart would trade again.
    #[error(
        "trading is halted, but the journal could not record it, so the halt will not survive a \
         restart: {0}"
    )]
    HaltNotRecorded(String),
    /// Not released: the release could not be journaled.
    #[error("trading stays halted: the release could not be journaled: {0}")]
    ReleaseNotRecorded(String),
    /// This process has no broker of its own (a scale-out strategy host).
    #[error(
        "this is a strategy host: the kill switch and flattening belong to the broker host \
         (`tradehost run --role broker`); send the command there"
    )]
    BrokerHostOnly,
    /// The engine stopped before answering.
    #[error("the engine is shutting down; try again after it restarts")]
    Stopping,
}

impl KillSwitchError {
    /// The journal refused the change `engaged` asked for.
    pub fn not_recorded(engaged: bool, cause: impl fmt::Display) -> KillSwitchError {
        match engaged {
            true => KillSwitchError::HaltNotRecorded(cause.to_string()),
            false => KillSwitchError::ReleaseNotRecorded(cause.to_string()),
        }
    }

    /// The HTTP status that fits.
    pub fn status(&self) -> StatusCode {
        match self {
            KillSwitchError::HaltNotRecorded(_) | KillSwitchError::ReleaseNotRecorded(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            KillSwitchError::BrokerHostOnly => StatusCode::CONFLICT,
            KillSwitchError::Stopping => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// What to do with a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginCommand {
    /// Load its file again and swap it in, keeping its state (also lifts a quarantine).
    Reload,
    /// Stop it, saving its state; its resting orders are cancelled, positions stay.
    Disable,
    /// Load a disabled plugin again from its file and saved state.
    Enable,
}

impl PluginCommand {
    /// The command named in a URL.
    pub fn parse(s: &str) -> Option<PluginCommand> {
        match s {
            "reload" => Some(PluginCommand::Reload),
            "disable" => Some(PluginCommand::Disable),
            "enable" => Some(PluginCommand::Enable),
            _ => None,
        }
    }
}

/// What a plugin command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginChange {
    /// The plugin.
    pub plugin: String,
    /// The command.
    pub command: PluginCommand,
    /// The version running now (none when disabled).
    pub version: Option<String>,
    /// Its state now.
    pub state: PluginRunState,
}

/// One order a flatten placed, or why it was refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlattenOrder {
    /// The symbol.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Quantity.
    pub quantity: f64,
    /// The broker's order id, when accepted.
    pub order_id: Option<u64>,
    /// Why the broker refused it, when it did.
    pub refused: Option<String>,
}

/// What flattening a strategy did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlattenOutcome {
    /// The strategy.
    pub plugin: String,
    /// Resting orders cancelled first.
    pub cancelled_orders: usize,
    /// Market orders placed to close its positions (they fill at the next trade).
    pub orders: Vec<FlattenOrder>,
}

/// A command could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlError {
    /// No plugin has that name.
    #[error("no plugin named {0:?} is loaded or disabled: /api/status lists the plugins")]
    UnknownPlugin(String),
    /// The command does not apply in the plugin's current state.
    #[error("{0}")]
    Conflict(String),
    /// The command was tried and failed; the old state stands.
    #[error("{0}")]
    Failed(String),
    /// The engine is stopping.
    #[error("the engine is shutting down; try again after it restarts")]
    Stopping,
    /// This server controls no engine.
    #[error("this server has no engine to control")]
    Unavailable,
}

impl ControlError {
    /// The HTTP status that fits.
    pub fn status(&self) -> StatusCode {
        match self {
            ControlError::UnknownPlugin(_) => StatusCode::NOT_FOUND,
            ControlError::Conflict(_) => StatusCode::CONFLICT,
            ControlError::Failed(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ControlError::Stopping | ControlError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Who asked for a change: recorded with it in the journal or the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// Where the request came from.
    pub peer: SocketAddr,
    /// It carried the control token (else it was allowed as a loopback request).
    pub with_token: bool,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.with_token {
            true => write!(f, "control-token holder at {}", self.peer),
            false => write!(f, "loopback client {}", self.peer),
        }
    }
}

/// The body of `POST /api/kill-switch`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct KillSwitchRequest {
    /// `true` halts trading, `false` resumes it.
    pub engaged: bool,
    /// Why, recorded in the journal and the log (default: `status API`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// What the engine did with a kill-switch request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KillSwitchChange {
    /// The state after the request.
    pub state: KillSwitchView,
    /// False when the switch was already in the asked-for state.
    pub changed: bool,
    /// Resting orders cancelled by engaging it.
    pub cancelled_orders: usize,
}

/// The kill switch as the API shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KillSwitchView {
    /// Trading is halted.
    pub engaged: bool,
    /// Why it was last changed.
    pub reason: String,
    /// When it was last changed (ms since the epoch; none when it never was).
    pub since_ms: Option<i64>,
}

impl From<&KillSwitchState> for KillSwitchView {
    fn from(k: &KillSwitchState) -> Self {
        KillSwitchView {
            engaged: k.engaged,
            reason: k.reason.clone(),
            since_ms: k.since_ms,
        }
    }
}

/// Who may change things through the API.
#[derive(Debug, Clone, Default)]
pub struct ControlAccess {
    /// `CONTROL_TOKEN`: when set, required as a bearer token on every change.
    pub token: Option<Secret>,
}

impl ControlAccess {
    /// Who asks, when a change from `peer` with `headers` is allowed; else the status and why.
    pub fn check(
        &self,
        peer: SocketAddr,
        headers: &HeaderMap,
    ) -> Result<Actor, (StatusCode, String)> {
        cross_origin(headers)?;
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match (&self.token, given) {
            (Some(token), Some(given)) if constant_time_eq(token.expose(), given) => Ok(Actor {
                peer,
                with_token: true,
            }),
            (Some(_), Some(_)) => Err((
                StatusCode::UNAUTHORIZED,
                "wrong control token: send the CONTROL_TOKEN of the daemon's settings as \
                 `Authorization: Bearer TOKEN`"
                    .into(),
            )),
            (Some(_), None) => Err((
                StatusCode::UNAUTHORIZED,
                "this daemon requires its CONTROL_TOKEN for changes: send \
                 `Authorization: Bearer TOKEN` (tradehost kill-switch --token)"
                    .into(),
            )),
            (None, _) if peer.ip().is_loopback() => {
                loopback_host(headers)?;
                Ok(Actor {
                    peer,
                    with_token: false,
                })
            }
            (None, _) => Err((
                StatusCode::FORBIDDEN,
                format!(
                    "changes are accepted from loopback only, and {} is not: set CONTROL_TOKEN \
                     in the daemon's settings to allow them from elsewhere with that token",
                    peer.ip()
                ),
            )),
        }
    }
}

/// Refuses a request that a browser says comes from a page of another origin than the one
/// it is addressed to (clients other than browsers send no `Origin`).
fn cross_origin(headers: &HeaderMap) -> Result<(), (StatusCode, String)> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(origin), host) = (text(header::ORIGIN), text(header::HOST)) else {
        return Ok(());
    };
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    if Some(origin_host) == host {
        return Ok(());
    }
    Err((
        StatusCode::FORBIDDEN,
        format!(
            "a page from {origin} may not change this daemon: use the dashboard the daemon \
             serves itself, or a client that is not a browser"
        ),
    ))
}

/// Without a token, a loopback request must be addressed to an IP literal or `localhost`:
/// a page of another site whose name was made to resolve to 127.0.0.1 (DNS rebinding) sends
/// that name.
fn loopback_host(headers: &HeaderMap) -> Result<(), (StatusCode, String)> {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    if name == "localhost" || name.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    Err((
        StatusCode::FORBIDDEN,
        format!(
            "changes from loopback must be addressed to 127.0.0.1 or localhost, not {name:?}: \
             set CONTROL_TOKEN in the daemon's settings to allow other names with that token"
        ),
    ))
}

/// Compares without stopping at the first difference, so timing does not reveal the token.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    #[test]
    fn browsers_of_other_origins_and_rebound_names_are_refused() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let open = ControlAccess::default();
        // TC0..: (Host, Origin, allowed)
        let cases = [
            (Some("127.0.0.1:8787"), Some("http://127.0.0.1:8787"), true),
            (Some("localhost:8787"), None, true),
            (Some("[::1]:8787"), Some("http://[::1]:8787"), true),
            (Some("127.0.0.1:8787"), Some("https://evil.example"), false),
            (
                Some("evil.example:8787"),
                Some("http://evil.example:8787"),
                false,
            ),
            (None, None, true),
        ];
        for (i, (host, origin, allowed)) in cases.into_iter().enumerate() {
            let mut h = HeaderMap::new();
            if let Some(v) = host {
                h.insert(header::HOST, HeaderValue::from_str(v).unwrap());
            }
            if let Some(v) = origin {
                h.insert(header::ORIGIN, HeaderValue::from_str(v).unwrap());
            }
            let got = open.check(local, &h);
            assert_eq!(got.is_ok(), allowed, "TC{i}: {got:?}");
            if let Err((code, _)) = got {
                assert_eq!(code, StatusCode::FORBIDDEN, "TC{i}");
            }
        }
        let actor = open.check(local, &HeaderMap::new()).unwrap();
        assert_eq!(actor.to_string(), "loopback client 127.0.0.1:5000");
    }

    #[test]
    fn access_table() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let open = ControlAccess::default();
        let locked = ControlAccess {
            token: Some(Secret::new("s3cret")),
        };
        // TC0..: (access, peer, Authorization header, allowed status)
        let cases = [
            (&open, local, None, None),
            (&open, remote, None, Some(StatusCode::FORBIDDEN)),
            (
                &open,
                remote,
                Some("Bearer guess"),
                Some(StatusCode::FORBIDDEN),
            ),
            (&locked, local, None, Some(StatusCode::UNAUTHORIZED)),
            (&locked, remote, Some("Bearer s3cret"), None),
            (
                &locked,
                local,
                Some("Bearer s3cre"),
                Some(StatusCode::UNAUTHORIZED),
            ),
            (
                &locked,
                local,
                Some("Basic s3cret"),
                Some(StatusCode::UNAUTHORIZED),
            ),
        ];
        for (i, (access, peer, auth, want)) in cases.into_iter().enumerate() {
            let got = access.check(peer, &headers(auth)).err();
            assert_eq!(got.as_ref().map(|e| e.0), want, "TC{i}: {got:?}");
            if let Some((_, message)) = got {
                assert!(message.contains("CONTROL_TOKEN"), "TC{i}: {message}");
                assert!(!message.contains("s3cret"), "TC{i}: the token leaked");
            }
        }
    }
}
