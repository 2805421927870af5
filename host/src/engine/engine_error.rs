//! Why the daemon, or a feed or broker host, could not start.

use super::bus_checkpoint::CheckpointError;
use crate::broker::BrokerError;
use crate::bus::BusError;
use crate::feed::FeedError;
use crate::plugins::PluginError;
use crate::status::StatusError;
use crate::trainer::TrainerError;

/// The daemon could not start (once running, failures are logged and contained).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The broker's journal could not be opened.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The trainer could not start.
    #[error(transparent)]
    Trainer(#[from] TrainerError),
    /// The plugin runtime could not start.
    #[error(transparent)]
    Plugins(#[from] PluginError),
    /// The feed (or demo server) could not start.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// The status API could not start.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// The bus link of a strategy host could not start.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// A strategy host's checkpoint could not be read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The engine thread, or its runtime, could not start (the system is out of threads or
    /// file descriptors).
    #[error(
        "cannot start the engine thread: {0}; check the process's thread and open-file limits (ulimit -u, ulimit -n)"
    )]
    Thread(std::io::Error),
}
