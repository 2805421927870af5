//! A strategy host's way out for orders: the engine thread hands each plugin call's actions
//! to a bounded queue that the bus task publishes from, and both sides count, so that a
//! checkpoint can wait until every order made before its snapshots is on the bus.

use crate::broker::TradePoint;
use crate::types::PluginAction;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Orders waiting for the bus, at most; past this a plugin's orders are refused, not queued.
pub const ROUTE_CAPACITY: usize = 10_000;

/// A plugin call's actions on their way to the broker host.
#[derive(Debug)]
pub struct RoutedOrder {
    /// The plugin.
    pub plugin: Arc<str>,
    /// Its actions, in the order it made them.
    pub actions: Vec<PluginAction>,
    /// The trade that caused them (stream position and index in its message).
    pub cause: Option<TradePoint>,
}

/// Orders handed over and orders published, since start.
#[derive(Debug, Default)]
pub struct RouteCounters {
    /// Handed to the queue by the engine thread.
    pub routed: AtomicU64,
    /// Stored by the bus (every action of the order).
    pub published: AtomicU64,
}

impl RouteCounters {
    /// True once everything routed so far has been published.
    pub fn caught_up_with(&self, routed: u64) -> bool {
        self.published.load(Ordering::Acquire) >= routed
    }
}

/// Why an order did not leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteRefusal {
    /// The queue to the bus is full: the bus is down or slower than the plugins.
    #[error(
        "not sent: {ROUTE_CAPACITY} orders are already waiting for the bus (is nats-server reachable?)"
    )]
    Full,
    /// The bus task has stopped (shutting down).
    #[error("not sent: the host is shutting down")]
    Closed,
}

/// The engine thread's end of the route.
#[derive(Debug, Clone)]
pub struct OrderRoute {
    tx: mpsc::Sender<RoutedOrder>,
    counters: Arc<RouteCounters>,
}

impl OrderRoute {
    /// A route and the bus task's end of it.
    pub fn new() -> (OrderRoute, mpsc::Receiver<RoutedOrder>, Arc<RouteCounters>) {
        let (tx, rx) = mpsc::channel(ROUTE_CAPACITY);
        let counters = Arc::new(RouteCounters::default());
        (
            OrderRoute {
                tx,
                counters: counters.clone(),
            },
            rx,
            counters,
        )
    }

    /// Queue `order` for the bus without waiting.
    pub fn send(&self, order: RoutedOrder) -> Result<(), RouteRefusal> {
        self.tx.try_send(order).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => RouteRefusal::Full,
            mpsc::error::TrySendError::Closed(_) => RouteRefusal::Closed,
        })?;
        self.counters.routed.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Orders routed so far.
    pub fn routed(&self) -> u64 {
        self.counters.routed.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_refuses_and_counts_only_what_was_queued() {
        let (route, mut rx, counters) = OrderRoute::new();
        let order = || RoutedOrder {
            plugin: "p".into(),
            actions: Vec::new(),
            cause: None,
        };
        for _ in 0..ROUTE_CAPACITY {
            route.send(order()).unwrap();
        }
        assert_eq!(route.send(order()), Err(RouteRefusal::Full));
        assert_eq!(route.routed(), ROUTE_CAPACITY as u64);
        assert!(!counters.caught_up_with(route.routed()));
        rx.try_recv().unwrap();
        counters
            .published
            .fetch_add(ROUTE_CAPACITY as u64, Ordering::Release);
        assert!(counters.caught_up_with(route.routed()));
        drop(rx);
        assert_eq!(route.send(order()), Err(RouteRefusal::Closed));
    }
}
