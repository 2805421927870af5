//! A run of trades as plugins see them (columns with interned symbol ids, built once), and
//! the batch cut from it for one plugin: the events queued for it, then its trades of a range.
//!
//! The engine's lockstep ([`crate::engine::lockstep`]) sends each plugin the trades of a range
//! that holds none of its fills and no bar close, preceded by what it must hear of first
//! (bars, forecasts, its fills and refusals). The plugin says how many events it handled;
//! [`LaneBatch::progress`] turns that back into a place on the tape.

use super::batch::BatchBuilder;
use super::bindings::{strategy_event, wit};
use super::symbols::{SymbolIds, SymbolMemo, SymbolTable};
use crate::types::{StrategyEvent, Trade};
use std::ops::Range;
use std::sync::Arc;

/// Trades by column, with symbol ids.
#[derive(Debug, Clone, Default)]
pub struct Tape {
    symbols: Vec<u32>,
    prices: Vec<f64>,
    sizes: Vec<f64>,
    times: Vec<i64>,
}

impl Tape {
    /// The tape of `trades`, interning their symbols in `table`.
    pub fn build(trades: &[Trade], table: &SymbolTable) -> Tape {
        let mut memo = SymbolMemo::default();
        let mut tape = Tape {
            symbols: Vec::with_capacity(trades.len()),
            prices: Vec::with_capacity(trades.len()),
            sizes: Vec::with_capacity(trades.len()),
            times: Vec::with_capacity(trades.len()),
        };
        for t in trades {
            tape.symbols.push(memo.intern(table, &t.symbol));
            tape.prices.push(t.price);
            tape.sizes.push(t.size);
            tape.times.push(t.time_ms);
        }
        tape
    }

    /// Number of trades.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True when there is no trade.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }
}

/// Which events a plugin receives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    /// Ids of its symbols (`None`: every symbol).
    pub symbols: Option<SymbolIds>,
    /// Bar periods it asked for besides the host's own.
    pub bar_periods: Vec<u32>,
    /// The host's own bar period, which every plugin receives.
    pub host_period: u32,
}

impl EventFilter {
    /// True when the plugin receives events of symbol `id`.
    pub fn wants_symbol(&self, id: u32) -> bool {
        self.symbols.as_ref().is_none_or(|s| s.contains(&id))
    }

    /// True when the plugin receives `event`: bars of its periods and forecasts of its
    /// symbols, and all of its own fills and refusals.
    pub fn wants(&self, event: &StrategyEvent, table: &SymbolTable) -> bool {
        match event {
            StrategyEvent::Bar(b) => {
                self.wants_period(b.period_secs) && self.wants_symbol(table.intern(&b.symbol))
            }
            StrategyEvent::Prediction { prediction, .. } => {
                self.wants_symbol(table.intern(&prediction.symbol))
            }
            StrategyEvent::Fill(_) | StrategyEvent::Rejection(_) => true,
        }
    }

    /// True when the plugin receives bars of `period_secs`.
    pub fn wants_period(&self, period_secs: u32) -> bool {
        period_secs == self.host_period || self.bar_periods.contains(&period_secs)
    }
}

/// One plugin's batch cut from a tape.
#[derive(Debug, Clone)]
pub struct LaneBatch {
    /// The batch.
    pub batch: Arc<wit::EventBatch>,
    /// How many queued events lead it (before its first trade).
    pub queued: usize,
    /// The tape range it covers.
    pub range: Range<usize>,
    /// Tape index of each trade it holds, when some of the range were filtered out.
    kept: Option<Vec<u32>>,
}

/// How far a plugin got in a [`LaneBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// How many of the queued events it handled.
    pub queued: usize,
    /// The first tape index it has not handled (trades filtered out of its batch count as
    /// handled once it got past them).
    pub next: usize,
    /// The tape index of the trade at or before which it stopped: the last trade it handled,
    /// or, when it stopped among the queued events, the start of the range (they come
    /// before that trade).
    pub point: usize,
}

impl LaneBatch {
    /// Where the plugin is after handling `consumed` events.
    pub fn progress(&self, consumed: usize) -> Progress {
        let total = super::batch::len(&self.batch);
        let consumed = consumed.min(total);
        if consumed <= self.queued {
            let next = if consumed == total {
                self.range.end
            } else {
                self.range.start
            };
            return Progress {
                queued: consumed,
                next,
                point: self.range.start,
            };
        }
        let nth = consumed - self.queued - 1;
        let last = match &self.kept {
            Some(kept) => kept[nth] as usize,
            None => self.range.start + nth,
        };
        Progress {
            queued: self.queued,
            next: if consumed == total {
                self.range.end
            } else {
                last + 1
            },
            point: last,
        }
    }
}

/// The batch of `queued` events (all of them: choose them with [`EventFilter::wants`]) then
/// the trades of `range` that `filter` lets through; `None` when it would be empty.
pub fn cut(
    tape: &Tape,
    range: Range<usize>,
    queued: &[StrategyEvent],
    filter: &EventFilter,
    table: &SymbolTable,
) -> Option<LaneBatch> {
    let mut builder = BatchBuilder::with_capacity(range.len());
    for event in queued {
        builder.event(strategy_event(event, table));
    }
    // Runs of one symbol are the rule: its set is asked once per run.
    let symbols = &tape.symbols[range.clone()];
    let all = filter.symbols.is_none()
        || symbols
            .iter()
            .enumerate()
            .all(|(i, &s)| (i > 0 && symbols[i - 1] == s) || filter.wants_symbol(s));
    let kept = if all {
        builder.trades(
            symbols,
            &tape.prices[range.clone()],
            &tape.sizes[range.clone()],
            &tape.times[range.clone()],
        );
        None
    } else {
        let mut kept = Vec::new();
        for i in range.clone() {
            if filter.wants_symbol(tape.symbols[i]) {
                builder.trade(
                    tape.symbols[i],
                    tape.prices[i],
                    tape.sizes[i],
                    tape.times[i],
                );
                kept.push(i as u32);
            }
        }
        Some(kept)
    };
    if builder.is_empty() {
        return None;
    }
    Some(LaneBatch {
        batch: Arc::new(builder.finish()),
        queued: queued.len(),
        range,
        kept,
    })
}
