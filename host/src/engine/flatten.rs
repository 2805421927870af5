//! A flatten, an operator's forced exit of one strategy, as the broker sees it: cancel the
//! strategy's resting orders (journaled), then one market order per open position that
//! closes it, split to respect `RISK_MAX_ORDER_QTY`, through the same risk checks and journal
//! as any order. The daemon's engine thread (`control::flatten`) and a broker host
//! (`broker_desk`) both do it this way; each tells the strategy of the cancellations and
//! refusals on its own path.

use crate::broker::{BrokerOutcome, CancelReason, PaperBroker};
use crate::status::{ControlError, FlattenOutcome, control::FlattenOrder};
use crate::types::{OrderKind, OrderRequest, PluginAction, Side, TimestampMs};
use std::sync::Arc;

/// The tag of a flatten's closing orders, as the strategy sees them in its fills.
pub const FLATTEN_TAG: u32 = u32::MAX;

/// A flatten's first step, done: the cancellations; and its closing orders, to submit.
#[derive(Debug)]
pub struct FlattenPlan {
    /// The strategy, as the broker names it.
    pub plugin: Arc<str>,
    /// Its resting orders, cancelled (journaled).
    pub cancelled: Vec<BrokerOutcome>,
    /// Market orders closing its positions.
    pub actions: Vec<PluginAction>,
}

/// Cancel `plugin`'s resting orders and plan the orders that close its positions. A strategy
/// with neither a position nor a resting order is unknown unless `runs_here` (a plugin of
/// that name runs).
pub fn plan(
    broker: &mut PaperBroker,
    plugin: &str,
    runs_here: bool,
    now_ms: TimestampMs,
) -> Result<FlattenPlan, ControlError> {
    let positions: Vec<_> = broker
        .positions()
        .into_iter()
        .filter(|e| &*e.plugin == plugin)
        .collect();
    // Cancelling nothing changes nothing, so it may come before the check.
    let cancelled = broker.cancel_orders_of(plugin, CancelReason::Flattened, now_ms);
    let resting = cancelled
        .iter()
        .any(|o| matches!(o, BrokerOutcome::Cancelled { .. }));
    if positions.is_empty() && !resting && !runs_here {
        return Err(ControlError::UnknownPlugin(plugin.to_string()));
    }
    // Settings validate it positive; never loop on a limit that is not.
    let max_qty = Some(broker.config().max_order_qty)
        .filter(|q| *q > 0.0)
        .unwrap_or(f64::INFINITY);
    let mut actions = Vec::new();
    for e in positions.iter().filter(|e| e.position.quantity != 0.0) {
        let side = if e.position.quantity > 0.0 {
            Side::Sell
        } else {
            Side::Buy
        };
        let mut left = e.position.quantity.abs();
        while left > 0.0 {
            let quantity = left.min(max_qty);
            left -= quantity;
            actions.push(PluginAction::Place(OrderRequest {
                symbol: e.symbol.clone(),
                side,
                quantity,
                kind: OrderKind::Market,
                tag: FLATTEN_TAG,
            }));
        }
    }
    let plugin = positions
        .first()
        .map(|e| e.plugin.clone())
        .unwrap_or_else(|| plugin.into());
    Ok(FlattenPlan {
        plugin,
        cancelled,
        actions,
    })
}

/// What a flatten did: `cancelled_orders`, and each closing order with the broker's answer
/// (`outcomes`, one per order of `actions`, in order).
pub fn report(
    plugin: &str,
    cancelled_orders: usize,
    actions: &[PluginAction],
    outcomes: &[BrokerOutcome],
) -> FlattenOutcome {
    let orders = actions
        .iter()
        .filter_map(|a| match a {
            PluginAction::Place(r) => Some(r),
            PluginAction::Cancel(_) => None,
        })
        .zip(outcomes)
        .map(|(r, outcome)| FlattenOrder {
            symbol: r.symbol.to_string(),
            side: match r.side {
                Side::Buy => "buy".into(),
                Side::Sell => "sell".into(),
            },
            quantity: r.quantity,
            order_id: match outcome {
                BrokerOutcome::Accepted { order_id, .. } => Some(*order_id),
                _ => None,
            },
            refused: match outcome {
                BrokerOutcome::Rejected(r) => Some(r.reason.clone()),
                _ => None,
            },
        })
        .collect();
    FlattenOutcome {
        plugin: plugin.to_string(),
        cancelled_orders,
        orders,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::BrokerConfig;
    use crate::types::Trade;

    fn place(side: Side, quantity: f64, kind: OrderKind, tag: u32) -> PluginAction {
        PluginAction::Place(OrderRequest {
            symbol: "SPY".into(),
            side,
            quantity,
            kind,
            tag,
        })
    }

    #[test]
    fn a_plan_cancels_resting_orders_and_closes_positions_in_lots_of_the_largest_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut broker, _) = PaperBroker::open(BrokerConfig {
            journal_path: dir.path().join("j.bin"),
            max_order_qty: 300.0,
            ..Default::default()
        })
        .unwrap();
        let trade = |time_ms| Trade {
            symbol: "SPY".into(),
            price: 100.0,
            size: 1_000.0,
            time_ms,
        };
        broker.on_trade(&trade(0));
        let p: Arc<str> = "p".into();
        // 700 long over three orders (the limit is 300 per order), and one resting limit.
        for (i, q) in [300.0, 300.0, 100.0].into_iter().enumerate() {
            broker.submit(
                &p,
                vec![place(Side::Buy, q, OrderKind::Market, i as u32)],
                1,
            );
        }
        broker.submit(
            &p,
            vec![place(Side::Buy, 1.0, OrderKind::Limit(50.0), 9)],
            1,
        );
        broker.on_trade(&trade(2));
        let plan = plan(&mut broker, "p", false, 3).unwrap();
        assert_eq!(plan.cancelled.len(), 1, "{:?}", plan.cancelled);
        let lots: Vec<(Side, f64, u32)> = plan
            .actions
            .iter()
            .map(|a| match a {
                PluginAction::Place(r) => (r.side, r.quantity, r.tag),
                PluginAction::Cancel(_) => panic!("a flatten places orders only"),
            })
            .collect();
        let sell = |q| (Side::Sell, q, FLATTEN_TAG);
        assert_eq!(lots, [sell(300.0), sell(300.0), sell(100.0)]);
        // A strategy with nothing here is unknown, unless it runs here.
        assert!(matches!(
            plan_of(&mut broker, "nobody", false),
            Err(ControlError::UnknownPlugin(_))
        ));
        assert!(
            plan_of(&mut broker, "nobody", true)
                .unwrap()
                .actions
                .is_empty()
        );
    }

    fn plan_of(
        broker: &mut PaperBroker,
        plugin: &str,
        runs_here: bool,
    ) -> Result<FlattenPlan, ControlError> {
        plan(broker, plugin, runs_here, 4)
    }
}
