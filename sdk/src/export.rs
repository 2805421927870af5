//! The glue behind [`export_strategy!`]: one strategy instance per component, its dispatch of
//! event batches to the hooks, and snapshot/restore chosen at compile time.
//!
//! # Snapshot/restore without code from the author
//! The macro expands, for the concrete strategy type `S`, to a method call on
//! `&&Probe::<S>`. Two traits offer that method: [`ViaSerde`], implemented for `&Probe<S>` when
//! `S: Serialize + DeserializeOwned`, and [`ViaNothing`], implemented for `Probe<S>` always.
//! Method lookup tries the receiver `&&Probe<S>` first, which only `ViaSerde` matches, so
//! serde wins when available and the empty snapshot is the fallback ("autoref
//! specialisation"; it works because the type is concrete at the call site).
//!
//! The snapshot is MessagePack with named fields (`rmp_serde::to_vec_named`) of
//! `{ sdk: <order bookkeeping>, strategy: <the value> }`, so a new version that adds fields
//! with `#[serde(default)]` still reads an old snapshot.

use crate::config::Config;
use crate::context::{Context, OrderBook};
use crate::strategy::{Info, Strategy};
use crate::types::{BatchOutcome, Event, EventBatch, LogLevel, StrategyInfo};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// One strategy instance with its context and settings, as kept by the exported component.
pub struct Runtime<S: Strategy> {
    /// The author's value.
    pub strategy: S,
    /// Host calls and pending orders.
    pub ctx: Context,
    /// The settings given to `init`.
    pub config: Config,
    info: Info,
}

impl<S: Strategy> Default for Runtime<S> {
    fn default() -> Self {
        Runtime::new()
    }
}

impl<S: Strategy> Runtime<S> {
    /// A fresh instance made with `S::default()`, not started yet.
    pub fn new() -> Self {
        let info = S::info();
        let config = Config::from_pairs(&info, std::iter::empty::<(String, String)>());
        Runtime {
            strategy: S::default(),
            ctx: Context::new(),
            config,
            info,
        }
    }

    /// `describe`: the strategy's info as the WIT record.
    pub fn describe() -> StrategyInfo {
        S::info().to_wit()
    }

    /// `init`: builds the config (defaults filled in) and calls `start` on a fresh instance.
    pub fn init<K: Into<String>, V: Into<String>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), String> {
        self.config = Config::from_pairs(&self.info, pairs);
        for key in self.config.unknown_keys() {
            self.ctx.warn(&format!(
                "{}: ignoring setting `{key}`, which info() does not declare",
                self.info.name
            ));
        }
        self.strategy = S::default();
        self.strategy.start(&mut self.ctx, &self.config)
    }

    /// `on-events`: each event of the batch to its hook, in order, stopping after the first
    /// hook that placed an action (the host settles it and sends the rest); returns how many
    /// events were handled and the actions placed.
    pub fn on_events(&mut self, batch: &EventBatch) -> BatchOutcome {
        let (s, ctx) = (&mut self.strategy, &mut self.ctx);
        ctx.begin_call();
        let n = batch.trade_count();
        let others = batch.others();
        // The order of `EventBatch::walk`: each placed event after the trades it names, the
        // trades before it straight down the columns (most events are trades), all through
        // one loop that calls `on_trade`.
        let (mut done, mut index, mut next) = (0usize, 0usize, 0usize);
        let consumed = loop {
            let placed = others.get(next);
            let until = placed.map_or(n, |p| (p.after_trades as usize).clamp(done, n));
            if let Some(stop) = trades(s, ctx, batch, done..until, index) {
                break stop;
            }
            index += until - done;
            done = until;
            let Some(placed) = placed else {
                break index;
            };
            ctx.at = index as u32;
            dispatch(s, ctx, &placed.event);
            index += 1;
            next += 1;
            if ctx.has_actions() {
                break index;
            }
        };
        ctx.at = 0;
        BatchOutcome {
            consumed: consumed as u32,
            actions: ctx.take_actions(),
        }
    }
}

/// The trades `range` of the batch's columns to `on_trade`, the first being event `first` of
/// the batch; the number of events handled when one placed an action, else `None`.
#[inline(always)]
fn trades<S: Strategy>(
    s: &mut S,
    ctx: &mut Context,
    batch: &EventBatch,
    range: std::ops::Range<usize>,
    first: usize,
) -> Option<usize> {
    let c = &batch.trades;
    let (symbols, prices) = (&c.symbols[range.clone()], &c.prices[range.clone()]);
    let (sizes, times) = (&c.sizes[range.clone()], &c.times[range]);
    for (i, (((&symbol, &price), &size), &time)) in
        symbols.iter().zip(prices).zip(sizes).zip(times).enumerate()
    {
        ctx.at = (first + i) as u32;
        s.on_trade(
            ctx,
            &crate::types::Trade {
                symbol,
                price,
                size,
                time,
            },
        );
        if ctx.has_actions() {
            return Some(first + i + 1);
        }
    }
    None
}

/// One event to its hook; fills and rejections update the order bookkeeping first.
fn dispatch<S: Strategy>(s: &mut S, ctx: &mut Context, event: &Event) {
    match event {
        Event::Trade(t) => s.on_trade(ctx, t),
        Event::Bar(b) => s.on_bar(ctx, b),
        Event::Prediction(p) => s.on_prediction(ctx, p),
        Event::Fill(f) => {
            ctx.record_fill(f);
            s.on_fill(ctx, f)
        }
        Event::Rejected(r) => {
            ctx.record_rejection(r);
            s.on_rejected(ctx, r)
        }
    }
}

/// The envelope written by `snapshot` (borrowed form).
#[derive(Serialize)]
struct SavedRef<'a, S> {
    sdk: &'a OrderBook,
    strategy: &'a S,
}

/// The envelope read by `restore` (owned form).
#[derive(serde::Deserialize)]
struct Saved<S> {
    #[serde(default)]
    sdk: OrderBook,
    strategy: S,
}

/// A zero-sized marker whose method resolution picks the snapshot implementation for `S`.
pub struct Probe<S>(PhantomData<S>);

impl<S> Probe<S> {
    /// The marker for `S`.
    pub fn new() -> Self {
        Probe(PhantomData)
    }
}

impl<S> Default for Probe<S> {
    fn default() -> Self {
        Probe::new()
    }
}

/// Snapshot/restore through rmp-serde, chosen when the strategy is `Serialize + DeserializeOwned`.
pub trait ViaSerde<S: Strategy> {
    /// The state as MessagePack bytes (empty, with an error logged, if it cannot be encoded).
    fn snapshot(&self, rt: &Runtime<S>) -> Vec<u8>;
    /// Replaces the state with a decoded snapshot, then calls `on_restore`.
    fn restore(&self, rt: &mut Runtime<S>, bytes: &[u8]) -> Result<(), String>;
}

impl<S: Strategy + Serialize + DeserializeOwned> ViaSerde<S> for &Probe<S> {
    fn snapshot(&self, rt: &Runtime<S>) -> Vec<u8> {
        let saved = SavedRef {
            sdk: &rt.ctx.book,
            strategy: &rt.strategy,
        };
        match rmp_serde::to_vec_named(&saved) {
            Ok(bytes) => bytes,
            Err(e) => {
                rt.ctx.log(
                    LogLevel::Error,
                    &format!(
                        "{}: cannot encode the state for a snapshot: {e}",
                        rt.info.name
                    ),
                );
                Vec::new()
            }
        }
    }

    fn restore(&self, rt: &mut Runtime<S>, bytes: &[u8]) -> Result<(), String> {
        if bytes.is_empty() {
            // Nothing saved (first start, or the old version kept no state): keep init's state.
            return Ok(());
        }
        let saved: Saved<S> = rmp_serde::from_slice(bytes).map_err(|e| {
            format!(
                "{}: the snapshot does not decode into this version's state ({e}); give new \
                 fields #[serde(default)], or remove the saved state to start afresh",
                rt.info.name
            )
        })?;
        rt.strategy = saved.strategy;
        rt.ctx.book = saved.sdk;
        rt.strategy.on_restore(&mut rt.ctx, &rt.config)
    }
}

/// The fallback for strategies without serde: an empty snapshot, and restore keeps init's state.
pub trait ViaNothing<S: Strategy> {
    /// Always empty.
    fn snapshot(&self, rt: &Runtime<S>) -> Vec<u8>;
    /// Ignores the bytes (logging when there were some) and calls `on_restore`.
    fn restore(&self, rt: &mut Runtime<S>, bytes: &[u8]) -> Result<(), String>;
}

impl<S: Strategy> ViaNothing<S> for Probe<S> {
    fn snapshot(&self, _rt: &Runtime<S>) -> Vec<u8> {
        Vec::new()
    }

    fn restore(&self, rt: &mut Runtime<S>, bytes: &[u8]) -> Result<(), String> {
        if !bytes.is_empty() {
            rt.ctx.log(
                LogLevel::Info,
                &format!(
                    "{}: ignoring a {}-byte snapshot: this version keeps no state (derive \
                     Serialize and Deserialize to keep it across reloads)",
                    rt.info.name,
                    bytes.len()
                ),
            );
        }
        rt.strategy.on_restore(&mut rt.ctx, &rt.config)
    }
}

/// Exports a [`Strategy`] type as the component's `strategy` interface.
///
/// Use it once, at the root of a `cdylib` crate built for `wasm32-wasip2`:
/// `export_strategy!(MyStrategy);`. It keeps one instance in a thread-local, dispatches each
/// batch of events to the hooks in order and returns the orders placed. If the type is
/// `Serialize + DeserializeOwned`, snapshot/restore save and reload it (MessagePack); otherwise
/// the snapshot is empty and a reloaded strategy starts from `init`.
#[macro_export]
macro_rules! export_strategy {
    ($strategy:ty) => {
        const _: () = {
            use $crate::__private::{Probe, Runtime, ViaNothing as _, ViaSerde as _};
            use $crate::bindings::exports::tradehost::strategy::strategy::Guest;
            use $crate::bindings::tradehost::strategy::types as wit;

            ::std::thread_local! {
                #[allow(dead_code)]
                static RUNTIME: ::core::cell::RefCell<Runtime<$strategy>> =
                    ::core::cell::RefCell::new(Runtime::new());
            }

            #[allow(dead_code)]
            struct TradehostStrategyExport;

            #[allow(clippy::needless_borrow)] // `&&Probe` selects the snapshot implementation.
            impl Guest for TradehostStrategyExport {
                fn describe() -> wit::StrategyInfo {
                    Runtime::<$strategy>::describe()
                }

                fn init(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    RUNTIME.with_borrow_mut(|rt| rt.init(config))
                }

                fn on_events(batch: wit::EventBatch) -> wit::BatchOutcome {
                    RUNTIME.with_borrow_mut(|rt| rt.on_events(&batch))
                }

                fn snapshot() -> ::std::vec::Vec<u8> {
                    RUNTIME.with_borrow(|rt| (&&Probe::<$strategy>::new()).snapshot(rt))
                }

                fn restore(
                    state: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    RUNTIME.with_borrow_mut(|rt| (&&Probe::<$strategy>::new()).restore(rt, &state))
                }
            }

            // Only a component exports the functions: a native build (unit tests, doc tests,
            // `cargo test --workspace`) cannot link symbol names such as
            // `tradehost:strategy/strategy@0.2.0#describe`, but still type-checks the glue.
            #[cfg(target_arch = "wasm32")]
    $crate::bindings::export!(TradehostStrategyExport with_types_in $crate::bindings);
        };
    };
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // `&&Probe` is the point: it selects the implementation.
mod tests {
    use super::*;
    use crate::testing::{reset_host, with_host};
    use crate::types::{Fill, Side, Trade};
    use crate::{Config, Context, Info};
    use serde::Deserialize;

    /// Counts trades, buys on every second one; keeps a setting that `on_restore` re-reads.
    #[derive(Default, Serialize, Deserialize)]
    struct Counting {
        trades: u32,
        fills: u32,
        step: u32,
    }

    impl Strategy for Counting {
        fn info() -> Info {
            Info::new("counting", "1.0.0")
                .symbols(["SPY"])
                .parameter("step", 2, "orders every N")
        }
        fn start(&mut self, _ctx: &mut Context, config: &Config) -> Result<(), String> {
            self.step = config.get("step")?;
            Ok(())
        }
        fn on_restore(&mut self, _ctx: &mut Context, config: &Config) -> Result<(), String> {
            self.step = config.get("step")?;
            Ok(())
        }
        fn on_trade(&mut self, ctx: &mut Context, trade: &Trade) {
            self.trades += 1;
            if self.trades.is_multiple_of(self.step) {
                ctx.buy(trade.symbol, 1.0);
            }
        }
        fn on_fill(&mut self, _ctx: &mut Context, _fill: &Fill) {
            self.fills += 1;
        }
    }

    /// The same without serde.
    #[derive(Default)]
    struct Plain(u32);

    impl Strategy for Plain {
        fn info() -> Info {
            Info::new("plain", "1.0.0")
        }
        fn on_trade(&mut self, _ctx: &mut Context, _trade: &Trade) {
            self.0 += 1;
        }
    }

    fn trades(n: usize) -> EventBatch {
        EventBatch::from_events((0..n).map(|i| {
            Event::Trade(Trade {
                symbol: 0,
                price: 1.0,
                size: 1.0,
                time: i as i64,
            })
        }))
    }

    /// Every action of a batch, calling again with the rest after each early return as the
    /// host does.
    fn run_all<S: Strategy>(rt: &mut Runtime<S>, batch: EventBatch) -> Vec<crate::Action> {
        let mut batch = batch;
        let mut actions = Vec::new();
        while !batch.is_empty() {
            let outcome = rt.on_events(&batch);
            assert!(outcome.consumed >= 1, "no progress");
            actions.extend(outcome.actions);
            batch = batch.rest(outcome.consumed as usize);
        }
        actions
    }

    #[test]
    fn returns_after_the_first_event_that_placed_an_order() {
        reset_host();
        let mut rt = Runtime::<Counting>::new();
        rt.init([("step", "3")]).unwrap();
        let batch = trades(7);
        let first = rt.on_events(&batch);
        assert_eq!(first.consumed, 3, "stops at the 3rd trade");
        assert!(matches!(first.actions.as_slice(), [crate::Action::Place(o)] if o.tag == 1));
        let rest = batch.rest(3);
        assert_eq!(rest.trades.times, vec![3, 4, 5, 6]);
        let second = rt.on_events(&rest);
        assert_eq!(second.consumed, 3, "then at the 6th");
        let last = rt.on_events(&rest.rest(3));
        assert_eq!(
            (last.consumed, last.actions.len()),
            (1, 0),
            "the 7th places nothing"
        );
        let empty = rt.on_events(&EventBatch::new());
        assert_eq!((empty.consumed, empty.actions.len()), (0, 0));
    }

    #[test]
    fn dispatches_in_order_and_returns_the_batch_actions() {
        reset_host();
        let mut rt = Runtime::<Counting>::new();
        rt.init([("step", "3")]).unwrap();
        let actions = run_all(&mut rt, trades(7));
        let tags: Vec<u32> = actions
            .iter()
            .map(|a| match a {
                crate::Action::Place(o) => o.tag,
                crate::Action::Cancel(t) => *t,
            })
            .collect();
        assert_eq!(tags, vec![1, 2], "orders at the 3rd and 6th trade");
        assert!(
            run_all(&mut rt, EventBatch::new()).is_empty(),
            "actions are handed over once"
        );
    }

    #[test]
    fn events_placed_among_trades_count_in_order_and_stop_the_call_alike() {
        reset_host();
        let trade = |time| {
            Event::Trade(Trade {
                symbol: 0,
                price: 1.0,
                size: 1.0,
                time,
            })
        };
        let fill = |tag| {
            Event::Fill(Fill {
                symbol: 0,
                side: Side::Buy,
                quantity: 1.0,
                price: 1.0,
                fee: 0.0,
                time: 0,
                tag,
            })
        };
        // A fill first, one between trades and one after the last: walk order is
        // fill, t0, t1, fill, t2, t3, fill.
        let batch = EventBatch::from_events([
            fill(7),
            trade(0),
            trade(1),
            fill(8),
            trade(2),
            trade(3),
            fill(9),
        ]);
        let mut rt = Runtime::<Counting>::new();
        rt.init([("step", "3")]).unwrap();
        let first = rt.on_events(&batch);
        assert_eq!(
            first.consumed, 5,
            "stops at t2, the 3rd trade and 5th event"
        );
        assert_eq!((rt.strategy.trades, rt.strategy.fills), (3, 2));
        let second = rt.on_events(&batch.rest(5));
        assert_eq!((second.consumed, second.actions.len()), (2, 0));
        assert_eq!((rt.strategy.trades, rt.strategy.fills), (4, 3));

        // Without an order the whole batch is handled, placed events included.
        let mut rt = Runtime::<Counting>::new();
        rt.init([("step", "10")]).unwrap();
        let all = rt.on_events(&batch);
        assert_eq!((all.consumed, all.actions.len()), (7, 0));
        assert_eq!((rt.strategy.trades, rt.strategy.fills), (4, 3));
    }

    #[test]
    fn init_errors_and_unknown_keys_are_reported() {
        reset_host();
        let mut rt = Runtime::<Counting>::new();
        let err = rt.init([("step", "often")]).unwrap_err();
        assert!(err.contains("`step`"), "{err}");
        rt.init([("step", "2"), ("colour", "red")]).unwrap();
        let warned = with_host(|h| h.logs_at_least(LogLevel::Warn).join("\n"));
        assert!(warned.contains("`colour`"), "{warned}");
    }

    #[test]
    fn serde_strategies_carry_state_and_tags_across_restore() {
        reset_host();
        let mut old = Runtime::<Counting>::new();
        old.init([("step", "2")]).unwrap();
        run_all(&mut old, trades(5)); // orders with tags 1 and 2, both in flight
        let fill = Fill {
            symbol: 0,
            side: Side::Buy,
            quantity: 1.0,
            price: 1.0,
            fee: 0.0,
            time: 9,
            tag: 1,
        };
        run_all(&mut old, EventBatch::from_events([Event::Fill(fill)]));
        let bytes = (&&Probe::<Counting>::new()).snapshot(&old);
        assert!(!bytes.is_empty());

        let mut new = Runtime::<Counting>::new();
        new.init([("step", "1")]).unwrap();
        (&&Probe::<Counting>::new())
            .restore(&mut new, &bytes)
            .unwrap();
        assert_eq!((new.strategy.trades, new.strategy.fills), (5, 1));
        assert_eq!(new.strategy.step, 1, "on_restore applied the new settings");
        assert_eq!(new.ctx.in_flight(0), 1.0, "tag 2 is still on its way");
        let actions = run_all(&mut new, trades(1));
        assert!(
            matches!(actions.as_slice(), [crate::Action::Place(o)] if o.tag == 3),
            "{actions:?}"
        );
    }

    #[test]
    fn restore_of_empty_bytes_keeps_init_state_and_garbage_is_refused() {
        reset_host();
        let mut rt = Runtime::<Counting>::new();
        rt.init([("step", "2")]).unwrap();
        run_all(&mut rt, trades(3));
        (&&Probe::<Counting>::new()).restore(&mut rt, &[]).unwrap();
        assert_eq!(rt.strategy.trades, 3);
        let err = (&&Probe::<Counting>::new())
            .restore(&mut rt, &[0xc1, 0xff])
            .unwrap_err();
        assert!(
            err.contains("counting") && err.contains("snapshot"),
            "{err}"
        );
        assert_eq!(
            rt.strategy.trades, 3,
            "a failed restore leaves the state alone"
        );
    }

    #[test]
    fn strategies_without_serde_have_an_empty_snapshot() {
        reset_host();
        let mut rt = Runtime::<Plain>::new();
        rt.init(std::iter::empty::<(String, String)>()).unwrap();
        run_all(&mut rt, trades(4));
        assert!((&&Probe::<Plain>::new()).snapshot(&rt).is_empty());
        (&&Probe::<Plain>::new())
            .restore(&mut rt, b"old state")
            .unwrap();
        assert_eq!(rt.strategy.0, 4);
        let logged = with_host(|h| h.logs_at_least(LogLevel::Info).join("\n"));
        assert!(logged.contains("9-byte snapshot"), "{logged}");
    }
}
