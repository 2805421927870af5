//! Event batches as the host sends them (`event-batch` in `wit/strategy.wit`): the trades
//! column by column, every other event placed among them.
//!
//! Columns of numbers cross the WebAssembly boundary as one copy each, where a list of
//! variants costs tens of nanoseconds per element, and trades are the bulk of every batch.
//! [`EventBatch::walk`] gives the events back one by one in the order they happened, which
//! is the order the hooks see; [`EventBatch::from_events`] builds the batch the host would
//! send for a sequence of events (the test harness uses it).

use crate::types::{Event, EventBatch, PlacedEvent, Trade, TradeColumns};
use std::ops::ControlFlow;

/// One event of a batch during a walk: a trade rebuilt from the columns, or another event.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchItem<'a> {
    /// A trade of the columns.
    Trade(Trade),
    /// Any other event (or a trade sent as an event).
    Other(&'a Event),
}

impl EventBatch {
    /// An empty batch.
    pub fn new() -> EventBatch {
        EventBatch {
            trades: TradeColumns {
                symbols: Vec::new(),
                prices: Vec::new(),
                sizes: Vec::new(),
                times: Vec::new(),
            },
            others: None,
        }
    }

    /// The batch the host sends for `events` in this order: trades into the columns, the
    /// other events placed among them.
    pub fn from_events(events: impl IntoIterator<Item = Event>) -> EventBatch {
        let mut batch = EventBatch::new();
        for event in events {
            batch.push(event);
        }
        batch
    }

    /// Appends an event after those already in the batch.
    pub fn push(&mut self, event: Event) {
        match event {
            Event::Trade(t) => {
                let c = &mut self.trades;
                c.symbols.push(t.symbol);
                c.prices.push(t.price);
                c.sizes.push(t.size);
                c.times.push(t.time);
            }
            other => self.others.get_or_insert_default().push(PlacedEvent {
                after_trades: self.trades.symbols.len() as u32,
                event: other,
            }),
        }
    }

    /// How many events the batch holds, trades and others.
    pub fn len(&self) -> usize {
        self.trade_count() + self.others().len()
    }

    /// The events other than the columns' trades, in order.
    pub fn others(&self) -> &[PlacedEvent] {
        self.others.as_deref().unwrap_or_default()
    }

    /// True when the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many trades the columns hold (the shortest column, should they differ).
    pub fn trade_count(&self) -> usize {
        let c = &self.trades;
        c.symbols
            .len()
            .min(c.prices.len())
            .min(c.sizes.len())
            .min(c.times.len())
    }

    /// Calls `f` with every trade of the columns, in order, ignoring the other events.
    #[inline]
    pub fn trades(&self, mut f: impl FnMut(&Trade)) {
        self.trade_iter().for_each(|t| f(&t));
    }

    fn trade_iter(&self) -> impl Iterator<Item = Trade> + '_ {
        let n = self.trade_count();
        let c = &self.trades;
        c.symbols[..n]
            .iter()
            .zip(&c.prices[..n])
            .zip(&c.sizes[..n])
            .zip(&c.times[..n])
            .map(|(((&symbol, &price), &size), &time)| Trade {
                symbol,
                price,
                size,
                time,
            })
    }

    /// Calls `f` with every event in the order they happened: each placed event after the
    /// number of trades it names (in list order among equals), the trades in column order.
    pub fn walk(&self, mut f: impl FnMut(BatchItem<'_>)) {
        let n = self.trade_count();
        let mut trades = self.trade_iter();
        let mut done = 0;
        for placed in self.others() {
            let until = (placed.after_trades as usize).clamp(done, n);
            for trade in trades.by_ref().take(until - done) {
                f(BatchItem::Trade(trade));
            }
            done = until;
            f(BatchItem::Other(&placed.event));
        }
        trades.for_each(|t| f(BatchItem::Trade(t)));
    }

    /// Like [`walk`](Self::walk), with each event's index (its place in the batch, from 0),
    /// until `f` breaks; returns how many events were handled, the one that broke included.
    pub fn walk_until(&self, mut f: impl FnMut(u32, BatchItem<'_>) -> ControlFlow<()>) -> usize {
        let n = self.trade_count();
        let mut trades = self.trade_iter();
        let (mut done, mut index) = (0usize, 0u32);
        for placed in self.others() {
            let until = (placed.after_trades as usize).clamp(done, n);
            for trade in trades.by_ref().take(until - done) {
                index += 1;
                if f(index - 1, BatchItem::Trade(trade)).is_break() {
                    return index as usize;
                }
            }
            done = until;
            index += 1;
            if f(index - 1, BatchItem::Other(&placed.event)).is_break() {
                return index as usize;
            }
        }
        for trade in trades {
            index += 1;
            if f(index - 1, BatchItem::Trade(trade)).is_break() {
                return index as usize;
            }
        }
        index as usize
    }

    /// The events after the first `consumed` (in walk order), as a batch of their own: what
    /// the host sends in its next call after a strategy returned early.
    pub fn rest(&self, consumed: usize) -> EventBatch {
        let n = self.trade_count();
        let (mut trades_before, mut others_before) = (0usize, 0usize);
        if consumed > 0 {
            self.walk_until(|index, item| {
                match item {
                    BatchItem::Trade(_) => trades_before += 1,
                    BatchItem::Other(_) => others_before += 1,
                }
                if index as usize + 1 >= consumed {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
        }
        let c = &self.trades;
        let others: Vec<PlacedEvent> = self.others()[others_before..]
            .iter()
            .map(|p| PlacedEvent {
                after_trades: (p.after_trades as usize)
                    .clamp(trades_before, n)
                    .saturating_sub(trades_before) as u32,
                event: p.event.clone(),
            })
            .collect();
        EventBatch {
            trades: TradeColumns {
                symbols: c.symbols[trades_before..n].to_vec(),
                prices: c.prices[trades_before..n].to_vec(),
                sizes: c.sizes[trades_before..n].to_vec(),
                times: c.times[trades_before..n].to_vec(),
            },
            others: (!others.is_empty()).then_some(others),
        }
    }
}

impl Default for EventBatch {
    fn default() -> Self {
        EventBatch::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Bar, Fill, Rejection, Side};

    fn trade(time: i64) -> Event {
        Event::Trade(Trade {
            symbol: 1,
            price: 10.0 + time as f64,
            size: 5.0,
            time,
        })
    }

    fn bar(start: i64) -> Event {
        Event::Bar(Bar {
            symbol: 1,
            start,
            period_secs: 60,
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 9.0,
            imputed: false,
        })
    }

    fn fill(tag: u32) -> Event {
        Event::Fill(Fill {
            symbol: 1,
            side: Side::Buy,
            quantity: 1.0,
            price: 10.0,
            fee: 0.0,
            time: 0,
            tag,
        })
    }

    fn walked(batch: &EventBatch) -> Vec<Event> {
        let mut out = Vec::new();
        batch.walk(|item| match item {
            BatchItem::Trade(t) => out.push(Event::Trade(t)),
            BatchItem::Other(e) => out.push(e.clone()),
        });
        out
    }

    #[test]
    fn a_batch_gives_its_events_back_in_order() {
        let rejected = Event::Rejected(Rejection {
            symbol: 1,
            tag: 9,
            reason: "risk".into(),
            time: 0,
        });
        // TC: event sequences with other events first, between, together and last.
        let cases: Vec<Vec<Event>> = vec![
            vec![],
            vec![trade(1), trade(2)],
            vec![fill(1), fill(2)],
            vec![fill(1), trade(1), bar(0), trade(2), trade(3)],
            vec![
                trade(1),
                bar(0),
                fill(1),
                rejected.clone(),
                trade(2),
                bar(60),
            ],
            vec![trade(1), trade(2), trade(3), rejected],
        ];
        for events in cases {
            let batch = EventBatch::from_events(events.clone());
            assert_eq!(batch.len(), events.len());
            assert_eq!(walked(&batch), events);
            // Whatever was consumed, the rest holds exactly the events after it, and an
            // indexed walk that stops after k events has seen the first k, numbered.
            for k in 0..=events.len() {
                assert_eq!(walked(&batch.rest(k)), events[k..], "rest after {k}");
                let mut seen = Vec::new();
                let handled = batch.walk_until(|i, item| {
                    seen.push(i);
                    let _ = item;
                    if seen.len() == k {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                });
                let want = if k == 0 { events.len() } else { k };
                assert_eq!(handled, want, "{k}");
                assert_eq!(seen, (0..want as u32).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn placements_out_of_range_and_ragged_columns_are_clamped() {
        let mut batch = EventBatch::from_events([trade(1), trade(2)]);
        batch.others.get_or_insert_default().push(PlacedEvent {
            after_trades: 99,
            event: fill(1),
        });
        batch.trades.times.pop();
        assert_eq!(batch.trade_count(), 1);
        assert_eq!(walked(&batch), vec![trade(1), fill(1)]);
    }
}
