//! The paper broker: accepts or refuses plugin orders, fills resting orders against the trade
//! stream, keeps positions and PnL, and journals every order, refusal, fill and cancellation
//! before returning it.
//!
//! It is a plain synchronous struct driven by the engine from one task or thread; it never
//! calls strategies and owns no channel or thread. Time only enters through `now_ms` and trade
//! times, so the same inputs give the same outputs and a byte-identical journal.

use super::book::{OrderBook, RestingOrder};
use super::config::BrokerConfig;
use super::error::BrokerError;
use super::journal::{CancelReason, Journal, JournalRecord, TornTail};
use super::ledger::{Ledger, PositionEntry, unrealised};
use super::risk::{self, OrderContext, RateWindow, RiskLimits};
use crate::types::{
    Fill, OrderRequest, PluginAction, Position, Rejection, Symbol, TimestampMs, Trade,
};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// What became of one action a plugin submitted (or of its orders on a kill switch).
#[derive(Debug, Clone, PartialEq)]
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

/// What [`PaperBroker::open`] rebuilt from the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryReport {
    /// The journal file.
    pub journal: PathBuf,
    /// The journal did not exist (or had only a torn header) and was created.
    pub created: bool,
    /// Valid records replayed.
    pub records: u64,
    /// Accepted orders among them.
    pub orders: u64,
    /// Fills among them.
    pub fills: u64,
    /// Refusals among them.
    pub rejections: u64,
    /// Cancellations among them.
    pub cancels: u64,
    /// Orders still resting after the replay (back in the book).
    pub resting_orders: usize,
    /// Non-flat positions after the replay.
    pub open_positions: usize,
    /// The torn tail that was cut off, if any.
    pub torn_tail: Option<TornTail>,
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "journal {}: {} records ({} orders, {} fills, {} refusals, {} cancels), {} resting orders, {} open positions",
            self.journal.display(),
            self.records,
            self.orders,
            self.fills,
            self.rejections,
            self.cancels,
            self.resting_orders,
            self.open_positions
        )?;
        if self.created {
            write!(f, ", new file")?;
        }
        if let Some(t) = &self.torn_tail {
            write!(f, "; torn tail: {t}")?;
        }
        Ok(())
    }
}

/// Counters and PnL over the whole journal, for metrics and the status API.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BrokerTotals {
    /// Realised PnL, fees included, over every plugin and symbol.
    pub realised_pnl: f64,
    /// Unrealised PnL at the last trade prices.
    pub unrealised_pnl: f64,
    /// Orders accepted.
    pub orders: u64,
    /// Fills.
    pub fills: u64,
    /// Orders refused.
    pub refusals: u64,
    /// Resting orders cancelled.
    pub cancels: u64,
    /// Orders resting now.
    pub resting_orders: usize,
    /// Journal writes that failed (since start).
    pub journal_errors: u64,
    /// Size of the journal in bytes.
    pub journal_bytes: u64,
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
    /// Trading halted.
    kill_switch: bool,
    /// Counters for metrics.
    totals: BrokerTotals,
}

impl PaperBroker {
    /// Opens (or creates) the journal and rebuilds positions, realised PnL and resting orders
    /// from it, cutting off a torn tail; see the report for what was found.
    pub fn open(config: BrokerConfig) -> Result<(PaperBroker, RecoveryReport), BrokerError> {
        let mut book = OrderBook::default();
        let mut ledger = Ledger::default();
        let mut totals = BrokerTotals::default();
        let mut next_order_id = 1;
        let (journal, scan) =
            Journal::open(&config.journal_path, config.fsync, |record| match record {
                JournalRecord::Order {
                    order_id,
                    plugin,
                    request,
                    time_ms,
                } => {
                    totals.orders += 1;
                    next_order_id = next_order_id.max(order_id + 1);
                    book.insert(resting(order_id, plugin, request, time_ms));
                }
                JournalRecord::Rejected { .. } => totals.refusals += 1,
                JournalRecord::Fill { fill } => {
                    totals.fills += 1;
                    next_order_id = next_order_id.max(fill.order_id + 1);
                    book.remove(fill.order_id);
                    ledger.apply(&fill);
                }
                JournalRecord::Cancel { order_id, .. } => {
                    totals.cancels += 1;
                    book.remove(order_id);
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
            torn_tail: scan.torn_tail.clone(),
        };
        match &report.torn_tail {
            Some(_) => tracing::warn!(target: "tradehost::broker", "recovered {report}"),
            None => tracing::info!(target: "tradehost::broker", "recovered {report}"),
        }
        let broker = PaperBroker {
            limits: RiskLimits::from_config(&config),
            kill_switch: config.kill_switch,
            config,
            journal,
            book,
            ledger,
            rates: HashMap::new(),
            next_order_id,
            totals,
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
        let plugin = self.intern(plugin);
        let mut out = Vec::with_capacity(actions.len());
        for action in actions {
            match action {
                PluginAction::Place(request) => out.push(self.place(&plugin, request, now_ms)),
                PluginAction::Cancel(tag) => {
                    let ids = self.book.ids_of(&plugin, Some(tag));
                    if ids.is_empty() {
                        out.push(BrokerOutcome::NothingToCancel {
                            plugin: plugin.clone(),
                            tag,
                        });
                    }
                    self.cancel(&ids, CancelReason::Requested, now_ms, &mut out);
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
        if !(trade.price.is_finite() && trade.price > 0.0) {
            return Vec::new();
        }
        let mut fills = Vec::new();
        let (journal, ledger, totals, config) = (
            &mut self.journal,
            &mut self.ledger,
            &mut self.totals,
            &self.config,
        );
        self.book
            .match_trade(&trade.symbol, trade.price, config.slippage_bps, |order, price| {
                let fill = Fill {
                    plugin: order.plugin.clone(),
                    order_id: order.order_id,
                    tag: order.tag,
                    symbol: order.symbol.clone(),
                    side: order.side,
                    quantity: order.quantity,
                    price,
                    fee: order.quantity * (price * config.fee_bps / 10_000.0 + config.fee_per_share),
                    time_ms: trade.time_ms,
                };
                if let Err(e) = journal.append(&JournalRecord::Fill { fill: fill.clone() }) {
                    // Not journaled, so not acknowledged: the order keeps resting and the next
                    // trade tries again. Stop this walk: the other fills would fail alike.
                    totals.journal_errors += 1;
                    tracing::error!(target: "tradehost::broker", "fill of order {} not recorded, order kept: {e}", order.order_id);
                    return None;
                }
                ledger.apply(&fill);
                totals.fills += 1;
                tracing::info!(
                    target: "tradehost::broker",
                    plugin = %fill.plugin, order_id = fill.order_id, tag = fill.tag, symbol = %fill.symbol,
                    side = ?fill.side, quantity = fill.quantity, price = fill.price, fee = fill.fee,
                    "paper fill"
                );
                fills.push(fill);
                Some(true)
            });
        fills
    }

    /// Halts (`true`) or resumes trading. Halting cancels every resting order (journaled)
    /// and returns those cancellations; while halted every new order is refused.
    pub fn set_kill_switch(&mut self, on: bool, now_ms: TimestampMs) -> Vec<BrokerOutcome> {
        let was = std::mem::replace(&mut self.kill_switch, on);
        let mut out = Vec::new();
        if on && !was {
            tracing::warn!(target: "tradehost::broker", "kill switch engaged: cancelling {} resting orders", self.book.len());
            let ids = self.book.all_ids();
            self.cancel(&ids, CancelReason::KillSwitch, now_ms, &mut out);
        } else if was && !on {
            tracing::warn!(target: "tradehost::broker", "kill switch released: trading resumes");
        }
        out
    }

    /// Cancels every resting order of `plugin` (for the engine, when it unloads a plugin).
    pub fn cancel_plugin_orders(
        &mut self,
        plugin: &str,
        now_ms: TimestampMs,
    ) -> Vec<BrokerOutcome> {
        let ids = self.book.ids_of(plugin, None);
        let mut out = Vec::new();
        self.cancel(&ids, CancelReason::PluginRemoved, now_ms, &mut out);
        out
    }

    /// Forces every journaled record to stable storage (call at shutdown).
    pub fn flush(&mut self) -> Result<(), BrokerError> {
        self.journal.flush()
    }

    /// True while trading is halted.
    pub fn kill_switch(&self) -> bool {
        self.kill_switch
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

    /// Every position ever opened, sorted by plugin then symbol.
    pub fn positions(&self) -> Vec<PositionEntry> {
        self.ledger.entries(|s| self.book.last_price(s))
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
    ) -> BrokerOutcome {
        let orders_in_window = self.rates.entry(plugin.clone()).or_default().count(now_ms);
        let ctx = OrderContext {
            kill_switch: self.kill_switch,
            last_price: self.book.last_price(&request.symbol),
            position: self.ledger.quantity(plugin, &request.symbol),
            resting_same_side: self
                .book
                .resting_quantity(plugin, &request.symbol, request.side),
            open_orders: self.book.open_orders(plugin),
            orders_in_window,
        };
        if let Err(reason) = risk::check(&self.limits, &request, &ctx) {
            return self.refuse(plugin, request, reason, now_ms);
        }
        let order_id = self.next_order_id;
        let record = JournalRecord::Order {
            order_id,
            plugin: plugin.clone(),
            request: request.clone(),
            time_ms: now_ms,
        };
        if let Err(e) = self.journal.append(&record) {
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
        self.book
            .insert(resting(order_id, plugin.clone(), request, now_ms));
        outcome
    }

    /// Journals and returns a refusal.
    fn refuse(
        &mut self,
        plugin: &Arc<str>,
        request: OrderRequest,
        reason: String,
        now_ms: TimestampMs,
    ) -> BrokerOutcome {
        let rejection = Rejection {
            plugin: plugin.clone(),
            tag: request.tag,
            symbol: request.symbol.clone(),
            reason,
            time_ms: now_ms,
        };
        tracing::warn!(target: "tradehost::broker", %plugin, tag = rejection.tag, symbol = %rejection.symbol, "order refused: {}", rejection.reason);
        self.totals.refusals += 1;
        let record = JournalRecord::Rejected {
            request,
            rejection: rejection.clone(),
        };
        if let Err(e) = self.journal.append(&record) {
            // A refusal changes no state; it is still returned so the plugin knows.
            self.totals.journal_errors += 1;
            tracing::error!(target: "tradehost::broker", "refusal for {plugin} not recorded: {e}");
        }
        BrokerOutcome::Rejected(rejection)
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

/// A resting order from an accepted request.
fn resting(
    order_id: u64,
    plugin: Arc<str>,
    request: OrderRequest,
    placed_ms: TimestampMs,
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::config::FsyncPolicy;
    use crate::types::{OrderKind, Side};
    use std::path::Path;

    const T0: TimestampMs = 1_381_152_600_000;

    fn config(dir: &Path) -> BrokerConfig {
        BrokerConfig {
            slippage_bps: 0.0,
            fee_bps: 0.0,
            journal_path: dir.join("journal/journal.bin"),
            fsync: FsyncPolicy::Never,
            ..BrokerConfig::default()
        }
    }

    fn open(config: &BrokerConfig) -> (PaperBroker, RecoveryReport) {
        PaperBroker::open(config.clone()).unwrap()
    }

    fn trade(symbol: &str, price: f64, time_ms: TimestampMs) -> Trade {
        Trade {
            symbol: symbol.into(),
            price,
            size: 100.0,
            time_ms,
        }
    }

    fn place(side: Side, symbol: &str, quantity: f64, kind: OrderKind, tag: u32) -> PluginAction {
        PluginAction::Place(OrderRequest {
            symbol: symbol.into(),
            side,
            quantity,
            kind,
            tag,
        })
    }

    fn market(side: Side, quantity: f64, tag: u32) -> PluginAction {
        place(side, "SPY", quantity, OrderKind::Market, tag)
    }

    fn accepted(outcomes: &[BrokerOutcome]) -> Vec<bool> {
        outcomes
            .iter()
            .map(|o| matches!(o, BrokerOutcome::Accepted { .. }))
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn orders_become_fills_in_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = BrokerConfig {
            slippage_bps: 10.0,
            fee_bps: 2.0,
            fee_per_share: 0.01,
            ..config(dir.path())
        };
        let (mut b, report) = open(&cfg);
        assert!(report.created && report.records == 0);
        assert!(b.on_trade(&trade("SPY", 100.0, T0)).is_empty());
        let out = b.submit("sma", vec![market(Side::Buy, 10.0, 7)], T0 + 1);
        assert_eq!(
            out,
            [BrokerOutcome::Accepted {
                plugin: "sma".into(),
                order_id: 1,
                tag: 7,
                symbol: "SPY".into()
            }]
        );
        // Journaled before it was returned: readable without a flush.
        let on_disk = Journal::read_all(&cfg.journal_path).unwrap().records;
        assert!(matches!(
            &on_disk[..],
            [JournalRecord::Order { order_id: 1, .. }]
        ));

        let fills = b.on_trade(&trade("SPY", 100.0, T0 + 2));
        assert_eq!(fills.len(), 1);
        let f = &fills[0];
        // 100 + 10 bps = 100.1; fee 10 × (100.1 × 2 bps + 0.01) = 0.3002.
        assert!(close(f.price, 100.1) && close(f.fee, 0.3002), "{f:?}");
        assert_eq!(
            (f.order_id, f.tag, f.quantity, f.time_ms, &*f.plugin),
            (1, 7, 10.0, T0 + 2, "sma")
        );
        let on_disk = Journal::read_all(&cfg.journal_path).unwrap().records;
        assert_eq!(
            on_disk.last(),
            Some(&JournalRecord::Fill { fill: f.clone() })
        );
        // Filled orders do not fill twice.
        assert!(b.on_trade(&trade("SPY", 100.0, T0 + 3)).is_empty());

        b.submit("sma", vec![market(Side::Sell, 15.0, 8)], T0 + 4);
        let f = b.on_trade(&trade("SPY", 110.0, T0 + 5)).remove(0);
        // 110 − 10 bps = 109.89; fee 15 × (109.89 × 2 bps + 0.01) = 0.47967.
        assert!(close(f.price, 109.89) && close(f.fee, 0.47967), "{f:?}");
        let p = b.position("sma", "SPY");
        // Flip: 10 closed at +9.79 each, minus both fees; 5 short opened at 109.89.
        assert!(close(p.realised_pnl, 97.9 - 0.3002 - 0.47967), "{p:?}");
        assert!(
            close(p.quantity, -5.0) && close(p.average_price, 109.89),
            "{p:?}"
        );
        assert!(close(p.unrealised_pnl, -5.0 * (110.0 - 109.89)), "{p:?}");
        let t = b.totals();
        assert_eq!(
            (t.orders, t.fills, t.refusals, t.resting_orders),
            (2, 2, 0, 0)
        );
        assert!(close(t.realised_pnl, p.realised_pnl) && close(t.unrealised_pnl, p.unrealised_pnl));
    }

    #[test]
    fn limit_orders_fill_only_through_their_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (mut b, _) = open(&BrokerConfig {
            slippage_bps: 10.0,
            ..config(dir.path())
        });
        b.on_trade(&trade("SPY", 100.0, T0));
        let out = b.submit(
            "mr",
            vec![
                place(Side::Buy, "SPY", 4.0, OrderKind::Limit(99.0), 1),
                place(Side::Sell, "SPY", 3.0, OrderKind::Limit(101.0), 2),
            ],
            T0,
        );
        assert_eq!(accepted(&out), [true, true]);
        for p in [100.0, 99.0, 101.0] {
            assert!(
                b.on_trade(&trade("SPY", p, T0 + 1)).is_empty(),
                "filled at {p}"
            );
        }
        let buy = b.on_trade(&trade("SPY", 98.5, T0 + 2));
        assert_eq!(buy.len(), 1);
        assert!(close(buy[0].price, 98.5 * 1.001), "{:?}", buy[0]);
        let sell = b.on_trade(&trade("SPY", 101.05, T0 + 3));
        // 101.05 − 10 bps is below the limit: capped at 101.
        assert!(close(sell[0].price, 101.0), "{:?}", sell[0]);
        // Other symbols do not fill SPY orders, and non-prices are ignored.
        assert!(b.on_trade(&trade("IBM", f64::NAN, T0)).is_empty());
        assert_eq!(b.last_price("IBM"), None);
    }

    #[test]
    fn nothing_is_allocated_when_a_trade_fills_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut b, _) = open(&config(dir.path()));
        b.on_trade(&trade("SPY", 100.0, T0));
        b.submit(
            "mr",
            vec![place(Side::Buy, "SPY", 1.0, OrderKind::Limit(90.0), 1)],
            T0,
        );
        for i in 0..100 {
            let fills = b.on_trade(&trade(
                "SPY",
                100.0 + f64::from(i) * 0.01,
                T0 + i64::from(i),
            ));
            assert_eq!(fills.capacity(), 0);
        }
    }

    #[test]
    fn risk_refusals_happen_at_the_configured_limits() {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::settings::Settings::from_pairs([
            ("RISK_MAX_POSITION", "100"),
            ("RISK_MAX_ORDER_QTY", "60"),
            ("RISK_MAX_ORDER_NOTIONAL", "3000"),
            ("JOURNAL_PATH", dir.path().join("j.bin").to_str().unwrap()),
        ]);
        let cfg = BrokerConfig::from_settings(&settings).unwrap();
        let (mut b, _) = open(&cfg);
        let out = b.submit("p", vec![market(Side::Buy, 1.0, 0)], T0);
        assert!(
            matches!(&out[0], BrokerOutcome::Rejected(r) if r.reason.contains("no trade seen yet in SPY"))
        );
        b.on_trade(&trade("SPY", 50.0, T0));
        let out = b.submit(
            "p",
            vec![
                market(Side::Buy, 60.5, 1),  // past the order size
                market(Side::Buy, 60.0, 2),  // at it; notional 3000 at the limit
                market(Side::Buy, 40.0, 3),  // resting 60 + 40 = the position limit
                market(Side::Buy, 0.5, 4),   // past it, counting resting orders
                market(Side::Sell, 60.0, 5), // selling is within limits
            ],
            T0 + 10,
        );
        assert_eq!(accepted(&out), [false, true, true, false, true]);
        b.on_trade(&trade("SPY", 50.0625, T0 + 20));
        let out = b.submit("q", vec![market(Side::Buy, 60.0, 6)], T0 + 20);
        assert!(
            matches!(&out[0], BrokerOutcome::Rejected(r) if r.reason.contains("RISK_MAX_ORDER_NOTIONAL")),
            "{out:?}"
        );
        // After the fills the position is 40: 60 more (resting included) is allowed, no more.
        let limit = |qty, tag| place(Side::Buy, "SPY", qty, OrderKind::Limit(50.0), tag);
        let out = b.submit(
            "p",
            vec![limit(59.5, 7), limit(0.5, 8), limit(0.25, 9)],
            T0 + 30,
        );
        assert_eq!(accepted(&out), [true, true, false]);
        assert!(
            matches!(&out[2], BrokerOutcome::Rejected(r) if r.reason.contains("RISK_MAX_POSITION")),
            "{out:?}"
        );
        assert_eq!(b.position("p", "SPY").quantity, 40.0);

        // Every refusal is in the journal with its reason.
        let journal = Journal::read_all(&cfg.journal_path).unwrap().records;
        let refused: Vec<u32> = journal
            .iter()
            .filter_map(|r| match r {
                JournalRecord::Rejected { rejection, .. } => Some(rejection.tag),
                _ => None,
            })
            .collect();
        assert_eq!(refused, [0, 1, 4, 6, 9]);
        assert_eq!(b.totals().refusals, 5);
    }

    #[test]
    fn order_rate_is_limited_per_plugin_per_second() {
        let dir = tempfile::tempdir().unwrap();
        let (mut b, _) = open(&BrokerConfig {
            max_orders_per_sec: 2,
            ..config(dir.path())
        });
        b.on_trade(&trade("SPY", 10.0, T0));
        // TC: (plugin, time offset, accepted?)
        let cases = [
            ("a", 0, true),
            ("a", 500, true),
            ("a", 999, false), // third within one second
            ("b", 999, true),  // other plugins have their own budget
            ("a", 1000, true), // the order at 0 has left the window
            ("a", 1001, false),
            ("a", 1500, true),
        ];
        for (i, (plugin, dt, want)) in cases.into_iter().enumerate() {
            let out = b.submit(
                plugin,
                vec![place(
                    Side::Buy,
                    "SPY",
                    1.0,
                    OrderKind::Limit(5.0),
                    i as u32,
                )],
                T0 + dt,
            );
            assert_eq!(accepted(&out), [want], "case {i}: {out:?}");
        }
    }

    #[test]
    fn the_kill_switch_cancels_resting_orders_and_refuses_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let (mut b, _) = open(&cfg);
        b.on_trade(&trade("SPY", 10.0, T0));
        b.submit("a", vec![market(Side::Buy, 1.0, 1)], T0);
        b.submit(
            "b",
            vec![place(Side::Sell, "SPY", 2.0, OrderKind::Limit(11.0), 2)],
            T0,
        );
        let cancelled = b.set_kill_switch(true, T0 + 1);
        let ids: Vec<_> = cancelled
            .iter()
            .map(|o| match o {
                BrokerOutcome::Cancelled {
                    order_id,
                    reason: CancelReason::KillSwitch,
                    ..
                } => *order_id,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, [1, 2]);
        assert!(b.on_trade(&trade("SPY", 12.0, T0 + 2)).is_empty());
        let out = b.submit("a", vec![market(Side::Buy, 1.0, 3)], T0 + 3);
        assert!(matches!(&out[0], BrokerOutcome::Rejected(r) if r.reason.contains("kill switch")));
        assert!(b.set_kill_switch(false, T0 + 4).is_empty());
        assert_eq!(
            accepted(&b.submit("a", vec![market(Side::Buy, 1.0, 4)], T0 + 5)),
            [true]
        );
        drop(b);

        // KILL_SWITCH=true starts halted.
        let (mut b, _) = open(&BrokerConfig {
            kill_switch: true,
            ..cfg
        });
        assert!(b.kill_switch());
        assert_eq!(
            accepted(&b.submit("a", vec![market(Side::Buy, 1.0, 5)], T0 + 6)),
            [false]
        );
    }

    #[test]
    fn cancel_removes_the_plugins_orders_with_that_tag() {
        let dir = tempfile::tempdir().unwrap();
        let (mut b, _) = open(&config(dir.path()));
        b.on_trade(&trade("SPY", 10.0, T0));
        let limit = |tag| place(Side::Buy, "SPY", 1.0, OrderKind::Limit(9.0), tag);
        b.submit("a", vec![limit(7), limit(8), limit(7)], T0);
        b.submit("b", vec![limit(7)], T0);
        let out = b.submit(
            "a",
            vec![PluginAction::Cancel(7), PluginAction::Cancel(7)],
            T0 + 1,
        );
        let ids: Vec<_> = out
            .iter()
            .map(|o| match o {
                BrokerOutcome::Cancelled { order_id, .. } => *order_id,
                BrokerOutcome::NothingToCancel { tag: 7, .. } => 0,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, [1, 3, 0]);
        let left: Vec<_> = b.open_orders("a").iter().map(|o| o.order_id).collect();
        assert_eq!(left, [2]);
        let fills: Vec<_> = b
            .on_trade(&trade("SPY", 8.0, T0 + 2))
            .iter()
            .map(|f| f.order_id)
            .collect();
        assert_eq!(fills, [2, 4]);
        assert_eq!(b.cancel_plugin_orders("a", T0 + 3), []);
    }

    /// A mixed session: two plugins, two symbols, fills, a flip, a resting order.
    fn session(b: &mut PaperBroker) {
        b.on_trade(&trade("SPY", 168.0, T0));
        b.on_trade(&trade("IBM", 185.0, T0));
        b.submit("sma", vec![market(Side::Buy, 10.0, 1)], T0 + 1);
        b.submit(
            "rsi",
            vec![place(Side::Sell, "IBM", 5.0, OrderKind::Market, 1)],
            T0 + 1,
        );
        b.on_trade(&trade("SPY", 168.5, T0 + 2));
        b.on_trade(&trade("IBM", 184.0, T0 + 2));
        b.submit("sma", vec![market(Side::Sell, 25.0, 2)], T0 + 3);
        b.submit(
            "rsi",
            vec![place(Side::Buy, "IBM", 2.0, OrderKind::Limit(180.0), 2)],
            T0 + 3,
        );
        b.submit(
            "rsi",
            vec![place(Side::Buy, "IBM", 9999.0, OrderKind::Market, 3)],
            T0 + 3,
        );
        b.on_trade(&trade("SPY", 169.25, T0 + 4));
        b.on_trade(&trade("IBM", 183.0, T0 + 4));
    }

    #[test]
    fn positions_are_rebuilt_from_the_journal_on_restart() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = BrokerConfig {
            slippage_bps: 1.0,
            fee_bps: 1.0,
            ..config(dir.path())
        };
        let (mut b, _) = open(&cfg);
        session(&mut b);
        let before = b.positions();
        let totals = b.totals();
        assert!(
            before
                .iter()
                .any(|e| e.position.quantity < 0.0 && e.position.realised_pnl != 0.0)
        );
        b.flush().unwrap();
        drop(b);

        let (mut b, report) = open(&cfg);
        assert_eq!((report.created, report.torn_tail.clone()), (false, None));
        assert_eq!(
            (
                report.orders,
                report.fills,
                report.rejections,
                report.resting_orders
            ),
            (4, 3, 1, 1)
        );
        // Last prices are market state: unrealised PnL returns with the next trades.
        let strip = |v: Vec<PositionEntry>| -> Vec<PositionEntry> {
            v.into_iter()
                .map(|mut e| {
                    e.position.unrealised_pnl = 0.0;
                    e
                })
                .collect()
        };
        assert_eq!(strip(b.positions()), strip(before.clone()));
        b.on_trade(&trade("SPY", 169.25, T0 + 5));
        b.on_trade(&trade("IBM", 183.0, T0 + 5));
        assert_eq!(b.positions(), before);
        let after = b.totals();
        assert_eq!(
            (after.orders, after.fills, after.refusals),
            (totals.orders, totals.fills, totals.refusals)
        );
        // The resting limit survived and fills; new orders get new ids.
        let fills = b.on_trade(&trade("IBM", 179.0, T0 + 6));
        assert_eq!(fills.iter().map(|f| f.tag).collect::<Vec<_>>(), [2]);
        let out = b.submit("sma", vec![market(Side::Buy, 1.0, 9)], T0 + 7);
        assert!(
            matches!(out[0], BrokerOutcome::Accepted { order_id: 5, .. }),
            "{out:?}"
        );
    }

    #[test]
    fn a_torn_last_fill_is_reported_and_its_order_rests_again() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let (mut b, _) = open(&cfg);
        b.on_trade(&trade("SPY", 10.0, T0));
        b.submit("a", vec![market(Side::Buy, 3.0, 1)], T0);
        b.on_trade(&trade("SPY", 10.0, T0 + 1));
        b.submit("a", vec![market(Side::Buy, 2.0, 2)], T0 + 1);
        b.on_trade(&trade("SPY", 11.0, T0 + 2));
        assert_eq!(b.position("a", "SPY").quantity, 5.0);
        drop(b);
        // The crash tore the last fill.
        let len = std::fs::metadata(&cfg.journal_path).unwrap().len();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&cfg.journal_path)
            .unwrap();
        file.set_len(len - 4).unwrap();
        drop(file);

        let (mut b, report) = open(&cfg);
        let torn = report.torn_tail.clone().expect("reported");
        assert!(
            torn.bytes_skipped > 4 && torn.offset + torn.bytes_skipped == len - 4,
            "{torn}"
        );
        assert!(report.to_string().contains("torn tail"), "{report}");
        assert_eq!((report.fills, report.resting_orders), (1, 1));
        assert_eq!(b.position("a", "SPY").quantity, 3.0);
        // The unacknowledged fill happens again on the next trade, and the journal is whole.
        assert_eq!(b.on_trade(&trade("SPY", 11.0, T0 + 3)).len(), 1);
        assert_eq!(b.position("a", "SPY").quantity, 5.0);
        assert_eq!(
            Journal::read_all(&cfg.journal_path).unwrap().torn_tail,
            None
        );
    }

    #[test]
    fn the_same_inputs_write_byte_identical_journals() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for name in ["a", "b"] {
            let cfg = BrokerConfig {
                slippage_bps: 1.0,
                fee_bps: 1.0,
                ..config(&dir.path().join(name))
            };
            let (mut b, _) = open(&cfg);
            session(&mut b);
            b.set_kill_switch(true, T0 + 9);
            drop(b);
            files.push(std::fs::read(&cfg.journal_path).unwrap());
        }
        assert!(files[0].len() > 200);
        assert_eq!(files[0], files[1]);
    }

    /// Hot-path cost of `on_trade`; run with `--ignored --nocapture` to measure.
    #[test]
    #[ignore]
    fn measure_on_trade() {
        let dir = tempfile::tempdir().unwrap();
        let (mut b, _) = open(&config(dir.path()));
        let symbols: Vec<Symbol> = ["SPY", "BAC", "AIG", "IBM"]
            .iter()
            .map(|s| Symbol::from(*s))
            .collect();
        for (i, s) in symbols.iter().enumerate() {
            b.on_trade(&Trade {
                symbol: s.clone(),
                price: 100.0,
                size: 1.0,
                time_ms: T0,
            });
            let orders = (0..10)
                .map(|k| place(Side::Buy, s, 1.0, OrderKind::Limit(50.0 + f64::from(k)), k))
                .collect();
            b.submit(&format!("p{i}"), orders, T0);
        }
        let n = 2_000_000;
        let mut trade = Trade {
            symbol: symbols[0].clone(),
            price: 100.0,
            size: 1.0,
            time_ms: T0,
        };
        let start = std::time::Instant::now();
        let mut filled = 0;
        for i in 0..n {
            trade.symbol = symbols[i % 4].clone();
            trade.price = 100.0 + (i % 7) as f64 * 0.01;
            filled += b.on_trade(&trade).len();
        }
        let ns = start.elapsed().as_nanos() as f64 / n as f64;
        println!("on_trade with 10 resting orders per symbol, none filling: {ns:.1} ns/trade");
        assert_eq!(filled, 0);
    }
}
