//! Loading the plugin folder when the daemon starts, with what a restart must handle:
//! plugins still held in quarantine from the previous run, and saved states a plugin now
//! refuses; and saving what the next start needs when the daemon stops.

use super::plugin_control::PluginControl;
use super::quarantine_list::QuarantineList;
use super::state_store::StateStore;
use crate::plugins::{PluginError, PluginHost, PluginRunState, PluginStatus};

/// Load every plugin of the folder: each with its saved state, except those held in
/// quarantine (shown through `control` as quarantined until their file changes or an
/// operator enables them). A plugin that refuses its saved state has the state set aside
/// and starts fresh.
pub fn load_at_start(
    plugins: &PluginHost,
    state: &StateStore,
    control: &PluginControl,
    quarantine: &QuarantineList,
) {
    let held = quarantine.held();
    for h in held.values() {
        let name = &h.status.info.name;
        tracing::error!(target: "tradehost::plugins", "plugin {name} stays quarantined from the previous run ({}); replace {} with a new build, or enable it from the dashboard or POST /api/plugins/{name}/enable", h.status.stats.last_error.as_deref().unwrap_or("repeated faults"), h.status.info.file.display());
        let mut status = h.status.clone();
        status.stats.state = PluginRunState::Quarantined;
        control.hold(status);
    }
    let is_held = |path: &std::path::Path| held.values().any(|h| h.status.info.file == path);
    for (path, result) in plugins.load_dir(&|name| state.load_plugin(name), &is_held) {
        match result {
            Ok(_) => {}
            // A state the plugin refuses would refuse it at every start: set the state
            // aside, say where it went, and start the plugin fresh.
            Err(PluginError::Start {
                plugin,
                stage: "restore",
                reason,
            }) => match state.set_aside(&plugin, crate::plugins::view::wall_clock_ms()) {
                Ok(aside) => {
                    tracing::error!(target: "tradehost::plugins", "plugin {plugin} refused its saved state ({reason}); the state was moved to {} and {plugin} starts fresh (stop the daemon and move the file back to retry it)", aside.display());
                    if let Err(e) = plugins.load_file(&path, None) {
                        tracing::error!(target: "tradehost::plugins", "{} not loaded: {e}", path.display());
                    }
                }
                Err(e) => {
                    tracing::error!(target: "tradehost::plugins", "plugin {plugin} refused its saved state ({reason}) and it could not be set aside: {e}; delete its file in the state directory's plugins/ to start it fresh")
                }
            },
            Err(e) => {
                tracing::error!(target: "tradehost::plugins", "{} not loaded: {e}", path.display());
            }
        }
    }
}

/// Save every plugin's state, and the list of quarantined plugins (running and held).
pub fn save_states(
    plugins: &PluginHost,
    state: &StateStore,
    control: &PluginControl,
    quarantine: &QuarantineList,
) {
    for (name, bytes) in plugins.snapshot_all() {
        if let Err(e) = state.save_plugin(&name, &bytes) {
            tracing::warn!("cannot save the state of plugin {name}: {e}");
        }
    }
    save_quarantine(plugins, control, quarantine);
}

/// Save the list of quarantined plugins, running and held.
pub fn save_quarantine(plugins: &PluginHost, control: &PluginControl, quarantine: &QuarantineList) {
    let statuses: Vec<PluginStatus> = plugins
        .statuses()
        .into_iter()
        .chain(control.disabled())
        .collect();
    if let Err(e) = quarantine.save(&statuses) {
        tracing::warn!("cannot save the quarantine list: {e}");
    }
}

/// Stop every plugin, saving the quarantine list, each plugin's final state (when
/// `save_finals`) and the symbol table, for the next start.
pub fn stop_and_save(
    plugins: &PluginHost,
    state: &StateStore,
    control: &PluginControl,
    quarantine: &QuarantineList,
    save_finals: bool,
) {
    save_quarantine(plugins, control, quarantine);
    let finals = plugins.shutdown();
    for (name, snapshot) in finals.into_iter().filter(|_| save_finals) {
        match snapshot {
            Some(bytes) => {
                if let Err(e) = state.save_plugin(&name, &bytes) {
                    tracing::error!("cannot save the state of plugin {name}: {e}");
                }
            }
            None => tracing::warn!("plugin {name} gave no final state"),
        }
    }
    if let Err(e) = state.save_symbols(plugins.symbols()) {
        tracing::error!("cannot save the symbol table: {e}");
    }
}
