//! The strategy host's side of the [`Pipeline`]: orders leave through an [`OrderRoute`] to the
//! broker host, and the fills and outcomes it reports come back here, to the local mirror
//! broker (positions for `position-of` and the status API) and to the plugins.

use super::Pipeline;
use crate::broker::BrokerOutcome;
use crate::engine::order_route::{OrderRoute, RoutedOrder};
use crate::types::{Fill, Rejection};
use std::sync::Arc;

impl Pipeline {
    /// Send orders to `route` (a strategy host's link to the broker host) instead of the
    /// local broker.
    pub fn route_orders_to(&mut self, route: OrderRoute) {
        self.remote = Some(route);
    }

    /// Orders routed to the bus so far (0 without a route).
    pub fn routed(&self) -> u64 {
        self.remote.as_ref().map(OrderRoute::routed).unwrap_or(0)
    }

    /// The market stream position of the event being handled (a strategy host's engine,
    /// before each market event): its trades are numbered from there, as the broker host
    /// numbers them, so that orders name the trade that caused them.
    pub fn at_market_position(&mut self, position: u64) {
        self.core.broker.at_market_position(position);
    }

    /// True when orders leave for a broker host.
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// A fill the broker host made for one of this host's plugins: recorded in the local
    /// mirror (positions for `position-of` and the status API), then told to the plugin.
    pub fn on_remote_fill(&mut self, fill: Fill) {
        let recorded = self.core.broker.mirror_fill(&fill);
        self.positions_changed();
        match recorded {
            Ok(_) => tracing::info!(
                target: "tradehost::broker",
                plugin = %fill.plugin, order_id = fill.order_id, tag = fill.tag, symbol = %fill.symbol,
                side = ?fill.side, quantity = fill.quantity, price = fill.price,
                "mirrored fill (made by the broker host)"
            ),
            Err(e) => {
                tracing::error!(target: "tradehost::broker", "fill of order {} not recorded in this host's copy: {e}", fill.order_id)
            }
        }
        if let Some(hub) = &self.events {
            hub.fills(std::slice::from_ref(&fill)); // Dashboard hook.
        }
        self.deliver_fills(vec![fill]);
    }

    /// A fill this host's mirror already holds, told to its plugin again (it was restored
    /// from a snapshot older than the fill).
    pub fn deliver_remote_fill(&mut self, fill: Fill) {
        self.deliver_fills(vec![fill]);
    }

    /// What the broker host did with one of this host's plugins' orders: refusals and
    /// cancellations the plugin did not ask for are told to it, as the local broker's are.
    pub fn on_remote_outcome(&mut self, outcome: BrokerOutcome) {
        let now = self.core.clock.now_ms();
        match &outcome {
            BrokerOutcome::Rejected(r) => {
                if let Some(hub) = &self.events {
                    hub.outcomes(&[], std::slice::from_ref(&outcome), now);
                }
                let mut batch = self.core.plugins.batch(0);
                batch.rejection(r);
                self.deliver(&r.plugin, batch);
            }
            BrokerOutcome::Cancelled { .. } => {
                self.notify_cancellations(std::slice::from_ref(&outcome), now);
            }
            BrokerOutcome::Accepted { .. } | BrokerOutcome::NothingToCancel { .. } => {
                if let Some(hub) = &self.events {
                    hub.outcomes(&[], std::slice::from_ref(&outcome), now);
                }
            }
        }
    }

    /// Sends a plugin's actions to the broker host; when the route refuses them (full, or
    /// closed), each order is refused back to the plugin with the reason.
    pub(super) fn send_to_broker_host(
        &mut self,
        plugin: &Arc<str>,
        actions: Vec<crate::types::PluginAction>,
        now: i64,
        cause: Option<crate::broker::TradePoint>,
    ) {
        let Some(route) = &self.remote else { return };
        let places: Vec<(u32, crate::types::Symbol)> = actions
            .iter()
            .filter_map(|a| match a {
                crate::types::PluginAction::Place(r) => Some((r.tag, r.symbol.clone())),
                _ => None,
            })
            .collect();
        let order = RoutedOrder {
            plugin: plugin.clone(),
            actions,
            cause,
        };
        if let Err(refusal) = route.send(order) {
            tracing::warn!(target: "tradehost::bus", "orders of plugin {plugin} {refusal}");
            let mut refusals = self.core.plugins.batch(0);
            for (tag, symbol) in places {
                refusals.rejection(&Rejection {
                    plugin: plugin.clone(),
                    tag,
                    symbol,
                    reason: refusal.to_string(),
                    time_ms: now,
                });
            }
            self.deliver(plugin, refusals);
        }
    }
}
