//! What the engine publishes for those who must never wait on it: the plugins' host imports,
//! the status API and the dashboard.
//!
//! The engine thread owns market and broker state outright. When a step has changed what
//! others may read (positions after fills, bars at a bar close, forecasts), it publishes a new
//! immutable [`EngineSnapshot`]; readers load the latest one without a lock (arc-swap), so a
//! plugin's `position-of` never waits on the broker's journal. Publishing is cheap: the parts
//! are behind `Arc`s and only changed parts are rebuilt, and bar histories are persistent
//! vectors (imbl) that share their storage between snapshots.

use crate::broker::PaperBroker;
use crate::plugins::MarketView;
use crate::plugins::view::wall_clock_ms;
use crate::types::{Bar, Position, Prediction, SymbolMap, TimestampMs, Trade};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Completed bars of one symbol, per period, oldest first.
pub type BarHistories = Vec<(u32, imbl::Vector<Bar>)>;

/// A consistent, read-only view of the engine's state.
#[derive(Debug, Clone, Default)]
pub struct EngineSnapshot {
    /// Positions per plugin and symbol (unrealised PnL at `last_prices`).
    pub positions: Arc<HashMap<Arc<str>, Arc<SymbolMap<Position>>>>,
    /// Last trade price per symbol, as the broker has seen them.
    pub last_prices: Arc<SymbolMap<f64>>,
    /// Time of the last trade per symbol (live runs; a backtest leaves it empty).
    pub last_trade_ms: Arc<SymbolMap<TimestampMs>>,
    /// Completed bars per symbol and period.
    pub bars: Arc<SymbolMap<BarHistories>>,
    /// The latest forecast per symbol.
    pub predictions: Arc<SymbolMap<Prediction>>,
    /// The host's own bar period (what period 0 means in `recent-bars`).
    pub host_period: u32,
}

impl EngineSnapshot {
    /// `plugin`'s position in `symbol`, unrealised PnL at the last price (flat if none).
    pub fn position(&self, plugin: &str, symbol: &str) -> Position {
        let Some(p) = self.positions.get(plugin).and_then(|s| s.get(symbol)) else {
            return Position::default();
        };
        Position {
            unrealised_pnl: p.unrealised_at(self.last_prices.get(symbol).copied()),
            ..p.clone()
        }
    }

    /// How many completed bars of the host's own period `symbol` has.
    pub fn bar_count(&self, symbol: &str) -> usize {
        self.history(symbol, 0).map_or(0, imbl::Vector::len)
    }

    /// The bars of `symbol` and `period_secs` (0: the host's own period), if any.
    fn history(&self, symbol: &str, period_secs: u32) -> Option<&imbl::Vector<Bar>> {
        let period_secs = if period_secs == 0 {
            self.host_period
        } else {
            period_secs
        };
        self.bars
            .get(symbol)?
            .iter()
            .find(|(p, _)| *p == period_secs)
            .map(|(_, bars)| bars)
    }

    /// Up to `count` most recent bars of `symbol` and `period_secs`, oldest first.
    pub fn recent_bars(&self, symbol: &str, period_secs: u32, count: usize) -> Vec<Bar> {
        let Some(bars) = self.history(symbol, period_secs) else {
            return Vec::new();
        };
        let skip = bars.len().saturating_sub(count);
        bars.iter().skip(skip).cloned().collect()
    }
}

/// Where "now" comes from.
#[derive(Debug, Clone)]
pub enum Clock {
    /// The system clock (live and demo).
    Wall,
    /// Market time: the time of the last event processed (replay and backtest).
    Market(Arc<AtomicI64>),
}

impl Clock {
    /// Market time starting at `t`.
    pub fn market(t: TimestampMs) -> Clock {
        Clock::Market(Arc::new(AtomicI64::new(t)))
    }

    /// The current time in milliseconds.
    pub fn now_ms(&self) -> TimestampMs {
        match self {
            Clock::Wall => wall_clock_ms(),
            Clock::Market(t) => t.load(Ordering::Relaxed),
        }
    }

    /// Advance market time (no-op for the wall clock).
    pub fn advance_to(&self, t: TimestampMs) {
        if let Clock::Market(now) = self {
            now.fetch_max(t, Ordering::Relaxed);
        }
    }
}

/// The engine's side: builds snapshots and publishes them.
#[derive(Debug)]
pub struct SnapshotWriter {
    cell: Arc<ArcSwap<EngineSnapshot>>,
    next: EngineSnapshot,
    /// Bars kept per symbol and period.
    capacity: usize,
    dirty: bool,
}

impl SnapshotWriter {
    /// A writer publishing into a new cell; histories keep `capacity` bars; `host_period`
    /// is the host's own bar period.
    pub fn new(capacity: usize, host_period: u32) -> Self {
        let next = EngineSnapshot {
            host_period,
            ..EngineSnapshot::default()
        };
        SnapshotWriter {
            cell: Arc::new(ArcSwap::from_pointee(next.clone())),
            next,
            capacity: capacity.max(1),
            dirty: false,
        }
    }

    /// The readers' side.
    pub fn reader(&self, clock: Clock) -> SnapshotReader {
        SnapshotReader {
            cell: self.cell.clone(),
            clock,
        }
    }

    /// Take positions and last prices from the broker.
    pub fn positions_from(&mut self, broker: &PaperBroker) {
        self.next.positions = Arc::new(broker.position_map());
        self.next.last_prices = Arc::new(broker.last_prices());
        self.dirty = true;
    }

    /// Take the positions of `plugins` (those that just filled) from the broker (the others'
    /// positions are shared with the previous snapshot, not copied), with `last_prices`.
    pub fn fills_from(
        &mut self,
        broker: &PaperBroker,
        plugins: &[Arc<str>],
        last_prices: SymbolMap<f64>,
    ) {
        let positions = Arc::make_mut(&mut self.next.positions);
        for plugin in plugins {
            if let Some(mine) = broker.plugin_positions(plugin) {
                positions.insert(plugin.clone(), Arc::new(mine));
            }
        }
        self.next.last_prices = Arc::new(last_prices);
        self.dirty = true;
    }

    /// Record the price and time of the last trade of each symbol in `trades` (live runs,
    /// after each feed message: `last-price` and the status API follow the market).
    pub fn trades(&mut self, trades: &[Trade]) {
        if trades.is_empty() {
            return;
        }
        let prices = Arc::make_mut(&mut self.next.last_prices);
        let times = Arc::make_mut(&mut self.next.last_trade_ms);
        for t in trades {
            match prices.get_mut(&t.symbol) {
                Some(p) => *p = t.price,
                None => {
                    prices.insert(t.symbol.clone(), t.price);
                }
            }
            match times.get_mut(&t.symbol) {
                Some(at) => *at = t.time_ms,
                None => {
                    times.insert(t.symbol.clone(), t.time_ms);
                }
            }
        }
        self.dirty = true;
    }

    /// Add completed bars to the histories.
    pub fn add_bars<'b>(&mut self, bars: impl IntoIterator<Item = &'b Bar>) {
        let capacity = self.capacity;
        let map = Arc::make_mut(&mut self.next.bars);
        for bar in bars {
            let histories = map.entry(bar.symbol.clone()).or_default();
            let at = match histories.iter().position(|(p, _)| *p == bar.period_secs) {
                Some(i) => i,
                None => {
                    histories.push((bar.period_secs, imbl::Vector::new()));
                    histories.len() - 1
                }
            };
            let history = &mut histories[at].1;
            if history.back().is_some_and(|b| b.start_ms >= bar.start_ms) {
                continue;
            }
            if history.len() >= capacity {
                history.pop_front();
            }
            history.push_back(bar.clone());
            self.dirty = true;
        }
    }

    /// Record a forecast.
    pub fn add_prediction(&mut self, p: &Prediction) {
        Arc::make_mut(&mut self.next.predictions).insert(p.symbol.clone(), p.clone());
        self.dirty = true;
    }

    /// Publish what changed since the last call (nothing when nothing did).
    pub fn publish(&mut self) {
        if std::mem::take(&mut self.dirty) {
            self.cell.store(Arc::new(self.next.clone()));
        }
    }
}

/// The readers' side: the latest snapshot, and the engine's clock.
#[derive(Debug, Clone)]
pub struct SnapshotReader {
    cell: Arc<ArcSwap<EngineSnapshot>>,
    clock: Clock,
}

impl SnapshotReader {
    /// The latest snapshot.
    pub fn load(&self) -> Arc<EngineSnapshot> {
        self.cell.load_full()
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

impl MarketView for SnapshotReader {
    fn now_ms(&self) -> TimestampMs {
        self.clock.now_ms()
    }

    fn market_time(&self) -> bool {
        matches!(self.clock, Clock::Market(_))
    }

    fn prediction(&self, symbol: &str) -> Option<Prediction> {
        self.cell.load().predictions.get(symbol).cloned()
    }

    fn position(&self, plugin: &str, symbol: &str) -> Position {
        self.cell.load().position(plugin, symbol)
    }

    fn recent_bars(&self, symbol: &str, period_secs: u32, count: usize) -> Vec<Bar> {
        self.cell.load().recent_bars(symbol, period_secs, count)
    }

    fn last_price(&self, symbol: &str) -> Option<f64> {
        self.cell.load().last_prices.get(symbol).copied()
    }
}
