//! The state the engine thread owns, without locks: market state, the paper broker, the
//! plugin host's handle and its answers, the snapshot it publishes, the clock and counters.
//!
//! Every way of driving plugins (the [`Lockstep`](super::lockstep::Lockstep) of backtests
//! and of inline live runs, the streaming of live runs with a thread per plugin) works on a
//! `Core`; what they share lives here.

use super::latency::LatencyHistogram;
use super::snapshot::{Clock, SnapshotWriter};
use crate::broker::{BrokerOutcome, PaperBroker, TradePoint};
use crate::market::MarketState;
use crate::plugins::{PluginHost, PluginOutput};
use crate::trainer::TrainerHandle;
use crate::types::{Bar, Fill, Prediction, Rejection, TimestampMs};
use crossbeam_channel::Receiver;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes a forecast at a completed bar, synchronously (backtests with predictions).
pub type Forecaster = Box<dyn FnMut(&Bar) -> Option<Prediction> + Send>;

/// Looks at the broker just before it processes a trade (a backtest's equity samples).
pub type CommitObserver = Box<dyn FnMut(&PaperBroker, &crate::types::Trade) + Send>;

/// Where forecasts come from.
pub enum Forecasts {
    /// None (backtests without models, tests).
    Off,
    /// The live trainer: completed bars go to it, forecasts come back on a channel.
    Trainer(Arc<TrainerHandle>),
    /// Made at each completed bar, before the strategies hear of it (backtests).
    Replay(Forecaster),
}

/// Counters of the engine, for the status API.
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Trades processed.
    pub trades: AtomicU64,
    /// Bars completed.
    pub bars: AtomicU64,
    /// Predictions forwarded to plugins.
    pub predictions: AtomicU64,
    /// Calls and batches sent to plugins.
    pub batches: AtomicU64,
    /// Frame read to order at the broker, for answers with orders (live only).
    pub tick_to_order: LatencyHistogram,
    /// Frame read to that order journaled (accepted or refused, written and synced as
    /// `JOURNAL_FSYNC` says), before anyone hears of it (live only).
    pub tick_to_journaled: LatencyHistogram,
    /// Frame read to the engine thread taking the batch up (the feed's share of the above).
    pub feed_to_engine: LatencyHistogram,
}

impl EngineStats {
    /// Add `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// What the engine thread owns.
pub struct Core {
    /// Bars and last trades.
    pub market: MarketState,
    /// The paper broker (journal first).
    pub broker: PaperBroker,
    /// The plugins.
    pub plugins: Arc<PluginHost>,
    /// Every plugin's answers.
    pub outputs: Receiver<PluginOutput>,
    /// What the engine publishes for readers.
    pub snapshot: SnapshotWriter,
    /// The engine's time.
    pub clock: Clock,
    /// Counters.
    pub stats: Arc<EngineStats>,
    /// Where forecasts come from.
    pub forecasts: Forecasts,
    /// Every fill, kept for a report (backtests), else `None`.
    pub kept_fills: Option<Vec<Fill>>,
    /// Every refusal, kept for a report (backtests), else `None`.
    pub kept_refusals: Option<Vec<Rejection>>,
    /// Called before each trade is processed by the broker, if set.
    pub before_commit: Option<CommitObserver>,
    /// The plugins' generation the market's bar periods were set for.
    periods_for: Option<u64>,
}

impl Core {
    /// The engine's state: `market` and `broker` owned, `plugins` answering on `outputs`,
    /// what readers see published into `snapshot`, time from `clock`, forecasts from
    /// `forecasts`. Keeps nothing for a report ([`keeping_for_report`](Self::keeping_for_report)).
    pub fn new(
        market: MarketState,
        broker: PaperBroker,
        plugins: Arc<PluginHost>,
        outputs: Receiver<PluginOutput>,
        snapshot: SnapshotWriter,
        clock: Clock,
        forecasts: Forecasts,
    ) -> Core {
        Core {
            market,
            broker,
            plugins,
            outputs,
            snapshot,
            clock,
            stats: Arc::new(EngineStats::default()),
            forecasts,
            kept_fills: None,
            kept_refusals: None,
            before_commit: None,
            periods_for: None,
        }
    }

    /// Keep every fill and refusal, for a report (backtests).
    pub fn keeping_for_report(mut self) -> Core {
        self.kept_fills = Some(Vec::new());
        self.kept_refusals = Some(Vec::new());
        self
    }

    /// Completed bars: into the snapshot, to the trainer; returns the forecasts made at
    /// them (backtests), which strategies hear of right after the bars.
    pub fn on_bars(&mut self, bars: &[Bar]) -> Vec<Prediction> {
        EngineStats::add(&self.stats.bars, bars.len() as u64);
        self.snapshot.add_bars(bars);
        match &mut self.forecasts {
            Forecasts::Off => Vec::new(),
            Forecasts::Trainer(trainer) => {
                for bar in bars {
                    trainer.bar(bar.clone());
                }
                Vec::new()
            }
            Forecasts::Replay(forecast) => {
                let made: Vec<Prediction> = bars.iter().filter_map(forecast).collect();
                for p in &made {
                    self.snapshot.add_prediction(p);
                }
                EngineStats::add(&self.stats.predictions, made.len() as u64);
                made
            }
        }
    }

    /// The fills a trade caused (journaled first), kept for a report when asked.
    pub fn commit_trade(&mut self, trade: &crate::types::Trade) -> Vec<Fill> {
        if let Some(observe) = &mut self.before_commit {
            observe(&self.broker, trade);
        }
        let fills = self.broker.on_trade(trade);
        if let Some(kept) = &mut self.kept_fills {
            kept.extend(fills.iter().cloned());
        }
        fills
    }

    /// Submit a plugin's actions at `now_ms`; returns the refusals (journaled by the broker),
    /// kept for a report when asked.
    pub fn submit(
        &mut self,
        plugin: &str,
        actions: Vec<crate::types::PluginAction>,
        now_ms: TimestampMs,
    ) -> Vec<Rejection> {
        self.submit_outcomes(plugin, actions, now_ms, None)
            .iter()
            .filter_map(BrokerOutcome::rejection)
            .cloned()
            .collect()
    }

    /// [`submit`](Self::submit), returning every outcome (one per action, in order); with a
    /// `cause`, the orders fill only at trades after it, even those processed already (take
    /// those fills with [`take_late_fills`](Self::take_late_fills)).
    pub fn submit_outcomes(
        &mut self,
        plugin: &str,
        actions: Vec<crate::types::PluginAction>,
        now_ms: TimestampMs,
        cause: Option<TradePoint>,
    ) -> Vec<BrokerOutcome> {
        let outcomes = match cause {
            Some(cause) => self.broker.submit_caused(plugin, actions, now_ms, cause),
            None => self.broker.submit(plugin, actions, now_ms),
        };
        if let Some(kept) = &mut self.kept_refusals {
            kept.extend(
                outcomes
                    .iter()
                    .filter_map(BrokerOutcome::rejection)
                    .cloned(),
            );
        }
        outcomes
    }

    /// The fills that orders caused before trades already processed got when they arrived
    /// (journaled already), kept for a report when asked.
    pub fn take_late_fills(&mut self) -> Vec<Fill> {
        let fills = self.broker.take_late_fills();
        if let Some(kept) = &mut self.kept_fills {
            kept.extend(fills.iter().cloned());
        }
        fills
    }

    /// Build bars of exactly the periods the loaded plugins ask for in
    /// `strategy-info.bar-periods` (at most 8 each, checked at load); looked at again only
    /// when the plugins changed.
    pub fn follow_bar_periods(&mut self) {
        let generation = self.plugins.generation();
        if self.periods_for == Some(generation) {
            return;
        }
        self.market.build_periods(self.plugins.wanted_bar_periods());
        self.periods_for = Some(generation);
    }
}
