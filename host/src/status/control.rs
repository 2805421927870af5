//! Operator control through the status API: `GET`/`POST /api/kill-switch`, and
//! `POST /api/latency/reset` (start the tick-to-order histogram afresh, e.g. after a deploy
//! or a benchmark's warm-up).
//!
//! The status server does not touch the broker itself: a request goes to the engine through
//! a [`Control`], which applies it on the engine thread between two events and answers.
//! Reading is open like the rest of the API; changing needs either the `CONTROL_TOKEN`
//! (as `Authorization: Bearer TOKEN`) or, when no token is set, a request from loopback, so
//! a status port exposed on a network cannot halt or resume trading for anyone who finds it.

use crate::broker::KillSwitchState;
use crate::settings::Secret;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// Something that applies operator commands to the running engine.
pub trait Control: Send + Sync + 'static {
    /// Engage (`true`) or release the kill switch; the answer comes once it is applied.
    fn set_kill_switch(
        &self,
        engaged: bool,
        reason: String,
    ) -> Result<oneshot::Receiver<Result<KillSwitchChange, String>>, String>;

    /// Forget the tick-to-order latency samples so far.
    fn reset_latency(&self);
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
    /// `Ok` when a change from `peer` with `headers` is allowed, else the status and why.
    pub fn check(&self, peer: SocketAddr, headers: &HeaderMap) -> Result<(), (StatusCode, String)> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match (&self.token, given) {
            (Some(token), Some(given)) if constant_time_eq(token.expose(), given) => Ok(()),
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
            (None, _) if peer.ip().is_loopback() => Ok(()),
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
