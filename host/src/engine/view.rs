//! The plugins' window on the market: [`MarketView`] over the engine's shared state.
//!
//! Host functions read through it while the engine thread writes; every access holds a
//! lock only for a copy, and never one the engine holds across I/O: positions come from a
//! [`PositionBoard`] the engine publishes after each change, not from the broker, whose
//! lock is held while the journal is written (and synced).

use crate::broker::PaperBroker;
use crate::market::MarketState;
use crate::plugins::MarketView;
use crate::trainer::PredictionBoard;
use crate::types::{Bar, Position, Prediction, TimestampMs};
use arc_swap::ArcSwap;
use std::sync::{Arc, RwLock};

pub use super::snapshot::Clock;
use super::snapshot::EngineSnapshot;

/// Positions and last prices as the engine last published them; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct PositionBoard(Arc<ArcSwap<EngineSnapshot>>);

impl PositionBoard {
    /// Publish `broker`'s positions (the engine, when fills moved them). Unrealised PnL is
    /// not stored: readers compute it at the market's last price, so trades alone publish
    /// nothing.
    pub fn publish(&self, broker: &PaperBroker) {
        self.0.store(Arc::new(EngineSnapshot {
            positions: Arc::new(broker.position_map()),
            ..EngineSnapshot::default()
        }));
    }

    /// `plugin`'s position in `symbol` as last published, unrealised PnL at `last_price`.
    pub fn position(&self, plugin: &str, symbol: &str, last_price: Option<f64>) -> Position {
        let p = self.0.load().position(plugin, symbol);
        Position {
            unrealised_pnl: p.unrealised_at(last_price),
            ..p
        }
    }
}

/// Shared engine state as seen by plugins.
pub struct EngineView {
    /// Bars and last trades.
    pub market: Arc<RwLock<MarketState>>,
    /// Positions, as the engine last published them.
    pub positions: PositionBoard,
    /// Latest predictions.
    pub board: PredictionBoard,
    /// The clock plugins see.
    pub clock: Clock,
}

impl MarketView for EngineView {
    fn now_ms(&self) -> TimestampMs {
        self.clock.now_ms()
    }

    fn market_time(&self) -> bool {
        matches!(self.clock, Clock::Market(_))
    }

    fn prediction(&self, symbol: &str) -> Option<Prediction> {
        self.board.latest(symbol)
    }

    fn position(&self, plugin: &str, symbol: &str) -> Position {
        self.positions
            .position(plugin, symbol, self.last_price(symbol))
    }

    fn recent_bars(&self, symbol: &str, period_secs: u32, count: usize) -> Vec<Bar> {
        self.market
            .read()
            .map(|m| m.recent_bars_of(symbol, period_secs, count))
            .unwrap_or_default()
    }
    fn last_price(&self, symbol: &str) -> Option<f64> {
        self.market
            .read()
            .ok()
            .and_then(|m| m.last_trade(symbol).map(|t| t.price))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::BrokerConfig;
    use crate::types::{OrderKind, OrderRequest, PluginAction, Side, Trade};

    #[test]
    fn position_of_reads_what_the_engine_published_not_the_broker() {
        let dir = tempfile::tempdir().unwrap();
        let config = BrokerConfig {
            journal_path: dir.path().join("journal.bin"),
            ..BrokerConfig::default()
        };
        let (broker, _) = PaperBroker::open(config).unwrap();
        let broker = Arc::new(std::sync::Mutex::new(broker));
        let trade = |price: f64, time_ms| Trade {
            symbol: "SPY".into(),
            price,
            size: 100.0,
            time_ms,
        };
        let order = PluginAction::Place(OrderRequest {
            symbol: "SPY".into(),
            side: Side::Buy,
            quantity: 10.0,
            kind: OrderKind::Market,
            tag: 1,
        });
        let positions = PositionBoard::default();
        {
            let mut b = broker.lock().unwrap();
            b.on_trade(&trade(100.0, 1));
            b.submit("sma", vec![order], 2);
            assert_eq!(b.on_trade(&trade(101.0, 3)).len(), 1);
            positions.publish(&b);
        }
        let view = EngineView {
            market: Arc::new(RwLock::new(MarketState::new(&Default::default()))),
            positions,
            board: PredictionBoard::new(),
            clock: Clock::Wall,
        };
        // The engine holds the broker (as while it writes the journal): the plugin's
        // `position-of` answers anyway, from the published positions.
        let _engine = broker.lock().unwrap();
        let p = view.position("sma", "SPY");
        assert_eq!(p.quantity, 10.0);
        assert!(p.average_price > 100.0);
        assert_eq!(view.position("other", "SPY"), Position::default());
    }
}
