//! The status server of a feed or broker host: the same API as the daemon's (`/api/status`,
//! `/health`, `/metrics`, the dashboard), over the host's own status source and control.

use super::engine_error::EngineError;
use crate::config::{Config, Mode};
use crate::status::report::RunMode;
use crate::status::{ApiConfig, Control, ControlAccess, StatusSource};
use std::future::Future;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// What the status report says the process runs on.
pub fn run_mode(mode: Mode) -> RunMode {
    match mode {
        Mode::Live => RunMode::Live,
        Mode::Demo => RunMode::Demo,
    }
}

/// Serve `source` (and `control`, when the host has one) on `listener` until `shutdown`
/// completes; logs the address with `what` the host is.
pub fn spawn(
    config: &Config,
    listener: tokio::net::TcpListener,
    source: Arc<dyn StatusSource>,
    control: Option<Arc<dyn Control>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    what: &str,
) -> Result<JoinHandle<()>, EngineError> {
    let api = ApiConfig {
        source,
        control,
        access: ControlAccess {
            token: config.control_token.clone(),
        },
        health: config.health,
        hub: Arc::new(crate::dashboard::EventHub::new(
            config.market.update_interval_secs,
        )),
    };
    let (bound, server) = crate::status::serve_on(listener, api, shutdown)?;
    tracing::info!(target: "tradehost::bus", "{what} status on http://{bound}/ (API: /api/status)");
    Ok(tokio::spawn(server))
}
