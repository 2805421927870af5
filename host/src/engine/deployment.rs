//! Every host of a scale-out deployment, as last read from the bus's health board: the
//! status API and the dashboard show it without waiting on the bus.

use crate::bus::{Bus, BusError, HealthBoard, HostView};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;

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

    /// A deployment kept up to date from `bus`'s health board (every health interval) by a
    /// task that ends when `stop` completes.
    pub async fn following(
        bus: &Bus,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(Deployment, JoinHandle<()>), BusError> {
        let deployment = Deployment::default();
        let board = HealthBoard::open(bus).await?;
        let every = bus.config().health_interval;
        let task = tokio::spawn(deployment.clone().follow(board, every, stop));
        Ok((deployment, task))
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
