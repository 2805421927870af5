//! Every host of a scale-out deployment, as last read from the bus's health board: the
//! status API and the dashboard show it without waiting on the bus.

use crate::bus::{HealthBoard, HostView};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The deployment's hosts; cheap to clone, shared by the reader task and the status API.
#[derive(Debug, Clone, Default)]
pub struct Deployment(Arc<Mutex<Vec<HostView>>>);

impl Deployment {
    /// The hosts, sorted by role and name.
    pub fn hosts(&self) -> Vec<HostView> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the board every `every` until `stop` completes.
    pub async fn follow(self, board: HealthBoard, every: Duration, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut ticks = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = ticks.tick() => {}
            }
            match board.read_all().await {
                Ok(mut hosts) => {
                    hosts.sort_by(|a, b| {
                        (a.health.role as u8, &a.health.host)
                            .cmp(&(b.health.role as u8, &b.health.host))
                    });
                    *self.0.lock().unwrap_or_else(PoisonError::into_inner) = hosts;
                }
                Err(e) => tracing::debug!(target: "tradehost::bus", "{e}"),
            }
        }
    }
}
