//! What the broker sends back to a strategy host: the outcome of an order (accepted, refused,
//! cancelled) or a fill, each with a message id derived from what it reports, so publishing
//! it twice (after a broker restart) stores it once.

use super::order_id::OrderId;
use super::subject::token;
use crate::broker::BrokerOutcome;
use crate::types::Fill;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One report from the broker about a plugin's orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderReport {
    /// What became of an action (or of a resting order on a kill switch).
    Outcome(BrokerOutcome),
    /// A resting order filled.
    Fill(Fill),
}

impl OrderReport {
    /// The plugin the report is for.
    pub fn plugin(&self) -> &Arc<str> {
        match self {
            OrderReport::Outcome(o) => o.plugin(),
            OrderReport::Fill(f) => &f.plugin,
        }
    }

    /// The report's `Nats-Msg-Id`: the same report always gets the same id. `origin` is the
    /// order message it answers (if any) and `index` its place among that message's outcomes.
    pub fn message_id(&self, origin: Option<&OrderId>, index: usize) -> String {
        match self {
            OrderReport::Fill(f) => format!("fill/{}", f.order_id),
            OrderReport::Outcome(BrokerOutcome::Accepted { order_id, .. }) => {
                format!("accepted/{order_id}")
            }
            OrderReport::Outcome(BrokerOutcome::Cancelled { order_id, .. }) => {
                format!("cancelled/{order_id}")
            }
            OrderReport::Outcome(o) => {
                let kind = match o {
                    BrokerOutcome::Rejected(_) => "rejected",
                    _ => "nothing-to-cancel",
                };
                match (origin, o) {
                    (Some(id), _) => format!("{id}/{kind}/{index}"),
                    (None, BrokerOutcome::Rejected(r)) => format!(
                        "{kind}/{}/{}/{}/{index}",
                        token(&r.plugin),
                        r.tag,
                        r.time_ms
                    ),
                    (None, _) => format!("{kind}/{}/{index}", token(o.plugin())),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::CancelReason;
    use crate::bus::codec::{decode, encode};
    use crate::types::{Rejection, Side, Symbol};

    fn reports() -> Vec<OrderReport> {
        let p: Arc<str> = "sma".into();
        let s: Symbol = "SPY".into();
        vec![
            OrderReport::Outcome(BrokerOutcome::Accepted {
                plugin: p.clone(),
                order_id: 9,
                tag: 1,
                symbol: s.clone(),
            }),
            OrderReport::Outcome(BrokerOutcome::Rejected(Rejection {
                plugin: p.clone(),
                tag: 2,
                symbol: s.clone(),
                reason: "max position".into(),
                time_ms: 5,
            })),
            OrderReport::Outcome(BrokerOutcome::Cancelled {
                plugin: p.clone(),
                order_id: 9,
                tag: 1,
                symbol: s.clone(),
                reason: CancelReason::KillSwitch,
            }),
            OrderReport::Outcome(BrokerOutcome::NothingToCancel {
                plugin: p.clone(),
                tag: 3,
            }),
            OrderReport::Fill(Fill {
                plugin: p,
                order_id: 9,
                tag: 1,
                symbol: s,
                side: Side::Buy,
                quantity: 10.0,
                price: 170.1,
                fee: 0.17,
                time_ms: 6,
            }),
        ]
    }

    #[test]
    fn every_report_round_trips() {
        for r in reports() {
            let bytes = encode("report", &r).unwrap();
            assert_eq!(decode::<OrderReport>("report", &bytes).unwrap(), r);
        }
    }

    #[test]
    fn message_ids_are_distinct_and_repeatable() {
        let origin: OrderId = "s1/sma/0/p2".parse().unwrap();
        let ids: Vec<String> = reports()
            .iter()
            .map(|r| r.message_id(Some(&origin), 0))
            .collect();
        assert_eq!(
            ids,
            [
                "accepted/9",
                "s1/sma/0/p2/rejected/0",
                "cancelled/9",
                "s1/sma/0/p2/nothing-to-cancel/0",
                "fill/9"
            ]
        );
        let again: Vec<String> = reports()
            .iter()
            .map(|r| r.message_id(Some(&origin), 0))
            .collect();
        assert_eq!(ids, again);
        assert_eq!(reports()[1].message_id(None, 1), "rejected/sma/2/5/1");
    }
}
