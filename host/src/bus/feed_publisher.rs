//! The feed role's publisher: market events in, market-data messages out.
//!
//! A trade batch is cut into runs of consecutive trades of one symbol, one message each, so a
//! subscriber of every symbol (the broker) sees the trades in the feed's exact order, and a
//! subscriber of some symbols gets only theirs. Each message carries the publisher's session
//! and its subject's next sequence number ([`MarketMessage`]).
//!
//! Publishes are pipelined: up to [`ACK_WINDOW`] wait for the server's confirmation at once.
//! Each has [`ACK_TIMEOUT`] from the moment it was sent: confirmations lost with a crashed
//! server cost one timeout together, not one each (async-nats starts an ack's clock only when
//! it is awaited, so awaiting 500 lost ones in turn would stall the feed for 40 minutes).
//! A publish the server does not confirm is counted and logged, not retried (a retry would
//! land after later messages); subscribers see it as a gap in the sequence.

use super::codec::encode;
use super::connection::Bus;
use super::error::BusError;
use super::market_message::{MarketBody, MarketMessage};
use super::seam::{MarketEvent, MarketSource};
use super::stats::BusStats;
use super::subject::{FEED_STATUS, MarketKind, market};
use crate::feed::FeedEvent;
use crate::types::{Symbol, Trade};
use async_nats::jetstream::context::PublishAckFuture;
use std::collections::{HashMap, VecDeque};
use std::future::{Future, IntoFuture};
use std::time::Duration;
use tokio::time::Instant;

/// Publishes waiting for the server's confirmation before the publisher waits for the oldest.
pub const ACK_WINDOW: usize = 512;
/// How long after it was sent a publish may wait for its confirmation.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// A publish waiting for the server's confirmation.
struct Inflight {
    subject: String,
    sent: Instant,
    ack: PublishAckFuture,
}

/// Publishes one feed host's market events.
pub struct FeedPublisher {
    /// The connection.
    bus: Bus,
    /// This run's session, random.
    session: u64,
    /// Last sequence number per subject.
    seqs: HashMap<String, u64>,
    /// Publishes not yet confirmed, oldest first.
    inflight: VecDeque<Inflight>,
}

impl FeedPublisher {
    /// A publisher with a fresh session.
    pub fn new(bus: &Bus) -> FeedPublisher {
        FeedPublisher {
            bus: bus.clone(),
            session: fastrand::u64(1..),
            seqs: HashMap::new(),
            inflight: VecDeque::with_capacity(ACK_WINDOW),
        }
    }

    /// This run's session number.
    pub fn session(&self) -> u64 {
        self.session
    }

    /// Publishes one event (notices are local to a subscriber and not published).
    pub async fn publish(&mut self, event: &MarketEvent) -> Result<(), BusError> {
        match event {
            MarketEvent::Feed(FeedEvent::Trades(batch)) => {
                for run in batch.trades.chunk_by(|a, b| a.symbol == b.symbol) {
                    self.publish_trades(run).await?;
                }
                Ok(())
            }
            MarketEvent::Feed(FeedEvent::Status(s)) => {
                self.send(FEED_STATUS.to_string(), MarketBody::Status(s.clone()))
                    .await
            }
            MarketEvent::Bar(b) => {
                self.send(
                    market(&b.symbol, MarketKind::Bar),
                    MarketBody::Bar(b.clone()),
                )
                .await
            }
            MarketEvent::Forecast(p) => {
                let subject = market(&p.symbol, MarketKind::Forecast);
                self.send(subject, MarketBody::Forecast(p.clone())).await
            }
            MarketEvent::Notice(_) => Ok(()),
        }
    }

    /// Publishes consecutive trades of one symbol as one message.
    async fn publish_trades(&mut self, run: &[Trade]) -> Result<(), BusError> {
        let Some(first) = run.first() else {
            return Ok(());
        };
        let symbol: Symbol = first.symbol.clone();
        let subject = market(&symbol, MarketKind::Trade);
        self.send(subject, MarketBody::trades(symbol, run)).await
    }

    /// Numbers, encodes and sends one message, then keeps the window of unconfirmed ones.
    async fn send(&mut self, subject: String, body: MarketBody) -> Result<(), BusError> {
        let seq = self.seqs.entry(subject.clone()).or_insert(0);
        *seq += 1;
        let message = MarketMessage {
            session: self.session,
            seq: *seq,
            published_ms: chrono::Utc::now().timestamp_millis(),
            body,
        };
        let payload = encode("market", &message)?;
        let ack = self
            .bus
            .jetstream()
            .publish(subject.clone(), payload)
            .await
            .map_err(|e| {
                BusStats::add(&self.bus.stats().publish_failures, 1);
                BusError::Publish {
                    subject: subject.clone(),
                    reason: e.to_string(),
                    retryable: true,
                }
            })?;
        self.inflight.push_back(Inflight {
            subject,
            sent: Instant::now(),
            ack,
        });
        while self.inflight.len() >= ACK_WINDOW {
            self.confirm_oldest().await;
        }
        Ok(())
    }

    /// Waits for the oldest unconfirmed publish; a failure is counted and logged.
    async fn confirm_oldest(&mut self) {
        let Some(Inflight { subject, sent, ack }) = self.inflight.pop_front() else {
            return;
        };
        let stats = self.bus.stats();
        let confirmed = tokio::time::timeout_at(sent + ACK_TIMEOUT, ack.into_future()).await;
        match confirmed {
            Ok(Ok(_)) => BusStats::add(&stats.published, 1),
            Err(_) => {
                BusStats::add(&stats.publish_failures, 1);
                tracing::warn!(target: "tradehost::bus", "market message on {subject} not confirmed within {ACK_TIMEOUT:?} of its publish; subscribers will see a gap");
            }
            Ok(Err(e)) => {
                BusStats::add(&stats.publish_failures, 1);
                tracing::warn!(target: "tradehost::bus", "market message on {subject} not stored: {e}; subscribers will see a gap");
            }
        }
    }

    /// Waits until every publish so far is confirmed (or known lost).
    pub async fn flush(&mut self) {
        while !self.inflight.is_empty() {
            self.confirm_oldest().await;
        }
    }

    /// Publishes everything `source` yields until it ends or `shutdown` completes, then
    /// flushes. A failed publish is logged and the next event goes on.
    pub async fn run(mut self, source: &mut impl MarketSource, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let event = tokio::select! {
                _ = &mut shutdown => break,
                event = source.next_event() => match event {
                    Some(e) => e,
                    None => break,
                },
            };
            if let Err(e) = self.publish(&event).await {
                tracing::warn!(target: "tradehost::bus", "{e}; subscribers will see a gap");
            }
        }
        self.flush().await;
    }
}
