//! A batch of events for plugins, built from the engine's plain values ([`crate::types`]).
//!
//! The live engine says what happened (trades, bars, fills, refusals, forecasts); turning
//! symbols into ids and values into WIT records is the plugins' business, and happens here.
//! (Backtests hand plain events to [`super::tape`], which does the same per plugin lane.)

use super::batch::BatchBuilder;
use super::bindings::{bar_event, fill_event, prediction_event, rejection_event, wit};
use super::symbols::{SymbolMemo, SymbolTable};
use crate::broker::TradePoint;
use crate::types::{Bar, Fill, Prediction, Rejection, TimestampMs, Trade};

/// Events in the order they happened, for one `on-events` call.
#[derive(Debug)]
pub struct DispatchBatch {
    builder: BatchBuilder,
    /// Where the batch stands in the market stream.
    points: BatchPoints,
    table: SymbolTable,
    /// The id of the symbol of the previous trade (trades of one symbol come in runs).
    memo: SymbolMemo,
}

impl DispatchBatch {
    /// An empty batch with room for `trades` trades, naming symbols in `table`.
    pub fn new(table: &SymbolTable, trades: usize) -> Self {
        DispatchBatch {
            builder: BatchBuilder::with_capacity(trades),
            points: BatchPoints::default(),
            table: table.clone(),
            memo: SymbolMemo::default(),
        }
    }

    /// Appends a trade (its symbol is kept across restarts from now on).
    pub fn trade(&mut self, t: &Trade) {
        let id = self.memo.intern(&self.table, &t.symbol);
        self.builder.trade(id, t.price, t.size, t.time_ms);
    }

    /// Appends a completed bar.
    pub fn bar(&mut self, b: &Bar) {
        self.builder.event(bar_event(b, &self.table));
    }

    /// Appends a fill.
    pub fn fill(&mut self, f: &Fill) {
        self.builder.event(fill_event(f, &self.table));
    }

    /// Appends a refusal (or a cancellation the plugin did not ask for).
    pub fn rejection(&mut self, r: &Rejection) {
        self.builder.event(rejection_event(r, &self.table));
    }

    /// Appends a forecast, stale or not as of `now_ms`.
    pub fn prediction(&mut self, p: &Prediction, now_ms: TimestampMs) {
        self.builder.event(prediction_event(p, &self.table, now_ms));
    }

    /// The batch's trades start at `points.first`, and `points.last` was the last trade
    /// processed when it was sent: what the actions it causes are placed after.
    pub fn follows(&mut self, points: BatchPoints) {
        self.points = points;
    }

    /// Where the batch stands in the market stream.
    pub fn points(&self) -> BatchPoints {
        self.points
    }

    /// True when the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.builder.is_empty()
    }

    /// The batch as it crosses the boundary.
    pub(crate) fn finish(self) -> wit::EventBatch {
        self.builder.finish()
    }
}

/// Where a batch of events stands in the market stream, so that the actions a plugin places
/// while handling it name the trade that caused them (the broker fills them only at later
/// trades, however late they reach it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchPoints {
    /// The point of the batch's first trade.
    pub first: TradePoint,
    /// The last trade processed when the batch was sent (after every trade of it).
    pub last: TradePoint,
}

impl BatchPoints {
    /// The cause of actions placed at trade `trade` of the batch (an event placed before a
    /// trade counts as that trade's: the broker had processed it), or, with `None`, after
    /// every trade of the batch.
    pub fn cause(&self, trade: Option<usize>) -> TradePoint {
        match trade {
            Some(i) => self.first.plus(i as u64),
            None => self.last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_become_the_wire_batch_in_order() {
        let table = SymbolTable::from_names(["SPY"]);
        let mut batch = DispatchBatch::new(&table, 2);
        assert!(batch.is_empty());
        let trade = |price| Trade {
            symbol: "IBM".into(),
            price,
            size: 10.0,
            time_ms: 5,
        };
        batch.trade(&trade(180.0));
        batch.rejection(&Rejection {
            plugin: "p".into(),
            tag: 3,
            symbol: "SPY".into(),
            reason: "no".into(),
            time_ms: 6,
        });
        batch.trade(&trade(181.0));
        let wire = batch.finish();
        // IBM is new to the table: it gets the next id.
        assert_eq!(wire.trades.symbols, [1, 1]);
        assert_eq!(wire.trades.prices, [180.0, 181.0]);
        let others = wire.others.unwrap();
        assert_eq!(others.len(), 1);
        assert_eq!(others[0].after_trades, 1);
        assert!(matches!(&others[0].event, wit::Event::Rejected(r) if r.tag == 3 && r.symbol == 0));
    }
}
