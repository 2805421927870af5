//! [`Context`]: what a strategy's hooks use to reach the host and to place orders.
//!
//! Host calls (prediction, position, recent bars, log, clock) go straight to the host, telling
//! it which event of the batch is being handled, so that the answers are those at that event
//! however the host batched the events. Symbol lookups are cached locally, because each
//! string crossing the boundary costs ~100 ns. Orders are collected and handed to the host as
//! soon as the hook that placed them returns.

use crate::host;
use crate::types::{
    Action, Bar, Fill, LogLevel, OrderKind, OrderRequest, Position, Prediction, Rejection, Side,
    SymbolId, TimestampMs,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Quantities smaller than this are treated as zero (positions, order sizes).
pub const QUANTITY_EPSILON: f64 = 1e-9;

/// A strategy's own reference for an order, echoed in its fills and rejections.
pub type Tag = u32;

/// Order bookkeeping that survives snapshot/restore together with the strategy's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OrderBook {
    /// The next tag handed out by the order helpers (never 0).
    pub(crate) next_tag: Tag,
    /// Market orders sent but not yet (fully) filled or rejected: tag → (symbol, signed qty).
    pub(crate) in_flight: BTreeMap<Tag, (SymbolId, f64)>,
}

impl Default for OrderBook {
    fn default() -> Self {
        OrderBook {
            next_tag: 1,
            in_flight: BTreeMap::new(),
        }
    }
}

/// Host calls, symbol lookups and order helpers for one strategy instance.
#[derive(Debug, Default)]
pub struct Context {
    actions: Vec<Action>,
    pub(crate) book: OrderBook,
    ids: HashMap<String, SymbolId>,
    names: HashMap<SymbolId, String>,
    /// Index of the event being handled in the current batch (what host calls are "at").
    pub(crate) at: u32,
    /// Position quantities the host gave in this `on-events` call. In a backtest a fill
    /// lands between two calls, never inside one, so one question per symbol and call gives
    /// every answer; a strategy that targets a position on every trade would otherwise ask
    /// the host on every trade.
    quantities: Vec<(SymbolId, f64)>,
}

impl Context {
    /// A context with no pending orders and empty caches.
    pub fn new() -> Context {
        Context::default()
    }

    // ---- host calls ----

    /// Writes a line to the host's log, tagged with the strategy's name.
    pub fn log(&self, level: LogLevel, message: &str) {
        host::log(level, message)
    }

    /// Logs at debug level.
    pub fn debug(&self, message: &str) {
        self.log(LogLevel::Debug, message)
    }

    /// Logs at info level.
    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, message)
    }

    /// Logs at warn level.
    pub fn warn(&self, message: &str) {
        self.log(LogLevel::Warn, message)
    }

    /// Logs at error level.
    pub fn error(&self, message: &str) {
        self.log(LogLevel::Error, message)
    }

    /// The current time in ms since the epoch: the wall clock live; in replay and backtest,
    /// market time, the time of the event being handled.
    pub fn now(&self) -> TimestampMs {
        host::now(self.at)
    }

    /// The model's latest forecast for `symbol`, stale or not.
    pub fn prediction(&self, symbol: SymbolId) -> Option<Prediction> {
        host::prediction(symbol, self.at)
    }

    /// The model's latest forecast for `symbol`, only if it is not stale.
    pub fn fresh_prediction(&self, symbol: SymbolId) -> Option<Prediction> {
        self.prediction(symbol).filter(|p| !p.stale)
    }

    /// This strategy's position in `symbol` as the host's broker knows it: every fill the
    /// strategy has been told of, unrealised PnL at the last trade it was given.
    pub fn position(&self, symbol: SymbolId) -> Position {
        host::position(symbol, self.at)
    }

    /// Up to `count` most recent completed bars of `symbol` (the host's own period), oldest
    /// first.
    pub fn recent_bars(&self, symbol: SymbolId, count: u32) -> Vec<Bar> {
        host::recent_bars(symbol, 0, count)
    }

    /// Up to `count` most recent completed bars of `symbol` of `period_secs` seconds, oldest
    /// first; the period must be one [`Info::bar_period`](crate::Info::bar_period) asked for.
    pub fn recent_bars_of(&self, symbol: SymbolId, period_secs: u32, count: u32) -> Vec<Bar> {
        host::recent_bars(symbol, period_secs, count)
    }

    /// The id of a symbol in the user's notation (`SPY`, `FOREX:EUR/USD`), cached locally.
    pub fn symbol(&mut self, name: &str) -> SymbolId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = host::symbol_id(name);
        self.ids.insert(name.to_string(), id);
        self.names.entry(id).or_insert_with(|| name.to_string());
        id
    }

    /// The name of a symbol id, cached locally; `None` when the host does not know the id.
    pub fn symbol_name(&mut self, symbol: SymbolId) -> Option<&str> {
        if !self.names.contains_key(&symbol) {
            let name = host::symbol_name(symbol)?;
            self.ids.insert(name.clone(), symbol);
            self.names.insert(symbol, name);
        }
        self.names.get(&symbol).map(String::as_str)
    }

    // ---- orders ----

    /// Places a market buy of `quantity`; returns the order's tag.
    pub fn buy(&mut self, symbol: SymbolId, quantity: f64) -> Tag {
        self.order(symbol, Side::Buy, quantity, OrderKind::Market)
    }

    /// Places a market sell of `quantity`; returns the order's tag.
    pub fn sell(&mut self, symbol: SymbolId, quantity: f64) -> Tag {
        self.order(symbol, Side::Sell, quantity, OrderKind::Market)
    }

    /// Places a limit buy of `quantity` at `price` or better; returns the order's tag.
    pub fn limit_buy(&mut self, symbol: SymbolId, quantity: f64, price: f64) -> Tag {
        self.order(symbol, Side::Buy, quantity, OrderKind::Limit(price))
    }

    /// Places a limit sell of `quantity` at `price` or better; returns the order's tag.
    pub fn limit_sell(&mut self, symbol: SymbolId, quantity: f64, price: f64) -> Tag {
        self.order(symbol, Side::Sell, quantity, OrderKind::Limit(price))
    }

    /// Places an order with a fresh tag; returns the tag.
    pub fn order(&mut self, symbol: SymbolId, side: Side, quantity: f64, kind: OrderKind) -> Tag {
        let tag = self.next_tag();
        self.place(OrderRequest {
            symbol,
            side,
            quantity,
            kind,
            tag,
        });
        tag
    }

    /// Places a fully specified order, with the caller's own tag.
    pub fn place(&mut self, order: OrderRequest) {
        if matches!(order.kind, OrderKind::Market) {
            let entry = self
                .book
                .in_flight
                .entry(order.tag)
                .or_insert((order.symbol, 0.0));
            entry.1 += order.signed_quantity();
        }
        self.actions.push(Action::Place(order));
    }

    /// Cancels every resting order of this strategy with `tag`.
    pub fn cancel(&mut self, tag: Tag) {
        self.actions.push(Action::Cancel(tag));
    }

    /// Trades toward a signed `target` position with one market order; returns its tag, or
    /// `None` when already there.
    ///
    /// The current position is the host's plus market orders sent but not yet filled, so calling
    /// this on every trade does not stack orders while the first one is on its way. The host's
    /// quantity is asked once per symbol in each call of the host (live, a fill made during a
    /// call is seen from the next one, with its fill event).
    pub fn target_position(&mut self, symbol: SymbolId, target: f64) -> Option<Tag> {
        let current = self.held(symbol) + self.in_flight(symbol);
        let delta = target - current;
        if delta.abs() < QUANTITY_EPSILON {
            return None;
        }
        let side = if delta > 0.0 { Side::Buy } else { Side::Sell };
        Some(self.order(symbol, side, delta.abs(), OrderKind::Market))
    }

    /// Flattens the position in `symbol` with a market order; `None` when already flat.
    pub fn close(&mut self, symbol: SymbolId) -> Option<Tag> {
        self.target_position(symbol, 0.0)
    }

    /// The quantity held in `symbol`, asked of the host once per call.
    fn held(&mut self, symbol: SymbolId) -> f64 {
        if let Some((_, q)) = self.quantities.iter().find(|(s, _)| *s == symbol) {
            return *q;
        }
        let q = self.position(symbol).quantity;
        self.quantities.push((symbol, q));
        q
    }

    /// A new `on-events` call begins: what the host said before may have changed.
    pub(crate) fn begin_call(&mut self) {
        self.quantities.clear();
    }

    /// Signed quantity of market orders in `symbol` sent but not yet filled or rejected.
    pub fn in_flight(&self, symbol: SymbolId) -> f64 {
        self.book
            .in_flight
            .values()
            .filter(|(s, _)| *s == symbol)
            .map(|(_, q)| q)
            .sum()
    }

    /// Makes room for `additional` more actions in this batch, for strategies that place many.
    pub fn reserve_actions(&mut self, additional: usize) {
        self.actions.reserve_exact(additional);
    }

    /// The actions placed since the last batch was handed to the host.
    pub fn pending_actions(&self) -> &[Action] {
        &self.actions
    }

    /// True when a hook has placed an action not yet handed to the host.
    pub(crate) fn has_actions(&self) -> bool {
        !self.actions.is_empty()
    }

    /// Hands the collected actions over (the runtime does this after each batch).
    pub(crate) fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// Accounts for a fill of an in-flight market order before the strategy sees it.
    pub(crate) fn record_fill(&mut self, fill: &Fill) {
        if let Some((_, remaining)) = self.book.in_flight.get_mut(&fill.tag) {
            *remaining -= fill.signed_quantity();
            // A fill in the opposite direction or a rounding remainder both mean "done".
            if remaining.abs() < QUANTITY_EPSILON
                || remaining.signum() == fill.side.opposite().sign()
            {
                self.book.in_flight.remove(&fill.tag);
            }
        }
    }

    /// Forgets an in-flight order the broker refused.
    pub(crate) fn record_rejection(&mut self, rejection: &Rejection) {
        self.book.in_flight.remove(&rejection.tag);
    }

    fn next_tag(&mut self) -> Tag {
        let tag = self.book.next_tag;
        self.book.next_tag = self.book.next_tag.checked_add(1).unwrap_or(1);
        tag
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::with_host;

    fn fill(tag: Tag, symbol: SymbolId, side: Side, quantity: f64) -> Fill {
        Fill {
            symbol,
            side,
            quantity,
            price: 10.0,
            fee: 0.0,
            time: 0,
            tag,
        }
    }

    #[test]
    fn helpers_assign_increasing_tags_and_collect_actions() {
        let mut ctx = Context::new();
        let spy = ctx.symbol("SPY");
        assert_eq!(ctx.buy(spy, 5.0), 1);
        assert_eq!(ctx.limit_sell(spy, 2.0, 101.5), 2);
        ctx.cancel(2);
        let actions = ctx.take_actions();
        assert_eq!(actions.len(), 3);
        assert!(
            matches!(&actions[1], Action::Place(o) if o.kind == OrderKind::Limit(101.5) && o.side == Side::Sell)
        );
        assert_eq!(actions[2], Action::Cancel(2));
        assert!(ctx.pending_actions().is_empty());
    }

    #[test]
    fn target_position_counts_in_flight_orders_until_filled() {
        let mut ctx = Context::new();
        let spy = ctx.symbol("SPY-target-test");
        let tag = ctx.target_position(spy, 10.0).expect("first order");
        // Same target again while the order is on its way: nothing more.
        assert_eq!(ctx.target_position(spy, 10.0), None);
        // Half fills: the host's position moves, the in-flight remainder shrinks.
        with_host(|h| {
            h.positions.insert(
                spy,
                Position {
                    quantity: 4.0,
                    ..Position::flat(spy)
                },
            )
        });
        // The fill reaches the strategy in the host's next call.
        ctx.begin_call();
        ctx.record_fill(&fill(tag, spy, Side::Buy, 4.0));
        assert_eq!(ctx.in_flight(spy), 6.0);
        assert_eq!(ctx.target_position(spy, 10.0), None);
        // Reverse to short 5: sells 15.
        let sell = ctx.target_position(spy, -5.0).expect("reversal");
        let actions = ctx.take_actions();
        assert!(
            matches!(actions.last(), Some(Action::Place(o)) if o.tag == sell && o.quantity == 15.0 && o.side == Side::Sell)
        );
        // A rejection forgets that order.
        ctx.record_rejection(&Rejection {
            symbol: spy,
            tag: sell,
            reason: "risk".into(),
            time: 0,
        });
        assert_eq!(ctx.in_flight(spy), 6.0);
        with_host(|h| h.positions.remove(&spy));
    }

    #[test]
    fn the_held_quantity_is_asked_once_per_call() {
        let mut ctx = Context::new();
        let ibm = ctx.symbol("IBM-held-test");
        with_host(|h| {
            h.positions.insert(
                ibm,
                Position {
                    quantity: 3.0,
                    ..Position::flat(ibm)
                },
            )
        });
        ctx.begin_call();
        assert_eq!(ctx.target_position(ibm, 3.0), None);
        // The host's answer changes within the call (it cannot in a backtest): the call
        // goes on with the answer it had.
        with_host(|h| h.positions.remove(&ibm));
        assert_eq!(ctx.target_position(ibm, 3.0), None);
        // The next call asks again.
        ctx.begin_call();
        assert!(ctx.target_position(ibm, 3.0).is_some());
        let _ = ctx.take_actions();
    }

    #[test]
    fn symbol_lookups_are_cached_both_ways() {
        let mut ctx = Context::new();
        let a = ctx.symbol("AIG");
        assert_eq!(ctx.symbol("AIG"), a);
        assert_eq!(ctx.symbol_name(a), Some("AIG"));
        let ibm = with_host(|h| h.intern("IBM"));
        assert_eq!(ctx.symbol_name(ibm), Some("IBM"));
        assert_eq!(ctx.symbol_name(999_999), None);
    }
}
