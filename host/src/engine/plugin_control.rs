//! An operator's reload, disable and enable of one plugin.
//!
//! These touch no broker or market state, only the plugin host, and loading a file blocks
//! (it compiles), so they run on a thread of their own, one at a time, like the file
//! watcher's reloads, and never on the engine thread. A disabled plugin's state is saved
//! to the state directory and given back when it is enabled; its resting orders are
//! cancelled by the engine's sweep of plugins that no longer run. Replacing a disabled
//! plugin's file loads it again (the watcher sees a new version to run), and so does a
//! restart. A plugin held in quarantine from a previous run sits in the same list, shown as
//! quarantined, and enabling it is how an operator lifts the quarantine.

use super::state_store::StateStore;
use crate::plugins::{PluginHost, PluginRunState, PluginStatus};
use crate::status::{Actor, Answer, ControlError, PluginChange, PluginCommand};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Reload, disable and enable of plugins.
#[derive(Clone)]
pub struct PluginControl {
    plugins: Arc<PluginHost>,
    state: StateStore,
    /// Disabled plugins, as last seen running, by name.
    disabled: Arc<Mutex<BTreeMap<String, PluginStatus>>>,
    /// One command at a time.
    busy: Arc<Mutex<()>>,
}

impl PluginControl {
    /// Control over `plugins`, saving disabled plugins' state in `state`.
    pub fn new(plugins: Arc<PluginHost>, state: StateStore) -> Self {
        PluginControl {
            plugins,
            state,
            disabled: Arc::default(),
            busy: Arc::default(),
        }
    }

    /// Apply `command` to `name` on a thread of its own; the answer comes when it is done.
    pub fn start(
        &self,
        name: &str,
        command: PluginCommand,
        actor: &Actor,
    ) -> Result<Answer<PluginChange>, ControlError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let (this, name, actor) = (self.clone(), name.to_string(), *actor);
        std::thread::Builder::new()
            .name("plugin-control".into())
            .spawn(move || {
                let _one_at_a_time = this.busy.lock().unwrap_or_else(|p| p.into_inner());
                let outcome = this.apply(&name, command);
                match &outcome {
                    Ok(c) => tracing::warn!(target: "tradehost::control", plugin = %name, "{command:?} of {name} asked by {actor}: done, now {:?}", c.state),
                    Err(e) => tracing::warn!(target: "tradehost::control", plugin = %name, "{command:?} of {name} asked by {actor} failed: {e}"),
                }
                let _ = reply.send(outcome);
            })
            .map_err(|e| ControlError::Failed(format!("cannot start a thread: {e}")))?;
        Ok(rx)
    }

    /// Show a plugin that was not loaded (held in quarantine from a previous run) as not
    /// running; enabling it loads its file again.
    pub fn hold(&self, status: PluginStatus) {
        self.disabled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(status.info.name.clone(), status);
    }

    /// Disabled plugins, for the status document (those loaded again since are left out).
    pub fn disabled(&self) -> Vec<PluginStatus> {
        let loaded = self.plugins.names();
        let mut disabled = self.disabled.lock().unwrap_or_else(|p| p.into_inner());
        disabled.retain(|name, _| !loaded.contains(name));
        disabled.values().cloned().collect()
    }

    fn apply(&self, name: &str, command: PluginCommand) -> Result<PluginChange, ControlError> {
        let running = self
            .plugins
            .statuses()
            .into_iter()
            .find(|p| p.info.name == name);
        let was_disabled = self.disabled().into_iter().any(|p| p.info.name == name);
        let change = |status: Option<&PluginStatus>, state| PluginChange {
            plugin: name.to_string(),
            command,
            version: status.map(|s| s.info.version.clone()),
            state,
        };
        match (command, running) {
            (_, None) if !was_disabled => Err(ControlError::UnknownPlugin(name.to_string())),
            (PluginCommand::Reload, Some(p)) => {
                let info = self.plugins.load_file(&p.info.file, None).map_err(|e| {
                    ControlError::Failed(format!(
                        "{name} was not reloaded, the running version keeps serving: {e}"
                    ))
                })?;
                let now = self
                    .status_of(name)
                    .map_or(PluginRunState::Running, |s| s.stats.state);
                Ok(PluginChange {
                    version: Some(info.version),
                    ..change(None, now)
                })
            }
            (PluginCommand::Disable, Some(mut p)) => {
                match self.plugins.unload(name) {
                    Some(bytes) => {
                        if let Err(e) = self.state.save_plugin(name, &bytes) {
                            tracing::error!(target: "tradehost::control", "cannot save the state of disabled plugin {name}: {e}");
                        }
                    }
                    None => {
                        tracing::warn!(target: "tradehost::control", "plugin {name} gave no state when disabled; it will start afresh")
                    }
                }
                p.stats.state = PluginRunState::Disabled;
                self.disabled
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.to_string(), p.clone());
                Ok(change(Some(&p), PluginRunState::Disabled))
            }
            (PluginCommand::Enable, None) => {
                let Some(p) = self
                    .disabled
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(name)
                else {
                    return Err(ControlError::UnknownPlugin(name.to_string()));
                };
                match self
                    .plugins
                    .load_file(&p.info.file, self.state.load_plugin(name))
                {
                    Ok(info) => Ok(PluginChange {
                        version: Some(info.version),
                        ..change(None, PluginRunState::Running)
                    }),
                    Err(e) => {
                        self.disabled
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(name.to_string(), p);
                        Err(ControlError::Failed(format!("{name} stays disabled: {e}")))
                    }
                }
            }
            (PluginCommand::Enable, Some(p)) => Err(ControlError::Conflict(format!(
                "{name} is not disabled (it is {:?}); to restart a quarantined plugin, reload it",
                p.stats.state
            ))),
            (_, None) => Err(ControlError::Conflict(format!(
                "{name} is disabled: enable it first"
            ))),
        }
    }

    fn status_of(&self, name: &str) -> Option<PluginStatus> {
        self.plugins
            .statuses()
            .into_iter()
            .find(|p| p.info.name == name)
    }
}
