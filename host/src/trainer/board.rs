//! The latest prediction per symbol, shared with the plugin host functions.
//!
//! Plugin host calls must never block on the trainer: they read this board (a read lock held
//! for one map lookup and a clone) instead of asking the trainer thread.

use crate::types::{Prediction, Symbol};
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

/// Latest prediction of each symbol; cheap to clone, shared by all readers.
#[derive(Debug, Clone, Default)]
pub struct PredictionBoard {
    /// Latest prediction by symbol.
    inner: Arc<RwLock<HashMap<Symbol, Prediction>>>,
}

impl PredictionBoard {
    /// An empty board.
    pub fn new() -> Self {
        PredictionBoard::default()
    }

    /// The latest prediction for `symbol` (check [`Prediction::is_stale`] before trusting it).
    pub fn latest(&self, symbol: &str) -> Option<Prediction> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(symbol)
            .cloned()
    }

    /// Every latest prediction, in no particular order.
    pub fn snapshot(&self) -> Vec<Prediction> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Replaces the prediction of its symbol.
    pub fn publish(&self, prediction: Prediction) {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        map.insert(prediction.symbol.clone(), prediction);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_latest_prediction() {
        let board = PredictionBoard::new();
        let reader = board.clone();
        assert!(reader.latest("SPY").is_none());
        for (i, r) in [0.01, -0.02].into_iter().enumerate() {
            board.publish(Prediction {
                symbol: "SPY".into(),
                expected_return: r,
                horizon_bars: 5,
                model_version: 1,
                time_ms: i as i64,
                bar_secs: 60,
            });
        }
        let p = reader.latest("SPY").unwrap();
        assert_eq!((p.expected_return, p.time_ms), (-0.02, 1));
        // Horizon 5 bars of 60 s, plus one bar of grace.
        assert!(!p.is_stale(360_001) && p.is_stale(360_002));
        assert_eq!(reader.snapshot().len(), 1);
    }
}
