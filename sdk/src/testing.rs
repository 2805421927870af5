//! An in-process stand-in for the host, to unit-test strategies natively with `cargo test`.
//!
//! In native builds the [`Context`](crate::Context)'s host calls read and write the
//! thread-local [`MockHost`] (reach it with [`with_host`]); in a component they go to the real
//! host and this module is unused. [`Harness`] drives a strategy like the host does: `init`,
//! then batches of events.

use crate::batch::BatchItem;
use crate::export::Runtime;
use crate::strategy::Strategy;
use crate::types::{
    Action, Bar, Event, EventBatch, Fill, LogLevel, OrderKind, Position, Prediction, SymbolId,
    TimestampMs, Trade,
};
use std::cell::RefCell;
use std::collections::HashMap;

/// What the host calls return in native builds; tests set its fields.
#[derive(Debug, Default)]
pub struct MockHost {
    /// Returned by `now()` outside a batch, and for events without a time of their own.
    pub now: TimestampMs,
    /// The time of each event of the batch being handled, by index (set by [`Harness`]).
    pub event_times: Vec<TimestampMs>,
    /// Returned by `prediction(symbol)`.
    pub predictions: HashMap<SymbolId, Prediction>,
    /// Returned by `position(symbol)` (flat when absent).
    pub positions: HashMap<SymbolId, Position>,
    /// Returned, newest last, by `recent-bars(symbol, n)`.
    pub bars: HashMap<SymbolId, Vec<Bar>>,
    /// Lines written with `log`, in order.
    pub logs: Vec<(LogLevel, String)>,
    symbols: Vec<String>,
}

impl MockHost {
    /// The id of `name`, interning it if new (ids start at 0 in order of first use).
    pub fn intern(&mut self, name: &str) -> SymbolId {
        if let Some(i) = self.symbols.iter().position(|s| s == name) {
            return i as SymbolId;
        }
        self.symbols.push(name.to_string());
        (self.symbols.len() - 1) as SymbolId
    }

    /// The time at event `at` of the current batch, as the host answers `now(at)` on market
    /// time; `now` when there is no such event.
    pub fn time_at(&self, at: u32) -> TimestampMs {
        self.event_times
            .get(at as usize)
            .copied()
            .unwrap_or(self.now)
    }

    /// The name of an interned id.
    pub fn symbol_name(&self, id: SymbolId) -> Option<&str> {
        self.symbols.get(id as usize).map(String::as_str)
    }

    /// Applies a fill to the position of its symbol (average price and realised PnL, no fees).
    pub fn apply_fill(&mut self, fill: &Fill) {
        let p = self
            .positions
            .entry(fill.symbol)
            .or_insert(Position::flat(fill.symbol));
        let signed = fill.signed_quantity();
        let new_quantity = p.quantity + signed;
        if p.quantity == 0.0 || p.quantity.signum() == signed.signum() {
            p.average_price = (p.average_price * p.quantity.abs() + fill.price * fill.quantity)
                / new_quantity.abs();
        } else {
            let closed = signed.abs().min(p.quantity.abs());
            p.realised_pnl += closed * (fill.price - p.average_price) * p.quantity.signum();
            if new_quantity.abs() < crate::context::QUANTITY_EPSILON {
                p.average_price = 0.0;
            } else if new_quantity.signum() != p.quantity.signum() {
                p.average_price = fill.price;
            }
        }
        p.quantity = new_quantity;
    }

    /// Lines logged at `level` or above.
    pub fn logs_at_least(&self, level: LogLevel) -> Vec<&str> {
        self.logs
            .iter()
            .filter(|(l, _)| *l >= level)
            .map(|(_, m)| m.as_str())
            .collect()
    }
}

thread_local! {
    static HOST: RefCell<MockHost> = RefCell::new(MockHost::default());
}

/// Runs `f` on this thread's [`MockHost`].
pub fn with_host<R>(f: impl FnOnce(&mut MockHost) -> R) -> R {
    HOST.with_borrow_mut(f)
}

/// Replaces this thread's [`MockHost`] with an empty one.
pub fn reset_host() {
    with_host(|h| *h = MockHost::default())
}

/// Drives a strategy natively the way the host does, against the [`MockHost`].
pub struct Harness<S: Strategy> {
    runtime: Runtime<S>,
    time: TimestampMs,
}

impl<S: Strategy> Harness<S> {
    /// Resets the mock host, then `init`s a fresh instance with these settings.
    pub fn start(pairs: &[(&str, &str)]) -> Result<Self, String> {
        reset_host();
        let mut runtime = Runtime::<S>::new();
        runtime.init(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))?;
        Ok(Harness {
            runtime,
            time: 1_381_150_800_000,
        })
    }

    /// The id of `name`, as the host interns it.
    pub fn symbol(&mut self, name: &str) -> SymbolId {
        with_host(|h| h.intern(name))
    }

    /// Delivers one batch of events; returns the actions the strategy placed.
    pub fn events(&mut self, events: Vec<Event>) -> Vec<Action> {
        self.batch(EventBatch::from_events(events))
    }

    /// Delivers one batch exactly as given (trades by column, other events placed), calling
    /// again with the rest each time the strategy returns early, as the host does; returns
    /// every action placed.
    pub fn batch(&mut self, batch: EventBatch) -> Vec<Action> {
        let mut batch = batch;
        let mut actions = Vec::new();
        while !batch.is_empty() {
            let mut times = Vec::with_capacity(batch.len());
            batch.walk(|item| {
                let t = match item {
                    BatchItem::Trade(t) => t.time,
                    BatchItem::Other(e) => event_time(e),
                };
                self.time = self.time.max(t);
                times.push(self.time);
            });
            with_host(|h| {
                h.event_times = times;
                h.now = self.time;
            });
            let outcome = self.runtime.on_events(&batch);
            actions.extend(outcome.actions);
            // A strategy built on this SDK always makes progress; stop rather than spin.
            let consumed = (outcome.consumed as usize).max(1);
            batch = batch.rest(consumed);
        }
        with_host(|h| h.event_times.clear());
        actions
    }

    /// Delivers one trade per price, one second apart, as a single batch.
    pub fn trades(&mut self, symbol: SymbolId, prices: &[f64]) -> Vec<Action> {
        let start = self.time;
        let events = prices
            .iter()
            .enumerate()
            .map(|(i, &price)| {
                Event::Trade(Trade {
                    symbol,
                    price,
                    size: 100.0,
                    time: start + 1000 * (i as i64 + 1),
                })
            })
            .collect();
        self.events(events)
    }

    /// Fills every market order among `actions` at `price`: updates the mock position and
    /// delivers the fills to the strategy; returns what it placed in reaction.
    pub fn fill_market_orders(&mut self, actions: &[Action], price: f64) -> Vec<Action> {
        let fills: Vec<Event> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Place(o) if o.kind == OrderKind::Market => Some(Fill {
                    symbol: o.symbol,
                    side: o.side,
                    quantity: o.quantity,
                    price,
                    fee: 0.0,
                    time: self.time,
                    tag: o.tag,
                }),
                _ => None,
            })
            .inspect(|f| with_host(|h| h.apply_fill(f)))
            .map(Event::Fill)
            .collect();
        self.events(fills)
    }

    /// The strategy's value, to inspect its state.
    pub fn strategy(&self) -> &S {
        &self.runtime.strategy
    }

    /// The strategy's context (pending orders, in-flight quantities).
    pub fn context(&self) -> &crate::Context {
        &self.runtime.ctx
    }
}

fn event_time(e: &Event) -> TimestampMs {
    match e {
        Event::Trade(t) => t.time,
        Event::Bar(b) => b.end(),
        Event::Prediction(p) => p.time,
        Event::Fill(f) => f.time,
        Event::Rejected(r) => r.time,
    }
}
