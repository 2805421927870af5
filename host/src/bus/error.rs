//! Errors of the message bus, and the one place that decides whether to retry.

use super::codec::CodecError;

/// What went wrong talking to NATS or reading what came from it.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The first connection to the server failed.
    #[error(
        "cannot connect to NATS at {url}: {reason}; start nats-server with JetStream (e.g. `.venv/bin/nats-server -js`, installed by scripts/setup.sh) or set BUS_URL"
    )]
    Connect {
        /// The server address.
        url: String,
        /// The client's message.
        reason: String,
    },
    /// A stream, consumer or bucket could not be created or read.
    #[error(
        "NATS JetStream refused to set up {what}: {reason}; is the server started with -js, and is its store (-sd) writable?"
    )]
    Setup {
        /// The stream, consumer or bucket.
        what: String,
        /// The server's or client's message.
        reason: String,
    },
    /// A publish was not confirmed by the server.
    #[error("publishing to {subject} was not confirmed: {reason}")]
    Publish {
        /// Where it went.
        subject: String,
        /// The client's message.
        reason: String,
        /// Whether the same message (same id) can simply be sent again.
        retryable: bool,
    },
    /// Reading from a consumer, or acknowledging a message, failed.
    #[error("reading {what} from NATS failed: {reason}")]
    Consume {
        /// The consumer.
        what: String,
        /// The client's message.
        reason: String,
    },
    /// A message did not decode; it was parked in the dead-letter stream.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A name that must be a subject token is not one.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        /// What kind of name.
        what: &'static str,
        /// The name given.
        value: String,
        /// What is wrong and what to use instead.
        reason: String,
    },
    /// The lease could not be read or written.
    #[error("lease {key}: {reason}")]
    Lease {
        /// The lease's key.
        key: String,
        /// What failed.
        reason: String,
    },
    /// The broker's callback refused to go on (its journal cannot be written).
    #[error("the broker cannot apply orders: {0}; orders stay in the stream until it restarts")]
    Apply(String),
}

impl BusError {
    /// True when trying again later can succeed (the server is restarting, a publish timed
    /// out); false for errors that repeat until something is changed.
    pub fn is_retryable(&self) -> bool {
        match self {
            BusError::Publish { retryable, .. } => *retryable,
            BusError::Consume { .. } | BusError::Lease { .. } | BusError::Connect { .. } => true,
            BusError::Setup { .. }
            | BusError::Codec(_)
            | BusError::InvalidName { .. }
            | BusError::Apply(_) => false,
        }
    }

    /// A setup error for `what` from any client error.
    pub(crate) fn setup(what: impl Into<String>, e: impl std::fmt::Display) -> BusError {
        BusError::Setup {
            what: what.into(),
            reason: e.to_string(),
        }
    }

    /// A consume error for `what` from any client error.
    pub(crate) fn consume(what: impl Into<String>, e: impl std::fmt::Display) -> BusError {
        BusError::Consume {
            what: what.into(),
            reason: e.to_string(),
        }
    }
}
