//! Parking messages that cannot be used (they do not decode, or nobody can receive them):
//! they go to the dead-letter stream with the subject they came on and the reason, so nothing
//! is lost and the cause can be found.

use super::connection::Bus;
use super::stats::BusStats;
use super::subject::{DEAD_LETTER_STREAM, dead_letter};
use async_nats::HeaderMap;
use bytes::Bytes;

/// Header naming the subject the parked message arrived on.
pub const ORIGIN_HEADER: &str = "Tradehost-Origin";
/// Header with why it was parked.
pub const REASON_HEADER: &str = "Tradehost-Reason";

/// Parks `payload`, which arrived on (or was meant for) `origin` and failed with `error`; logs
/// what happened and where the message is. A failure to park is logged too, with the bytes.
pub async fn park(bus: &Bus, origin: &str, payload: Bytes, error: &(dyn std::fmt::Display + Sync)) {
    BusStats::add(&bus.stats().malformed, 1);
    let mut headers = HeaderMap::new();
    headers.insert(ORIGIN_HEADER, one_line(origin).as_str());
    headers.insert(REASON_HEADER, one_line(&error.to_string()).as_str());
    let subject = dead_letter(origin);
    let stored = match bus
        .jetstream()
        .publish_with_headers(subject, headers, payload.clone())
        .await
    {
        Ok(ack) => ack.await.map(|a| a.sequence).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match stored {
        Ok(seq) => tracing::error!(
            target: "tradehost::bus",
            "a message on {origin} was set aside: {error}; it is kept as message {seq} of stream {DEAD_LETTER_STREAM} (e.g. `nats stream get {DEAD_LETTER_STREAM} {seq}`)"
        ),
        Err(e) => tracing::error!(
            target: "tradehost::bus",
            "a message on {origin} was set aside: {error}; parking it in {DEAD_LETTER_STREAM} failed too ({e}); its {} bytes: {:02x?}",
            payload.len(),
            &payload[..payload.len().min(256)]
        ),
    }
}

/// `text` without line breaks, which headers cannot carry.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}
