//! Operator commands to the running engine, and the [`EngineControl`] that the status API
//! sends them through.
//!
//! Commands are applied by the engine thread between two events, like everything else that
//! touches the broker, so a kill switch never lands in the middle of a batch.

use super::pipeline::PipelineStats;
use crate::status::{Control, KillSwitchChange};
use crossbeam_channel::Sender;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A request to the engine thread.
#[derive(Debug)]
pub enum EngineCommand {
    /// Engage or release the kill switch.
    KillSwitch {
        /// True halts trading.
        engaged: bool,
        /// Why, for the journal and the log.
        reason: String,
        /// Where the outcome goes.
        reply: oneshot::Sender<Result<KillSwitchChange, String>>,
    },
}

/// The sending side of the engine's command channel, and the engine's counters.
#[derive(Debug, Clone)]
pub struct EngineControl {
    tx: Sender<EngineCommand>,
    stats: Arc<PipelineStats>,
}

impl EngineControl {
    /// A control that sends to `tx` and resets `stats`.
    pub fn new(tx: Sender<EngineCommand>, stats: Arc<PipelineStats>) -> Self {
        EngineControl { tx, stats }
    }
}

impl Control for EngineControl {
    fn set_kill_switch(
        &self,
        engaged: bool,
        reason: String,
    ) -> Result<oneshot::Receiver<Result<KillSwitchChange, String>>, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(EngineCommand::KillSwitch {
                engaged,
                reason,
                reply,
            })
            .map_err(|_| "the engine is shutting down; try again after it restarts".to_string())?;
        Ok(rx)
    }

    fn reset_latency(&self) {
        self.stats.tick_to_order.reset();
        self.stats.feed_to_engine.reset();
    }
}
