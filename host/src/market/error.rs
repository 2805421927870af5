//! Errors of the market subsystem: reading bar and trade files, writing snippets.

use crate::feed::FeedError;
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
    /// The header lacks a column the layout needs.
    #[error("market data file {path}: {reason}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is missing, and what is expected.
        reason: String,
    },
    /// Any other error of the feed's readers.
    #[error(transparent)]
    Feed(FeedError),
}

impl From<FeedError> for MarketError {
    /// The feed's readers do the reading; their errors keep their file and line.
    fn from(e: FeedError) -> Self {
        match e {
            FeedError::Io { path, source } => MarketError::Io { path, source },
            FeedError::BadRow { path, line, reason } => MarketError::Parse {
                path,
                line: usize::try_from(line).unwrap_or(usize::MAX),
                reason,
            },
            FeedError::BadHeader { path, reason } => MarketError::Header { path, reason },
            other => MarketError::Feed(other),
        }
    }
}
