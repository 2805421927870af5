//! Risk checks run before every order, and the per-plugin order-rate window.
//!
//! The checks are a pure function of the order, the limits and a snapshot of the plugin's
//! situation ([`OrderContext`]), so each limit is tested at its exact boundary. A refusal is a
//! sentence naming the limit's setting, returned to the plugin inside a `Rejection`.
//! Every limit is inclusive: an order exactly at a limit is allowed.

use super::config::BrokerConfig;
use crate::human::Num;
use crate::types::{OrderKind, OrderRequest, TimestampMs};
use std::collections::VecDeque;

/// Quantities and limit prices above this are absurd for any instrument.
pub const ABSURD: f64 = 1e12;

/// Length of the order-rate window.
pub const RATE_WINDOW_MS: TimestampMs = 1000;

/// The limits every order is checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskLimits {
    /// Smallest quantity of one order (a lot); smaller orders are dust.
    pub min_order_qty: f64,
    /// Largest absolute position per plugin and symbol, resting orders included.
    pub max_position: f64,
    /// Largest quantity of one order.
    pub max_order_qty: f64,
    /// Largest notional of one order.
    pub max_order_notional: f64,
    /// Most orders accepted per plugin in any one-second window.
    pub max_orders_per_sec: u32,
    /// Most resting orders per plugin.
    pub max_open_orders: u32,
}

impl RiskLimits {
    /// The limits of a broker configuration.
    pub fn from_config(c: &BrokerConfig) -> Self {
        RiskLimits {
            min_order_qty: c.min_order_qty,
            max_position: c.max_position,
            max_order_qty: c.max_order_qty,
            max_order_notional: c.max_order_notional,
            max_orders_per_sec: c.max_orders_per_sec,
            max_open_orders: c.max_open_orders,
        }
    }
}

/// What the checks need to know about the plugin and market when an order arrives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderContext {
    /// Trading is halted.
    pub kill_switch: bool,
    /// Last trade price of the order's symbol, if any trade was seen.
    pub last_price: Option<f64>,
    /// The plugin's signed position in the symbol.
    pub position: f64,
    /// Quantity the plugin already has resting in the symbol on the order's side.
    pub resting_same_side: f64,
    /// The plugin's resting orders, all symbols.
    pub open_orders: u32,
    /// Orders the plugin had accepted in the current one-second window.
    pub orders_in_window: u32,
}

/// Checks that `order` is well formed: a finite quantity from the minimum lot up to
/// [`ABSURD`], and a finite positive limit price below it. A malformed order is refused
/// without a journal record, so nothing non-finite, dust or absurd is ever written there;
/// `Err` holds the refusal reason.
pub fn well_formed(limits: &RiskLimits, order: &OrderRequest) -> Result<(), String> {
    let qty = order.quantity;
    if !(qty.is_finite() && qty > 0.0) {
        return Err(format!("quantity {qty} is not a number above 0"));
    }
    if qty < limits.min_order_qty {
        return Err(format!(
            "quantity {qty} is below the minimum lot of {} (RISK_MIN_ORDER_QTY)",
            limits.min_order_qty
        ));
    }
    if qty > ABSURD {
        return Err(format!("quantity {qty} is absurd (above {ABSURD:e})"));
    }
    if let OrderKind::Limit(limit) = order.kind
        && !(limit.is_finite() && limit > 0.0 && limit <= ABSURD)
    {
        return Err(format!(
            "limit price {limit} is not a number above 0 and at most {ABSURD:e}"
        ));
    }
    Ok(())
}

/// Checks a well-formed `order` against `limits`; `Err` holds the refusal reason.
pub fn check(limits: &RiskLimits, order: &OrderRequest, ctx: &OrderContext) -> Result<(), String> {
    if ctx.kill_switch {
        return Err("kill switch is on: trading is halted (KILL_SWITCH)".into());
    }
    let qty = order.quantity;
    if qty > limits.max_order_qty {
        return Err(format!(
            "quantity {} exceeds the largest order RISK_MAX_ORDER_QTY={}",
            Num(qty),
            limits.max_order_qty
        ));
    }
    // Notional at the worst price the order can plausibly fill at: the last trade, or a limit
    // above it (a sell limit below the last trade fills near the last trade).
    let price = match (order.kind, ctx.last_price) {
        (OrderKind::Market, Some(last)) => last,
        (OrderKind::Market, None) => {
            return Err(format!(
                "no trade seen yet in {}: a market order's notional cannot be checked; wait for a trade or send a limit order",
                order.symbol
            ));
        }
        (OrderKind::Limit(limit), Some(last)) => limit.max(last),
        (OrderKind::Limit(limit), None) => limit,
    };
    let notional = qty * price;
    if notional > limits.max_order_notional {
        return Err(format!(
            "notional {notional:.2} (quantity {} at {}) exceeds RISK_MAX_ORDER_NOTIONAL={}",
            Num(qty),
            Num(price),
            limits.max_order_notional
        ));
    }
    // Conservative: as if every resting order on this side filled, then this one.
    let worst = ctx.position + order.side.sign() * (ctx.resting_same_side + qty);
    if worst.abs() > limits.max_position {
        return Err(format!(
            "position in {} could reach {} (now {}, resting {} on this side), beyond RISK_MAX_POSITION={}",
            order.symbol,
            Num(worst),
            Num(ctx.position),
            Num(ctx.resting_same_side),
            limits.max_position
        ));
    }
    if ctx.open_orders >= limits.max_open_orders {
        return Err(format!(
            "{} orders already resting, the most allowed by RISK_MAX_OPEN_ORDERS={}",
            ctx.open_orders, limits.max_open_orders
        ));
    }
    if ctx.orders_in_window >= limits.max_orders_per_sec {
        return Err(format!(
            "more than RISK_MAX_ORDERS_PER_SEC={} orders within one second",
            limits.max_orders_per_sec
        ));
    }
    Ok(())
}

/// Times of one plugin's accepted orders within the last second (sliding window).
#[derive(Debug, Clone, Default)]
pub struct RateWindow {
    /// Acceptance times, oldest first.
    times: VecDeque<TimestampMs>,
}

impl RateWindow {
    /// Orders accepted in `(now_ms - 1000, now_ms]`; older ones are forgotten.
    pub fn count(&mut self, now_ms: TimestampMs) -> u32 {
        while self
            .times
            .front()
            .is_some_and(|t| *t <= now_ms - RATE_WINDOW_MS)
        {
            self.times.pop_front();
        }
        // Times after `now_ms` (a clock that stepped back) still count: the safe side.
        self.times.len() as u32
    }

    /// Records an order accepted at `now_ms`.
    pub fn record(&mut self, now_ms: TimestampMs) {
        self.times.push_back(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Side;

    fn limits() -> RiskLimits {
        RiskLimits {
            min_order_qty: 1e-6,
            max_position: 100.0,
            max_order_qty: 50.0,
            max_order_notional: 1000.0,
            max_orders_per_sec: 3,
            max_open_orders: 4,
        }
    }

    fn order(side: Side, quantity: f64, kind: OrderKind) -> OrderRequest {
        OrderRequest {
            symbol: "SPY".into(),
            side,
            quantity,
            kind,
            tag: 1,
        }
    }

    fn at_price(p: f64) -> OrderContext {
        OrderContext {
            last_price: Some(p),
            ..OrderContext::default()
        }
    }

    #[test]
    fn each_limit_allows_its_boundary_and_refuses_past_it() {
        use OrderKind::*;
        use Side::*;
        let ctx = at_price(10.0);
        // TC: (case, order, context, None = accepted or Some(words of the refusal))
        let cases: Vec<(&str, OrderRequest, OrderContext, Option<&str>)> = vec![
            (
                "qty at limit",
                order(Buy, 50.0, Market),
                at_price(1.0),
                None,
            ),
            (
                "qty past limit",
                order(Buy, 50.5, Market),
                at_price(1.0),
                Some("RISK_MAX_ORDER_QTY"),
            ),
            (
                "notional at limit",
                order(Buy, 40.0, Market),
                at_price(25.0),
                None,
            ),
            (
                "notional past limit",
                order(Buy, 40.0, Market),
                at_price(25.125),
                Some("RISK_MAX_ORDER_NOTIONAL"),
            ),
            (
                "limit above last",
                order(Buy, 40.0, Limit(25.125)),
                at_price(20.0),
                Some("NOTIONAL"),
            ),
            (
                "sell limit below last",
                order(Sell, 40.0, Limit(20.0)),
                at_price(25.125),
                Some("NOTIONAL"),
            ),
            (
                "limit, no trade yet",
                order(Buy, 40.0, Limit(25.0)),
                OrderContext::default(),
                None,
            ),
            (
                "market, no trade yet",
                order(Buy, 1.0, Market),
                OrderContext::default(),
                Some("no trade seen yet in SPY"),
            ),
            (
                "position at limit",
                order(Buy, 30.0, Market),
                OrderContext {
                    position: 50.0,
                    resting_same_side: 20.0,
                    ..ctx.clone()
                },
                None,
            ),
            (
                "position past limit",
                order(Buy, 30.5, Market),
                OrderContext {
                    position: 50.0,
                    resting_same_side: 20.0,
                    ..ctx.clone()
                },
                Some("RISK_MAX_POSITION"),
            ),
            (
                "short at limit",
                order(Sell, 40.0, Market),
                OrderContext {
                    position: -60.0,
                    ..ctx.clone()
                },
                None,
            ),
            (
                "short past limit",
                order(Sell, 40.25, Market),
                OrderContext {
                    position: -60.0,
                    ..ctx.clone()
                },
                Some("RISK_MAX_POSITION"),
            ),
            (
                "reducing is fine",
                order(Sell, 50.0, Market),
                OrderContext {
                    position: 100.0,
                    ..ctx.clone()
                },
                None,
            ),
            (
                "open orders below limit",
                order(Buy, 1.0, Market),
                OrderContext {
                    open_orders: 3,
                    ..ctx.clone()
                },
                None,
            ),
            (
                "open orders at limit",
                order(Buy, 1.0, Market),
                OrderContext {
                    open_orders: 4,
                    ..ctx.clone()
                },
                Some("RISK_MAX_OPEN_ORDERS"),
            ),
            (
                "rate below limit",
                order(Buy, 1.0, Market),
                OrderContext {
                    orders_in_window: 2,
                    ..ctx.clone()
                },
                None,
            ),
            (
                "rate at limit",
                order(Buy, 1.0, Market),
                OrderContext {
                    orders_in_window: 3,
                    ..ctx.clone()
                },
                Some("RISK_MAX_ORDERS_PER_SEC"),
            ),
            (
                "kill switch",
                order(Buy, 1.0, Market),
                OrderContext {
                    kill_switch: true,
                    ..ctx.clone()
                },
                Some("kill switch"),
            ),
            (
                "zero qty",
                order(Buy, 0.0, Market),
                ctx.clone(),
                Some("not a number above 0"),
            ),
            (
                "negative qty",
                order(Buy, -1.0, Market),
                ctx.clone(),
                Some("not a number above 0"),
            ),
            (
                "NaN qty",
                order(Buy, f64::NAN, Market),
                ctx.clone(),
                Some("not a number above 0"),
            ),
            (
                "infinite qty",
                order(Buy, f64::INFINITY, Market),
                ctx.clone(),
                Some("not a number above 0"),
            ),
            (
                "bad limit",
                order(Buy, 1.0, Limit(f64::NAN)),
                ctx.clone(),
                Some("limit price"),
            ),
            (
                "zero limit",
                order(Buy, 1.0, Limit(0.0)),
                ctx.clone(),
                Some("limit price"),
            ),
        ];
        for (name, o, c, want) in cases {
            let verdict = well_formed(&limits(), &o).and_then(|()| check(&limits(), &o, &c));
            match (verdict, want) {
                (Ok(()), None) => {}
                (Err(reason), Some(words)) => assert!(reason.contains(words), "{name}: {reason}"),
                (got, want) => panic!("{name}: got {got:?}, want refusal {want:?}"),
            }
        }
    }

    #[test]
    fn rate_window_slides_over_exactly_one_second() {
        let mut w = RateWindow::default();
        for t in [1000, 1500, 1999] {
            w.record(t);
        }
        assert_eq!(w.count(1999), 3);
        // 1000 is exactly one second before 2000: it has left the window.
        assert_eq!(w.count(2000), 2);
        assert_eq!(w.count(2499), 2);
        assert_eq!(w.count(2500), 1);
        assert_eq!(w.count(2999), 0);
    }
}
