//! The paper broker: accepts or refuses plugin orders, fills resting orders against the trade
//! stream, keeps positions and PnL, and journals every order, refusal, fill and cancellation
//! before returning it.
//!
//! It is a plain synchronous struct driven by the engine from one task or thread; it never
//! calls strategies and owns no channel or thread. Time only enters through `now_ms` and trade
//! times, so the same inputs give the same outputs and a byte-identical journal.

use super::book::{OrderBook, RestingOrder, fill_price};
use super::config::BrokerConfig;
use super::error::BrokerError;
use super::journal::Journal;
use super::ledger::{Ledger, PositionEntry, unrealised};
use super::recent_trades::{PastTrade, RecentTrades};
use super::record::{CancelReason, JournalRecord};
use super::refusal_budget::RefusalBudget;
use super::refusal_log::RefusalLog;
use super::report::{BrokerTotals, KillSwitchState, RecoveryReport};
use super::risk::{self, OrderContext, RateWindow, RiskLimits};
use super::trade_point::TradePoint;
use crate::types::{
    Fill, OrderRequest, PluginAction, Position, Rejection, Symbol, TimestampMs, Trade,
};
use std::collections::HashMap;
use std::sync::Arc;

/// What became of one action a plugin submitted (or of its orders on a kill switch).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum BrokerOutcome {
    /// The order passed the risk checks, was journaled and rests until a trade fills it.
    Accepted {
        /// The plugin.
        plugin: Arc<str>,
        /// Broker-assigned id, found again in the fill.
        order_id: u64,
        /// The plugin's tag.
        tag: u32,
        /// The instrument.
        symbol: Symbol,
    },
    /// The order was refused; the reason names the limit.
    Rejected(Rejection),
    /// A resting order was cancelled (journaled).
    Cancelled {
        /// The plugin.
        plugin: Arc<str>,
        /// The order's id.
        order_id: u64,
        /// The plugin's tag.
        tag: u32,
        /// The instrument.
        symbol: Symbol,
        /// Why.
        reason: CancelReason,
    },
    /// A cancellation matched no resting order of the plugin (already filled or never placed).
    NothingToCancel {
        /// The plugin.
        plugin: Arc<str>,
        /// The tag it asked to cancel.
        tag: u32,
    },
}

impl BrokerOutcome {
    /// The refusal, when this outcome is one.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            BrokerOutcome::Rejected(r) => Some(r),
            _ => None,
        }
    }

    /// The plugin this outcome is for.
    pub fn plugin(&self) -> &Arc<str> {
        match self {
            BrokerOutcome::Accepted { plugin, .. }
            | BrokerOutcome::Cancelled { plugin, .. }
            | BrokerOutcome::NothingToCancel { plugin, .. } => plugin,
            BrokerOutcome::Rejected(r) => &r.plugin,
        }
    }
}

/// The paper broker.
#[derive(Debug)]
pub struct PaperBroker {
    /// Costs and limits.
    config: BrokerConfig,
    /// The limits, as the risk checks take them.
    limits: RiskLimits,
    /// Where every order, refusal, fill and cancellation goes first.
    journal: Journal,
    /// Resting orders and last prices.
    book: OrderBook,
    /// Positions and PnL.
    ledger: Ledger,
    /// Order-rate windows per plugin; its keys also intern plugin names.
    rates: HashMap<Arc<str>, RateWindow>,
    /// Id of the next accepted order.
    next_order_id: u64,
    /// Trading halted, since when and why.
    kill_switch: KillSwitchState,
    /// Counters for metrics.
    totals: BrokerTotals,
    /// Refusals per reason, so the log summarises repeats.
    refusal_log: RefusalLog,
    /// Journaled refusals per plugin per minute of market time.
    refusal_budget: RefusalBudget,
    /// The market stream position of the trades being processed (a broker host's; 0 off a
    /// stream).
    market_position: u64,
    /// The market stream position of the journal's latest order or fill that has one.
    journaled_position: u64,
    /// The point the next trade given to [`on_trade`](Self::on_trade) gets.
    next_point: TradePoint,
    /// The point of the last trade processed: orders without a cause are placed after it.
    last_point: TradePoint,
    /// The last trades processed, for orders that arrive after later trades.
    recent: RecentTrades,
    /// Fills of late orders made on arrival, for the caller to take.
    late_fills: Vec<Fill>,
    /// Orders later than the trades kept (see the module `recent_trades`).
    beyond_history: u64,
    /// Orders accepted into the journal's held group, with when (see
    /// [`hold_journal`](PaperBroker::hold_journal)).
    group_orders: Vec<(u64, TimestampMs)>,
    /// Orders taken back because their group could not be journaled, for the caller.
    taken_back: Vec<(u64, Rejection)>,
}

impl PaperBroker {
    /// Opens (or creates) the journal and rebuilds positions, realised PnL and resting orders
    /// from it, cutting off a torn tail; see the report for what was found.
    pub fn open(config: BrokerConfig) -> Result<(PaperBroker, RecoveryReport), BrokerError> {
        PaperBroker::open_with(config, |_| {})
    }

    /// Like [`open`](Self::open), and shows every replayed record to `observe` first: the
    /// bus's broker role rebuilds the orders it already handled from their origins.
    pub fn open_with(
        config: BrokerConfig,
        mut observe: impl FnMut(&JournalRecord),
    ) -> Result<(PaperBroker, RecoveryReport), BrokerError> {
        let mut book = OrderBook::default();
        let mut ledger = Ledger::default();
        let mut totals = BrokerTotals::default();
        let mut next_order_id = 1;
        let mut journaled_switch: Option<KillSwitchState> = None;
        let mut journaled_position = 0;
        let (journal, scan) = Journal::open(&config.journal_path, config.fsync, |record| {
            observe(&record);
            match record {
                JournalRecord::Order {
                    order_id,
                    plugin,
                    request,
                    time_ms,
                    market_position,
                    cause,
                    ..
                } => {
                    totals.orders += 1;
                    next_order_id = next_order_id.max(order_id + 1);
                    // An order journaled without a position (an operator's, on a broker
                    // host) was placed after the position recorded before it. The latest
                    // record wins, not the largest: after a recreated stream, positions
                    // start again from 1.
                    journaled_position = market_position.unwrap_or(journaled_position);
                    let after = journaled_position.max(cause.unwrap_or(0));
                    book.insert(resting(
                        order_id,
                        plugin,
                        request,
                        (time_ms, config.latency_ms),
                        TradePoint::after_message(after),
                    ));
                }
                JournalRecord::Rejected { .. } => totals.refusals += 1,
                JournalRecord::Fill {
                    fill,
                    market_position,
                } => {
                    journaled_position = market_position.unwrap_or(journaled_position);
                    totals.fills += 1;
                    next_order_id = next_order_id.max(fill.order_id + 1);
                    book.remove(fill.order_id);
                    ledger.apply(&fill);
                }
                JournalRecord::Cancel { order_id, .. } => {
                    totals.cancels += 1;
                    book.remove(order_id);
                }
                JournalRecord::KillSwitch {
                    engaged,
                    reason,
                    time_ms,
                } => {
                    journaled_switch = Some(KillSwitchState {
                        engaged,
                        reason,
                        since_ms: Some(time_ms),
                    })
                }
            }
        })?;
        let report = RecoveryReport {
            journal: config.journal_path.clone(),
            created: scan.created,
            records: scan.records,
            orders: totals.orders,
            fills: totals.fills,
            rejections: totals.refusals,
            cancels: totals.cancels,
            resting_orders: book.len(),
            open_positions: ledger
                .entries(|_| None)
                .iter()
                .filter(|e| e.position.quantity != 0.0)
                .count(),
            kill_switch: journaled_switch.clone(),
            torn_tail: scan.torn_tail.clone(),
        };
        match &report.torn_tail {
            Some(_) => tracing::warn!(target: "tradehost::broker", "recovered {report}"),
            None => tracing::info!(target: "tradehost::broker", "recovered {report}"),
        }
        // A halt recorded in the journal outlives restarts: only an explicit release ends it.
        let kill_switch = match journaled_switch {
            Some(k) if k.engaged => {
                tracing::warn!(target: "tradehost::broker", "kill switch {k}, recorded in the journal: trading stays halted until it is released (`tradehost kill-switch off`, or POST /api/kill-switch)");
                k
            }
            _ if config.kill_switch => KillSwitchState {
                engaged: true,
                reason: "KILL_SWITCH setting".into(),
                since_ms: None,
            },
            other => other.unwrap_or_default(),
        };
        let refusal_budget = RefusalBudget::new(config.max_refusals_per_min);
        let broker = PaperBroker {
            limits: RiskLimits::from_config(&config),
            kill_switch,
            config,
            journal,
            book,
            ledger,
            rates: HashMap::new(),
            next_order_id,
            totals,
            refusal_log: RefusalLog::default(),
            refusal_budget,
            market_position: 0,
            journaled_position,
            // Off a stream, trades count from 1: `START` is before them all.
            next_point: TradePoint::new(0, 1),
            last_point: TradePoint::START,
            recent: RecentTrades::default(),
            late_fills: Vec::new(),
            group_orders: Vec::new(),
            taken_back: Vec::new(),
            beyond_history: 0,
        };
        Ok((broker, report))
    }

    /// Runs a plugin's actions in order: each order is risk-checked, then journaled as accepted
    /// or refused; each cancellation removes (and journals) the plugin's resting orders with
    /// that tag. Returns one outcome per order and per cancelled order.
    pub fn submit(
        &mut self,
        plugin: &str,
        actions: Vec<PluginAction>,
        now_ms: TimestampMs,
    ) -> Vec<BrokerOutcome> {
        self.submit_inner(plugin, actions, now_ms, None, None)
    }

    /// Like [`submit`](Self::submit) for actions caused at trade `cause`: their orders fill
    /// only at trades after it, including trades the broker processed before they arrived
    /// (those fills are made at once; take them with [`take_late_fills`](Self::take_late_fills)).
    pub fn submit_caused(
        &mut self,
        plugin: &str,
        actions: Vec<PluginAction>,
        now_ms: TimestampMs,
        cause: TradePoint,
    ) -> Vec<BrokerOutcome> {
        self.submit_inner(plugin, actions, now_ms, None, Some(cause))
    }

    /// Keep the last `trades` trades processed (none by default), so that an order caused
    /// before them fills as of its cause: the live engine's plugins answer after the broker
    /// has gone on, a backtest's never do.
    pub fn keep_recent_trades(&mut self, trades: usize) {
        self.recent = RecentTrades::with_capacity(trades);
    }

    /// The point the next trade given to [`on_trade`](Self::on_trade) gets.
    pub fn next_point(&self) -> TradePoint {
        self.next_point
    }

    /// The point of the last trade processed.
    pub fn last_point(&self) -> TradePoint {
        self.last_point
    }

    /// The fills late orders got on arrival (journaled and applied already), for their
    /// plugins to hear of.
    pub fn take_late_fills(&mut self) -> Vec<Fill> {
        std::mem::take(&mut self.late_fills)
    }

    /// Journal the orders submitted from now on as one group: their records are written with
    /// one call and fsynced once, at [`release_journal`](Self::release_journal), instead of one
    /// each. Until then nothing may learn of them: the caller releases before it tells anyone
    /// (a plugin, the status API) about the orders. Late orders, cancellations and fills are
    /// journaled on their own, after the group so far.
    pub fn hold_journal(&mut self) {
        self.journal.hold();
    }

    /// Write the held group (see [`hold_journal`](Self::hold_journal)); returns the orders
    /// taken back because it could not be written, each with the refusal its plugin gets.
    pub fn release_journal(&mut self) -> Vec<(u64, Rejection)> {
        self.release_group();
        std::mem::take(&mut self.taken_back)
    }

    /// Writes the held group, if any; when that fails, its orders leave the book and are
    /// counted as refusals (its refusals stay refusals, unjournaled).
    fn release_group(&mut self) {
        if !self.journal.is_held() {
            return;
        }
        let orders = std::mem::take(&mut self.group_orders);
        let Err(e) = self.journal.release() else {
            return;
        };
        self.totals.journal_errors += 1;
        tracing::error!(target: "tradehost::broker", "a group of {} orders could not be journaled, so they were not placed: {e}", orders.len());
        for (order_id, time_ms) in orders {
            if let Some(order) = self.book.remove(order_id) {
                self.totals.orders -= 1;
                self.totals.refusals += 1;
                self.taken_back.push((
                    order_id,
                    Rejection {
                        plugin: order.plugin,
                        tag: order.tag,
                        symbol: order.symbol,
                        reason: format!(
                            "the order could not be journaled, so it was not placed: {e}"
                        ),
                        time_ms,
                    },
                ));
            }
        }
    }

    /// Runs `f` with the held group written first and journaling one record at a time, then
    /// holds again if the journal was held.
    fn outside_group<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let held = self.journal.is_held();
        self.release_group();
        let out = f(self);
        if held {
            self.journal.hold();
        }
        out
    }

    /// Orders that reached the broker after the trades it keeps (they filled from the oldest
    /// kept trade on).
    pub fn orders_beyond_history(&self) -> u64 {
        self.beyond_history
    }

    /// Like [`submit`](Self::submit) for one action that came over the message bus: `origin`,
    /// its bus order id, is journaled with the order or refusal it becomes, so a restarted
    /// broker knows it handled it ([`open_with`](Self::open_with)). `cause` is the trade its
    /// strategy host had handled when the plugin placed it: the order fills only at trades
    /// after it, as [`submit_caused`](Self::submit_caused).
    pub fn submit_from(
        &mut self,
        origin: &Arc<str>,
        cause: Option<TradePoint>,
        plugin: &str,
        action: PluginAction,
        now_ms: TimestampMs,
    ) -> Vec<BrokerOutcome> {
        self.submit_inner(plugin, vec![action], now_ms, Some(origin), cause)
    }

    /// The trades given to [`on_trade`](Self::on_trade) from now on are those of the message
    /// at market stream `position`, in order (a broker host's market task, before each
    /// message; at start-up, the position read before it starts).
    pub fn at_market_position(&mut self, position: u64) {
        self.market_position = position;
        self.next_point = TradePoint::new(position, 0);
        self.last_point = self.last_point.max(TradePoint::new(position, 0));
    }

    /// Forget the stream positions resting orders were placed after (the stream they refer
    /// to is gone): they fill at the next trades of their symbols.
    pub fn forget_market_positions(&mut self) {
        self.book.forget_positions();
        self.journaled_position = 0;
        self.market_position = 0;
        self.next_point = TradePoint::START;
        self.last_point = TradePoint::START;
    }

    /// The latest market stream position the journal holds (0 when none): a restarted broker
    /// host reads the stream again from there, and its resting orders meet the trades it
    /// missed while it was down.
    pub fn journaled_market_position(&self) -> u64 {
        self.journaled_position
    }

    /// `submit`, with the bus origin of the actions and their cause, if any.
    fn submit_inner(
        &mut self,
        plugin: &str,
        actions: Vec<PluginAction>,
        now_ms: TimestampMs,
        origin: Option<&Arc<str>>,
        cause: Option<TradePoint>,
    ) -> Vec<BrokerOutcome> {
        let plugin = self.intern(plugin);
        let mut out = Vec::with_capacity(actions.len());
        for action in actions {
            match action {
                PluginAction::Place(request) => {
                    out.push(self.place(&plugin, request, now_ms, origin, cause))
                }
                PluginAction::Cancel(tag) => {
                    let ids = self.book.ids_of(&plugin, Some(tag));
                    if ids.is_empty() {
                        out.push(BrokerOutcome::NothingToCancel {
                            plugin: plugin.clone(),
                            tag,
                        });
                    }
                    self.outside_group(|b| {
                        b.cancel(&ids, CancelReason::Requested, now_ms, &mut out)
                    });
                }
            }
        }
        out
    }

    /// Records a trade's price and fills the resting orders of its symbol that it reaches,
    /// journaling each fill before applying it to the position and returning it.
    ///
    /// Does not allocate when nothing fills. A trade with a non-finite or non-positive price
    /// is ignored.
    pub fn on_trade(&mut self, trade: &Trade) -> Vec<Fill> {
        // Every trade takes a point, as the strategy hosts count them.
        self.release_group();
        let point = self.next_point;
        self.next_point = point.plus(1);
        self.last_point = point;
        if !(trade.price.is_finite() && trade.price > 0.0) {
            return Vec::new();
        }
        self.recent.push(PastTrade {
            point,
            symbol: trade.symbol.clone(),
            price: trade.price,
            time_ms: trade.time_ms,
        });
        if self.journal.poisoned().is_some() {
            // Fills could not be journaled: keep prices current, fill nothing, log nothing more.
            self.book.record_price(&trade.symbol, trade.price);
            return Vec::new();
        }
        let mut fills = Vec::new();
        let position = self.market_position;
        let (book, mut sink) = self.book_and_sink();
        let mut journaled = false;
        book.match_trade(
            &trade.symbol,
            trade.price,
            (trade.time_ms, point),
            sink.config.slippage_bps,
            |order, price| {
                let fill = sink.record(order, price, trade.time_ms)?;
                journaled = true;
                fills.push(fill);
                Some(true)
            },
        );
        if journaled {
            self.journaled_position = position;
        }
        fills
    }

    /// Fills the just-accepted order `order_id`, caused at `cause` before the last trade
    /// processed, at the first kept trade after its cause that fills it (a late order fills
    /// as if it had been there in time); the fill goes to `late_fills`.
    fn catch_up(&mut self, order_id: u64, cause: TradePoint) {
        let Some(order) = self.book.get(order_id).cloned() else {
            return;
        };
        let (trades, complete) = self.recent.after(cause);
        if !complete {
            self.beyond_history += 1;
            if self.beyond_history.is_power_of_two() {
                tracing::warn!(target: "tradehost::broker", plugin = %order.plugin, "order {order_id} reached the broker after more than {} trades had passed since its cause; it fills from the oldest kept trade on ({} such orders so far)", super::recent_trades::KEPT_TRADES, self.beyond_history);
            }
        }
        let slippage = self.config.slippage_bps;
        let Some((price, time_ms)) = trades
            .filter(|t| t.symbol == order.symbol && order.may_fill_at(t.time_ms, t.point))
            .find_map(|t| {
                Some((
                    fill_price(order.side, order.kind, t.price, slippage)?,
                    t.time_ms,
                ))
            })
        else {
            return;
        };
        let position = self.market_position;
        let (book, mut sink) = self.book_and_sink();
        if let Some(fill) = sink.record(&order, price, time_ms) {
            book.remove(order_id);
            if position > 0 {
                self.journaled_position = position;
            }
            self.late_fills.push(fill);
        }
    }

    /// The book, and where its fills go, borrowed apart.
    fn book_and_sink(&mut self) -> (&mut OrderBook, FillSink<'_>) {
        let position = self.market_position;
        let sink = FillSink {
            journal: &mut self.journal,
            ledger: &mut self.ledger,
            totals: &mut self.totals,
            config: &self.config,
            market_position: (position > 0).then_some(position),
        };
        (&mut self.book, sink)
    }

    /// Records a fill made by another broker (a strategy host's copy of its plugins' fills,
    /// from the bus): journaled, then applied to the position. The caller drops repeats; a
    /// fill with a non-finite or non-positive quantity or price is refused unrecorded.
    pub fn mirror_fill(&mut self, fill: &Fill) -> Result<bool, BrokerError> {
        let sane = |v: f64| v.is_finite() && v > 0.0;
        if !(sane(fill.quantity) && sane(fill.price) && fill.fee.is_finite()) {
            return Ok(false);
        }
        self.release_group();
        self.journal.append(&JournalRecord::Fill {
            fill: fill.clone(),
            market_position: None,
        })?;
        self.book.record_price(&fill.symbol, fill.price);
        self.ledger.apply(fill);
        self.totals.fills += 1;
        Ok(true)
    }

    /// Halts (`engaged`) or resumes trading, and journals the change with `reason`.
    ///
    /// Halting cancels every resting order (journaled) and returns those cancellations; while
    /// halted every new order is refused. Halting takes effect even when the journal cannot
    /// record it (halting is always safe; the error then says it will not survive a restart);
    /// resuming happens only once it is journaled. Asking for the current state changes nothing.
    pub fn set_kill_switch(
        &mut self,
        engaged: bool,
        reason: &str,
        now_ms: TimestampMs,
    ) -> Result<Vec<BrokerOutcome>, BrokerError> {
        if engaged == self.kill_switch.engaged {
            return Ok(Vec::new());
        }
        self.release_group();
        let record = JournalRecord::KillSwitch {
            engaged,
            reason: reason.to_string(),
            time_ms: now_ms,
        };
        let mut out = Vec::new();
        if !engaged {
            self.journal.append(&record).inspect_err(|_| {
                self.totals.journal_errors += 1;
            })?;
            self.kill_switch = KillSwitchState {
                engaged,
                reason: reason.to_string(),
                since_ms: Some(now_ms),
            };
            tracing::warn!(target: "tradehost::broker", "kill switch released ({reason}): trading resumes");
            return Ok(out);
        }
        self.kill_switch = KillSwitchState {
            engaged,
            reason: reason.to_string(),
            since_ms: Some(now_ms),
        };
        tracing::warn!(target: "tradehost::broker", "kill switch engaged ({reason}): cancelling {} resting orders", self.book.len());
        let journaled = self.journal.append(&record);
        if journaled.is_err() {
            self.totals.journal_errors += 1;
        }
        let ids = self.book.all_ids();
        self.cancel(&ids, CancelReason::KillSwitch, now_ms, &mut out);
        journaled.map(|()| out)
    }

    /// Cancels (journaled, with `reason`) every resting order of `plugin`.
    pub fn cancel_orders_of(
        &mut self,
        plugin: &str,
        reason: CancelReason,
        now_ms: TimestampMs,
    ) -> Vec<BrokerOutcome> {
        let ids = self.book.ids_of(plugin, None);
        let mut out = Vec::new();
        self.cancel(&ids, reason, now_ms, &mut out);
        out
    }

    /// Cancels (journaled) the resting orders of every plugin for which `managed` is false:
    /// the engine's sweep for plugins that were unloaded or quarantined, whose orders would
    /// otherwise fill with nobody watching them.
    pub fn cancel_unmanaged_orders(
        &mut self,
        managed: impl Fn(&str) -> bool,
        now_ms: TimestampMs,
    ) -> Vec<BrokerOutcome> {
        let ids: Vec<u64> = self
            .book
            .all_ids()
            .into_iter()
            .filter(|id| self.book.get(*id).is_some_and(|o| !managed(&o.plugin)))
            .collect();
        let mut out = Vec::new();
        if !ids.is_empty() {
            tracing::warn!(target: "tradehost::broker", "cancelling {} resting orders of plugins that are no longer running", ids.len());
            self.cancel(&ids, CancelReason::PluginRemoved, now_ms, &mut out);
        }
        out
    }

    /// Forces every journaled record to stable storage (call at shutdown).
    pub fn flush(&mut self) -> Result<(), BrokerError> {
        self.release_group();
        self.journal.flush()
    }

    /// True while trading is halted.
    pub fn kill_switch(&self) -> bool {
        self.kill_switch.engaged
    }

    /// Whether trading is halted, since when and why.
    pub fn kill_switch_state(&self) -> &KillSwitchState {
        &self.kill_switch
    }

    /// The last trade price seen for `symbol` (none after a restart until a trade arrives).
    pub fn last_price(&self, symbol: &str) -> Option<f64> {
        self.book.last_price(symbol)
    }

    /// `plugin`'s position in `symbol`, unrealised PnL at the last trade price (flat if none).
    pub fn position(&self, plugin: &str, symbol: &str) -> Position {
        self.ledger
            .get(plugin, symbol)
            .map(|p| Position {
                unrealised_pnl: unrealised(p, self.book.last_price(symbol)),
                ..p.clone()
            })
            .unwrap_or_default()
    }

    /// Every plugin's positions by symbol, unrealised PnL left at zero (for snapshots).
    pub fn position_map(&self) -> HashMap<Arc<str>, Arc<crate::types::SymbolMap<Position>>> {
        self.ledger.map()
    }

    /// One plugin's positions by symbol (unrealised PnL left at zero), if it ever had one.
    pub fn plugin_positions(&self, plugin: &str) -> Option<crate::types::SymbolMap<Position>> {
        self.ledger.plugin_map(plugin)
    }

    /// The last trade price of every symbol seen.
    pub fn last_prices(&self) -> crate::types::SymbolMap<f64> {
        self.book.last_prices()
    }

    /// Every position ever opened, sorted by plugin then symbol.
    pub fn positions(&self) -> Vec<PositionEntry> {
        self.ledger.entries(|s| self.book.last_price(s))
    }

    /// Each of `plugins`' equity at the last prices and whether it holds a position (see
    /// [`Ledger::equity_at`](super::ledger::Ledger::equity_at)), in order, into `out`; each
    /// symbol's last price is looked up once (a backtest samples every plugin each second).
    /// `slots` keeps each plugin's place in this broker's ledger between calls.
    pub fn equities_into(
        &self,
        plugins: &[String],
        slots: &mut Vec<Option<usize>>,
        out: &mut Vec<(f64, bool)>,
    ) {
        let prices: std::cell::RefCell<Vec<(Symbol, Option<f64>)>> = Default::default();
        let last_price = |symbol: &str| {
            if let Some((_, p)) = prices.borrow().iter().find(|(s, _)| &**s == symbol) {
                return *p;
            }
            let p = self.book.last_price(symbol);
            prices.borrow_mut().push((symbol.into(), p));
            p
        };
        // A plugin's place in the ledger never changes once it has one.
        slots.resize(plugins.len(), None);
        out.clear();
        for (plugin, slot) in plugins.iter().zip(slots.iter_mut()) {
            if slot.is_none() {
                *slot = self.ledger.slot(plugin);
            }
            out.push(match *slot {
                Some(s) => self.ledger.equity_at(s, last_price),
                None => (0.0, false),
            });
        }
    }

    /// The position in `trades` of the first trade that would fill one of `plugin`'s resting
    /// orders (nothing is filled); see [`OrderBook::first_fill`].
    pub fn first_fill<'t>(
        &self,
        plugin: &str,
        trades: impl IntoIterator<Item = (&'t Symbol, f64, TimestampMs)>,
    ) -> Option<usize> {
        self.book
            .first_fill(plugin, trades, self.config.slippage_bps)
    }

    /// `plugin`'s resting orders, by ascending id.
    pub fn open_orders(&self, plugin: &str) -> Vec<&RestingOrder> {
        self.book
            .ids_of(plugin, None)
            .into_iter()
            .filter_map(|id| self.book.get(id))
            .collect()
    }

    /// Counters and total PnL.
    pub fn totals(&self) -> BrokerTotals {
        let (realised, unrealised) = self.ledger.pnl(|s| self.book.last_price(s));
        BrokerTotals {
            realised_pnl: realised,
            unrealised_pnl: unrealised,
            resting_orders: self.book.len(),
            journal_bytes: self.journal.len(),
            ..self.totals.clone()
        }
    }

    /// Why the journal stopped accepting records, if it did: nothing can be placed, filled or
    /// cancelled until the cause is fixed and the daemon restarted.
    pub fn journal_failure(&self) -> Option<&str> {
        self.journal.poisoned()
    }

    /// The journal, to break it in tests.
    #[cfg(test)]
    pub(crate) fn journal_mut(&mut self) -> &mut Journal {
        &mut self.journal
    }

    /// The configuration the broker runs with.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The shared name of `plugin`, created on first use.
    fn intern(&mut self, plugin: &str) -> Arc<str> {
        match self.rates.get_key_value(plugin) {
            Some((name, _)) => name.clone(),
            None => {
                let name: Arc<str> = plugin.into();
                self.rates.insert(name.clone(), RateWindow::default());
                name
            }
        }
    }

    /// Checks, journals and books one order.
    fn place(
        &mut self,
        plugin: &Arc<str>,
        request: OrderRequest,
        now_ms: TimestampMs,
        origin: Option<&Arc<str>>,
        cause: Option<TradePoint>,
    ) -> BrokerOutcome {
        let read = self.market_position;
        // Placed after its cause, or, without one, after the last trade processed.
        let after = cause.unwrap_or(self.last_point);
        let late = after < self.last_point;
        // Its latency counts from its cause's market time, when that trade is kept.
        let placed_ms = cause.and_then(|c| self.recent.time_of(c)).unwrap_or(now_ms);
        // Journaled when later than what the broker had read: restarted, it is placed after it.
        let journaled_cause = cause.map(|c| c.position).filter(|&c| c > read);
        // A broker host's order: its positions are journaled (one process has none).
        let on_stream = read > 0 || journaled_cause.is_some();
        if let Err(reason) = risk::well_formed(&self.limits, &request) {
            return self.refuse_malformed(plugin, request, reason, now_ms);
        }
        let orders_in_window = self.rates.get_mut(&**plugin).map_or(0, |w| w.count(now_ms));
        let ctx = OrderContext {
            kill_switch: self.kill_switch.engaged,
            last_price: self.book.last_price(&request.symbol),
            position: self.ledger.quantity(plugin, &request.symbol),
            resting_same_side: self
                .book
                .resting_quantity(plugin, &request.symbol, request.side),
            open_orders: self.book.open_orders(plugin),
            orders_in_window,
        };
        if let Err(reason) = risk::check(&self.limits, &request, &ctx) {
            return self.refuse(plugin, request, reason, now_ms, origin);
        }
        let order_id = self.next_order_id;
        let record = JournalRecord::Order {
            order_id,
            plugin: plugin.clone(),
            request: request.clone(),
            time_ms: now_ms,
            origin: origin.cloned(),
            // Only beside an origin (see the record); an operator's order is recovered as
            // placed after the position journaled before it.
            market_position: origin.and(on_stream.then_some(read)),
            cause: journaled_cause,
        };
        // A late order fills on arrival, and its fill is journaled after it: it goes alone.
        let grouped = self.journal.is_held() && !late;
        let journaled = match grouped {
            true => self.journal.append_to_group(&record),
            false => self.outside_group(|b| b.journal.append(&record)),
        };
        if let Err(e) = journaled {
            self.totals.journal_errors += 1;
            self.totals.refusals += 1;
            tracing::error!(target: "tradehost::broker", "order of {plugin} not recorded, refused: {e}");
            return BrokerOutcome::Rejected(Rejection {
                plugin: plugin.clone(),
                tag: request.tag,
                symbol: request.symbol,
                reason: format!("the order could not be journaled, so it was not placed: {e}"),
                time_ms: now_ms,
            });
        }
        if grouped {
            self.group_orders.push((order_id, now_ms));
        }
        self.next_order_id += 1;
        self.totals.orders += 1;
        if let Some(window) = self.rates.get_mut(&**plugin) {
            window.record(now_ms);
        }
        let outcome = BrokerOutcome::Accepted {
            plugin: plugin.clone(),
            order_id,
            tag: request.tag,
            symbol: request.symbol.clone(),
        };
        tracing::debug!(target: "tradehost::broker", %plugin, order_id, tag = request.tag, symbol = %request.symbol, "order accepted");
        self.book.insert(resting(
            order_id,
            plugin.clone(),
            request,
            (placed_ms, self.config.latency_ms),
            after,
        ));
        if origin.is_some() && on_stream {
            self.journaled_position = read;
        }
        if late {
            self.outside_group(|b| b.catch_up(order_id, after));
        }
        outcome
    }

    /// Journals and returns a refusal.
    fn refuse(
        &mut self,
        plugin: &Arc<str>,
        request: OrderRequest,
        reason: String,
        now_ms: TimestampMs,
        origin: Option<&Arc<str>>,
    ) -> BrokerOutcome {
        let rejection = Rejection {
            plugin: plugin.clone(),
            tag: request.tag,
            symbol: request.symbol.clone(),
            reason,
            time_ms: now_ms,
        };
        if let Some(line) = self.refusal_log.record(plugin, &rejection.reason) {
            tracing::warn!(target: "tradehost::broker", %plugin, tag = rejection.tag, symbol = %rejection.symbol, "{line}");
        }
        self.totals.refusals += 1;
        // Orders from the bus are always journaled: a restarted broker rebuilds what it
        // answered from their origins, and must not answer one differently on redelivery.
        if origin.is_none() && !self.refusal_budget.journal(plugin, now_ms) {
            // Over the plugin's budget for this minute: told, counted, not journaled.
            self.totals.unjournaled_refusals += 1;
            return BrokerOutcome::Rejected(rejection);
        }
        let record = JournalRecord::Rejected {
            request,
            rejection: rejection.clone(),
            origin: origin.cloned(),
        };
        if let Err(e) = self.journal.append_to_group(&record) {
            // A refusal changes no state; it is still returned so the plugin knows.
            self.totals.journal_errors += 1;
            tracing::error!(target: "tradehost::broker", "refusal for {plugin} not recorded: {e}");
        }
        BrokerOutcome::Rejected(rejection)
    }

    /// Refuses a malformed order without a journal record (its values do not belong there);
    /// the plugin is told like any refusal, and the log summarises.
    fn refuse_malformed(
        &mut self,
        plugin: &Arc<str>,
        request: OrderRequest,
        reason: String,
        now_ms: TimestampMs,
    ) -> BrokerOutcome {
        if let Some(line) = self.refusal_log.record(plugin, &reason) {
            tracing::warn!(target: "tradehost::broker", %plugin, tag = request.tag, symbol = %request.symbol, "{line} (not journaled)");
        }
        self.totals.refusals += 1;
        self.totals.malformed += 1;
        BrokerOutcome::Rejected(Rejection {
            plugin: plugin.clone(),
            tag: request.tag,
            symbol: request.symbol,
            reason,
            time_ms: now_ms,
        })
    }

    /// Journals and removes the resting orders `ids`, pushing one outcome each.
    fn cancel(
        &mut self,
        ids: &[u64],
        reason: CancelReason,
        now_ms: TimestampMs,
        out: &mut Vec<BrokerOutcome>,
    ) {
        for &order_id in ids {
            let Some(o) = self.book.get(order_id) else {
                continue;
            };
            let (plugin, tag, symbol) = (o.plugin.clone(), o.tag, o.symbol.clone());
            let record = JournalRecord::Cancel {
                order_id,
                plugin: plugin.clone(),
                tag,
                symbol: symbol.clone(),
                reason,
                time_ms: now_ms,
            };
            if let Err(e) = self.journal.append(&record) {
                self.totals.journal_errors += 1;
                tracing::error!(target: "tradehost::broker", "cancel of order {order_id} not recorded, order kept: {e}");
                out.push(BrokerOutcome::Rejected(Rejection {
                    plugin,
                    tag,
                    symbol,
                    reason: format!("cancel of order {order_id} could not be journaled, the order still rests: {e}"),
                    time_ms: now_ms,
                }));
                continue;
            }
            self.book.remove(order_id);
            self.totals.cancels += 1;
            out.push(BrokerOutcome::Cancelled {
                plugin,
                order_id,
                tag,
                symbol,
                reason,
            });
        }
    }
}

/// A resting order from an accepted request, placed at `placed_ms` with the broker's
/// latency, after the trade at `after`.
fn resting(
    order_id: u64,
    plugin: Arc<str>,
    request: OrderRequest,
    (placed_ms, latency_ms): (TimestampMs, TimestampMs),
    after: TradePoint,
) -> RestingOrder {
    RestingOrder {
        order_id,
        plugin,
        tag: request.tag,
        symbol: request.symbol,
        side: request.side,
        quantity: request.quantity,
        kind: request.kind,
        placed_ms,
        active_ms: placed_ms.saturating_add(latency_ms),
        after,
    }
}

/// Where a fill goes: the journal first, then the position; the parts of the broker a fill
/// touches, borrowed apart from the book that is being walked.
struct FillSink<'a> {
    journal: &'a mut Journal,
    ledger: &'a mut Ledger,
    totals: &'a mut BrokerTotals,
    config: &'a BrokerConfig,
    /// The stream position journaled with the fill (a broker host's).
    market_position: Option<u64>,
}

impl FillSink<'_> {
    /// Journals and applies the fill of `order` at `price` and market time `time_ms`; `None`
    /// (the order kept, the error counted and logged) when the journal refused it.
    fn record(&mut self, order: &RestingOrder, price: f64, time_ms: TimestampMs) -> Option<Fill> {
        let config = self.config;
        let fill = Fill {
            plugin: order.plugin.clone(),
            order_id: order.order_id,
            tag: order.tag,
            symbol: order.symbol.clone(),
            side: order.side,
            quantity: order.quantity,
            price,
            fee: order.quantity * (price * config.fee_bps / 10_000.0 + config.fee_per_share),
            time_ms,
        };
        let record = JournalRecord::Fill {
            fill: fill.clone(),
            market_position: self.market_position,
        };
        if let Err(e) = self.journal.append(&record) {
            // Not journaled, so not acknowledged: the order keeps resting and the next
            // trade tries again.
            self.totals.journal_errors += 1;
            tracing::error!(target: "tradehost::broker", "fill of order {} not recorded, order kept: {e}", order.order_id);
            return None;
        }
        self.ledger.apply(&fill);
        self.totals.fills += 1;
        tracing::info!(
            target: "tradehost::broker",
            plugin = %fill.plugin, order_id = fill.order_id, tag = fill.tag, symbol = %fill.symbol,
            side = ?fill.side, quantity = fill.quantity, price = fill.price, fee = fill.fee,
            "paper fill"
        );
        Some(fill)
    }
}
