//! Operator commands to the running engine, and the [`EngineControl`] that the status API
//! sends them through.
//!
//! Commands are applied by the engine thread between two events, like everything else that
//! touches the broker, so a kill switch or a flatten never lands in the middle of a batch.
//! Plugin reload, disable and enable touch no broker state and compile code, so they run
//! beside the engine ([`PluginControl`]).

use super::pipeline::{Pipeline, PipelineStats};
use super::plugin_control::PluginControl;
use crate::broker::{BrokerOutcome, CancelReason};
use crate::plugins::PluginStatus;
use crate::status::{
    Actor, Answer, Control, ControlError, FlattenOutcome, KillSwitchChange, KillSwitchError,
    PluginChange, PluginCommand, control::FlattenOrder,
};
use crate::types::{OrderKind, OrderRequest, PluginAction, Side};
use crossbeam_channel::Sender;
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

/// The tag of a flatten's closing orders, as the strategy sees them in its fills.
pub const FLATTEN_TAG: u32 = u32::MAX;

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
    /// Handle every plugin answer already received, then say how many orders have been
    /// routed to the bus so far (a checkpoint waits for them to be published).
    Barrier {
        /// Where the count goes (waited for with a timeout, from a plain thread).
        reply: crossbeam_channel::Sender<u64>,
    },
}

/// The sending side of the engine's command channel, and the engine's counters.
#[derive(Clone)]
pub struct EngineControl {
    tx: Sender<EngineCommand>,
    stats: Arc<PipelineStats>,
    plugins: Option<PluginControl>,
}

impl EngineControl {
    /// A control that sends to `tx` and resets `stats`.
    pub fn new(tx: Sender<EngineCommand>, stats: Arc<PipelineStats>) -> Self {
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

/// Apply a flatten on the engine thread: cancel the strategy's resting orders (journaled,
/// the strategy hears of each), then place one market order per open position that closes
/// it, split to respect `RISK_MAX_ORDER_QTY`, through the same risk checks and journal as
/// any order. The orders fill at the next trade of their symbol; a refusal (for one, while
/// the kill switch is engaged) is answered, logged and sent to the strategy.
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
    let now = pipeline.clock.now_ms();
    let (cancelled, actions, name) = {
        let mut broker = pipeline.broker.lock().unwrap_or_else(|p| p.into_inner());
        let positions: Vec<_> = broker
            .positions()
            .into_iter()
            .filter(|e| &*e.plugin == plugin)
            .collect();
        let known = !positions.is_empty() || pipeline.plugins.names().iter().any(|n| n == plugin);
        if !known {
            return Err(ControlError::UnknownPlugin(plugin.to_string()));
        }
        // Settings validate it positive; never loop on a limit that is not.
        let max_qty = Some(broker.config().max_order_qty)
            .filter(|q| *q > 0.0)
            .unwrap_or(f64::INFINITY);
        let cancelled = broker.cancel_orders_of(plugin, CancelReason::Flattened, now);
        let mut actions = Vec::new();
        for e in positions.iter().filter(|e| e.position.quantity != 0.0) {
            let side = if e.position.quantity > 0.0 {
                Side::Sell
            } else {
                Side::Buy
            };
            let mut left = e.position.quantity.abs();
            while left > 0.0 {
                let quantity = left.min(max_qty);
                left -= quantity;
                actions.push(PluginAction::Place(OrderRequest {
                    symbol: e.symbol.clone(),
                    side,
                    quantity,
                    kind: OrderKind::Market,
                    tag: FLATTEN_TAG,
                }));
            }
        }
        let name: Arc<str> = positions
            .first()
            .map(|e| e.plugin.clone())
            .unwrap_or_else(|| plugin.into());
        (cancelled, actions, name)
    };
    let cancelled_orders = pipeline.notify_cancellations(&cancelled, now);
    tracing::warn!(target: "tradehost::control", plugin, "flatten asked by {actor}: {cancelled_orders} resting orders cancelled, {} closing orders", actions.len());
    let placed: Vec<(String, Side, f64)> = actions
        .iter()
        .filter_map(|a| match a {
            PluginAction::Place(r) => Some((r.symbol.to_string(), r.side, r.quantity)),
            PluginAction::Cancel(_) => None,
        })
        .collect();
    // Only orders are submitted, so the broker answers each with one outcome, in order.
    let outcomes = pipeline.submit(&name, actions);
    let orders = placed
        .into_iter()
        .zip(&outcomes)
        .map(|((symbol, side, quantity), outcome)| FlattenOrder {
            symbol,
            side: match side {
                Side::Buy => "buy".into(),
                Side::Sell => "sell".into(),
            },
            quantity,
            order_id: match outcome {
                BrokerOutcome::Accepted { order_id, .. } => Some(*order_id),
                _ => None,
            },
            refused: match outcome {
                BrokerOutcome::Rejected(r) => Some(r.reason.clone()),
                _ => None,
            },
        })
        .collect();
    Ok(FlattenOutcome {
        plugin: plugin.to_string(),
        cancelled_orders,
        orders,
    })
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
