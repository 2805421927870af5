//! Errors of the market subsystem: reading the trade files snippets are cut from, writing
//! snippets.

use crate::data::DataError;
use std::path::PathBuf;

/// Something went wrong cutting or writing market data.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    /// A file could not be read (the error names the file, and the line of a bad row).
    #[error(transparent)]
    Data(#[from] DataError),
    /// A file could not be written.
    #[error("cannot write market data file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The files given cannot be combined.
    #[error("market data file {path}: {reason}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
}
