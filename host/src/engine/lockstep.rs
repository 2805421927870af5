//! Lockstep: plugins driven so that the answer never depends on how trades were batched.
//!
//! # The rule (what batch size 1 would give)
//! Before trade *j* each plugin hears, in this order: the refusals of its orders submitted
//! just before, the bars that trade *j* closed and the forecasts made at them, and its fills
//! at trade *j* — then trade *j* itself. An action placed while handling any of these (or
//! trade *j*) goes to the broker at point *P(j)*: after the broker has processed trade *j*
//! and before it processes trade *j + 1*; so an order fills at the trades after the one that
//! caused it. At one point, plugins' actions go in rounds (each plugin's first, in name order,
//! then their second...), since a plugin that hears of a refusal may act again before the
//! next trade.
//!
//! # Doing it in batches
//! The broker's effect on one plugin (its fills and refusals) depends only on that plugin's
//! orders, so a plugin may run ahead of the others through trades that hold none of its
//! fills; what must wait is the broker (it processes trade *j* only once every plugin has
//! decided its actions at *P(j − 1)*) and the bars (nobody passes a trade that closes a bar
//! until everyone has reached it, so `recent-bars` reads the same for all). Each plugin gets
//! one call per stretch between its own fills, its own orders and bar closes; the guest
//! returns early at its first order (WIT 0.3.0), and the rest of its stretch follows in the
//! next call. Plugins called in the same round run in parallel on their threads, or one after
//! another inline; their answers are taken in name order either way.

use super::core::Core;
use crate::plugins::PluginOutput;
use crate::plugins::tape::{EventFilter, LaneBatch, Tape, cut};
use crate::types::{Bar, PluginAction, StrategyEvent, Trade};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A plugin stopped answering within the timeout.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin} did not answer a call within {timeout:?} (its worker is stuck or gone)")]
pub struct Stalled {
    /// The plugin.
    pub plugin: String,
    /// How long the engine waited.
    pub timeout: Duration,
}

/// One plugin's place in the lockstep.
#[derive(Debug)]
struct Lane {
    /// The events it receives.
    filter: EventFilter,
    /// Lanes of one class receive the same events (equal filters).
    class: usize,
    /// The first trade of the current run of trades it has not handled.
    pos: usize,
    /// Events it must hear of before trade `pos`, in order.
    queued: Vec<StrategyEvent>,
    /// Actions waiting for their point.
    pending: Option<Pending>,
}

/// Actions a plugin placed, with the trade after whose processing they go to the broker.
#[derive(Debug)]
struct Pending {
    point: usize,
    actions: Vec<PluginAction>,
}

/// The lockstep scheduler: one lane per running plugin, kept across runs of trades.
#[derive(Debug)]
pub struct Lockstep {
    lanes: BTreeMap<Arc<str>, Lane>,
    seq: u64,
    timeout: Duration,
}

impl Lockstep {
    /// A scheduler that waits at most `timeout` for a plugin's answer.
    pub fn new(timeout: Duration) -> Self {
        Lockstep {
            lanes: BTreeMap::new(),
            seq: 0,
            timeout,
        }
    }

    /// Lanes for the running plugins: new ones join, gone ones leave (with what they had
    /// queued); a reloaded plugin keeps its lane.
    fn sync_lanes(&mut self, core: &mut Core) {
        let running = core.plugins.lanes(core.market.period_secs());
        let names: Vec<Arc<str>> = running.iter().map(|(n, _)| n.clone()).collect();
        let before = self.lanes.len();
        self.lanes.retain(|name, _| names.contains(name));
        let mut changed = self.lanes.len() != before;
        for (name, filter) in running {
            match self.lanes.get_mut(&name) {
                Some(lane) if lane.filter == filter => {}
                Some(lane) => {
                    lane.filter = filter;
                    changed = true;
                }
                None => {
                    self.lanes.insert(
                        name,
                        Lane {
                            filter,
                            class: 0,
                            pos: 0,
                            queued: Vec::new(),
                            pending: None,
                        },
                    );
                    changed = true;
                }
            }
        }
        if changed {
            let mut classes: Vec<EventFilter> = Vec::new();
            for lane in self.lanes.values_mut() {
                lane.class = match classes.iter().position(|f| *f == lane.filter) {
                    Some(c) => c,
                    None => {
                        classes.push(lane.filter.clone());
                        classes.len() - 1
                    }
                };
            }
        }
        core.follow_bar_periods();
    }

    /// Queue `event` for every lane that receives it (market events) or for its plugin
    /// (fills, refusals), to be heard before the next trade.
    pub fn queue(&mut self, core: &Core, event: StrategyEvent) {
        let table = core.plugins.symbols();
        match &event {
            StrategyEvent::Fill(f) => {
                if let Some(lane) = self.lanes.get_mut(&f.plugin) {
                    lane.queued.push(event);
                }
            }
            StrategyEvent::Rejection(r) => {
                if let Some(lane) = self.lanes.get_mut(&r.plugin) {
                    lane.queued.push(event);
                }
            }
            _ => {
                for lane in self.lanes.values_mut() {
                    if lane.filter.wants(&event, table) {
                        lane.queued.push(event.clone());
                    }
                }
            }
        }
    }

    /// Run `trades` through the market, the broker and the plugins (see the module docs).
    pub fn run(&mut self, core: &mut Core, trades: &[Trade]) -> Result<(), Stalled> {
        self.sync_lanes(core);
        let n = trades.len();
        if n == 0 {
            return Ok(());
        }
        for lane in self.lanes.values_mut() {
            lane.pos = 0;
        }
        let tape = Tape::build(trades, core.plugins.symbols());
        let mut closing: Vec<Bar> = Vec::new();
        let mut scanned = 0;
        let mut barrier = scan(core, trades, &mut scanned, &mut closing);
        let mut committed = 0;
        loop {
            let mut progressed = false;
            if barrier < n && self.at_barrier(barrier) {
                self.open_barrier(core, &closing, trades[barrier].time_ms);
                closing.clear();
                barrier = scan(core, trades, &mut scanned, &mut closing);
                progressed = true;
            }
            progressed |= self.dispatch(core, &tape, trades, barrier, committed)?;
            progressed |= self.submit_due(core, trades, committed);
            // Committing moves no lane: the limit holds for the whole stretch.
            let limit = barrier.min(n).min(self.commit_limit());
            // Nobody reads the snapshot while trades are committed: it is published once, as
            // it stood after the last trade that filled (as if published at each).
            let (mut filled, mut prices): (Vec<Arc<str>>, _) = (Vec::new(), None);
            while committed < limit {
                let fills = core.commit_trade(&trades[committed]);
                core.clock.advance_to(trades[committed].time_ms);
                if !fills.is_empty() {
                    prices = Some(core.broker.last_prices());
                }
                for fill in fills {
                    if !filled.contains(&fill.plugin) {
                        filled.push(fill.plugin.clone());
                    }
                    self.queue(core, StrategyEvent::Fill(fill));
                }
                committed += 1;
                progressed = true;
            }
            if let Some(prices) = prices {
                core.snapshot.fills_from(&core.broker, &filled, prices);
                core.snapshot.publish();
            }
            let settled = self
                .lanes
                .values()
                .all(|l| l.pos >= n && l.pending.is_none());
            if committed == n && settled {
                break;
            }
            if !progressed {
                // Cannot happen by construction; say so rather than spin.
                tracing::error!(target: "tradehost::engine", "lockstep made no progress at trade {committed} of {n}; lanes: {:?}", self.lanes);
                break;
            }
        }
        core.snapshot.positions_from(&core.broker);
        core.snapshot.publish();
        super::core::EngineStats::add(&core.stats.trades, n as u64);
        Ok(())
    }

    /// Deliver what is still queued (after the last trade) until every plugin has heard of
    /// everything and its actions are settled: the end of a backtest.
    pub fn finish(&mut self, core: &mut Core, now_ms: i64) -> Result<(), Stalled> {
        self.sync_lanes(core);
        let tape = Tape::default();
        for _round in 0..1_000 {
            for lane in self.lanes.values_mut() {
                lane.pos = 0;
            }
            let moved = self.dispatch(core, &tape, &[], 0, 0)?;
            let due: Vec<Arc<str>> = self
                .lanes
                .iter()
                .filter(|(_, l)| l.pending.is_some())
                .map(|(n, _)| n.clone())
                .collect();
            for name in &due {
                self.submit_one(core, name, now_ms);
            }
            if !moved && due.is_empty() {
                break;
            }
        }
        core.snapshot.positions_from(&core.broker);
        core.snapshot.publish();
        Ok(())
    }

    /// Every lane has reached `barrier` (none can pass it) and nothing is owed before it.
    fn at_barrier(&self, barrier: usize) -> bool {
        self.lanes
            .values()
            .all(|l| l.pos == barrier && l.pending.as_ref().is_none_or(|p| p.point >= barrier))
    }

    /// The broker may process every trade before this one: trade `c` once every plugin has
    /// decided what it does before it (it is at `c` or past it, and its pending actions are
    /// not due before `c`).
    fn commit_limit(&self) -> usize {
        self.lanes
            .values()
            .map(|l| l.pending.as_ref().map_or(l.pos, |p| p.point.min(l.pos)))
            .min()
            .map_or(usize::MAX, |c| c + 1)
    }

    /// Bars closed by the barrier's trade (and forecasts made at them) reach the snapshot and
    /// every plugin that receives them, before that trade.
    fn open_barrier(&mut self, core: &mut Core, bars: &[Bar], time_ms: i64) {
        let forecasts = core.on_bars(bars);
        core.snapshot.publish();
        for bar in bars {
            self.queue(core, StrategyEvent::Bar(bar.clone()));
        }
        for prediction in forecasts {
            let stale = prediction.is_stale(time_ms);
            self.queue(core, StrategyEvent::Prediction { prediction, stale });
        }
    }

    /// Call every lane that can move; true when one did.
    fn dispatch(
        &mut self,
        core: &mut Core,
        tape: &Tape,
        trades: &[Trade],
        barrier: usize,
        committed: usize,
    ) -> Result<bool, Stalled> {
        let n = trades.len();
        let table = core.plugins.symbols().clone();
        let mut calls: Vec<(Arc<str>, LaneBatch)> = Vec::new();
        let mut moved = false;
        // Lanes that hear the same events over the same trades share one batch (the sets of
        // a sweep mostly do): the last one cut, with what it was cut from.
        let mut last_cut: Option<(std::ops::Range<usize>, usize, Vec<StrategyEvent>, LaneBatch)> =
            None;
        for (name, lane) in self.lanes.iter_mut() {
            if lane.pending.is_some() || (lane.pos >= n && !trades.is_empty()) {
                continue;
            }
            let limit = barrier.min(n);
            if lane.pos >= limit && lane.queued.is_empty() {
                continue;
            }
            let priced = |i: usize| (&trades[i].symbol, trades[i].price, trades[i].time_ms);
            // Its fill at `pos` must be processed (and queued) before it sees that trade.
            let fill_here = lane.pos < limit
                && committed <= lane.pos
                && core.broker.first_fill(name, [priced(lane.pos)]).is_some();
            let end = if lane.pos >= limit || fill_here {
                lane.pos
            } else {
                let from = lane.pos + 1;
                core.broker
                    .first_fill(name, (from..limit).map(priced))
                    .map_or(limit, |k| from + k)
            };
            if end == lane.pos && lane.queued.is_empty() {
                continue;
            }
            let range = lane.pos..end;
            let shared = last_cut.as_ref().filter(|(r, class, queued, _)| {
                *r == range && *class == lane.class && *queued == lane.queued
            });
            let batch = match shared {
                Some((_, _, _, batch)) => Some(batch.clone()),
                None => {
                    let batch = cut(tape, range.clone(), &lane.queued, &lane.filter, &table);
                    if let Some(b) = &batch {
                        last_cut = Some((range, lane.class, lane.queued.clone(), b.clone()));
                    }
                    batch
                }
            };
            match batch {
                Some(batch) => calls.push((name.clone(), batch)),
                None => {
                    lane.pos = end;
                    moved = true;
                }
            }
        }
        if calls.is_empty() {
            return Ok(moved);
        }
        let outputs = self.call_all(core, &calls)?;
        for ((name, batch), output) in calls.into_iter().zip(outputs) {
            let Some(lane) = self.lanes.get_mut(&name) else {
                continue;
            };
            let (consumed, actions) = match output {
                Some(o) => (o.consumed, o.actions),
                // Not delivered (the worker is gone): the plugin skips these events.
                None => (usize::MAX, Vec::new()),
            };
            let progress = batch.progress(consumed);
            lane.queued.drain(..progress.queued.min(lane.queued.len()));
            lane.pos = progress.next;
            if !actions.is_empty() {
                lane.pending = Some(Pending {
                    point: progress.point,
                    actions,
                });
            }
        }
        Ok(true)
    }

    /// Send every call, then take the answers (in any order): the answer to each call, in
    /// the order of `calls`; `None` for a call that could not be delivered.
    fn call_all(
        &mut self,
        core: &Core,
        calls: &[(Arc<str>, LaneBatch)],
    ) -> Result<Vec<Option<PluginOutput>>, Stalled> {
        // Call `i` has sequence number `first + i`.
        let first = self.seq + 1;
        let mut delivered = Vec::with_capacity(calls.len());
        for (name, batch) in calls {
            self.seq += 1;
            delivered.push(core.plugins.call(name, self.seq, batch.batch.clone()));
        }
        super::core::EngineStats::add(&core.stats.batches, calls.len() as u64);
        let mut answers: Vec<Option<PluginOutput>> = calls.iter().map(|_| None).collect();
        let mut waiting = delivered.iter().filter(|d| **d).count();
        while waiting > 0 {
            // Inline plugins have answered already: no clock read for a deadline then.
            let output = core
                .outputs
                .try_recv()
                .or_else(|_| core.outputs.recv_timeout(self.timeout))
                .map_err(|_| Stalled {
                    plugin: (0..calls.len())
                        .find(|&i| delivered[i] && answers[i].is_none())
                        .map(|i| calls[i].0.to_string())
                        .unwrap_or_default(),
                    timeout: self.timeout,
                })?;
            // Answers to anything else (a command sent before the lockstep) are dropped.
            let call = usize::try_from(output.seq.wrapping_sub(first))
                .ok()
                .filter(|&i| i < calls.len() && delivered[i] && answers[i].is_none());
            if let Some(i) = call {
                answers[i] = Some(output);
                waiting -= 1;
            }
        }
        Ok(answers)
    }

    /// Submit the actions due at the last processed trade, once every plugin has decided
    /// what it does there: in rounds, each in name order; true when some went.
    fn submit_due(&mut self, core: &mut Core, trades: &[Trade], committed: usize) -> bool {
        let Some(point) = committed.checked_sub(1) else {
            return false;
        };
        let resolved = self
            .lanes
            .values()
            .all(|l| l.pos > point || l.pending.as_ref().is_some_and(|p| p.point == point));
        let due: Vec<Arc<str>> = self
            .lanes
            .iter()
            .filter(|(_, l)| l.pending.as_ref().is_some_and(|p| p.point == point))
            .map(|(n, _)| n.clone())
            .collect();
        if !resolved || due.is_empty() {
            return false;
        }
        let now = trades[point].time_ms;
        for name in &due {
            self.submit_one(core, name, now);
        }
        true
    }

    /// Submit one lane's pending actions; its refusals are queued for it.
    fn submit_one(&mut self, core: &mut Core, name: &Arc<str>, now_ms: i64) {
        let Some(pending) = self.lanes.get_mut(name).and_then(|l| l.pending.take()) else {
            return;
        };
        let refusals = core.submit(name, pending.actions, now_ms);
        for r in refusals {
            self.queue(core, StrategyEvent::Rejection(r));
        }
    }
}

/// Apply trades to the market state from `*scanned` until one closes bars (returned in
/// `closing`); its index, or `trades.len()` when none does.
fn scan(core: &mut Core, trades: &[Trade], scanned: &mut usize, closing: &mut Vec<Bar>) -> usize {
    while *scanned < trades.len() {
        let i = *scanned;
        core.market.apply_trade_into(&trades[i], closing);
        *scanned += 1;
        if !closing.is_empty() {
            return i;
        }
    }
    trades.len()
}
