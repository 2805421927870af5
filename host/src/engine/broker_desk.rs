//! The broker host's status API: what it shows (`/api/status`: the broker, its journal and
//! every host of the deployment) and the one command that belongs to it, the kill switch.
//!
//! Engaging the kill switch cancels every resting order (journaled); each cancellation is
//! published to the host that owns its plugin, so the plugin hears of it as it would in one
//! process.
//!
//! `/api/status` reads the broker's figures from a [`BrokerBoard`], never the broker's lock:
//! that lock is held while the journal is written and synced, and a status request must not
//! wait on the disk. The tasks that change the broker publish to the board as they let go of
//! it (see `broker_host`).

use super::broker_board::BrokerBoard;
use super::deployment::Deployment;
use crate::broker::PaperBroker;
use crate::bus::{OrderReport, OutcomePublisher};
use crate::status::report::RunMode;
use crate::status::{Control, KillSwitchChange, KillSwitchError, StatusReport, StatusSource};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::oneshot;

/// What `/api/status` shows on a broker host.
pub struct BrokerDesk {
    /// When the host started.
    pub started: Instant,
    /// Wall-clock start time (ms).
    pub started_ms: i64,
    /// Live or demo.
    pub mode: RunMode,
    /// The broker's figures as last published.
    pub board: BrokerBoard,
    /// Every host, from the health board.
    pub deployment: Deployment,
}

impl StatusSource for BrokerDesk {
    fn report(&self) -> StatusReport {
        let broker = self.board.figures().report.clone();
        StatusReport {
            started_ms: self.started_ms,
            uptime_secs: self.started.elapsed().as_secs_f64(),
            mode: self.mode,
            broker,
            deployment: self.deployment.hosts(),
            ..StatusReport::default()
        }
    }
}

/// The kill switch of a broker host.
pub struct BrokerSwitch {
    /// The broker (held only for the call, never across the publishing).
    pub broker: Arc<Mutex<PaperBroker>>,
    /// Where the broker's figures are published after the switch.
    pub board: BrokerBoard,
    /// Where the cancellations go.
    pub outcomes: OutcomePublisher,
}

impl Control for BrokerSwitch {
    fn set_kill_switch(
        &self,
        engaged: bool,
        reason: String,
    ) -> Result<oneshot::Receiver<Result<KillSwitchChange, KillSwitchError>>, KillSwitchError> {
        let (reply, rx) = oneshot::channel();
        let now = crate::plugins::view::wall_clock_ms();
        let result = {
            let mut broker = self.broker.lock().unwrap_or_else(PoisonError::into_inner);
            let result = super::control::switch(&mut broker, engaged, &reason, now);
            self.board.publish(&broker);
            result
        };
        let outcomes = self.outcomes.clone();
        tokio::spawn(async move {
            if let Ok((cancelled, _, _)) = &result {
                for (i, outcome) in cancelled.iter().enumerate() {
                    let report = OrderReport::Outcome(outcome.clone());
                    if let Err(e) = outcomes.publish(&report, None, i).await {
                        tracing::warn!(target: "tradehost::bus", "cancellation not told to its plugin's host: {e}");
                    }
                }
            }
            let answer = result.map(|(cancelled, state, changed)| KillSwitchChange {
                state,
                changed,
                cancelled_orders: cancelled.len(),
            });
            let _ = reply.send(answer);
        });
        Ok(rx)
    }

    /// The broker host measures no tick-to-order latency.
    fn reset_latency(&self) {}
}
