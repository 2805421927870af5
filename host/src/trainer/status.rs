//! What the trainer reports to the metrics API: per symbol the deployed model and its scores
//! and how the last cycle ended.

use super::evaluation::Metrics;
use super::gate::GateTest;
use crate::types::TimestampMs;
use serde::Serialize;
use std::collections::BTreeMap;

/// How the last cycle of a symbol ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CycleOutcome {
    /// A new model went live.
    Deployed {
        /// Its version.
        version: u32,
        /// The gate's reason.
        reason: String,
        /// The gate's significance test: DM statistic, p-value, significance.
        gate_test: Option<GateTest>,
    },
    /// The new model was kept as a candidate.
    Refused {
        /// Its version.
        version: u32,
        /// Every condition it failed.
        reasons: Vec<String>,
        /// The gate's significance test, when the model's scores allowed one.
        gate_test: Option<GateTest>,
    },
    /// The retrain gave the live model again; nothing new was stored.
    Unchanged {
        /// The live model's version.
        version: u32,
    },
    /// Too few rows; waiting.
    NotEnoughData {
        /// Rows needed.
        need: usize,
        /// Rows available.
        have: usize,
    },
    /// The cycle failed; the daemon goes on.
    Failed {
        /// The error, in words.
        error: String,
    },
}

/// The trainer's view of one symbol.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SymbolStatus {
    /// Bars held for training.
    pub bars: usize,
    /// Version of the model serving predictions.
    pub deployed_version: Option<u32>,
    /// Its held-out scores when it was trained.
    pub deployed_metrics: Option<Metrics>,
    /// The last cycle's outcome and when it ended (wall clock, ms).
    pub last_cycle: Option<(TimestampMs, CycleOutcome)>,
    /// Predictions published.
    pub predictions: u64,
}

/// A snapshot of the trainer for the metrics API.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrainerStatus {
    /// Per symbol, in name order.
    pub symbols: BTreeMap<String, SymbolStatus>,
    /// Cycles run since start (all symbols of a round count as one).
    pub cycles: u64,
    /// Stored models skipped at start-up (corrupt or incompatible), with the reason.
    pub load_problems: Vec<String>,
    /// Predictions dropped because the engine's channel was full.
    pub predictions_dropped: u64,
}
