//! Errors of the paper broker and its journal.
//!
//! Refusing an order is not an error: it is a [`Rejection`](crate::types::Rejection) returned to
//! the plugin. `BrokerError` is for what stops the broker from keeping its promise that every
//! order, refusal and fill is on disk before it is acknowledged: a journal that cannot be opened,
//! written or synced, or a file that is not a journal at all.

use std::path::PathBuf;

/// What went wrong opening, reading or writing the broker's journal.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The journal file or its folder could not be opened, created, read or written.
    #[error(
        "journal {path}: {action} failed: {source}; check the path (JOURNAL_PATH), permissions and free disk space"
    )]
    Io {
        /// The journal file.
        path: PathBuf,
        /// What was being done, e.g. "append", "fsync".
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but does not start with the journal's magic bytes; it is left untouched.
    #[error(
        "{path} is not a tradehost journal (its first bytes are not the journal header); it was left untouched: point JOURNAL_PATH at another file or move this one away"
    )]
    NotAJournal {
        /// The file that was refused.
        path: PathBuf,
    },
    /// The journal was written by an incompatible version of the format.
    #[error(
        "journal {path} has format version {found}, this build reads versions 1 to {supported}; replay it with a matching tradehost or start a new journal (JOURNAL_PATH)"
    )]
    UnsupportedVersion {
        /// The journal file.
        path: PathBuf,
        /// Version found in the header.
        found: u32,
        /// Newest version this build reads (and the one it writes).
        supported: u32,
    },
    /// Another process holds the journal open for writing.
    #[error(
        "journal {path} is locked by another process (is another tradehost running?); stop it or use another JOURNAL_PATH"
    )]
    Locked {
        /// The journal file.
        path: PathBuf,
    },
    /// A record could not be encoded; a bug, since every record type is serialisable.
    #[error("journal {path}: could not encode a record: {message}")]
    Encode {
        /// The journal file.
        path: PathBuf,
        /// The encoder's message.
        message: String,
    },
    /// An earlier write or fsync failed, so the file's tail is in doubt and writing stopped.
    #[error(
        "journal {path} stopped accepting records after an earlier failure ({cause}); fix the cause and restart, the journal is recovered at start-up"
    )]
    Poisoned {
        /// The journal file.
        path: PathBuf,
        /// The first failure, in words.
        cause: String,
    },
}

impl BrokerError {
    /// True when retrying in this process cannot help (restart needed after fixing the cause).
    pub fn is_terminal(&self) -> bool {
        match self {
            BrokerError::Io { .. } => false,
            BrokerError::NotAJournal { .. }
            | BrokerError::UnsupportedVersion { .. }
            | BrokerError::Locked { .. }
            | BrokerError::Encode { .. }
            | BrokerError::Poisoned { .. } => true,
        }
    }

    pub(crate) fn io(path: &std::path::Path, action: &'static str, source: std::io::Error) -> Self {
        BrokerError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }
}
