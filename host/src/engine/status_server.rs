//! The daemon's status API and dashboard on their own port, served by the main runtime: the
//! engine feeds the page's live events through the dashboard hub, and operator commands
//! reach the engine thread through [`EngineControl`].

use super::control::EngineControl;
use super::engine_error::EngineError;
use super::pipeline::Pipeline;
use super::status_source::EngineStatus;
use crate::config::Config;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The running server, to stop at shutdown.
pub struct StatusServer {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl StatusServer {
    /// Serve on `listener` (bound at start-up, so a port clash is reported before training
    /// and loading): status from `source`, commands through `control`, and the dashboard's
    /// live events from the `pipeline`, which gets the hub.
    pub fn start(
        listener: tokio::net::TcpListener,
        config: &Config,
        source: Arc<EngineStatus>,
        control: EngineControl,
        pipeline: &mut Pipeline,
    ) -> Result<StatusServer, EngineError> {
        let hub = Arc::new(crate::dashboard::EventHub::new(
            config.market.update_interval_secs,
        ));
        pipeline.events = Some(hub.clone());
        let api = crate::status::ApiConfig {
            source,
            control: Some(Arc::new(control)),
            access: crate::status::ControlAccess {
                token: config.control_token.clone(),
            },
            health: config.health,
            hub,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let (bound, server) = crate::status::serve_on(listener, api, async move {
            let _ = stopped.await;
        })?;
        tracing::info!(
            "dashboard on http://{bound}/ (API: /health, /metrics, /api/status, /api/events, /api/kill-switch)"
        );
        Ok(StatusServer {
            stop,
            task: tokio::spawn(server),
        })
    }

    /// Stop serving and wait for the server to end.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
