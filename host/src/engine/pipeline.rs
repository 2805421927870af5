//! The path of a tick: trade → market state (bars) → broker (fills of resting orders) →
//! plugins (one batch per feed message) → their orders → broker (risk checks, journal).
//!
//! The pipeline runs on one thread, the engine's. Live, plugin outputs are handled as they
//! arrive; in a backtest [`Pipeline::settle`] waits for every plugin to answer each batch
//! before the next one, which makes runs deterministic.

use super::view::Clock;
use crate::broker::{BrokerOutcome, PaperBroker};
use crate::market::MarketState;
use crate::plugins::bindings::{bar_event, fill_event, prediction_event, rejection_event};
use crate::plugins::symbols::SymbolMemo;
use crate::plugins::{BatchBuilder, PluginHost, PluginOutput};
use crate::trainer::TrainerHandle;
use crate::types::{Bar, Fill, Prediction, Trade};
use crossbeam_channel::Receiver;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Counters of the pipeline, for the status API.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Trades processed.
    pub trades: AtomicU64,
    /// Bars completed.
    pub bars: AtomicU64,
    /// Predictions forwarded to plugins.
    pub predictions: AtomicU64,
    /// Batches dispatched to plugins.
    pub batches: AtomicU64,
}

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
    /// Counters.
    pub stats: Arc<PipelineStats>,
    /// Plugin answers still expected (batches sent minus outputs received).
    outstanding: usize,
    /// The id of the symbol of the previous trade.
    memo: SymbolMemo,
    /// Every fill, for reports (backtests keep them; live keeps none).
    pub keep_fills: Option<Vec<Fill>>,
}

impl Pipeline {
    /// A pipeline over shared state.
    pub fn new(
        market: Arc<RwLock<MarketState>>,
        broker: Arc<Mutex<PaperBroker>>,
        plugins: Arc<PluginHost>,
        trainer: Option<Arc<TrainerHandle>>,
        clock: Clock,
    ) -> Self {
        Pipeline {
            market,
            broker,
            plugins,
            trainer,
            clock,
            stats: Arc::new(PipelineStats::default()),
            outstanding: 0,
            memo: SymbolMemo::default(),
            keep_fills: None,
        }
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
            let mut market = self.market.write().unwrap_or_else(|p| p.into_inner());
            let mut broker = self.broker.lock().unwrap_or_else(|p| p.into_inner());
            for trade in trades {
                latest = latest.max(trade.time_ms);
                if let Some(bar) = market.apply_trade(trade) {
                    batch.event(bar_event(&bar, &symbols));
                    bars.push(bar);
                }
                let id = self.memo.intern(&symbols, &trade.symbol);
                batch.trade(id, trade.price, trade.size, trade.time_ms);
                let filled = broker.on_trade(trade);
                if !filled.is_empty() {
                    fills.extend(filled);
                }
            }
        }
        // Nothing reads the clock inside the loop (the locks are held): advance it once.
        self.clock.advance_to(latest);
        self.stats
            .trades
            .fetch_add(trades.len() as u64, Ordering::Relaxed);
        self.after_bars(bars);
        self.deliver_fills(fills);
        self.dispatch(batch);
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
        self.after_bars(bars);
        self.dispatch(batch);
    }

    /// Forward a new prediction to the plugins.
    pub fn on_prediction(&mut self, p: &Prediction) {
        let event = prediction_event(p, self.plugins.symbols(), self.clock.now_ms());
        self.stats.predictions.fetch_add(1, Ordering::Relaxed);
        self.dispatch(std::iter::once(event).collect());
    }

    /// Hand a plugin's orders to the broker; refusals go back to the plugin.
    pub fn on_output(&mut self, output: PluginOutput) {
        self.outstanding = self.outstanding.saturating_sub(1);
        if output.actions.is_empty() {
            return;
        }
        let outcomes = self
            .broker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .submit(&output.plugin, output.actions, self.clock.now_ms());
        let symbols = self.plugins.symbols().clone();
        let refusals: BatchBuilder = outcomes
            .iter()
            .filter_map(|o| match o {
                // The broker has logged the refusal; the plugin hears of it as an event.
                BrokerOutcome::Rejected(r) => Some(rejection_event(r, &symbols)),
                _ => None,
            })
            .collect();
        if !refusals.is_empty() && self.plugins.deliver(&output.plugin, refusals.finish()) {
            self.outstanding += 1;
        }
    }

    /// Wait until every plugin has answered every batch sent so far (backtests and
    /// shutdown). Answers are handled in rounds sorted by (batch, plugin), not in arrival
    /// order, so that the broker sees orders in the same order on every run.
    pub fn settle(&mut self, outputs: &Receiver<PluginOutput>, timeout: Duration) -> bool {
        while self.outstanding > 0 {
            let mut round = Vec::with_capacity(self.outstanding);
            while round.len() < self.outstanding {
                match outputs.recv_timeout(timeout) {
                    Ok(output) => round.push(output),
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

    fn after_bars(&mut self, bars: Vec<Bar>) {
        self.stats
            .bars
            .fetch_add(bars.len() as u64, Ordering::Relaxed);
        if let Some(trainer) = &self.trainer {
            for bar in bars {
                trainer.bar(bar);
            }
        }
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
        self.outstanding += self.plugins.dispatch(Arc::new(batch.finish()));
    }
}
