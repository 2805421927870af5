//! The strategy role's inbox: outcomes and fills for this host's plugins, from a durable
//! consumer of `tradehost.outcomes.<host>.>` that keeps them while the host is down.
//!
//! Each report is acknowledged by the engine once its plugin has it ([`ReportDelivery::ack`]),
//! in the order they came; a host killed before that gets it again when it restarts.

use super::codec::decode;
use super::connection::Bus;
use super::dead_letter;
use super::durable;
use super::error::BusError;
use super::report::OrderReport;
use super::stats::BusStats;
use super::subject::{OUTCOME_STREAM, outcomes_of};
use async_nats::jetstream::consumer::pull;
use futures_util::StreamExt;
use std::time::Duration;

/// Reports delivered but not yet acknowledged, at most.
const MAX_UNACKED: i64 = 1024;

/// One report for one of this host's plugins, to acknowledge once handled.
#[derive(Debug)]
pub struct ReportDelivery {
    /// The outcome or fill.
    pub report: OrderReport,
    /// The stream position (for logs and snapshots).
    pub position: u64,
    /// The message, to acknowledge.
    message: async_nats::jetstream::Message,
}

impl ReportDelivery {
    /// Tells the server the report is still being worked on: it is not delivered again
    /// for another ack wait (a strategy host acknowledges only at its next checkpoint).
    pub async fn in_progress(&self) -> Result<(), BusError> {
        self.message
            .ack_with(async_nats::jetstream::AckKind::Progress)
            .await
            .map_err(|e| BusError::consume(format!("report at {}", self.position), e))
    }

    /// Tells the server the report was handled: it will not come again.
    pub async fn ack(self) -> Result<(), BusError> {
        self.message
            .double_ack()
            .await
            .map_err(|e| BusError::consume(format!("report at {}", self.position), e))
    }
}

/// Reads the reports for this host's plugins.
pub struct OutcomeSubscriber {
    /// The connection.
    bus: Bus,
    /// The consumer's messages.
    messages: pull::Stream,
}

impl OutcomeSubscriber {
    /// Attaches this host's durable consumer (`outcomes-<host>`), resuming after the last
    /// report acknowledged.
    pub async fn start(bus: &Bus) -> Result<OutcomeSubscriber, BusError> {
        let consumer = durable::attach(
            bus,
            OUTCOME_STREAM,
            pull::Config {
                durable_name: Some(format!("outcomes-{}", bus.host())),
                description: Some(format!("tradehost reports for host {}", bus.host())),
                filter_subject: outcomes_of(bus.host()),
                ack_wait: bus.config().ack_wait,
                max_ack_pending: MAX_UNACKED,
                ..Default::default()
            },
        )
        .await?;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| BusError::setup("this host's report consumer", e))?;
        Ok(OutcomeSubscriber {
            bus: bus.clone(),
            messages,
        })
    }

    /// The next report; `None` once the connection is closed for good.
    pub async fn next(&mut self) -> Option<ReportDelivery> {
        loop {
            let m = match self.messages.next().await? {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(target: "tradehost::bus", "reports: {e}; reading on");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let position = m.info().map(|i| i.stream_sequence).unwrap_or(0);
            match decode::<OrderReport>("report", &m.payload) {
                Ok(report) => {
                    BusStats::add(&self.bus.stats().received, 1);
                    return Some(ReportDelivery {
                        report,
                        position,
                        message: m,
                    });
                }
                Err(e) => {
                    dead_letter::park(&self.bus, m.subject.as_str(), m.payload.clone(), &e).await;
                    if let Err(e) = m.double_ack().await {
                        tracing::debug!(target: "tradehost::bus", "ack of a parked report: {e}");
                    }
                }
            }
        }
    }
}
