//! The seams between the bus and the engine: what a market-event source yields, what an order
//! sink takes, and the callback through which the broker role applies orders.
//!
//! The engine knows these traits, not NATS: a strategy host's engine reads a
//! [`MarketSource`] (a [`MarketSubscriber`](super::MarketSubscriber) instead of the Finnhub
//! feed) and hands its plugins' actions to an [`OrderSink`] (an
//! [`OrderPublisher`](super::OrderPublisher) instead of the local broker); the broker host's
//! engine implements [`OrderApplier`] over its `PaperBroker`.

use super::error::BusError;
use super::gap::Gap;
use super::order_id::PluginInstance;
use super::order_message::OrderMessage;
use crate::broker::BrokerOutcome;
use crate::feed::FeedEvent;
use crate::types::{Bar, PluginAction, Prediction};
use async_trait::async_trait;
use std::time::Duration;

/// One thing a market-event source yields.
#[derive(Debug, Clone, PartialEq)]
pub enum MarketEvent {
    /// Trades (of one symbol per batch when they come over the bus) or a feed status change.
    Feed(FeedEvent),
    /// A completed bar.
    Bar(Bar),
    /// A model forecast.
    Forecast(Prediction),
    /// Something the subscriber must know about the data's continuity or freshness.
    Notice(BusNotice),
}

/// What the bus tells a subscriber besides the data, in order with it.
#[derive(Debug, Clone, PartialEq)]
pub enum BusNotice {
    /// Data was lost before the next message (or may have been: the publisher changed).
    Gap(Gap),
    /// The subscriber is this far behind the publisher: the events that follow are old.
    Behind {
        /// Messages waiting in the stream for this subscriber.
        pending: u64,
        /// Age of the message just read.
        behind: Duration,
    },
    /// The subscriber is back within `max_lag` of the publisher.
    CaughtUp,
    /// The connection to the server was lost; nothing arrives until `LinkUp`.
    LinkDown,
    /// The connection is back; reading resumes where it stopped.
    LinkUp,
}

/// A source of market events the engine reads, whatever it is.
#[async_trait]
pub trait MarketSource: Send {
    /// The next event, or `None` when the source has ended for good.
    async fn next_event(&mut self) -> Option<MarketEvent>;
}

/// A channel of events is a source (adapters: the feed's channel, a replay).
#[async_trait]
impl MarketSource for tokio::sync::mpsc::Receiver<MarketEvent> {
    async fn next_event(&mut self) -> Option<MarketEvent> {
        self.recv().await
    }
}

/// Where a strategy host's engine sends each plugin call's actions.
#[async_trait]
pub trait OrderSink: Send {
    /// Sends `actions` of `plugin`, caused at the trade at `cause`, in
    /// order; returns once the bus has stored every one (each exactly once, whatever is
    /// retried). Outcomes come back separately, to the host that owns the plugin.
    async fn submit(
        &mut self,
        plugin: &PluginInstance,
        actions: Vec<PluginAction>,
        cause: Option<crate::broker::TradePoint>,
    ) -> Result<(), BusError>;
}

/// The broker role's callback: apply one order to the broker and its journal.
#[async_trait]
pub trait OrderApplier: Send {
    /// Applies `order` (risk checks, journal append with `order.id` as the record's origin)
    /// and returns its outcomes. `Ok` means the journal holds the result: only then is the
    /// message acknowledged and the outcomes published.
    async fn apply(&mut self, order: &OrderMessage) -> Result<Vec<BrokerOutcome>, ApplyError>;
}

/// Why an order could not be applied; it is not acknowledged, so it is not lost.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// Try the same order again shortly (the engine is busy, a disk was briefly full).
    #[error("{0} (will retry)")]
    Retry(String),
    /// Stop consuming: the order waits in the stream until the broker is fixed and restarted.
    #[error("{0}")]
    Fatal(String),
}
