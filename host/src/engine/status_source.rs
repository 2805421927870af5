//! The engine's answer to the status API: a [`StatusReport`] assembled from the live
//! subsystems on demand.

use super::pipeline::PipelineStats;
use crate::broker::PaperBroker;
use crate::feed::{FeedStats, FeedStatus};
use crate::market::MarketState;
use crate::plugins::PluginHost;
use crate::status::report::{
    BrokerReport, EngineReport, FeedReport, ModelReport, PositionReport, SymbolReport,
};
use crate::status::{StatusReport, StatusSource};
use crate::trainer::{PredictionBoard, TrainerStatus};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// The feed's latest status, updated by the engine thread.
#[derive(Debug, Default, Clone)]
pub struct FeedState {
    /// `connected`, `reconnecting`...
    pub state: String,
    /// Details of the latest change.
    pub detail: String,
    /// Reconnections so far.
    pub reconnects: u64,
    /// Symbols subscribed.
    pub subscriptions: Vec<String>,
}

impl FeedState {
    /// Fold a status event into the state.
    pub fn apply(&mut self, status: &FeedStatus) {
        let text = format!("{status:?}");
        match status {
            FeedStatus::Connected { .. } => self.state = "connected".into(),
            FeedStatus::Disconnected { .. } => self.state = "disconnected".into(),
            FeedStatus::Reconnecting { .. } => {
                self.state = "reconnecting".into();
                self.reconnects += 1;
            }
            FeedStatus::Terminated { .. } => self.state = "stopped".into(),
            _ => {}
        }
        self.detail = text;
    }
}

/// Everything the status report is built from.
pub struct EngineStatus {
    /// When the daemon started.
    pub started: Instant,
    /// `live`, `demo` or `backtest`.
    pub mode: String,
    /// Feed counters.
    pub feed_stats: Arc<FeedStats>,
    /// Feed connection state.
    pub feed_state: Arc<Mutex<FeedState>>,
    /// Pipeline counters.
    pub pipeline: Arc<PipelineStats>,
    /// Market state.
    pub market: Arc<RwLock<MarketState>>,
    /// The broker.
    pub broker: Arc<Mutex<PaperBroker>>,
    /// The plugins.
    pub plugins: Arc<PluginHost>,
    /// Latest predictions.
    pub board: PredictionBoard,
    /// The trainer's status, when training runs.
    pub trainer: Option<Box<dyn Fn() -> TrainerStatus + Send + Sync>>,
}

impl StatusSource for EngineStatus {
    fn report(&self) -> StatusReport {
        let feed = self.feed_stats.snapshot();
        let state = self
            .feed_state
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let market: Vec<SymbolReport> = self
            .market
            .read()
            .map(|m| {
                m.symbols()
                    .map(|s| {
                        let prediction = self.board.latest(s);
                        SymbolReport {
                            symbol: s.to_string(),
                            last_price: m.last_trade(s).map(|t| t.price),
                            last_trade_ms: m.last_trade(s).map(|t| t.time_ms),
                            bars: m.recent_bars(s, usize::MAX).len(),
                            prediction: prediction.as_ref().map(|p| p.expected_return),
                            prediction_model: prediction.as_ref().map(|p| p.model_version),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let broker = self
            .broker
            .lock()
            .map(|b| {
                let t = b.totals();
                BrokerReport {
                    orders: t.orders,
                    fills: t.fills,
                    refusals: t.refusals,
                    realised_pnl: t.realised_pnl,
                    unrealised_pnl: t.unrealised_pnl,
                    kill_switch: b.kill_switch_state().into(),
                    positions: b
                        .positions()
                        .into_iter()
                        .map(|p| PositionReport {
                            plugin: p.plugin.to_string(),
                            symbol: p.symbol.to_string(),
                            quantity: p.position.quantity,
                            average_price: p.position.average_price,
                            realised_pnl: p.position.realised_pnl,
                            unrealised_pnl: p.position.unrealised_pnl,
                        })
                        .collect(),
                }
            })
            .unwrap_or_default();
        let models = self
            .trainer
            .as_ref()
            .map(|status| model_reports(&status()))
            .unwrap_or_default();
        StatusReport {
            uptime_secs: self.started.elapsed().as_secs_f64(),
            mode: self.mode.clone(),
            feed: FeedReport {
                state: state.state,
                detail: state.detail,
                reconnects: state.reconnects,
                trades_in: feed.trades,
                malformed_frames: feed.malformed_frames,
                dropped_events: feed.dropped_trades,
                subscriptions: state.subscriptions,
            },
            market,
            plugins: self.plugins.statuses(),
            engine: EngineReport {
                trades: self.pipeline.trades.load(Ordering::Relaxed),
                bars: self.pipeline.bars.load(Ordering::Relaxed),
                predictions: self.pipeline.predictions.load(Ordering::Relaxed),
                batches: self.pipeline.batches.load(Ordering::Relaxed),
                tick_to_order: self.pipeline.tick_to_order.report(),
                feed_to_engine: self.pipeline.feed_to_engine.report(),
            },
            broker,
            models,
        }
    }
}

fn model_reports(status: &TrainerStatus) -> Vec<ModelReport> {
    status
        .symbols
        .iter()
        .map(|(symbol, s)| ModelReport {
            symbol: symbol.clone(),
            version: s.deployed_version,
            mse: s.deployed_metrics.as_ref().map(|m| m.mse),
            directional_accuracy: s.deployed_metrics.as_ref().map(|m| m.directional_accuracy),
            last_cycle: s
                .last_cycle
                .as_ref()
                .map(|(_, c)| serde_json::to_string(c).unwrap_or_default())
                .unwrap_or_default(),
        })
        .collect()
}
