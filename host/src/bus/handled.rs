//! The orders the broker has already handled, so that one delivered again (after a broker
//! restart, or sent again by a restarted strategy host after the server's dedup window) is
//! answered with its recorded outcome instead of being applied twice.
//!
//! Built at start-up from the journal, whose order and refusal records carry the bus order id
//! they came from (`origin`): pass [`HandledOrders::observe`] to `PaperBroker::open_with`.
//! The journal append and the origin are one record, so a crash cannot separate them.
//!
//! Cancellations leave no record when there was nothing to cancel, so they are remembered
//! only while the process runs; applied again after a restart they find nothing to cancel,
//! which changes nothing.

use super::order_id::{OrderId, PluginInstance};
use super::order_message::OrderMessage;
use super::subject::HostName;
use crate::broker::{BrokerOutcome, JournalRecord};
use crate::types::{PluginAction, Rejection};
use std::collections::HashMap;
use std::sync::Arc;

/// What the broker did with one handled order.
#[derive(Debug, Clone, PartialEq)]
enum Handled {
    /// Accepted as this broker order id.
    Accepted(u64),
    /// Refused.
    Rejected(Rejection),
    /// A cancellation and what it produced (kept in memory only).
    Outcomes(Vec<BrokerOutcome>),
}

/// Bus order ids the broker has handled, and which strategy host owns each plugin.
#[derive(Debug, Default)]
pub struct HandledOrders {
    /// Outcome per bus order id.
    handled: HashMap<Arc<str>, Handled>,
    /// The host that last sent an order of each plugin: where its fills go.
    owners: HashMap<Arc<str>, HostName>,
}

impl HandledOrders {
    /// An empty set.
    pub fn new() -> HandledOrders {
        HandledOrders::default()
    }

    /// Learns from one replayed journal record (records without an origin are ignored).
    pub fn observe(&mut self, record: &JournalRecord) {
        let (origin, handled) = match record {
            JournalRecord::Order {
                order_id,
                origin: Some(origin),
                ..
            } => (origin, Handled::Accepted(*order_id)),
            JournalRecord::Rejected {
                rejection,
                origin: Some(origin),
                ..
            } => (origin, Handled::Rejected(rejection.clone())),
            _ => return,
        };
        match origin.parse::<OrderId>() {
            Ok(id) => {
                self.owners.insert(id.plugin.name.clone(), id.host);
            }
            Err(e) => {
                tracing::warn!(target: "tradehost::bus", "journal origin {origin:?} is not a bus order id ({e}); its fills cannot be routed until the plugin sends a new order")
            }
        }
        self.handled.insert(origin.clone(), handled);
    }

    /// Records that `order` was applied with `outcomes`, and who owns its plugin.
    pub fn record(&mut self, order: &OrderMessage, outcomes: &[BrokerOutcome]) {
        let handled = match (&order.action, outcomes) {
            (PluginAction::Place(_), [BrokerOutcome::Accepted { order_id, .. }]) => {
                Handled::Accepted(*order_id)
            }
            (PluginAction::Place(_), [BrokerOutcome::Rejected(r)]) => Handled::Rejected(r.clone()),
            _ => Handled::Outcomes(outcomes.to_vec()),
        };
        self.owners
            .insert(order.id.plugin.name.clone(), order.id.host.clone());
        self.handled.insert(order.id.to_string().into(), handled);
    }

    /// The outcomes recorded for `order`, rebuilt as they were returned, if it was handled.
    pub fn outcomes_of(&self, order: &OrderMessage) -> Option<Vec<BrokerOutcome>> {
        let handled = self.handled.get(order.id.to_string().as_str())?;
        let PluginInstance { name: plugin, .. } = &order.id.plugin;
        Some(match (handled, &order.action) {
            (Handled::Accepted(order_id), PluginAction::Place(request)) => {
                vec![BrokerOutcome::Accepted {
                    plugin: plugin.clone(),
                    order_id: *order_id,
                    tag: request.tag,
                    symbol: request.symbol.clone(),
                }]
            }
            (Handled::Rejected(r), _) => vec![BrokerOutcome::Rejected(r.clone())],
            (Handled::Outcomes(o), _) => o.clone(),
            // An accepted id on a cancel cannot happen: ids name the action (p/c).
            (Handled::Accepted(_), PluginAction::Cancel(_)) => Vec::new(),
        })
    }

    /// The strategy host that owns `plugin`, as far as the orders seen tell.
    pub fn owner(&self, plugin: &str) -> Option<&HostName> {
        self.owners.get(plugin)
    }

    /// Every (plugin, owner) known.
    pub fn owners(&self) -> impl Iterator<Item = (&Arc<str>, &HostName)> {
        self.owners.iter()
    }

    /// Number of orders remembered.
    pub fn len(&self) -> usize {
        self.handled.len()
    }

    /// True when no order is remembered.
    pub fn is_empty(&self) -> bool {
        self.handled.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{OrderKind, OrderRequest, Side};

    fn message(action: PluginAction) -> OrderMessage {
        let host = HostName::new("s1").unwrap();
        let plugin = PluginInstance {
            name: "sma".into(),
            instance: 0,
        };
        OrderMessage {
            id: OrderId::new(&host, &plugin, &action),
            action,
            sent_ms: 0,
            cause: None,
        }
    }

    fn place(tag: u32) -> OrderMessage {
        message(PluginAction::Place(OrderRequest {
            symbol: "SPY".into(),
            side: Side::Buy,
            quantity: 1.0,
            kind: OrderKind::Market,
            tag,
        }))
    }

    #[test]
    fn journal_origins_rebuild_outcomes_and_owners() {
        let accepted = place(1);
        let refused = place(2);
        let PluginAction::Place(request) = accepted.action.clone() else {
            unreachable!()
        };
        let rejection = Rejection {
            plugin: "sma".into(),
            tag: 2,
            symbol: "SPY".into(),
            reason: "max position".into(),
            time_ms: 3,
        };
        let records = [
            JournalRecord::Order {
                order_id: 7,
                plugin: "sma".into(),
                request: request.clone(),
                time_ms: 1,
                origin: Some(accepted.id.to_string().into()),
                market_position: Some(12),
                cause: None,
            },
            JournalRecord::Rejected {
                request,
                rejection: rejection.clone(),
                origin: Some(refused.id.to_string().into()),
            },
            // A local order (no origin) is not a bus order.
            JournalRecord::Order {
                order_id: 8,
                plugin: "local".into(),
                request: OrderRequest {
                    symbol: "SPY".into(),
                    side: Side::Sell,
                    quantity: 1.0,
                    kind: OrderKind::Market,
                    tag: 3,
                },
                time_ms: 2,
                origin: None,
                market_position: None,
                cause: None,
            },
        ];
        let mut h = HandledOrders::new();
        records.iter().for_each(|r| h.observe(r));
        assert_eq!(h.len(), 2);
        assert_eq!(
            h.outcomes_of(&accepted),
            Some(vec![BrokerOutcome::Accepted {
                plugin: "sma".into(),
                order_id: 7,
                tag: 1,
                symbol: "SPY".into()
            }])
        );
        assert_eq!(
            h.outcomes_of(&refused),
            Some(vec![BrokerOutcome::Rejected(rejection)])
        );
        assert_eq!(h.outcomes_of(&place(3)), None);
        assert_eq!(h.owner("sma").map(HostName::as_str), Some("s1"));
        assert_eq!(h.owner("local"), None);
    }

    #[test]
    fn cancels_are_remembered_while_running() {
        let cancel = message(PluginAction::Cancel(1));
        let outcomes = vec![BrokerOutcome::NothingToCancel {
            plugin: "sma".into(),
            tag: 1,
        }];
        let mut h = HandledOrders::new();
        assert_eq!(h.outcomes_of(&cancel), None);
        h.record(&cancel, &outcomes);
        assert_eq!(h.outcomes_of(&cancel), Some(outcomes));
    }
}
