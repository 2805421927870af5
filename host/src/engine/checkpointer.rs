//! A strategy host's checkpoints (`docs/scale-out.md`, "Checkpoints"): every plugin's
//! snapshot at one market stream position, taken through the engine thread, saved only once
//! every order those events caused is on the bus, as one file with the position; then the
//! reports the snapshots include are acknowledged.

use super::bus_checkpoint::BusCheckpoint;
use super::control::CommandSender;
use super::control::EngineCommand;
use super::order_route::RouteCounters;
use super::state_store::StateStore;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Longest wait for plugins' snapshots, and for the orders before them to be published.
const CHECKPOINT_WAIT: Duration = Duration::from_secs(5);

/// Takes checkpoints (the saver thread and shutdown call it).
#[derive(Clone)]
pub struct Checkpointer {
    /// The saved checkpoint and the instances handed out since.
    pub(super) checkpoint: Arc<Mutex<BusCheckpoint>>,
    /// The state folder.
    pub(super) state_dir: PathBuf,
    /// Orders routed and published.
    pub(super) counters: Arc<RouteCounters>,
    /// Tells the acknowledgement task a checkpoint was saved.
    pub(super) saved: mpsc::UnboundedSender<u64>,
}

impl Checkpointer {
    /// Takes a checkpoint through the engine thread (`commands`) and saves it with `state`.
    /// Returns whether the position moved on; when a plugin did not answer or an order is
    /// not yet on the bus, the snapshots that came are saved but the position stays, so a
    /// restart sees some events twice rather than none once.
    pub fn take(&self, commands: &CommandSender, state: &StateStore) -> bool {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if commands
            .send(EngineCommand::Checkpoint { reply: tx })
            .is_err()
        {
            return false;
        }
        // Bounded: a command sent as the engine thread stops is never answered.
        let Ok(cut) = rx.recv_timeout(CHECKPOINT_WAIT) else {
            return false;
        };
        let mut snapshots = BTreeMap::new();
        for (name, snapshot) in cut.snapshots.collect(CHECKPOINT_WAIT) {
            match snapshot {
                Some(bytes) => {
                    snapshots.insert(name, bytes);
                }
                None => {
                    tracing::warn!(target: "tradehost::bus", "plugin {name} gave no snapshot in time; the checkpoint stays where it was");
                    return false;
                }
            }
        }
        if !self.orders_published(commands) {
            return false;
        }
        let saved = {
            let mut c = self
                .checkpoint
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let mut next = c.clone();
            // Plugins not running now (quarantined) keep the snapshot they had.
            next.snapshots.extend(snapshots);
            next.position = cut.position;
            next.save(&self.state_dir).map(|()| {
                *c = next.clone();
                next
            })
        };
        match saved {
            Ok(next) => {
                let _ = self.saved.send(cut.mark);
                // Copies for the other readers of the state folder; the checkpoint is the
                // reference at start-up.
                for (name, bytes) in &next.snapshots {
                    if let Err(e) = state.save_plugin(name, bytes) {
                        tracing::warn!("cannot save the state of plugin {name}: {e}");
                    }
                }
                true
            }
            Err(e) => {
                tracing::warn!(target: "tradehost::bus", "{e}");
                false
            }
        }
    }

    /// Forget the instance numbers of plugins that start without a snapshot.
    pub fn retain_restored(&self, restored: impl FnMut(&str) -> bool) {
        let mut c = self
            .checkpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        c.retain_restored(restored);
    }

    /// Waits until every order the plugins made so far is stored on the bus.
    fn orders_published(&self, commands: &CommandSender) -> bool {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if commands.send(EngineCommand::Barrier { reply: tx }).is_err() {
            return false;
        }
        let Ok(routed) = rx.recv_timeout(CHECKPOINT_WAIT) else {
            return false;
        };
        let deadline = Instant::now() + CHECKPOINT_WAIT;
        while !self.counters.caught_up_with(routed) {
            if Instant::now() > deadline {
                tracing::warn!(target: "tradehost::bus", "orders are not reaching the bus; the checkpoint stays at the previous position");
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_nobody_answers_gives_up_instead_of_waiting_forever() {
        // The engine thread stopped between the command being queued and read: the reply
        // never comes, and the saver (which shutdown joins) must not wait for it forever.
        let dir = tempfile::tempdir().unwrap();
        let (saved, _saved_rx) = mpsc::unbounded_channel();
        let checkpointer = Checkpointer {
            checkpoint: Arc::new(Mutex::new(BusCheckpoint::default())),
            state_dir: dir.path().to_path_buf(),
            counters: Arc::new(RouteCounters::default()),
            saved,
        };
        let (commands, unanswered) = crossbeam_channel::bounded(16);
        let state = StateStore::new(dir.path().to_path_buf());
        let started = Instant::now();
        assert!(!checkpointer.take(&commands.into(), &state));
        assert!(started.elapsed() < CHECKPOINT_WAIT * 2);
        assert_eq!(unanswered.len(), 1, "the command was queued, not answered");
        assert!(!dir.path().join("bus.checkpoint").exists());
    }
}
