//! Durable consumers that resume at once after their process was killed.
//!
//! A durable consumer remembers what its reader acknowledged. When the reader dies with a
//! message delivered but unacknowledged, the server would deliver it again only after the
//! ack wait, and might deliver newer messages first. Readers here acknowledge in order, so
//! the consumer's ack floor is exactly where to go on: [`attach`] recreates the consumer to
//! start just after it. That takes one reader per consumer (the broker is one process; a
//! strategy host has one consumer of its own).

use super::connection::Bus;
use super::error::BusError;
use async_nats::jetstream::consumer::{AckPolicy, Consumer, DeliverPolicy, pull};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream::RetentionPolicy;

/// The consumer `config.durable_name` on `stream`, recreated to deliver from just after its
/// ack floor (from the first message kept, on a work queue, which keeps only unacknowledged
/// ones; from the start of the stream if it did not exist).
pub async fn attach(
    bus: &Bus,
    stream: &str,
    mut config: pull::Config,
) -> Result<Consumer<pull::Config>, BusError> {
    let name = config.durable_name.clone().unwrap_or_default();
    let what = format!("consumer {name} on {stream}");
    let stream = bus
        .jetstream()
        .get_stream(stream)
        .await
        .map_err(|e| BusError::setup(&what, e))?;
    // A work queue keeps only what is not acknowledged yet, and accepts no other start.
    let work_queue = stream.cached_info().config.retention == RetentionPolicy::WorkQueue;
    config.ack_policy = AckPolicy::Explicit;
    config.deliver_policy = match stream.consumer_info(&name).await {
        Ok(info) => {
            let start = info.ack_floor.stream_sequence + 1;
            if info.num_ack_pending > 0 {
                tracing::info!(target: "tradehost::bus", "{what}: {} messages were delivered to a reader that is gone; delivering again from stream position {start}", info.num_ack_pending);
            }
            stream
                .delete_consumer(&name)
                .await
                .map_err(|e| BusError::setup(&what, e))?;
            match work_queue {
                true => DeliverPolicy::All,
                false => DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
            }
        }
        Err(e) if matches!(e.kind(), ConsumerInfoErrorKind::NotFound) => DeliverPolicy::All,
        Err(e) => return Err(BusError::setup(&what, e)),
    };
    stream
        .create_consumer(config)
        .await
        .map_err(|e| BusError::setup(&what, e))
}
