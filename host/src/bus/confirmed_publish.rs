//! A publish the server confirmed, retried with the same `Nats-Msg-Id` until it is: the
//! stream stores it once however many times it was sent (within the dedup window).
//!
//! Used for orders and outcomes, one message at a time, so that a retry can never overtake
//! the message after it.

use super::connection::Bus;
use super::error::BusError;
use super::stats::BusStats;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use std::time::{Duration, Instant};

/// First wait before a retry; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How a confirmed publish ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmed {
    /// The stream position of the message.
    pub sequence: u64,
    /// The server already had a message with this id: this one was dropped.
    pub duplicate: bool,
}

/// Publishes `payload` to `subject` with `id` as `Nats-Msg-Id`, retrying for up to
/// `bus.config().publish_timeout`.
pub async fn publish_confirmed(
    bus: &Bus,
    subject: &str,
    id: &str,
    payload: Bytes,
) -> Result<Confirmed, BusError> {
    let deadline = Instant::now() + bus.config().publish_timeout;
    let mut backoff = FIRST_BACKOFF;
    let stats = bus.stats();
    loop {
        let message = PublishMessage::build()
            .payload(payload.clone())
            .message_id(id);
        let result = match bus
            .jetstream()
            .send_publish(subject.to_string(), message)
            .await
        {
            Ok(ack) => ack.await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(ack) => {
                if ack.duplicate {
                    BusStats::add(&stats.duplicates, 1);
                } else {
                    BusStats::add(&stats.published, 1);
                }
                return Ok(Confirmed {
                    sequence: ack.sequence,
                    duplicate: ack.duplicate,
                });
            }
            Err(reason) => {
                BusStats::add(&stats.publish_failures, 1);
                if Instant::now() + backoff > deadline {
                    return Err(BusError::Publish {
                        subject: subject.to_string(),
                        reason: format!(
                            "{reason} (message id {id}; retried until the publish timeout, BUS_PUBLISH_TIMEOUT_SECS)"
                        ),
                        retryable: true,
                    });
                }
                tracing::debug!(target: "tradehost::bus", "publish of {id} to {subject} failed ({reason}); retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
