//! Applying a bus order to the paper broker: the body of the broker role's
//! [`OrderApplier`](super::OrderApplier), for whichever thread owns the `PaperBroker`.

use super::order_message::OrderMessage;
use super::seam::ApplyError;
use crate::broker::{BrokerOutcome, PaperBroker};
use crate::types::TimestampMs;
use std::sync::Arc;

/// Submits `order` to `broker` at `now_ms`, its bus id journaled as the record's origin.
///
/// A journal that failed to record the result makes this an error, so the message is not
/// acknowledged: `Retry` when the journal still works (the next attempt may succeed),
/// `Fatal` when it refuses every record until the broker restarts.
pub fn apply_to_broker(
    broker: &mut PaperBroker,
    order: &OrderMessage,
    now_ms: TimestampMs,
) -> Result<Vec<BrokerOutcome>, ApplyError> {
    let errors_before = broker.totals().journal_errors;
    let origin: Arc<str> = order.id.to_string().into();
    let outcomes = broker.submit_from(
        &origin,
        order.cause,
        &order.id.plugin.name,
        order.action.clone(),
        now_ms,
    );
    if let Some(cause) = broker.journal_failure() {
        return Err(ApplyError::Fatal(format!(
            "order {origin} not journaled: {cause}"
        )));
    }
    if broker.totals().journal_errors > errors_before {
        return Err(ApplyError::Retry(format!(
            "order {origin} not journaled (see the broker's log)"
        )));
    }
    Ok(outcomes)
}
