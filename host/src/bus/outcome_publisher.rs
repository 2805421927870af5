//! The broker role's way back: outcomes and fills published to
//! `tradehost.outcomes.<host>.<plugin>`, where `host` is the strategy host that owns the
//! plugin, each confirmed and with a deterministic message id (see [`OrderReport`]).
//!
//! The owner of a plugin is the host its last order came from (from the journal at start-up,
//! then from each order). A fill of a plugin no strategy host has sent an order for (a
//! journal from a single-process run) has nowhere to go: it is parked in the dead-letter
//! stream, with the reason.

use super::codec::encode;
use super::confirmed_publish::publish_confirmed;
use super::connection::Bus;
use super::dead_letter;
use super::error::BusError;
use super::order_id::OrderId;
use super::report::OrderReport;
use super::subject::{HostName, outcomes};
use crate::types::Fill;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Publishes what the broker did back to the owners of the plugins. Cheap to clone: the
/// order consumer and the engine's fill path share one.
#[derive(Debug, Clone)]
pub struct OutcomePublisher {
    /// The connection.
    bus: Bus,
    /// The strategy host of each plugin (held only to look up or insert, never across I/O).
    owners: Arc<Mutex<HashMap<Arc<str>, HostName>>>,
}

impl OutcomePublisher {
    /// A publisher that knows `owners` (from [`HandledOrders::owners`]).
    ///
    /// [`HandledOrders::owners`]: super::handled::HandledOrders::owners
    pub fn new<'a>(
        bus: &Bus,
        owners: impl IntoIterator<Item = (&'a Arc<str>, &'a HostName)>,
    ) -> OutcomePublisher {
        let owners = owners
            .into_iter()
            .map(|(p, h)| (p.clone(), h.clone()))
            .collect();
        OutcomePublisher {
            bus: bus.clone(),
            owners: Arc::new(Mutex::new(owners)),
        }
    }

    /// Routes `plugin`'s reports to `host` from now on.
    pub fn set_owner(&self, plugin: &Arc<str>, host: &HostName) {
        let mut owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
        if owners.get(plugin) != Some(host) {
            owners.insert(plugin.clone(), host.clone());
        }
    }

    /// The host `plugin`'s reports go to.
    pub fn owner(&self, plugin: &str) -> Option<HostName> {
        let owners = self.owners.lock().unwrap_or_else(PoisonError::into_inner);
        owners.get(plugin).cloned()
    }

    /// Publishes a fill to its plugin's host.
    pub async fn publish_fill(&self, fill: &Fill) -> Result<(), BusError> {
        self.publish(&OrderReport::Fill(fill.clone()), None, 0)
            .await
    }

    /// Publishes `report`, the `index`-th answer to the order `origin` (if it answers one),
    /// confirmed; a report for a plugin with no known host is parked instead.
    pub async fn publish(
        &self,
        report: &OrderReport,
        origin: Option<&OrderId>,
        index: usize,
    ) -> Result<(), BusError> {
        let plugin = report.plugin();
        let host = origin
            .map(|o| o.host.clone())
            .or_else(|| self.owner(plugin));
        let payload = encode("report", report)?;
        let Some(host) = host else {
            let why = format!(
                "no strategy host is known to run plugin {plugin:?} (none of its orders came over the bus), so this report has no destination"
            );
            dead_letter::park(&self.bus, &format!("outcomes.{plugin}"), payload, &why).await;
            return Ok(());
        };
        let subject = outcomes(&host, plugin);
        publish_confirmed(
            &self.bus,
            &subject,
            &report.message_id(origin, index),
            payload,
        )
        .await?;
        Ok(())
    }
}
