//! Operator commands to the running engine, and the [`EngineControl`] that the status API
//! sends them through.
//!
//! Commands are applied by the engine thread between two events, like everything else that
//! touches the broker, so a kill switch or a flatten never lands in the middle of a batch.
//! Plugin reload, disable and enable touch no broker state and compile code, so they run
//! beside the engine ([`PluginControl`]).

use super::pipeline::{Pipeline, PipelineStats};
use super::plugin_control::PluginControl;
use crate::broker::BrokerOutcome;
use crate::plugins::PluginStatus;
use crate::status::{
    Actor, Answer, Control, ControlError, FlattenOutcome, KillSwitchChange, KillSwitchError,
    PluginChange, PluginCommand,
};
use std::sync::Arc;
use tokio::sync::oneshot;

/// What engaging or releasing a kill switch did: the resting orders it cancelled, the
/// switch after, and whether it changed.
pub(crate) type Switched = (Vec<BrokerOutcome>, crate::status::KillSwitchView, bool);

/// Engage or release `broker`'s kill switch (the daemon's engine thread and the broker
/// host both do it this way).
pub(crate) fn switch(
    broker: &mut crate::broker::PaperBroker,
    engaged: bool,
    reason: &str,
    now_ms: crate::types::TimestampMs,
) -> Result<Switched, KillSwitchError> {
    let was = broker.kill_switch();
    let cancelled = broker
        .set_kill_switch(engaged, reason, now_ms)
        .map_err(|e| KillSwitchError::not_recorded(engaged, e))?;
    Ok((cancelled, broker.kill_switch_state().into(), was != engaged))
}

pub use super::flatten::FLATTEN_TAG;

/// A request to the engine thread.
#[derive(Debug)]
pub enum EngineCommand {
    /// Engage or release the kill switch.
    KillSwitch {
        /// True halts trading.
        engaged: bool,
        /// Why, for the journal and the log.
        reason: String,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<KillSwitchChange, KillSwitchError>>,
    },
    /// Close every position of one strategy (an operator's forced exit).
    Flatten {
        /// The strategy (plugin).
        plugin: String,
        /// Who asked.
        actor: Actor,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<FlattenOutcome, ControlError>>,
    },
    /// A strategy host's checkpoint: snapshots of every plugin at one stream position
    /// (ignored without a bus link).
    Checkpoint {
        /// Where the checkpoint goes (waited for with a timeout, from a plain thread).
        reply: crossbeam_channel::Sender<super::event_loop::Checkpoint>,
    },
    /// Bars of history fetched at start (`engine::backfill`), for the market state and the
    /// snapshot (plugins' `recent-bars`).
    History {
        /// The bars, each symbol's oldest first.
        bars: Vec<crate::types::Bar>,
    },
    /// Handle every plugin answer already received, then say how many orders have been
    /// routed to the bus so far (a checkpoint waits for them to be published).
    Barrier {
        /// Where the count goes (waited for with a timeout, from a plain thread).
        reply: crossbeam_channel::Sender<u64>,
    },
}

/// The sending side of the engine's command channel: it rings the engine's doorbell.
pub type CommandSender = crate::doorbell::RingingSender<EngineCommand>;

/// The sending side of the engine's command channel, and the engine's counters.
#[derive(Clone)]
pub struct EngineControl {
    tx: CommandSender,
    stats: Arc<PipelineStats>,
    plugins: Option<PluginControl>,
}

impl EngineControl {
    /// A control that sends to `tx` and resets `stats`.
    pub fn new(tx: CommandSender, stats: Arc<PipelineStats>) -> Self {
        EngineControl {
            tx,
            stats,
            plugins: None,
        }
    }

    /// With reload, disable and enable of plugins.
    pub fn with_plugins(mut self, plugins: PluginControl) -> Self {
        self.plugins = Some(plugins);
        self
    }
}

/// Apply a flatten on the engine thread ([`super::flatten`]): the strategy hears of each
/// cancellation; its closing orders fill at the next trade of their symbol; a refusal (for
/// one, while the kill switch is engaged) is answered, logged and sent to the strategy.
pub fn flatten(
    pipeline: &mut Pipeline,
    plugin: &str,
    actor: &Actor,
) -> Result<FlattenOutcome, ControlError> {
    if pipeline.is_remote() {
        return Err(ControlError::Conflict(
            KillSwitchError::BrokerHostOnly.to_string(),
        ));
    }
    let now = pipeline.core.clock.now_ms();
    let runs_here = pipeline.plugins().names().iter().any(|n| n == plugin);
    let plan = super::flatten::plan(&mut pipeline.core.broker, plugin, runs_here, now)?;
    let cancelled_orders = pipeline.notify_cancellations(&plan.cancelled, now);
    tracing::warn!(target: "tradehost::control", plugin, "flatten asked by {actor}: {cancelled_orders} resting orders cancelled, {} closing orders", plan.actions.len());
    // Only orders are submitted, so the broker answers each with one outcome, in order.
    let outcomes = pipeline.submit(&plan.plugin, plan.actions.clone(), None);
    Ok(super::flatten::report(
        plugin,
        cancelled_orders,
        &plan.actions,
        &outcomes,
    ))
}

impl Control for EngineControl {
    fn set_kill_switch(
        &self,
        engaged: bool,
        reason: String,
    ) -> Result<oneshot::Receiver<Result<KillSwitchChange, KillSwitchError>>, KillSwitchError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(EngineCommand::KillSwitch {
                engaged,
                reason,
                reply,
            })
            .map_err(|_| KillSwitchError::Stopping)?;
        Ok(rx)
    }

    fn reset_latency(&self) {
        self.stats.tick_to_order.reset();
        self.stats.tick_to_journaled.reset();
        self.stats.feed_to_engine.reset();
    }

    fn plugin(
        &self,
        name: &str,
        command: PluginCommand,
        actor: &Actor,
    ) -> Result<Answer<PluginChange>, ControlError> {
        match &self.plugins {
            Some(p) => p.start(name, command, actor),
            None => Err(ControlError::Unavailable),
        }
    }

    fn flatten(&self, plugin: &str, actor: &Actor) -> Result<Answer<FlattenOutcome>, ControlError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(EngineCommand::Flatten {
                plugin: plugin.to_string(),
                actor: *actor,
                reply,
            })
            .map_err(|_| ControlError::Stopping)?;
        Ok(rx)
    }

    fn disabled_plugins(&self) -> Vec<PluginStatus> {
        self.plugins
            .as_ref()
            .map(PluginControl::disabled)
            .unwrap_or_default()
    }
}
