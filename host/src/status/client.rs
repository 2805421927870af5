//! A client of a running daemon's status API, behind `tradehost kill-switch` (and the
//! live-latency benchmark).

use super::control::{KillSwitchChange, KillSwitchRequest, KillSwitchView};
use std::net::SocketAddr;
use std::time::Duration;

/// A request to the daemon's status API failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered at the address.
    #[error(
        "no tradehost answered at http://{addr} ({message}): is the daemon running, and is \
         STATUS_ADDR (or --addr) its status address?"
    )]
    Unreachable {
        /// The address tried.
        addr: SocketAddr,
        /// What the HTTP client said.
        message: String,
    },
    /// The daemon answered with an error.
    #[error("the daemon refused the request ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The daemon's explanation.
        message: String,
    },
    /// The answer was not what a tradehost sends.
    #[error("unexpected answer from http://{addr}: {message}")]
    BadAnswer {
        /// The address.
        addr: SocketAddr,
        /// What was wrong with it.
        message: String,
    },
}

/// The kill switch of the daemon at `addr`.
pub async fn kill_switch(addr: SocketAddr) -> Result<KillSwitchView, ClientError> {
    let response = client(addr)?
        .get(format!("http://{addr}/api/kill-switch"))
        .send()
        .await
        .map_err(|e| unreachable(addr, e))?;
    answer(addr, response).await
}

/// Engage or release the kill switch of the daemon at `addr`.
pub async fn set_kill_switch(
    addr: SocketAddr,
    engaged: bool,
    reason: Option<String>,
    token: Option<&str>,
) -> Result<KillSwitchChange, ClientError> {
    let mut request = client(addr)?
        .post(format!("http://{addr}/api/kill-switch"))
        .json(&KillSwitchRequest { engaged, reason });
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| unreachable(addr, e))?;
    answer(addr, response).await
}

/// Start the tick-to-order latency histogram of the daemon at `addr` afresh.
pub async fn reset_latency(addr: SocketAddr, token: Option<&str>) -> Result<(), ClientError> {
    let mut request = client(addr)?.post(format!("http://{addr}/api/latency/reset"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| unreachable(addr, e))?;
    answer::<serde_json::Value>(addr, response)
        .await
        .map(|_| ())
}

fn client(addr: SocketAddr) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .map_err(|e| unreachable(addr, e))
}

fn unreachable(addr: SocketAddr, e: reqwest::Error) -> ClientError {
    ClientError::Unreachable {
        addr,
        message: e.to_string(),
    }
}

async fn answer<T: serde::de::DeserializeOwned>(
    addr: SocketAddr,
    response: reqwest::Response,
) -> Result<T, ClientError> {
    let status = response.status();
    let body = response.text().await.map_err(|e| ClientError::BadAnswer {
        addr,
        message: e.to_string(),
    })?;
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or(body);
        return Err(ClientError::Refused {
            status: status.as_u16(),
            message,
        });
    }
    serde_json::from_str(&body).map_err(|e| ClientError::BadAnswer {
        addr,
        message: format!("{e}: {body}"),
    })
}
