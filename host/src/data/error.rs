//! Errors of the data readers: every one names the file, and a bad row its line.

use std::path::PathBuf;

/// A data file cannot be read as what it should hold.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file cannot be opened or read.
    #[error("cannot read data file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The header lacks a column the layout needs.
    #[error("data file {}: {reason}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is missing, and what is expected.
        reason: String,
    },
    /// A row cannot be parsed.
    #[error("{}:{line}: {reason}; fix or remove that row", path.display())]
    BadRow {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The header names no layout the reader knows.
    #[error(
        "data file {} has header {header:?}; expected `timestamp,open,high,low,close[,volume]`, \
         `date,open,high,low,close[,volume]`, the FX `timestamp,bid_open,...,ask_close` or \
         `timestamp,symbol,price,size,...`",
        path.display()
    )]
    UnknownLayout {
        /// The file.
        path: PathBuf,
        /// Its first line.
        header: String,
    },
    /// The file holds no data rows.
    #[error("data file {} holds no data rows", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

impl DataError {
    /// True when reading again cannot help: the file's content is wrong, not its access.
    pub fn is_content(&self) -> bool {
        !matches!(self, DataError::Io { .. })
    }
}
