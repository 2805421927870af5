//! The path of a tick: trade → market state (bars) → broker (fills of resting orders) →
//! plugins (one batch per feed message) → their orders → broker (risk checks, journal).
//!
//! The pipeline runs on one thread, the engine's. Live, plugin outputs are handled as they
//! arrive; in a backtest [`Pipeline::settle`] waits for every plugin to answer each batch
//! before the next one, which makes runs deterministic.

use super::broker_board::BrokerBoard;
use super::latency::FrameTimes;
use super::order_route::OrderRoute;
use super::view::{Clock, PositionBoard};
use crate::broker::PaperBroker;
use crate::dashboard::EventHub;
use crate::feed::TradeBatch;
use crate::market::MarketState;
use crate::plugins::bindings::{bar_event, fill_event, prediction_event};
use crate::plugins::symbols::SymbolMemo;
use crate::plugins::{BatchBuilder, PluginHost, PluginOutput};
use crate::trainer::TrainerHandle;
use crate::types::{Bar, Fill, Prediction, Trade};
use crossbeam_channel::Receiver;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

mod orders;
mod remote;

/// Makes a forecast at a completed bar, synchronously (backtests with predictions).
pub type Forecaster = Box<dyn FnMut(&Bar) -> Option<Prediction> + Send>;

/// Counters of the pipeline, for the status API: the same as the engine core's.
pub type PipelineStats = super::core::EngineStats;

/// The engine's hot loop state.
pub struct Pipeline {
    /// Bars and last trades (shared with the plugins' view).
    pub market: Arc<RwLock<MarketState>>,
    /// The paper broker (shared with the plugins' view).
    pub broker: Arc<Mutex<PaperBroker>>,
    /// The plugins.
    pub plugins: Arc<PluginHost>,
    /// The trainer, fed with completed bars (absent when training is off).
    pub trainer: Option<Arc<TrainerHandle>>,
    /// The clock plugins see.
    pub clock: Clock,
    /// Where positions are published for the plugins' `position-of`.
    positions: PositionBoard,
    /// Where the broker's figures are published for the status API (the daemon's).
    pub broker_board: Option<BrokerBoard>,
    /// Counters.
    pub stats: Arc<PipelineStats>,
    /// Plugin answers still expected (batches sent minus outputs received).
    outstanding: usize,
    /// The id of the symbol of the previous trade.
    memo: SymbolMemo,
    /// Every fill, for reports (backtests keep them; live keeps none).
    pub keep_fills: Option<Vec<Fill>>,
    /// Forecasts made synchronously at each completed bar (backtests with predictions);
    /// they reach the plugins right after the batch holding that bar.
    pub forecaster: Option<Forecaster>,
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
    /// A pipeline over shared state.
    pub fn new(
        market: Arc<RwLock<MarketState>>,
        broker: Arc<Mutex<PaperBroker>>,
        plugins: Arc<PluginHost>,
        trainer: Option<Arc<TrainerHandle>>,
        clock: Clock,
        positions: PositionBoard,
    ) -> Self {
        positions.publish(&broker.lock().unwrap_or_else(|p| p.into_inner()));
        Pipeline {
            market,
            broker,
            plugins,
            trainer,
            clock,
            positions,
            broker_board: None,
            stats: Arc::new(PipelineStats::default()),
            outstanding: 0,
            memo: SymbolMemo::default(),
            keep_fills: None,
            forecaster: None,
            received: None,
            events: None,
            frames: FrameTimes::default(),
            remote: None,
        }
    }

    /// Publish the broker's figures to the board, when there is one (every second, and
    /// after each operator command).
    pub fn publish_broker(&self) {
        if self.broker_board.is_some() {
            self.publish_board(&self.broker.lock().unwrap_or_else(|p| p.into_inner()));
        }
    }

    /// [`publish_broker`](Self::publish_broker) with the broker already held (after fills
    /// and submissions, so counts in the status API follow the journal at once).
    fn publish_board(&self, broker: &PaperBroker) {
        if let Some(board) = &self.broker_board {
            board.publish(broker);
        }
    }

    /// Process one feed message ([`on_trades`](Self::on_trades)), timing the orders it
    /// causes from the moment its frame was read.
    pub fn on_feed_batch(&mut self, batch: &TradeBatch) {
        let waited = u64::try_from(batch.received.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stats.feed_to_engine.record(waited);
        self.received = Some(batch.received);
        self.on_trades(&batch.trades);
        self.received = None;
    }

    /// Process one feed message's trades: bars, fills, then one batch to the plugins.
    pub fn on_trades(&mut self, trades: &[Trade]) {
        if trades.is_empty() {
            return;
        }
        let symbols = self.plugins.symbols().clone();
        let mut batch = BatchBuilder::with_capacity(trades.len());
        let mut bars: Vec<Bar> = Vec::new();
        let mut fills: Vec<Fill> = Vec::new();
        let mut latest = i64::MIN;
        {
            // Two passes, so that no lock a host import takes is held across the journal's
            // writes: the market's (bars, last trades) without I/O, then the broker's.
            let mut market = self.market.write().unwrap_or_else(|p| p.into_inner());
            for trade in trades {
                latest = latest.max(trade.time_ms);
                if let Some(bar) = market.apply_trade(trade) {
                    batch.event(bar_event(&bar, &symbols));
                    bars.push(bar);
                }
                let id = self.memo.intern(&symbols, &trade.symbol);
                batch.trade(id, trade.price, trade.size, trade.time_ms);
            }
        }
        {
            let mut broker = self.broker.lock().unwrap_or_else(|p| p.into_inner());
            for trade in trades {
                fills.extend(broker.on_trade(trade));
            }
            if !fills.is_empty() {
                self.positions.publish(&broker);
                self.publish_board(&broker);
            }
        }
        // Nothing reads the clock inside the loop (the locks are held): advance it once.
        self.clock.advance_to(latest);
        if let Some(hub) = &self.events {
            // Dashboard hook.
            hub.trades(trades);
            hub.fills(&fills);
        }
        self.stats
            .trades
            .fetch_add(trades.len() as u64, Ordering::Relaxed);
        let forecasts = self.after_bars(bars);
        self.deliver_fills(fills);
        self.dispatch(batch);
        for p in &forecasts {
            self.on_prediction(p);
        }
    }

    /// Close bars of quiet symbols whose period ended before `now_ms`.
    pub fn flush_bars(&mut self, now_ms: i64) {
        let bars = self
            .market
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .flush_until(now_ms);
        if bars.is_empty() {
            return;
        }
        let symbols = self.plugins.symbols().clone();
        let batch = bars.iter().map(|b| bar_event(b, &symbols)).collect();
        let forecasts = self.after_bars(bars);
        self.dispatch(batch);
        for p in &forecasts {
            self.on_prediction(p);
        }
    }

    /// Forward a new prediction to the plugins.
    pub fn on_prediction(&mut self, p: &Prediction) {
        if let Some(hub) = &self.events {
            hub.prediction(p); // Dashboard hook.
        }
        let event = prediction_event(p, self.plugins.symbols(), self.clock.now_ms());
        self.stats.predictions.fetch_add(1, Ordering::Relaxed);
        self.dispatch(std::iter::once(event).collect());
    }

    /// Wait until every plugin has answered every batch sent so far (backtests and
    /// shutdown). Answers are handled in rounds sorted by (batch, plugin), not in arrival
    /// order, so that the broker sees orders in the same order on every run.
    pub fn settle(&mut self, outputs: &Receiver<PluginOutput>, timeout: Duration) -> bool {
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
            for output in round {
                self.on_output(output);
            }
        }
        true
    }

    /// Completed bars go to the trainer (live) or the forecaster (backtest, whose forecasts
    /// are returned for dispatch after the batch).
    fn after_bars(&mut self, bars: Vec<Bar>) -> Vec<Prediction> {
        self.stats
            .bars
            .fetch_add(bars.len() as u64, Ordering::Relaxed);
        let forecasts = match &mut self.forecaster {
            Some(forecast) => bars.iter().filter_map(forecast).collect(),
            None => Vec::new(),
        };
        if let Some(trainer) = &self.trainer {
            for bar in bars {
                trainer.bar(bar);
            }
        }
        forecasts
    }

    fn deliver_fills(&mut self, fills: Vec<Fill>) {
        if fills.is_empty() {
            return;
        }
        let symbols = self.plugins.symbols().clone();
        let mut by_plugin: BTreeMap<Arc<str>, BatchBuilder> = BTreeMap::new();
        for fill in &fills {
            by_plugin
                .entry(fill.plugin.clone())
                .or_default()
                .event(fill_event(fill, &symbols));
        }
        for (plugin, events) in by_plugin {
            if self.plugins.deliver(&plugin, events.finish()) {
                self.outstanding += 1;
            }
        }
        if let Some(kept) = &mut self.keep_fills {
            kept.extend(fills);
        }
    }

    fn dispatch(&mut self, batch: BatchBuilder) {
        if batch.is_empty() {
            return;
        }
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        let (seq, sent) = self.plugins.dispatch_seq(Arc::new(batch.finish()));
        if let Some(received) = self.received {
            self.frames.dispatched(seq, received);
        }
        self.outstanding += sent;
    }
}
