//! The broker role's order intake: a durable consumer on the order stream that applies each
//! order once, through the broker's [`OrderApplier`], and acknowledges it only after that.
//!
//! For each message, in stream order (one in flight: `max_ack_pending` is 1):
//! 1. decode it; a message that does not decode is parked in the dead-letter stream and
//!    acknowledged (it can never be applied; it is kept, not lost);
//! 2. if its id is in [`HandledOrders`] (an order journaled before a crash, or sent again after
//!    the server's dedup window), take the recorded outcomes; otherwise apply it, retrying
//!    while the applier says `Retry` (and telling the server the message is still in work);
//! 3. publish the outcomes to the owner's subject (ids derived from the order id, so a second
//!    publish after a crash is dropped by the server);
//! 4. acknowledge it. A crash before this step delivers the order again at restart, where
//!    step 2 finds it handled.

use super::codec::decode;
use super::connection::Bus;
use super::dead_letter;
use super::durable;
use super::error::BusError;
use super::handled::HandledOrders;
use super::order_message::OrderMessage;
use super::outcome_publisher::OutcomePublisher;
use super::report::OrderReport;
use super::seam::{ApplyError, OrderApplier};
use super::stats::BusStats;
use super::subject::ORDER_STREAM;
use crate::broker::BrokerOutcome;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::pull;
use futures_util::StreamExt;
use std::future::Future;
use std::time::Duration;

/// Name of the broker's durable consumer.
pub const BROKER_CONSUMER: &str = "broker";
/// Longest wait between attempts of an order the applier asked to retry.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);
/// Delay before an order whose outcomes could not be published is delivered again.
const REDELIVERY_DELAY: Duration = Duration::from_secs(1);

/// What one run of the consumer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntakeReport {
    /// Orders applied to the broker.
    pub applied: u64,
    /// Orders already handled, answered from the record.
    pub repeats: u64,
    /// Messages parked in the dead-letter stream.
    pub parked: u64,
}

/// The broker role's consumer of orders.
pub struct OrderConsumer<A> {
    /// The connection.
    bus: Bus,
    /// The consumer's messages.
    messages: pull::Stream,
    /// Orders already handled.
    handled: HandledOrders,
    /// Applies an order to the broker.
    applier: A,
    /// Publishes outcomes (shared with the engine's fill path).
    outcomes: OutcomePublisher,
    /// Counts of this run.
    report: IntakeReport,
}

impl<A: OrderApplier> OrderConsumer<A> {
    /// Attaches the broker's durable consumer (resuming after the last acknowledged order).
    /// `handled` comes from the journal (`PaperBroker::open_with(config, |r|
    /// handled.observe(r))`).
    pub async fn start(
        bus: &Bus,
        handled: HandledOrders,
        applier: A,
    ) -> Result<OrderConsumer<A>, BusError> {
        let consumer = durable::attach(
            bus,
            ORDER_STREAM,
            pull::Config {
                durable_name: Some(BROKER_CONSUMER.into()),
                description: Some("tradehost broker: applies orders, one at a time".into()),
                ack_wait: bus.config().ack_wait,
                max_ack_pending: 1,
                ..Default::default()
            },
        )
        .await?;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| BusError::setup("the broker's order consumer", e))?;
        let outcomes = OutcomePublisher::new(bus, handled.owners());
        Ok(OrderConsumer {
            bus: bus.clone(),
            messages,
            handled,
            applier,
            outcomes,
            report: IntakeReport::default(),
        })
    }

    /// The outcome publisher, for the engine's fills and kill-switch cancellations.
    pub fn outcomes(&self) -> OutcomePublisher {
        self.outcomes.clone()
    }

    /// Consumes orders until `shutdown` completes (between two orders) or the applier fails
    /// for good.
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<IntakeReport, BusError> {
        tokio::pin!(shutdown);
        loop {
            let message = tokio::select! {
                _ = &mut shutdown => return Ok(self.report),
                m = self.messages.next() => m,
            };
            match message {
                None => return Ok(self.report),
                Some(Ok(m)) => self.handle(m).await?,
                Some(Err(e)) => {
                    tracing::warn!(target: "tradehost::bus", "order intake: {e}; reading on");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// One order, steps 1 to 4 above.
    async fn handle(&mut self, m: async_nats::jetstream::Message) -> Result<(), BusError> {
        let order: OrderMessage = match decode("order", &m.payload) {
            Ok(order) => order,
            Err(e) => {
                dead_letter::park(&self.bus, m.subject.as_str(), m.payload.clone(), &e).await;
                self.report.parked += 1;
                acknowledge(&m, "a parked message").await;
                return Ok(());
            }
        };
        let outcomes = match self.handled.outcomes_of(&order) {
            Some(outcomes) => {
                self.report.repeats += 1;
                BusStats::add(&self.bus.stats().duplicates, 1);
                tracing::info!(target: "tradehost::bus", "order {} was already journaled; answering with its recorded outcome", order.id);
                outcomes
            }
            None => {
                let outcomes = self.apply(&m, &order).await?;
                self.handled.record(&order, &outcomes);
                self.report.applied += 1;
                outcomes
            }
        };
        self.outcomes
            .set_owner(&order.id.plugin.name, &order.id.host);
        for (index, outcome) in outcomes.into_iter().enumerate() {
            let report = OrderReport::Outcome(outcome);
            if let Err(e) = self.outcomes.publish(&report, Some(&order.id), index).await {
                // Journaled but not answered: deliver the order again; step 2 will find it.
                tracing::warn!(target: "tradehost::bus", "outcome of order {} not published ({e}); trying again in {REDELIVERY_DELAY:?}", order.id);
                if let Err(e) = m.ack_with(AckKind::Nak(Some(REDELIVERY_DELAY))).await {
                    tracing::debug!(target: "tradehost::bus", "nak of order {}: {e}", order.id);
                }
                return Ok(());
            }
        }
        BusStats::add(&self.bus.stats().received, 1);
        acknowledge(&m, &format!("order {}", order.id)).await;
        Ok(())
    }

    /// Applies `order`, retrying while the applier asks to.
    async fn apply(
        &mut self,
        m: &async_nats::jetstream::Message,
        order: &OrderMessage,
    ) -> Result<Vec<BrokerOutcome>, BusError> {
        let mut wait = Duration::from_millis(50);
        loop {
            match self.applier.apply(order).await {
                Ok(outcomes) => return Ok(outcomes),
                Err(ApplyError::Fatal(e)) => return Err(BusError::Apply(e)),
                Err(ApplyError::Retry(e)) => {
                    tracing::warn!(target: "tradehost::bus", "order {}: {e}", order.id);
                    // Still in work: keep the server from delivering it again meanwhile.
                    if let Err(e) = m.ack_with(AckKind::Progress).await {
                        tracing::debug!(target: "tradehost::bus", "progress of order {}: {e}", order.id);
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_RETRY_WAIT);
                }
            }
        }
    }
}

/// Acknowledges `m` and waits for the server to confirm. A lost acknowledgement is only
/// logged: the message comes again and is found handled.
async fn acknowledge(m: &async_nats::jetstream::Message, what: &str) {
    if let Err(e) = m.double_ack().await {
        tracing::warn!(target: "tradehost::bus", "acknowledging {what} failed ({e}); it will be delivered again and recognised");
    }
}
