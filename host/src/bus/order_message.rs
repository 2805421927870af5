//! An order on the bus: one action of one plugin, with its deterministic id.
//!
//! One message per action, so the broker can journal and deduplicate each on its own, and a
//! cancel never shares a fate with the order before it.

use super::order_id::OrderId;
use crate::broker::TradePoint;
use crate::types::{PluginAction, TimestampMs};
use serde::{Deserialize, Serialize};

/// One plugin action travelling from a strategy host to the broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderMessage {
    /// Who sent it and which action it is; also the message's `Nats-Msg-Id`.
    pub id: OrderId,
    /// The order or cancellation.
    pub action: PluginAction,
    /// The strategy host's wall clock when it sent it (the broker may refuse stale orders).
    pub sent_ms: TimestampMs,
    /// The trade that caused it (its market stream position and index in that message): the
    /// broker fills it only at trades after that one, as the single process does, however
    /// late it arrives. Absent for an order with no market cause.
    #[serde(default)]
    pub cause: Option<TradePoint>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::codec::{decode, encode};
    use crate::bus::order_id::PluginInstance;
    use crate::bus::subject::HostName;
    use crate::types::{OrderKind, OrderRequest, Side};

    #[test]
    fn orders_and_cancels_round_trip() {
        let host = HostName::new("s1").unwrap();
        let plugin = PluginInstance {
            name: "rsi".into(),
            instance: 0,
        };
        let actions = [
            PluginAction::Place(OrderRequest {
                symbol: "FOREX:EUR/USD".into(),
                side: Side::Sell,
                quantity: 1000.0,
                kind: OrderKind::Market,
                tag: 1,
            }),
            PluginAction::Cancel(1),
        ];
        for action in actions {
            let m = OrderMessage {
                id: OrderId::new(&host, &plugin, &action),
                action,
                sent_ms: 1_381_498_200_000,
                cause: Some(TradePoint::new(41, 3)),
            };
            let bytes = encode("order", &m).unwrap();
            assert_eq!(decode::<OrderMessage>("order", &bytes).unwrap(), m);
        }
    }
}
