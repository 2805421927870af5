//! The strategy role's order sink: each plugin action becomes one order message on
//! `tradehost.orders.<host>.<plugin>` with its deterministic id in `Nats-Msg-Id`, published
//! and confirmed one at a time so the broker sees a plugin's actions in the order it made them.

use super::codec::encode;
use super::confirmed_publish::publish_confirmed;
use super::connection::Bus;
use super::error::BusError;
use super::order_id::{OrderId, PluginInstance};
use super::order_message::OrderMessage;
use super::seam::OrderSink;
use super::subject::orders;
use crate::broker::TradePoint;
use crate::types::PluginAction;
use async_trait::async_trait;

/// Publishes a strategy host's orders.
#[derive(Debug, Clone)]
pub struct OrderPublisher {
    /// The connection (its host name is the orders' host).
    bus: Bus,
}

impl OrderPublisher {
    /// A sink for this host's plugins.
    pub fn new(bus: &Bus) -> OrderPublisher {
        OrderPublisher { bus: bus.clone() }
    }

    /// Publishes one action, caused at the trade at `cause`; returns
    /// whether the server already had it (a resend).
    pub async fn send(
        &self,
        plugin: &PluginInstance,
        action: PluginAction,
        cause: Option<TradePoint>,
    ) -> Result<bool, BusError> {
        let id = OrderId::new(self.bus.host(), plugin, &action);
        let subject = orders(self.bus.host(), &plugin.name);
        let message = OrderMessage {
            id,
            action,
            sent_ms: chrono::Utc::now().timestamp_millis(),
            cause,
        };
        let payload = encode("order", &message)?;
        let confirmed =
            publish_confirmed(&self.bus, &subject, &message.id.to_string(), payload).await?;
        if confirmed.duplicate {
            tracing::info!(target: "tradehost::bus", "order {} was already on the bus (sent again after a restart); not stored twice", message.id);
        }
        Ok(confirmed.duplicate)
    }
}

#[async_trait]
impl OrderSink for OrderPublisher {
    async fn submit(
        &mut self,
        plugin: &PluginInstance,
        actions: Vec<PluginAction>,
        cause: Option<TradePoint>,
    ) -> Result<(), BusError> {
        for action in actions {
            self.send(plugin, action, cause).await?;
        }
        Ok(())
    }
}
