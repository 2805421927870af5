//! The [`EventHub`]: the narrow interface through which the engine feeds the dashboard.
//!
//! The engine thread pushes what happened (trades of a batch, fills, broker outcomes,
//! forecasts); the hub keeps a bounded recent history for snapshots and broadcasts each
//! event, serialised once, to every connected browser. Trades are not sent one by one:
//! they are folded into per-symbol bars, and the bars that changed go out a few times a
//! second ([`EventHub::flush_bars`], called by the pump). Nothing here blocks the engine
//! for more than a short lock, and a browser that falls behind only misses events (it gets
//! a fresh snapshot instead).

use super::event::{
    BarView, EquityView, FillView, LiveEvent, Notice, OrderView, PredictionView, RefusalView,
    Snapshot, cancel_reason,
};
use crate::broker::{BrokerOutcome, CancelReason};
use crate::status::StatusReport;
use crate::types::{Fill, OrderRequest, Prediction, Trade};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Bars kept per symbol.
const BARS: usize = 400;
/// Fills, orders, refusals and notices kept.
const RECENT: usize = 300;
/// Forecasts kept per symbol.
const FORECASTS: usize = 200;
/// Equity samples kept (one a second: the last hour).
const EQUITY: usize = 3600;
/// Events a browser may fall behind by before it is sent a snapshot instead.
const CHANNEL: usize = 1024;

/// One event, serialised once for every subscriber.
#[derive(Debug)]
pub struct Frame {
    /// The event's name.
    pub name: &'static str,
    /// Its JSON.
    pub data: String,
}

/// Recent history, for snapshots.
#[derive(Debug, Default)]
struct History {
    bars: BTreeMap<String, VecDeque<BarView>>,
    changed: BTreeSet<String>,
    fills: VecDeque<FillView>,
    orders: VecDeque<OrderView>,
    refusals: VecDeque<RefusalView>,
    predictions: BTreeMap<String, VecDeque<PredictionView>>,
    equity: VecDeque<EquityView>,
    notices: VecDeque<Notice>,
}

/// The dashboard's live events and recent history.
#[derive(Debug)]
pub struct EventHub {
    bar_ms: i64,
    history: Mutex<History>,
    tx: broadcast::Sender<Arc<Frame>>,
}

fn push<T>(queue: &mut VecDeque<T>, item: T, max: usize) {
    if queue.len() == max {
        queue.pop_front();
    }
    queue.push_back(item);
}

impl EventHub {
    /// A hub that aggregates trades into bars of `bar_secs` seconds (`UPDATE_INTERVAL`).
    pub fn new(bar_secs: u32) -> Self {
        EventHub {
            bar_ms: i64::from(bar_secs.max(1)) * 1000,
            history: Mutex::new(History::default()),
            tx: broadcast::channel(CHANNEL).0,
        }
    }

    /// Bar length in seconds.
    pub fn bar_secs(&self) -> u32 {
        (self.bar_ms / 1000) as u32
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.tx.subscribe()
    }

    /// Everything recent, with `status`.
    pub fn snapshot(&self, status: StatusReport) -> Snapshot {
        let h = self.lock();
        Snapshot {
            status,
            bar_secs: self.bar_secs(),
            bars: h
                .bars
                .iter()
                .map(|(s, b)| (s.clone(), b.iter().cloned().collect()))
                .collect(),
            fills: h.fills.iter().cloned().collect(),
            orders: h.orders.iter().cloned().collect(),
            refusals: h.refusals.iter().cloned().collect(),
            predictions: h
                .predictions
                .iter()
                .map(|(s, p)| (s.clone(), p.iter().cloned().collect()))
                .collect(),
            equity: h.equity.iter().cloned().collect(),
            notices: h.notices.iter().cloned().collect(),
        }
    }

    /// Fold one batch of trades into the bars (sent later by [`flush_bars`](Self::flush_bars)).
    pub fn trades(&self, trades: &[Trade]) {
        if trades.is_empty() {
            return;
        }
        let mut h = self.lock();
        let History { bars, changed, .. } = &mut *h;
        // One lookup per run of trades of one symbol (a feed message is usually one).
        for run in trades.chunk_by(|a, b| a.symbol == b.symbol) {
            let symbol = &run[0].symbol;
            let series = match bars.get_mut(&**symbol) {
                Some(series) => series,
                None => bars.entry(symbol.to_string()).or_default(),
            };
            for t in run.iter().filter(|t| t.price.is_finite() && t.price > 0.0) {
                let start_ms = t.time_ms.div_euclid(self.bar_ms) * self.bar_ms;
                match series.back_mut() {
                    Some(bar) if bar.start_ms == start_ms => {
                        bar.high = bar.high.max(t.price);
                        bar.low = bar.low.min(t.price);
                        bar.close = t.price;
                        bar.volume += t.size;
                        bar.trades += 1;
                    }
                    // A late trade of an earlier bar: the chart keeps its bars in time order.
                    Some(bar) if bar.start_ms > start_ms => {}
                    _ => push(
                        series,
                        BarView {
                            symbol: symbol.to_string(),
                            start_ms,
                            open: t.price,
                            high: t.price,
                            low: t.price,
                            close: t.price,
                            volume: t.size,
                            trades: 1,
                        },
                        BARS,
                    ),
                }
            }
            if !changed.contains(&**symbol) {
                changed.insert(symbol.to_string());
            }
        }
    }

    /// Send the bars that changed since the last call.
    pub fn flush_bars(&self) {
        let bars: Vec<BarView> = {
            let mut h = self.lock();
            let changed = std::mem::take(&mut h.changed);
            changed
                .iter()
                .filter_map(|s| h.bars.get(s).and_then(|b| b.back()).cloned())
                .collect()
        };
        for bar in bars {
            self.send(&LiveEvent::Bar(bar));
        }
    }

    /// Paper fills of one batch.
    pub fn fills(&self, fills: &[Fill]) {
        for fill in fills {
            let view = FillView::from(fill);
            push(&mut self.lock().fills, view.clone(), RECENT);
            self.send(&LiveEvent::Fill(view));
        }
    }

    /// What the broker did (at engine time `now_ms`) with the orders `requests` a strategy
    /// placed; accepted orders are matched to their request by tag and symbol, in order.
    pub fn outcomes(&self, requests: &[OrderRequest], outcomes: &[BrokerOutcome], now_ms: i64) {
        let mut unmatched: Vec<&OrderRequest> = requests.iter().collect();
        for outcome in outcomes {
            match outcome {
                BrokerOutcome::Accepted {
                    plugin,
                    order_id,
                    tag,
                    symbol,
                } => {
                    let found = unmatched
                        .iter()
                        .position(|r| r.tag == *tag && r.symbol == *symbol);
                    if let Some(i) = found {
                        let request = unmatched.remove(i);
                        self.order(OrderView::new(plugin, *order_id, request, now_ms));
                    }
                }
                BrokerOutcome::Rejected(r) => {
                    let found = unmatched
                        .iter()
                        .position(|q| q.tag == r.tag && q.symbol == r.symbol);
                    if let Some(i) = found {
                        unmatched.remove(i);
                    }
                    self.refusal(RefusalView::from(r));
                }
                BrokerOutcome::Cancelled {
                    plugin,
                    tag,
                    symbol,
                    reason,
                    ..
                } if *reason != CancelReason::Requested => self.refusal(RefusalView {
                    plugin: plugin.to_string(),
                    tag: *tag,
                    symbol: symbol.to_string(),
                    reason: cancel_reason(*reason).to_string(),
                    time_ms: now_ms,
                }),
                _ => {}
            }
        }
    }

    fn order(&self, view: OrderView) {
        push(&mut self.lock().orders, view.clone(), RECENT);
        self.send(&LiveEvent::Order(view));
    }

    fn refusal(&self, view: RefusalView) {
        push(&mut self.lock().refusals, view.clone(), RECENT);
        self.send(&LiveEvent::Refusal(view));
    }

    /// A forecast reached the strategies.
    pub fn prediction(&self, p: &Prediction) {
        let view = PredictionView::from(p);
        {
            let mut h = self.lock();
            let series = h.predictions.entry(view.symbol.clone()).or_default();
            push(series, view.clone(), FORECASTS);
        }
        self.send(&LiveEvent::Prediction(view));
    }

    /// Strategies' equity now.
    pub fn equity(&self, view: EquityView) {
        push(&mut self.lock().equity, view.clone(), EQUITY);
        self.send(&LiveEvent::Equity(view));
    }

    /// Something happened that a person should see.
    pub fn notice(&self, notice: Notice) {
        push(&mut self.lock().notices, notice.clone(), RECENT);
        self.send(&LiveEvent::Notice(notice));
    }

    /// The status document, to every browser.
    pub fn status(&self, report: StatusReport) {
        self.send(&LiveEvent::Status(Box::new(report)));
    }

    fn send(&self, event: &LiveEvent) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        match serde_json::to_string(event) {
            Ok(data) => {
                let _ = self.tx.send(Arc::new(Frame {
                    name: event.name(),
                    data,
                }));
            }
            Err(e) => tracing::warn!("dashboard event {} not sent: {e}", event.name()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{OrderKind, Rejection, Side};

    fn trade(symbol: &str, price: f64, time_ms: i64) -> Trade {
        Trade {
            symbol: symbol.into(),
            price,
            size: 10.0,
            time_ms,
        }
    }

    #[test]
    fn trades_fold_into_bars_sent_once_per_flush() {
        let hub = EventHub::new(60);
        let mut rx = hub.subscribe();
        hub.trades(&[
            trade("SPY", 100.0, 60_000),
            trade("SPY", 101.0, 61_000),
            trade("SPY", 99.5, 119_999),
            trade("BAC", 15.0, 60_500),
        ]);
        hub.trades(&[trade("SPY", 100.5, 120_000), trade("SPY", 1.0, 59_000)]);
        hub.flush_bars();
        let mut sent = Vec::new();
        while let Ok(frame) = rx.try_recv() {
            assert_eq!(frame.name, "bar");
            sent.push(serde_json::from_str::<serde_json::Value>(&frame.data).unwrap());
        }
        assert_eq!(sent.len(), 2, "one event per changed symbol: {sent:?}");
        let snap = hub.snapshot(StatusReport::default());
        let spy = &snap.bars["SPY"];
        assert_eq!(spy.len(), 2, "the late trade of an earlier bar is left out");
        let first = &spy[0];
        assert_eq!(
            (first.open, first.high, first.low, first.close, first.trades),
            (100.0, 101.0, 99.5, 99.5, 3)
        );
        assert_eq!((spy[1].start_ms, spy[1].close), (120_000, 100.5));
        hub.flush_bars();
        assert!(rx.try_recv().is_err(), "nothing changed, nothing sent");
    }

    #[test]
    fn orders_and_refusals_are_matched_to_their_requests() {
        let hub = EventHub::new(60);
        let request = |tag| OrderRequest {
            symbol: "SPY".into(),
            side: Side::Buy,
            quantity: 5.0,
            kind: OrderKind::Limit(99.0),
            tag,
        };
        let (a, b) = (request(1), request(2));
        let outcomes = [
            BrokerOutcome::Rejected(Rejection {
                plugin: "p".into(),
                tag: 1,
                symbol: "SPY".into(),
                reason: "too big".into(),
                time_ms: 5,
            }),
            BrokerOutcome::Accepted {
                plugin: "p".into(),
                order_id: 7,
                tag: 2,
                symbol: "SPY".into(),
            },
        ];
        hub.outcomes(&[a, b], &outcomes, 5);
        let snap = hub.snapshot(StatusReport::default());
        assert_eq!(snap.refusals[0].reason, "too big");
        assert_eq!(
            (
                snap.orders[0].order_id,
                snap.orders[0].tag,
                snap.orders[0].limit
            ),
            (7, 2, Some(99.0))
        );
    }
}
