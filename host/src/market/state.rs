//! Per-symbol market state on the engine's hot path: last trade and a bounded bar history.
//!
//! [`MarketState`] owns the [`BarAggregator`], so the engine has one call per trade
//! ([`MarketState::apply_trade`]) and one per timer tick ([`MarketState::flush_until`]); both
//! return the bars that just closed, already recorded in the history. A symbol's last trade
//! and history live in the aggregator's entry for it: one map lookup per trade.
//!
//! Strategies may ask for bars of other periods too (`bar-periods` in the WIT): each extra
//! period has an aggregator of its own, keeping each symbol's history of that period.

use super::MarketConfig;
use super::aggregator::BarAggregator;
use crate::types::{Bar, Symbol, TimestampMs, Trade};
use std::collections::VecDeque;

/// Bars of one extra period, with each symbol's history.
#[derive(Debug)]
struct ExtraPeriod {
    aggregator: BarAggregator<VecDeque<Bar>>,
}

/// What is known of one symbol.
#[derive(Debug, Default)]
struct SymbolState {
    /// The most recent valid trade.
    last_trade: Option<Trade>,
    /// Completed bars, oldest first, at most the configured capacity.
    bars: VecDeque<Bar>,
}

impl SymbolState {
    /// Appends a completed bar, keeping at most `capacity`.
    fn push_bar(&mut self, bar: Bar, capacity: usize) {
        push_bounded(&mut self.bars, bar, capacity);
    }
}

/// Last trade and bounded bar history of every symbol seen.
#[derive(Debug)]
pub struct MarketState {
    /// Builds bars from trades, and keeps each symbol's state.
    aggregator: BarAggregator<SymbolState>,
    /// Bars kept per symbol.
    capacity: usize,
    /// Other periods strategies asked for, ascending.
    extra: Vec<ExtraPeriod>,
}

impl MarketState {
    /// Empty state with bars of `config.update_interval_secs` and `config.history_bars` kept.
    pub fn new(config: &MarketConfig) -> Self {
        MarketState {
            aggregator: BarAggregator::with_state(config.update_interval_secs),
            capacity: config.history_bars.max(1),
            extra: Vec::new(),
        }
    }

    /// The host's own bar period, in seconds.
    pub fn period_secs(&self) -> u32 {
        self.aggregator.period_secs()
    }

    /// Build bars of exactly these periods besides the host's own (0 and the host's own are
    /// ignored): a period already built keeps its bars, a new one starts with the next trade
    /// of each symbol, and one nobody asks for any more is dropped, so the work per trade
    /// follows what the plugins loaded now want.
    pub fn build_periods(&mut self, wanted: impl IntoIterator<Item = u32>) {
        let own = self.period_secs();
        let mut wanted: Vec<u32> = wanted.into_iter().filter(|&p| p != 0 && p != own).collect();
        wanted.sort_unstable();
        wanted.dedup();
        self.extra
            .retain(|e| wanted.binary_search(&e.aggregator.period_secs()).is_ok());
        for period in wanted {
            if !self
                .extra
                .iter()
                .any(|e| e.aggregator.period_secs() == period)
            {
                self.extra.push(ExtraPeriod {
                    aggregator: BarAggregator::with_state(period),
                });
            }
        }
        self.extra.sort_by_key(|e| e.aggregator.period_secs());
    }

    /// The periods built besides the host's own, ascending.
    pub fn extra_periods(&self) -> Vec<u32> {
        self.extra
            .iter()
            .map(|e| e.aggregator.period_secs())
            .collect()
    }

    /// Records a trade in every period; appends the bars it closed to `closed` (the host's
    /// period first, then the others ascending), already in their histories.
    pub fn apply_trade_into(&mut self, trade: &Trade, closed: &mut Vec<Bar>) {
        if let Some(bar) = self.apply_trade(trade) {
            closed.push(bar);
        }
        let capacity = self.capacity;
        for extra in &mut self.extra {
            if let Some((Some(bar), history)) = extra.aggregator.push_with_state(trade) {
                push_bounded(history, bar.clone(), capacity);
                closed.push(bar);
            }
        }
    }

    /// Records a trade; returns the bar it closed, if any (already in the history).
    pub fn apply_trade(&mut self, trade: &Trade) -> Option<Bar> {
        let capacity = self.capacity;
        let (closed, state) = self.aggregator.push_with_state(trade)?;
        match &mut state.last_trade {
            // In place: no reference counting per trade.
            Some(last) => {
                last.price = trade.price;
                last.size = trade.size;
                last.time_ms = trade.time_ms;
            }
            none => *none = Some(trade.clone()),
        }
        if let Some(bar) = &closed {
            // The closed bar is this trade's symbol's.
            state.push_bar(bar.clone(), capacity);
        }
        closed
    }

    /// Closes the bars whose period ended by `now_ms`; returns them (already in the history).
    pub fn flush_until(&mut self, now_ms: TimestampMs) -> Vec<Bar> {
        let mut bars = self.aggregator.flush_until(now_ms);
        for bar in &bars {
            self.push_bar(bar.clone());
        }
        let capacity = self.capacity;
        for extra in &mut self.extra {
            for bar in extra.aggregator.flush_until(now_ms) {
                push_bounded(
                    extra.aggregator.state_mut(&bar.symbol),
                    bar.clone(),
                    capacity,
                );
                bars.push(bar);
            }
        }
        bars
    }

    /// Adds a completed bar from another source (backfill, replay of bars).
    pub fn push_bar(&mut self, bar: Bar) {
        let capacity = self.capacity;
        let symbol = bar.symbol.clone();
        self.aggregator.state_mut(&symbol).push_bar(bar, capacity);
    }

    /// The last valid trade of `symbol`.
    pub fn last_trade(&self, symbol: &str) -> Option<&Trade> {
        self.aggregator.state(symbol)?.last_trade.as_ref()
    }

    /// The last `n` completed bars of `symbol`, oldest first.
    pub fn recent_bars(&self, symbol: &str, n: usize) -> Vec<Bar> {
        let Some(state) = self.aggregator.state(symbol) else {
            return Vec::new();
        };
        let skip = state.bars.len().saturating_sub(n);
        state.bars.iter().skip(skip).cloned().collect()
    }

    /// The last `n` completed bars of `symbol` of `period_secs` (0: the host's own period),
    /// oldest first; empty for a period this state does not build.
    pub fn recent_bars_of(&self, symbol: &str, period_secs: u32, n: usize) -> Vec<Bar> {
        if period_secs == 0 || period_secs == self.aggregator.period_secs() {
            return self.recent_bars(symbol, n);
        }
        let Some(history) = self
            .extra
            .iter()
            .find(|e| e.aggregator.period_secs() == period_secs)
            .and_then(|e| e.aggregator.state(symbol))
        else {
            return Vec::new();
        };
        let skip = history.len().saturating_sub(n);
        history.iter().skip(skip).cloned().collect()
    }

    /// The bar being built for `symbol`, if any.
    pub fn open_bar(&self, symbol: &str) -> Option<&Bar> {
        self.aggregator.open_bar(symbol)
    }

    /// Symbols seen so far.
    pub fn symbols(&self) -> impl Iterator<Item = &Symbol> {
        self.aggregator.symbols()
    }

    /// Trades refused by the aggregator (late or invalid).
    pub fn rejected_trades(&self) -> u64 {
        self.aggregator.rejected()
    }
}

/// Appends a completed bar to a time-ordered history of at most `capacity` bars (an older or
/// repeated bar would break the order: it is dropped).
fn push_bounded(history: &mut VecDeque<Bar>, bar: Bar, capacity: usize) {
    if history
        .back()
        .is_some_and(|last| last.start_ms >= bar.start_ms)
    {
        return;
    }
    if history.len() == capacity {
        history.pop_front();
    }
    history.push_back(bar);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::bar_file::read_trades_csv;
    use std::path::Path;

    #[test]
    fn history_is_bounded_and_recent_bars_are_oldest_first() {
        let mut state = MarketState::new(&MarketConfig {
            update_interval_secs: 60,
            history_bars: 3,
        });
        for i in 0..6i64 {
            let t = Trade {
                symbol: "A".into(),
                price: 10.0 + i as f64,
                size: 1.0,
                time_ms: i * 60_000,
            };
            state.apply_trade(&t);
        }
        assert_eq!(state.flush_until(6 * 60_000).len(), 1);
        let bars = state.recent_bars("A", 10);
        assert_eq!(
            bars.iter().map(|b| b.close).collect::<Vec<_>>(),
            [13.0, 14.0, 15.0]
        );
        assert_eq!(state.recent_bars("A", 2)[0].close, 14.0);
        assert_eq!(state.last_trade("A").map(|t| t.price), Some(15.0));
        assert!(state.recent_bars("B", 5).is_empty());
    }

    #[test]
    fn extra_periods_build_their_own_bars_and_histories() {
        let mut state = MarketState::new(&MarketConfig {
            update_interval_secs: 60,
            history_bars: 10,
        });
        // The host's own period adds nothing.
        state.build_periods([300, 60, 120]);
        assert_eq!(state.extra_periods(), [120, 300]);
        state.build_periods([300]);
        assert_eq!(
            state.extra_periods(),
            [300],
            "a period nobody wants is dropped"
        );
        let mut closed = Vec::new();
        for minute in 0..11i64 {
            let t = Trade {
                symbol: "A".into(),
                price: 100.0 + minute as f64,
                size: 1.0,
                time_ms: minute * 60_000,
            };
            state.apply_trade_into(&t, &mut closed);
        }
        let five: Vec<&Bar> = closed.iter().filter(|b| b.period_secs == 300).collect();
        assert_eq!(
            five.len(),
            2,
            "0-5 and 5-10 minutes closed by minute 5 and 10"
        );
        assert_eq!(
            (five[0].open, five[0].close, five[0].high),
            (100.0, 104.0, 104.0)
        );
        assert_eq!(closed.iter().filter(|b| b.period_secs == 60).count(), 10);
        let history = state.recent_bars_of("A", 300, 5);
        assert_eq!(
            history.iter().map(|b| b.start_ms).collect::<Vec<_>>(),
            [0, 300_000]
        );
        assert_eq!(state.recent_bars_of("A", 0, 2).len(), 2);
        assert!(
            state.recent_bars_of("A", 120, 2).is_empty(),
            "nobody asked for 2 minutes"
        );
    }

    #[test]
    fn real_trades_build_per_symbol_minute_bars() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo_trades_2013-10-07.csv.gz");
        let trades = read_trades_csv(&path).unwrap();
        let mut state = MarketState::new(&MarketConfig::default());
        let mut closed = 0;
        for t in &trades {
            closed += usize::from(state.apply_trade(t).is_some());
        }
        let end = trades.last().map(|t| t.time_ms).unwrap_or_default();
        closed += state.flush_until(end + 60_000).len();
        // Four liquid symbols, 30 minutes each: every minute has trades.
        assert_eq!(closed, 4 * 30);
        for sym in ["SPY", "BAC", "AIG", "IBM"] {
            let bars = state.recent_bars(sym, 100);
            assert_eq!(bars.len(), 30, "{sym}");
            assert!(
                bars.iter()
                    .all(|b| b.low <= b.open.min(b.close) && b.high >= b.open.max(b.close))
            );
            assert!(
                bars.windows(2)
                    .all(|w| w[1].start_ms - w[0].start_ms == 60_000)
            );
        }
    }
}
