//! The orders plugins place and what they hear back: submission to the broker (or, on a
//! strategy host, to the broker host), refusals as events, the kill switch, and the
//! cancellations the broker makes on its own (kill switch, removed plugins, flatten).

use super::Pipeline;
use crate::broker::{BrokerOutcome, CancelReason, TradePoint};
use crate::plugins::{DispatchBatch, PluginOutput};
use crate::status::{KillSwitchChange, KillSwitchError};
use crate::types::{Fill, OrderRequest, PluginAction, Rejection};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Nanoseconds since `t`, for a latency histogram.
fn since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// What a turn's submissions owe the rest of the system once they have all reached the broker:
/// the dashboard's events, and each plugin's fills and refusals, in the order they happened.
#[derive(Default)]
struct TurnEffects {
    /// Per submission: the orders placed (the dashboard matches them to their outcomes), the
    /// outcomes, and when.
    outcomes: Vec<(Vec<OrderRequest>, Vec<BrokerOutcome>, i64)>,
    /// Fills of orders that reached the broker after trades that fill them.
    late_fills: Vec<Fill>,
    /// Each plugin's fills and refusals, in order.
    events: BTreeMap<Arc<str>, DispatchBatch>,
    /// When the frames behind the turn's timed answers were read.
    timed: Vec<Instant>,
}

impl Pipeline {
    /// Hand the orders of several plugin answers to the broker as one turn, in order. Each
    /// order is timed as it reaches the broker; what the others wait on (the broker's figures
    /// for the status API, the dashboard's events, the plugins' fills and refusals) is done
    /// once, after the last.
    pub fn on_outputs(&mut self, outputs: Vec<PluginOutput>) {
        let mut effects = TurnEffects::default();
        // One journal write (and fsync) for the turn's orders, before anyone hears of them.
        if self.remote.is_none() {
            self.core.broker.hold_journal();
        }
        for output in outputs {
            if output.done {
                self.outstanding = self.outstanding.saturating_sub(1);
            }
            if output.actions.is_empty() {
                continue;
            }
            if let Some(received) = self.frames.received(output.seq) {
                self.core.stats.tick_to_order.record(since(received));
                effects.timed.push(received);
            }
            self.submit_in_turn(
                &output.plugin,
                output.actions,
                Some(output.cause),
                &mut effects,
            );
        }
        self.finish_turn(effects);
    }

    /// Submit a plugin's actions, caused at trade `cause` (`None`: now, an operator's), to the
    /// broker; refusals go back to the plugin, and so do the fills of orders that reached the
    /// broker after trades that fill them. Returns the broker's outcomes (an operator's
    /// flatten reads them).
    pub(crate) fn submit(
        &mut self,
        plugin: &Arc<str>,
        actions: Vec<PluginAction>,
        cause: Option<TradePoint>,
    ) -> Vec<BrokerOutcome> {
        let mut effects = TurnEffects::default();
        self.submit_in_turn(plugin, actions, cause, &mut effects);
        self.finish_turn(effects).pop().unwrap_or_default()
    }

    /// The broker's part of [`submit`](Self::submit); what follows from it goes to `effects`.
    fn submit_in_turn(
        &mut self,
        plugin: &Arc<str>,
        actions: Vec<PluginAction>,
        cause: Option<TradePoint>,
        effects: &mut TurnEffects,
    ) {
        // Dashboard hook: the orders, to show accepted ones with their details.
        let requests: Vec<OrderRequest> = match &self.events {
            Some(_) => actions
                .iter()
                .filter_map(|a| match a {
                    PluginAction::Place(r) => Some(r.clone()),
                    _ => None,
                })
                .collect(),
            None => Vec::new(),
        };
        let now = self.core.clock.now_ms();
        if self.remote.is_some() {
            // Outcomes come back from the broker host (`on_remote_outcome`).
            self.send_to_broker_host(plugin, actions, now, cause);
            return;
        }
        let outcomes = self.core.submit_outcomes(plugin, actions, now, cause);
        // Before the refusals: an order's fill and a refusal of a later one keep their order.
        for fill in self.core.take_late_fills() {
            self.plugin_events(&mut effects.events, &fill.plugin)
                .fill(&fill);
            effects.late_fills.push(fill);
        }
        // The broker has logged each refusal; the plugin hears of it as an event.
        for r in outcomes.iter().filter_map(BrokerOutcome::rejection) {
            self.plugin_events(&mut effects.events, plugin).rejection(r);
        }
        effects.outcomes.push((requests, outcomes, now));
    }

    /// `plugin`'s events of this turn.
    fn plugin_events<'a>(
        &self,
        events: &'a mut BTreeMap<Arc<str>, DispatchBatch>,
        plugin: &Arc<str>,
    ) -> &'a mut DispatchBatch {
        events
            .entry(plugin.clone())
            .or_insert_with(|| self.core.plugins.batch(0))
    }

    /// An order of the turn that the broker took back (its group could not be journaled):
    /// a refusal, in its outcome and to its plugin.
    fn take_back(&self, effects: &mut TurnEffects, order_id: u64, refusal: Rejection) {
        for (_, outcomes, _) in &mut effects.outcomes {
            for outcome in outcomes.iter_mut() {
                if matches!(outcome, BrokerOutcome::Accepted { order_id: id, .. } if *id == order_id)
                {
                    *outcome = BrokerOutcome::Rejected(refusal.clone());
                }
            }
        }
        self.plugin_events(&mut effects.events, &refusal.plugin)
            .rejection(&refusal);
    }

    /// After a turn's submissions: the held journal written, the broker's figures published
    /// once, the dashboard's events, then each plugin's fills and refusals; returns the
    /// outcomes, per submission.
    fn finish_turn(&mut self, mut effects: TurnEffects) -> Vec<Vec<BrokerOutcome>> {
        let taken_back = self.core.broker.release_journal();
        // A strategy host's orders are journaled by the broker host, not here.
        if self.remote.is_none() {
            for received in &effects.timed {
                self.core.stats.tick_to_journaled.record(since(*received));
            }
        }
        for (order_id, refusal) in taken_back {
            self.take_back(&mut effects, order_id, refusal);
        }
        if effects.outcomes.is_empty() {
            return Vec::new();
        }
        // (A strategy host's turn has no outcomes: they come back from the broker host.)
        if effects.late_fills.is_empty() {
            self.publish_broker();
        } else {
            self.positions_changed();
        }
        if let Some(hub) = &self.events {
            for (requests, outcomes, now) in &effects.outcomes {
                hub.outcomes(requests, outcomes, *now);
            }
            hub.fills(&effects.late_fills);
        }
        for (plugin, events) in effects.events {
            self.deliver(&plugin, events);
        }
        effects.outcomes.into_iter().map(|(_, o, _)| o).collect()
    }

    /// Engage or release the kill switch (journaled); the plugins whose resting orders it
    /// cancels hear of each as a refusal, so their own books stay right.
    pub fn set_kill_switch(
        &mut self,
        engaged: bool,
        reason: &str,
    ) -> Result<KillSwitchChange, KillSwitchError> {
        if self.is_remote() {
            return Err(KillSwitchError::BrokerHostOnly);
        }
        let now = self.core.clock.now_ms();
        let (outcomes, state, changed) =
            crate::engine::control::switch(&mut self.core.broker, engaged, reason, now)?;
        let cancelled_orders = self.notify_cancellations(&outcomes, now);
        Ok(KillSwitchChange {
            state,
            changed,
            cancelled_orders,
        })
    }

    /// Cancel the resting orders of plugins that are no longer running (unloaded, or
    /// quarantined after repeated faults): nobody would act on their fills.
    pub fn cancel_orphaned_orders(&mut self) {
        // Not `statuses()`: this runs every second on the engine thread, and copying the
        // latency histograms' percentiles out is work nobody reads here.
        let running = self.core.plugins.running();
        let now = self.core.clock.now_ms();
        let outcomes = self
            .core
            .broker
            .cancel_unmanaged_orders(|p| running.iter().any(|r| &**r == p), now);
        // A quarantined plugin that is later replaced hears of its cancelled orders.
        self.notify_cancellations(&outcomes, now);
    }

    /// Tell each plugin about its orders the broker cancelled on its own (kill switch,
    /// plugin removal, an operator's flatten); returns how many there were.
    pub(crate) fn notify_cancellations(
        &mut self,
        outcomes: &[BrokerOutcome],
        now_ms: i64,
    ) -> usize {
        if let Some(hub) = &self.events {
            hub.outcomes(&[], outcomes, now_ms); // Dashboard hook.
        }
        let mut by_plugin: BTreeMap<Arc<str>, DispatchBatch> = BTreeMap::new();
        let mut count = 0;
        for outcome in outcomes {
            if let BrokerOutcome::Cancelled {
                plugin,
                tag,
                symbol,
                reason,
                ..
            } = outcome
                && *reason != CancelReason::Requested
            {
                count += 1;
                let why = match reason {
                    CancelReason::KillSwitch => "cancelled: the kill switch was engaged",
                    CancelReason::Flattened => "cancelled: an operator flattened this strategy",
                    _ => "cancelled: the plugin stopped running",
                };
                let rejection = Rejection {
                    plugin: plugin.clone(),
                    tag: *tag,
                    symbol: symbol.clone(),
                    reason: why.into(),
                    time_ms: now_ms,
                };
                by_plugin
                    .entry(plugin.clone())
                    .or_insert_with(|| self.core.plugins.batch(0))
                    .rejection(&rejection);
            }
        }
        for (plugin, events) in by_plugin {
            self.deliver(&plugin, events);
        }
        count
    }
}
