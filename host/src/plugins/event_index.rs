//! Events of a batch by index, as `wit/strategy.wit` numbers them: placed event `k` has index
//! `after-trades + k`, the trades fill the other indices in column order.
//!
//! The host answers `now(at)` and `position-of(symbol, at)` as of event `at` of the batch in
//! the call, and after a call that returned early it sends the rest of the batch: both need
//! to find an event by its index without walking the batch.

use super::batch::others;
use super::bindings::wit;

/// Where event `at` of a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Located {
    /// Trade number `i` of the columns.
    Trade(usize),
    /// Placed event number `k` of `others`, with the number of trades before it.
    Other {
        /// Its place in `others`.
        k: usize,
        /// Trades before it.
        trades_before: usize,
    },
}

/// Event `at` of `batch`, or `None` past its end.
pub fn locate(batch: &wit::EventBatch, at: usize) -> Option<Located> {
    let n = batch.trades.symbols.len();
    let others = others(batch);
    // Placed events before or at `at`: those whose index `after_trades(clamped) + k` ≤ at.
    // Indices of placed events increase with k (after_trades never decreases), so search.
    let index_of = |k: usize| placed_after(others, k, n) + k;
    let (mut lo, mut hi) = (0usize, others.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if index_of(mid) <= at {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    // `lo` placed events have an index ≤ at.
    if lo > 0 && index_of(lo - 1) == at {
        let k = lo - 1;
        return Some(Located::Other {
            k,
            trades_before: placed_after(others, k, n),
        });
    }
    let trade = at - lo;
    (trade < n).then_some(Located::Trade(trade))
}

/// The trades before placed event `k`, clamped to the columns and kept non-decreasing.
fn placed_after(others: &[wit::PlacedEvent], k: usize, n: usize) -> usize {
    (others[k].after_trades as usize).min(n)
}

/// The time of event `at`: a trade's, a bar's end, a forecast's, a fill's or a refusal's.
pub fn time_at(batch: &wit::EventBatch, at: usize) -> Option<i64> {
    Some(match locate(batch, at)? {
        Located::Trade(i) => batch.trades.times[i],
        Located::Other { k, .. } => event_time(&others(batch)[k].event),
    })
}

/// The time an event happened (a bar's is its end).
pub fn event_time(event: &wit::Event) -> i64 {
    match event {
        wit::Event::Trade(t) => t.time,
        wit::Event::Bar(b) => b.start + i64::from(b.period_secs) * 1000,
        wit::Event::Prediction(p) => p.time,
        wit::Event::Fill(f) => f.time,
        wit::Event::Rejected(r) => r.time,
    }
}

/// How many trades come at or before event `at` (all of them past the end).
pub fn trades_through(batch: &wit::EventBatch, at: usize) -> usize {
    match locate(batch, at) {
        Some(Located::Trade(i)) => i + 1,
        Some(Located::Other { trades_before, .. }) => trades_before,
        None => batch.trades.symbols.len(),
    }
}

/// The price of the last trade of `symbol` at or before event `at`, if the batch has one.
pub fn mark_at(batch: &wit::EventBatch, at: usize, symbol: u32) -> Option<f64> {
    let c = &batch.trades;
    let upto = trades_through(batch, at);
    (0..upto)
        .rev()
        .find(|&i| c.symbols[i] == symbol)
        .map(|i| c.prices[i])
}

/// The events after the first `consumed`, as a batch of their own (what is sent next after a
/// call that returned early).
pub fn rest(batch: &wit::EventBatch, consumed: usize) -> wit::EventBatch {
    let n = batch.trades.symbols.len();
    let all = others(batch);
    let (trades_before, others_before) = match consumed.checked_sub(1) {
        None => (0, 0),
        Some(last) => match locate(batch, last) {
            Some(Located::Trade(i)) => (
                i + 1,
                all.partition_point(|p| (p.after_trades as usize) <= i),
            ),
            Some(Located::Other { k, trades_before }) => (trades_before, k + 1),
            None => (n, all.len()),
        },
    };
    let c = &batch.trades;
    let rest_others: Vec<wit::PlacedEvent> = all[others_before..]
        .iter()
        .map(|p| wit::PlacedEvent {
            after_trades: ((p.after_trades as usize)
                .min(n)
                .saturating_sub(trades_before)) as u32,
            event: p.event.clone(),
        })
        .collect();
    wit::EventBatch {
        trades: wit::TradeColumns {
            symbols: c.symbols[trades_before..].to_vec(),
            prices: c.prices[trades_before..].to_vec(),
            sizes: c.sizes[trades_before..].to_vec(),
            times: c.times[trades_before..].to_vec(),
        },
        others: (!rest_others.is_empty()).then_some(rest_others),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::batch::{BatchBuilder, len};

    fn trade(symbol: u32, time: i64) -> wit::Event {
        wit::Event::Trade(wit::Trade {
            symbol,
            price: 100.0 + time as f64,
            size: 1.0,
            time,
        })
    }

    fn refusal(time: i64) -> wit::Event {
        wit::Event::Rejected(wit::Rejection {
            symbol: 0,
            tag: 1,
            reason: "no".into(),
            time,
        })
    }

    fn batch(events: &[wit::Event]) -> wit::EventBatch {
        events.iter().cloned().collect::<BatchBuilder>().finish()
    }

    /// The events of a batch in index order, rebuilt one by one.
    fn in_order(b: &wit::EventBatch) -> Vec<wit::Event> {
        (0..len(b))
            .map(|at| match locate(b, at).expect("in range") {
                Located::Trade(i) => wit::Event::Trade(wit::Trade {
                    symbol: b.trades.symbols[i],
                    price: b.trades.prices[i],
                    size: b.trades.sizes[i],
                    time: b.trades.times[i],
                }),
                Located::Other { k, .. } => others(b)[k].event.clone(),
            })
            .collect()
    }

    #[test]
    fn events_are_found_by_index_and_the_rest_is_exact() {
        // TC: other events first, between, together and last.
        let cases: Vec<Vec<wit::Event>> = vec![
            vec![],
            vec![trade(1, 1), trade(2, 2)],
            vec![refusal(5), refusal(6)],
            vec![
                refusal(1),
                trade(1, 1),
                refusal(2),
                trade(2, 3),
                trade(1, 4),
            ],
            vec![trade(1, 1), refusal(2), refusal(3), trade(2, 4), refusal(9)],
        ];
        for events in cases {
            let b = batch(&events);
            assert_eq!(in_order(&b), events);
            assert!(locate(&b, events.len()).is_none());
            for (at, e) in events.iter().enumerate() {
                assert_eq!(time_at(&b, at), Some(event_time(e)), "{at}");
            }
            for k in 0..=events.len() {
                assert_eq!(in_order(&rest(&b, k)), events[k..], "rest after {k}");
            }
        }
    }

    #[test]
    fn marks_are_the_last_trade_of_the_symbol_up_to_the_event() {
        let b = batch(&[
            trade(1, 1),
            trade(2, 2),
            refusal(3),
            trade(1, 4),
            trade(2, 5),
        ]);
        assert_eq!(mark_at(&b, 0, 1), Some(101.0));
        assert_eq!(mark_at(&b, 0, 2), None);
        assert_eq!(
            mark_at(&b, 2, 2),
            Some(102.0),
            "a placed event sees the trades before it"
        );
        assert_eq!(mark_at(&b, 3, 1), Some(104.0));
        assert_eq!(
            mark_at(&b, 99, 2),
            Some(105.0),
            "past the end: the whole batch"
        );
        assert_eq!(trades_through(&b, 2), 2);
    }
}
