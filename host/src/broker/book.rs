//! The book of resting orders, kept per symbol with that symbol's last trade price, and the
//! rule deciding whether and at what price a trade fills a resting order.
//!
//! # Fill rule (conservative)
//! - A market order fills whole at the first trade of its symbol after it was placed (and, with
//!   a latency, at or after `placed + latency` in market time), at the trade's price moved
//!   against it by the slippage (`price × (1 ± bps/10 000)`, buys up, sells down).
//! - A buy limit fills only when a trade prints strictly below its limit (a sell limit: strictly
//!   above): at a print equal to the limit the order might still be behind others in the queue.
//!   It fills at the market order's price for that trade, capped at the limit, so a limit order
//!   never gets a better price than a market order would, and never a worse one than its limit.
//! - Volume is not modelled: the whole order fills on one trade whatever that trade's size.
//!   Orders of one symbol fill in the order they were placed (ascending order id).
//! - Every trade has a [`TradePoint`]. An order fills only at trades of points after the one
//!   it was placed after (its cause), so a broker host that reads the stream again after a
//!   restart never fills an order at a trade that came before it, and an order that reached
//!   the broker late fills as of its cause (`super::recent_trades`).

use super::trade_point::TradePoint;
use crate::types::{OrderKind, Side, Symbol, SymbolKey, SymbolMap, TimestampMs};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// An accepted order waiting for a trade that fills it.
#[derive(Debug, Clone, PartialEq)]
pub struct RestingOrder {
    /// Broker-assigned id.
    pub order_id: u64,
    /// The plugin that placed it.
    pub plugin: Arc<str>,
    /// The plugin's tag.
    pub tag: u32,
    /// The instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Quantity, positive.
    pub quantity: f64,
    /// Market or limit.
    pub kind: OrderKind,
    /// When it was accepted (engine time).
    pub placed_ms: TimestampMs,
    /// The earliest trade time that can fill it: `placed_ms` plus the broker's latency.
    pub active_ms: TimestampMs,
    /// The point of the trade it was placed after; only trades at later points fill it.
    pub after: TradePoint,
}

impl RestingOrder {
    /// True when a trade at `time_ms` and `point` may fill it (the price aside).
    pub fn may_fill_at(&self, time_ms: TimestampMs, point: TradePoint) -> bool {
        time_ms >= self.active_ms && point > self.after
    }
}

/// The price a trade at `trade_price` fills `order` at, or `None` when it does not fill it.
pub fn fill_price(side: Side, kind: OrderKind, trade_price: f64, slippage_bps: f64) -> Option<f64> {
    let market = trade_price * (1.0 + side.sign() * slippage_bps / 10_000.0);
    match (kind, side) {
        (OrderKind::Market, _) => Some(market),
        (OrderKind::Limit(limit), Side::Buy) => (trade_price < limit).then(|| market.min(limit)),
        (OrderKind::Limit(limit), Side::Sell) => (trade_price > limit).then(|| market.max(limit)),
    }
}

/// One symbol's last trade price and resting orders.
#[derive(Debug, Default)]
struct SymbolBook {
    /// Price of the last trade seen, if any.
    last_price: Option<f64>,
    /// Resting orders in placement order.
    orders: Vec<RestingOrder>,
}

/// Where a resting order is, so cancellations need not scan every symbol.
#[derive(Debug, Clone)]
struct OrderRef {
    /// The order's symbol.
    symbol: Symbol,
    /// The plugin that placed it.
    plugin: Arc<str>,
    /// The plugin's tag.
    tag: u32,
}

/// Resting orders and last prices of every symbol.
#[derive(Debug, Default)]
pub struct OrderBook {
    /// Per symbol: last price and resting orders.
    symbols: SymbolMap<SymbolBook>,
    /// Every resting order by id; a BTreeMap so walks over it are in id order (deterministic).
    index: BTreeMap<u64, OrderRef>,
    /// Resting orders per plugin, for the open-orders limit.
    open_by_plugin: HashMap<Arc<str>, u32>,
}

impl OrderBook {
    /// The last trade price seen for `symbol`.
    pub fn last_price(&self, symbol: &str) -> Option<f64> {
        self.symbols.get(symbol).and_then(|b| b.last_price)
    }

    /// The last trade price of every symbol seen.
    pub fn last_prices(&self) -> SymbolMap<f64> {
        self.symbols
            .iter()
            .filter_map(|(s, b)| Some((s.clone(), b.last_price?)))
            .collect()
    }

    /// Number of resting orders.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no order rests.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Number of resting orders of `plugin`.
    pub fn open_orders(&self, plugin: &str) -> u32 {
        self.open_by_plugin.get(plugin).copied().unwrap_or(0)
    }

    /// Total quantity `plugin` has resting in `symbol` on `side`.
    pub fn resting_quantity(&self, plugin: &str, symbol: &str, side: Side) -> f64 {
        self.symbols.get(symbol).map_or(0.0, |b| {
            b.orders
                .iter()
                .filter(|o| o.side == side && &*o.plugin == plugin)
                .map(|o| o.quantity)
                .sum()
        })
    }

    /// Adds an accepted order behind the others of its symbol.
    pub fn insert(&mut self, order: RestingOrder) {
        self.index.insert(
            order.order_id,
            OrderRef {
                symbol: order.symbol.clone(),
                plugin: order.plugin.clone(),
                tag: order.tag,
            },
        );
        *self.open_by_plugin.entry(order.plugin.clone()).or_insert(0) += 1;
        self.symbols
            .entry(order.symbol.clone())
            .or_default()
            .orders
            .push(order);
    }

    /// Takes the order with this id out of the book.
    pub fn remove(&mut self, order_id: u64) -> Option<RestingOrder> {
        let r = self.index.remove(&order_id)?;
        self.decrement_open(&r.plugin);
        let orders = &mut self.symbols.get_mut(&*r.symbol)?.orders;
        let at = orders.iter().position(|o| o.order_id == order_id)?;
        Some(orders.remove(at))
    }

    /// The resting order with this id.
    pub fn get(&self, order_id: u64) -> Option<&RestingOrder> {
        let r = self.index.get(&order_id)?;
        self.symbols
            .get(&*r.symbol)?
            .orders
            .iter()
            .find(|o| o.order_id == order_id)
    }

    /// Ids of `plugin`'s resting orders with `tag` (any tag when `None`), ascending.
    pub fn ids_of(&self, plugin: &str, tag: Option<u32>) -> Vec<u64> {
        self.index
            .iter()
            .filter(|(_, r)| &*r.plugin == plugin && tag.is_none_or(|t| t == r.tag))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Ids of every resting order, ascending.
    pub fn all_ids(&self) -> Vec<u64> {
        self.index.keys().copied().collect()
    }

    /// Let every resting order fill at any stream position (the stream was recreated).
    pub fn forget_positions(&mut self) {
        for book in self.symbols.values_mut() {
            for order in &mut book.orders {
                order.after = TradePoint::START;
            }
        }
    }

    /// Records a trade's price without filling anything.
    pub fn record_price(&mut self, symbol: &Symbol, price: f64) {
        self.match_trade(
            symbol,
            price,
            (TimestampMs::MIN, TradePoint::START),
            0.0,
            |_, _| None,
        );
    }

    /// The position in `trades` of the first trade that would fill one of `plugin`'s resting
    /// orders, without filling anything; `None` when no trade would. The engine uses it to
    /// end a plugin's batch before its next fill, which the plugin must hear of first.
    pub fn first_fill<'t>(
        &self,
        plugin: &str,
        trades: impl IntoIterator<Item = (&'t Symbol, f64, TimestampMs)>,
        slippage_bps: f64,
    ) -> Option<usize> {
        if self.open_orders(plugin) == 0 {
            return None;
        }
        let mine: Vec<&RestingOrder> = self
            .index
            .iter()
            .filter(|(_, r)| &*r.plugin == plugin)
            .filter_map(|(id, _)| self.get(*id))
            .collect();
        trades.into_iter().position(|(symbol, price, time)| {
            mine.iter().any(|o| {
                o.symbol == *symbol
                    && time >= o.active_ms
                    && fill_price(o.side, o.kind, price, slippage_bps).is_some()
            })
        })
    }

    /// Records a trade's price and offers each of the symbol's resting orders that this trade
    /// fills to `on_fill` (with its fill price), in placement order; an order for which
    /// `on_fill` returns `true` leaves the book, and a `None` from it stops the walk. The trade
    /// is at `(time_ms, point)`: its market time and its place in the stream.
    ///
    /// Costs one hash lookup when no order rests in the symbol; allocates only the first time a
    /// symbol is seen.
    pub fn match_trade(
        &mut self,
        symbol: &Symbol,
        price: f64,
        (time_ms, point): (TimestampMs, TradePoint),
        slippage_bps: f64,
        mut on_fill: impl FnMut(&RestingOrder, f64) -> Option<bool>,
    ) {
        let Some(book) = self.symbols.get_mut(&SymbolKey(symbol)) else {
            // First trade of a symbol without orders: nothing can fill.
            let book = SymbolBook {
                last_price: Some(price),
                orders: Vec::new(),
            };
            self.symbols.insert(symbol.clone(), book);
            return;
        };
        book.last_price = Some(price);
        let mut i = 0;
        while i < book.orders.len() {
            let o = &book.orders[i];
            let fills = if o.may_fill_at(time_ms, point) {
                fill_price(o.side, o.kind, price, slippage_bps)
            } else {
                None
            };
            let Some(p) = fills else {
                i += 1;
                continue;
            };
            match on_fill(o, p) {
                Some(true) => {
                    let o = book.orders.remove(i);
                    self.index.remove(&o.order_id);
                    if let Some(n) = self.open_by_plugin.get_mut(&*o.plugin) {
                        *n = n.saturating_sub(1);
                    }
                }
                Some(false) => i += 1,
                None => break,
            }
        }
    }

    fn decrement_open(&mut self, plugin: &str) {
        if let Some(n) = self.open_by_plugin.get_mut(plugin) {
            *n = n.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(
        id: u64,
        plugin: &str,
        tag: u32,
        side: Side,
        qty: f64,
        kind: OrderKind,
    ) -> RestingOrder {
        RestingOrder {
            order_id: id,
            plugin: plugin.into(),
            tag,
            symbol: "SPY".into(),
            side,
            quantity: qty,
            kind,
            placed_ms: 0,
            active_ms: 0,
            after: TradePoint::START,
        }
    }

    #[test]
    fn fill_prices_follow_the_documented_rule() {
        use OrderKind::*;
        use Side::*;
        // TC: (side, kind, trade price, slippage bps, expected fill price)
        let cases = [
            (Buy, Market, 100.0, 10.0, Some(100.1)),
            (Sell, Market, 100.0, 10.0, Some(99.9)),
            (Buy, Market, 100.0, 0.0, Some(100.0)),
            // A print at the limit does not fill (queue position unknown).
            (Buy, Limit(100.0), 100.0, 0.0, None),
            (Sell, Limit(100.0), 100.0, 0.0, None),
            (Buy, Limit(100.0), 100.5, 0.0, None),
            (Sell, Limit(100.0), 99.5, 0.0, None),
            // Through the limit: the market price for that trade...
            (Buy, Limit(100.0), 99.0, 10.0, Some(99.0 * 1.001)),
            (Sell, Limit(100.0), 101.0, 10.0, Some(101.0 * 0.999)),
            // ...capped at the limit when slippage would cross it.
            (Buy, Limit(100.0), 99.99, 10.0, Some(100.0)),
            (Sell, Limit(100.0), 100.01, 10.0, Some(100.0)),
        ];
        for (side, kind, trade, bps, want) in cases {
            let got = fill_price(side, kind, trade, bps);
            match (got, want) {
                (None, None) => {}
                (Some(g), Some(w)) => assert!(
                    (g - w).abs() < 1e-9,
                    "{side:?} {kind:?} @{trade}: {g} != {w}"
                ),
                _ => panic!("{side:?} {kind:?} @{trade}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn trades_fill_in_placement_order_and_leave_the_rest() {
        let mut book = OrderBook::default();
        book.insert(order(1, "a", 7, Side::Buy, 5.0, OrderKind::Limit(99.0)));
        book.insert(order(2, "b", 7, Side::Buy, 3.0, OrderKind::Market));
        book.insert(order(3, "a", 8, Side::Sell, 2.0, OrderKind::Market));
        assert_eq!(book.open_orders("a"), 2);
        assert_eq!(book.resting_quantity("a", "SPY", Side::Buy), 5.0);

        let mut seen = Vec::new();
        book.match_trade(
            &"SPY".into(),
            100.0,
            (0, TradePoint::new(0, 1)),
            0.0,
            |o, p| {
                seen.push((o.order_id, p));
                Some(true)
            },
        );
        assert_eq!(seen, [(2, 100.0), (3, 100.0)]);
        assert_eq!(book.last_price("SPY"), Some(100.0));
        assert_eq!(book.all_ids(), [1]);
        assert_eq!(book.open_orders("a"), 1);
        assert_eq!(book.open_orders("b"), 0);

        // An order the callback declines stays; `None` stops the walk.
        book.insert(order(4, "a", 9, Side::Buy, 1.0, OrderKind::Market));
        book.match_trade(
            &"SPY".into(),
            98.0,
            (0, TradePoint::new(0, 2)),
            0.0,
            |_, _| None,
        );
        assert_eq!(book.all_ids(), [1, 4]);
        book.match_trade(
            &"SPY".into(),
            98.0,
            (0, TradePoint::new(0, 3)),
            0.0,
            |o, _| Some(o.order_id == 4),
        );
        assert_eq!(book.all_ids(), [1]);
    }

    #[test]
    fn cancellation_lookups_by_plugin_and_tag() {
        let mut book = OrderBook::default();
        book.insert(order(3, "a", 1, Side::Buy, 1.0, OrderKind::Market));
        book.insert(order(1, "a", 1, Side::Sell, 1.0, OrderKind::Limit(120.0)));
        book.insert(order(2, "b", 1, Side::Buy, 1.0, OrderKind::Market));
        book.insert(order(4, "a", 2, Side::Buy, 1.0, OrderKind::Market));
        assert_eq!(book.ids_of("a", Some(1)), [1, 3]);
        assert_eq!(book.ids_of("a", None), [1, 3, 4]);
        assert_eq!(book.ids_of("c", None), Vec::<u64>::new());
        assert_eq!(book.remove(3).map(|o| o.order_id), Some(3));
        assert_eq!(book.remove(3), None);
        assert_eq!(book.get(1).map(|o| o.tag), Some(1));
        assert_eq!(book.len(), 3);
        assert_eq!(book.open_orders("a"), 2);
    }
}
