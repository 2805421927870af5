//! The `state-saver` thread: every `STATE_SAVE_INTERVAL`, the plugins' states (and the
//! quarantine list) go to disk, off the engine thread. On a strategy host a save is a
//! checkpoint taken through the engine thread (`engine::checkpointer`), so the states match
//! one market stream position.

use super::checkpointer::Checkpointer;
use super::control::CommandSender;
use super::plugin_control::PluginControl;
use super::plugin_startup;
use super::quarantine_list::QuarantineList;
use super::state_store::StateStore;
use crate::plugins::PluginHost;
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What the saver writes, and with what.
pub struct SaverParts {
    /// The loaded plugins.
    pub plugins: Arc<PluginHost>,
    /// The state folder.
    pub state: StateStore,
    /// Plugin health, for the quarantine list.
    pub control: PluginControl,
    /// The quarantine list on disk.
    pub quarantine: QuarantineList,
    /// A strategy host's checkpoints, and the engine thread's commands to take them.
    pub checkpoints: Option<(Checkpointer, CommandSender)>,
}

/// The running saver; [`StateSaver::stop`] ends it.
pub struct StateSaver {
    stop: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl StateSaver {
    /// Starts saving every `every`. A saver that cannot start is logged: the final save at
    /// shutdown still happens.
    pub fn spawn(every: Duration, parts: SaverParts) -> StateSaver {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("state-saver".into())
            .spawn(move || {
                // Stopped, or the saver dropped: either way no more saves.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    parts.save_once();
                }
            })
            .map_err(|e| tracing::warn!("no periodic state saves: {e}"))
            .ok();
        StateSaver { stop, thread }
    }

    /// Stops the saver and waits for a save in progress to end.
    pub fn stop(mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl SaverParts {
    /// One periodic save.
    fn save_once(&self) {
        match &self.checkpoints {
            Some((checkpointer, commands)) => {
                checkpointer.take(commands, &self.state);
                plugin_startup::save_quarantine(&self.plugins, &self.control, &self.quarantine);
            }
            None => plugin_startup::save_states(
                &self.plugins,
                &self.state,
                &self.control,
                &self.quarantine,
            ),
        }
    }
}
