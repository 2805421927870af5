//! The path of a tick in a live run: trade → market state (bars) → broker (fills of resting
//! orders) → plugins (one batch per feed message) → their orders → broker (risk checks,
//! journal).
//!
//! The pipeline drives an engine [`Core`] (the state the engine thread owns, without locks)
//! the way a live run needs: plugin answers are handled as they arrive, each plugin on its
//! own thread or inline. After each feed message it publishes the core's snapshot, which is
//! all the plugins' host imports and the status API read. [`Pipeline::settle`] waits for
//! every plugin to answer each batch before the next one (shutdown, tests). Backtests drive
//! the same `Core` with [`super::lockstep::Lockstep`] instead.

use super::broker_board::BrokerBoard;
use super::core::Core;
use super::latency::FrameTimes;
use super::order_route::OrderRoute;
use crate::broker::PaperBroker;
use crate::dashboard::EventHub;
use crate::feed::TradeBatch;
use crate::plugins::dispatch_batch::BatchPoints;
use crate::plugins::{DispatchBatch, PluginHost};
use crate::types::{Bar, Fill, Trade};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

mod orders;
mod remote;

/// Counters of the pipeline, for the status API: the same as the engine core's.
pub type PipelineStats = super::core::EngineStats;

/// The live engine: a [`Core`] and what streaming plugins live needs besides.
pub struct Pipeline {
    /// Market state, broker, plugins, snapshot, clock and counters.
    pub core: Core,
    /// Where the broker's figures are published for the status API (the daemon's).
    broker_board: Option<BrokerBoard>,
    /// Plugin answers still expected (batches sent minus outputs received).
    outstanding: usize,
    /// When the frame of the trades being processed was read (live feed batches).
    received: Option<std::time::Instant>,
    /// Dashboard hook: the live dashboard's events (trades, fills, orders, refusals,
    /// forecasts), when a status server runs.
    pub events: Option<Arc<EventHub>>,
    /// Frame times of recently dispatched batches, to time the answers.
    frames: FrameTimes,
    /// On a strategy host, where orders go instead of the local broker (which then only
    /// mirrors the fills the broker host reports).
    remote: Option<OrderRoute>,
}

impl Pipeline {
    /// A pipeline driving `core`; its snapshot is published at once (positions recovered
    /// from the journal are readable before the first trade).
    pub fn new(mut core: Core) -> Self {
        core.snapshot.positions_from(&core.broker);
        core.snapshot.publish();
        Pipeline {
            core,
            broker_board: None,
            outstanding: 0,
            received: None,
            events: None,
            frames: FrameTimes::default(),
            remote: None,
        }
    }

    /// Publish the broker's figures to `board` from now on (after fills, submissions,
    /// operator commands, and every second), starting now.
    pub fn publish_broker_to(&mut self, board: BrokerBoard) {
        board.publish(&self.core.broker);
        self.broker_board = Some(board);
    }

    /// The plugins.
    pub fn plugins(&self) -> &Arc<PluginHost> {
        &self.core.plugins
    }

    /// The broker (read-only: orders go through [`on_outputs`](Self::on_outputs)).
    pub fn broker(&self) -> &PaperBroker {
        &self.core.broker
    }

    /// The broker, to flush its journal at shutdown.
    pub fn broker_mut(&mut self) -> &mut PaperBroker {
        &mut self.core.broker
    }

    /// Publish the broker's figures to the board, when there is one (every second, and
    /// after each operator command).
    pub fn publish_broker(&self) {
        if let Some(board) = &self.broker_board {
            board.publish(&self.core.broker);
        }
    }

    /// After the broker's positions changed: into the snapshot and onto the board.
    fn positions_changed(&mut self) {
        self.core.snapshot.positions_from(&self.core.broker);
        self.core.snapshot.publish();
        self.publish_broker();
    }

    /// Process one feed message ([`on_trades`](Self::on_trades)), timing the orders it
    /// causes from the moment its frame was read.
    pub fn on_feed_batch(&mut self, batch: &TradeBatch) {
        let waited = u64::try_from(batch.received.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.core.stats.feed_to_engine.record(waited);
        self.received = Some(batch.received);
        self.on_trades(&batch.trades);
        self.received = None;
    }

    /// Process one feed message's trades: bars, fills, then one batch to the plugins.
    pub fn on_trades(&mut self, trades: &[Trade]) {
        if trades.is_empty() {
            return;
        }
        self.core.follow_bar_periods();
        let mut batch = self.core.plugins.batch(trades.len());
        let first = self.core.broker.next_point();
        let mut bars: Vec<Bar> = Vec::new();
        let mut fills: Vec<Fill> = Vec::new();
        let mut latest = i64::MIN;
        for trade in trades {
            latest = latest.max(trade.time_ms);
            let closed = bars.len();
            self.core.market.apply_trade_into(trade, &mut bars);
            for bar in &bars[closed..] {
                batch.bar(bar);
            }
            batch.trade(trade);
            fills.extend(self.core.commit_trade(trade));
        }
        self.core.clock.advance_to(latest);
        batch.follows(BatchPoints {
            first,
            last: self.core.broker.last_point(),
        });
        self.core.snapshot.trades(trades);
        if !fills.is_empty() {
            self.core.snapshot.positions_from(&self.core.broker);
            self.publish_broker();
        }
        if let Some(hub) = &self.events {
            // Dashboard hook.
            hub.trades(trades);
            hub.fills(&fills);
        }
        PipelineStats::add(&self.core.stats.trades, trades.len() as u64);
        let forecasts = self.core.on_bars(&bars);
        // Published before any plugin hears of these trades: host imports read them.
        self.core.snapshot.publish();
        self.deliver_fills(fills);
        self.dispatch(batch);
        for p in &forecasts {
            self.on_prediction(p);
        }
    }

    /// Close bars of quiet symbols whose period ended before `now_ms`.
    pub fn flush_bars(&mut self, now_ms: i64) {
        let bars = self.core.market.flush_until(now_ms);
        if bars.is_empty() {
            return;
        }
        let mut batch = self.core.plugins.batch(0);
        batch.follows(self.points_now());
        for bar in &bars {
            batch.bar(bar);
        }
        let forecasts = self.core.on_bars(&bars);
        self.core.snapshot.publish();
        self.dispatch(batch);
        for p in &forecasts {
            self.on_prediction(p);
        }
    }

    /// Bars of history fetched at start: into the market state's histories and the
    /// snapshot, before or between the live bars (an older or repeated bar is dropped).
    pub fn load_history(&mut self, bars: &[Bar]) {
        for bar in bars {
            self.core.market.push_bar(bar.clone());
        }
        self.core.snapshot.add_bars(bars);
        self.core.snapshot.publish();
    }

    /// Forward a new prediction to the plugins (into the snapshot first: the
    /// `latest-prediction` import reads it there).
    pub fn on_prediction(&mut self, p: &crate::types::Prediction) {
        if let Some(hub) = &self.events {
            hub.prediction(p); // Dashboard hook.
        }
        self.core.snapshot.add_prediction(p);
        self.core.snapshot.publish();
        let mut batch = self.core.plugins.batch(0);
        batch.follows(self.points_now());
        batch.prediction(p, self.core.clock.now_ms());
        PipelineStats::add(&self.core.stats.predictions, 1);
        self.dispatch(batch);
    }

    /// Wait until every plugin has answered every batch sent so far (shutdown and tests).
    /// Answers are handled in rounds sorted by (batch, plugin), not in arrival order, so
    /// that the broker sees orders in the same order on every run.
    pub fn settle(&mut self, timeout: Duration) -> bool {
        let outputs = self.core.outputs.clone();
        while self.outstanding > 0 {
            let mut round = Vec::with_capacity(self.outstanding);
            let mut done = 0;
            while done < self.outstanding {
                match outputs.recv_timeout(timeout) {
                    Ok(output) => {
                        done += usize::from(output.done);
                        round.push(output);
                    }
                    Err(_) => return false,
                }
            }
            round.sort_by(|a, b| (a.seq, &a.plugin).cmp(&(b.seq, &b.plugin)));
            self.on_outputs(round);
        }
        true
    }

    fn deliver_fills(&mut self, fills: Vec<Fill>) {
        if fills.is_empty() {
            return;
        }
        let mut by_plugin: BTreeMap<Arc<str>, DispatchBatch> = BTreeMap::new();
        for fill in &fills {
            by_plugin
                .entry(fill.plugin.clone())
                .or_insert_with(|| self.core.plugins.batch(0))
                .fill(fill);
        }
        for (plugin, events) in by_plugin {
            self.deliver(&plugin, events);
        }
    }

    /// Where events without trades stand: after the last trade the broker processed.
    fn points_now(&self) -> BatchPoints {
        let last = self.core.broker.last_point();
        BatchPoints { first: last, last }
    }

    /// Send `events` (no trades: fills, refusals) to one plugin, counting the answer it owes.
    fn deliver(&mut self, plugin: &str, mut events: DispatchBatch) {
        events.follows(self.points_now());
        if self.core.plugins.send_to(plugin, events) {
            self.outstanding += 1;
        }
    }

    fn dispatch(&mut self, batch: DispatchBatch) {
        if batch.is_empty() {
            return;
        }
        PipelineStats::add(&self.core.stats.batches, 1);
        let (seq, sent) = self.core.plugins.send_to_all(batch);
        if let Some(received) = self.received {
            self.frames.dispatched(seq, received);
        }
        self.outstanding += sent;
    }
}
