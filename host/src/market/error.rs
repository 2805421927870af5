//! Errors of the market subsystem: reading bar and trade files, writing snippets.

use std::path::PathBuf;

/// Something went wrong reading market data.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    /// The file could not be opened or read.
    #[error("cannot read market data file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The header names no layout this reader knows.
    #[error(
        "market data file {path} has header {header:?}; expected `timestamp,open,high,low,close,volume`, \
         `date,open,high,low,close,volume` or `timestamp,symbol,price,size,...`"
    )]
    UnknownLayout {
        /// The file.
        path: PathBuf,
        /// Its first line.
        header: String,
    },
    /// A row could not be parsed.
    #[error("market data file {path}, line {line}: {reason}; fix or remove that row")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
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
    /// The file holds no rows.
    #[error("market data file {path} holds no data rows")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}
