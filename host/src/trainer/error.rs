//! Errors of the trainer, with the decisions that depend on them.

use super::weights::ModelKind;
use crate::data::DataError;
use std::path::PathBuf;

/// Something the trainer could not do.
#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    /// Too few usable rows to train; the cycle waits for more bars.
    #[error("{symbol}: need {need} samples, have {have}; waiting for more bars")]
    NotEnoughData {
        /// The symbol.
        symbol: String,
        /// `MIN_TRAINING_SAMPLES`, or what the splits need.
        need: usize,
        /// Usable rows after cleaning.
        have: usize,
    },
    /// Reading a data file failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The data file gives no way to tell which symbol its bars are.
    #[error("cannot tell the symbol of {path}; pass --symbol")]
    UnknownSymbol {
        /// The file.
        path: PathBuf,
    },
    /// A candle operation failed.
    #[error("model computation failed while {context}: {source}")]
    Candle {
        /// What was being done.
        context: &'static str,
        /// The candle error.
        source: candle_core::Error,
    },
    /// The loss became NaN or infinite.
    #[error(
        "{symbol}: training diverged at epoch {epoch} (loss {loss}); lower MODEL_LEARNING_RATE"
    )]
    Diverged {
        /// The symbol.
        symbol: String,
        /// The epoch where it happened.
        epoch: usize,
        /// The loss value.
        loss: f64,
    },
    /// A candidate model could not be fitted at all.
    #[error("{symbol}: no {kind} model could be fitted: {reason}")]
    NoFit {
        /// The symbol.
        symbol: String,
        /// The candidate's kind.
        kind: ModelKind,
        /// Why.
        reason: String,
    },
    /// Reading or writing under the models directory failed.
    #[error("model store I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A stored model cannot be read: damaged weights or metadata.
    #[error("model {path} is corrupt: {reason}; delete it or retrain")]
    CorruptModel {
        /// The version directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A stored model was built for other settings or another format.
    #[error("model {path} is incompatible: {reason}")]
    IncompatibleModel {
        /// The version directory.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// The trainer thread could not start or has stopped.
    #[error("trainer thread: {0}")]
    Thread(String),
    /// A backtest's model settings cannot be used (the message says why and what to do).
    #[error("{0}")]
    Replay(String),
}

impl TrainerError {
    /// True when trying again later (more bars, another seed) may succeed; the daemon goes on.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            TrainerError::NotEnoughData { .. } | TrainerError::Diverged { .. }
        )
    }

    /// True when a stored model file is the problem, so an older version should be tried.
    pub fn is_bad_model_file(&self) -> bool {
        matches!(
            self,
            TrainerError::CorruptModel { .. } | TrainerError::IncompatibleModel { .. }
        )
    }

    pub(crate) fn candle(context: &'static str) -> impl FnOnce(candle_core::Error) -> TrainerError {
        move |source| TrainerError::Candle { context, source }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainerError {
        let path = path.into();
        move |source| TrainerError::Io { path, source }
    }
}
