//! The broker host's status API: what it shows (`/api/status`: the broker, its journal and
//! every host of the deployment) and the commands that belong to it, the kill switch and
//! flatten.
//!
//! Engaging the kill switch cancels every resting order (journaled); a flatten cancels one
//! strategy's resting orders and places market orders closing its positions
//! ([`super::flatten`]). Each cancellation, acceptance and refusal is published to the host
//! that owns its plugin, and fills follow as for any order, so the plugin hears of them as it
//! would in one process.
//!
//! `/api/status` reads the broker's figures from a [`BrokerBoard`], never the broker's lock:
//! that lock is held while the journal is written and synced, and a status request must not
//! wait on the disk. The tasks that change the broker publish to the board as they let go of
//! it (see `broker_host`).

use super::broker_board::BrokerBoard;
use super::deployment::Deployment;
use crate::broker::{BrokerOutcome, PaperBroker};
use crate::bus::{OrderReport, OutcomePublisher};
use crate::status::report::RunMode;
use crate::status::{
    Actor, Answer, Control, ControlError, FlattenOutcome, KillSwitchChange, KillSwitchError,
    StatusReport, StatusSource,
};
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

/// The operator commands of a broker host: the kill switch and flatten.
pub struct BrokerSwitch {
    /// The broker (held only for the call, never across the publishing).
    pub broker: Arc<Mutex<PaperBroker>>,
    /// Where the broker's figures are published after the switch.
    pub board: BrokerBoard,
    /// Where the cancellations and the flatten's outcomes go.
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
        // Journaled (and synced): off the async workers, as the broker host's tasks do.
        let result = tokio::task::block_in_place(|| {
            let mut broker = self.broker.lock().unwrap_or_else(PoisonError::into_inner);
            let result = super::control::switch(&mut broker, engaged, &reason, now);
            self.board.publish(&broker);
            result
        });
        let outcomes = self.outcomes.clone();
        tokio::spawn(async move {
            if let Ok((cancelled, _, _)) = &result {
                tell_owners(&outcomes, cancelled).await;
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

    /// Flatten one strategy: the broker host knows the strategies that have positions here.
    fn flatten(&self, plugin: &str, actor: &Actor) -> Result<Answer<FlattenOutcome>, ControlError> {
        let (reply, rx) = oneshot::channel();
        let now = crate::plugins::view::wall_clock_ms();
        let done = tokio::task::block_in_place(|| {
            let mut broker = self.broker.lock().unwrap_or_else(PoisonError::into_inner);
            let done = super::flatten::plan(&mut broker, plugin, false, now).map(|plan| {
                let outcomes = broker.submit(&plan.plugin, plan.actions.clone(), now);
                (plan, outcomes)
            });
            self.board.publish(&broker);
            done
        });
        let (plan, placed) = match done {
            Ok(done) => done,
            Err(e) => {
                let _ = reply.send(Err(e));
                return Ok(rx);
            }
        };
        let cancelled_orders = plan
            .cancelled
            .iter()
            .filter(|o| matches!(o, BrokerOutcome::Cancelled { .. }))
            .count();
        tracing::warn!(target: "tradehost::control", plugin, "flatten asked by {actor}: {cancelled_orders} resting orders cancelled, {} closing orders", plan.actions.len());
        let answer = super::flatten::report(plugin, cancelled_orders, &plan.actions, &placed);
        let outcomes = self.outcomes.clone();
        tokio::spawn(async move {
            tell_owners(&outcomes, &plan.cancelled).await;
            tell_owners(&outcomes, &placed).await;
            let _ = reply.send(Ok(answer));
        });
        Ok(rx)
    }
}

/// Publish the broker's own outcomes (not answers to a bus order) to their plugins' hosts.
async fn tell_owners(outcomes: &OutcomePublisher, told: &[BrokerOutcome]) {
    for (i, outcome) in told.iter().enumerate() {
        let report = OrderReport::Outcome(outcome.clone());
        if let Err(e) = outcomes.publish(&report, None, i).await {
            tracing::warn!(target: "tradehost::bus", "outcome not told to its plugin's host: {e}");
        }
    }
}
