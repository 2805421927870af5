//! The broker's figures as the engine thread last published them, for the status API and
//! the console summary.
//!
//! The broker's lock is held while its journal is written (and synced, by default), so a
//! reader that took it could wait on the disk. The engine thread, which owns the broker's
//! changes, publishes a copy when it holds the broker anyway: after fills and submissions,
//! after each operator command (before answering it), and every second (the engine's tick,
//! for unrealised PnL at new prices).

use super::status_source::broker_report;
use crate::broker::{BrokerTotals, PaperBroker};
use crate::status::report::BrokerReport;
use arc_swap::ArcSwap;
use std::sync::Arc;

/// The broker's totals and its status-API report, as one copy.
#[derive(Debug, Clone, Default)]
pub struct BrokerFigures {
    /// Counters and PnL (the console summary).
    pub totals: BrokerTotals,
    /// What `/api/status` shows.
    pub report: BrokerReport,
}

/// The last published [`BrokerFigures`]; cheap to clone, never blocks a reader.
#[derive(Debug, Clone, Default)]
pub struct BrokerBoard(Arc<ArcSwap<BrokerFigures>>);

impl BrokerBoard {
    /// Publishes `broker`'s figures now.
    pub fn publish(&self, broker: &PaperBroker) {
        self.0.store(Arc::new(BrokerFigures {
            totals: broker.totals(),
            report: broker_report(broker),
        }));
    }

    /// The figures as last published.
    pub fn figures(&self) -> Arc<BrokerFigures> {
        self.0.load_full()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::BrokerConfig;
    use crate::types::{OrderKind, OrderRequest, PluginAction, Side};

    #[test]
    fn readers_see_the_figures_of_the_last_publish() {
        let dir = tempfile::tempdir().unwrap();
        let (mut broker, _) = PaperBroker::open(BrokerConfig {
            journal_path: dir.path().join("j.bin"),
            ..Default::default()
        })
        .unwrap();
        let board = BrokerBoard::default();
        board.publish(&broker);
        let order = PluginAction::Place(OrderRequest {
            symbol: "SPY".into(),
            side: Side::Buy,
            quantity: 1.0,
            kind: OrderKind::Limit(100.0),
            tag: 1,
        });
        broker.submit(&Arc::from("p"), vec![order], 0);
        // A copy, not a view: the order shows only once published again.
        assert_eq!(board.figures().totals.orders, 0);
        assert!(board.figures().report.journal.path.ends_with("j.bin"));
        board.publish(&broker);
        assert_eq!(board.figures().totals.orders, 1);
        assert_eq!(board.figures().report.resting_orders, 1);
    }
}
