//! Hot reload: watch the plugin folder and load, reload or unload plugins as files change.
//!
//! notify reports a plain `fs::write` as Open, Modify, Close(Write), a `cp` as several
//! Modify then Close(Write), and a rename into place as Name(To). Reacting to Modify would
//! read half-written files and reload twice per write, so only complete files count: a
//! close after writing, or a rename into place. Changes are debounced per file. A removed
//! file unloads after a grace period, so that an editor's delete-and-recreate is a reload.

use super::error::PluginError;
use super::host::{PluginHost, is_plugin_file};
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A file change that matters to the plugin host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// A file was completely written or renamed into place.
    Written(PathBuf),
    /// A file was removed or renamed away.
    Removed(PathBuf),
}

/// What to do once a change has settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadAction {
    /// Load or reload the plugin in this `.wasm` file.
    Load(PathBuf),
    /// Unload the plugin of this `.wasm` file.
    Unload(PathBuf),
}

/// Collects changes per plugin and releases them once they have settled.
#[derive(Debug)]
pub struct Debouncer {
    debounce: Duration,
    grace: Duration,
    pending: HashMap<PathBuf, (bool, Instant)>,
}

impl Debouncer {
    /// Wait `debounce` after the last write, `grace` after a removal.
    pub fn new(debounce: Duration, grace: Duration) -> Self {
        Debouncer {
            debounce,
            grace,
            pending: HashMap::new(),
        }
    }

    /// Record a change seen at `now`. Settings files (`NAME.toml`) count as changes of
    /// their plugin (`NAME.wasm`).
    pub fn record(&mut self, change: FileChange, now: Instant) {
        let (path, removed) = match change {
            FileChange::Written(p) => (p, false),
            FileChange::Removed(p) => (p, true),
        };
        let Some(wasm) = plugin_of(&path) else { return };
        // Removing or rewriting the settings file reloads the plugin (with defaults).
        let removed = removed && wasm == path;
        let due = now + if removed { self.grace } else { self.debounce };
        self.pending.insert(wasm, (removed, due));
    }

    /// The changes whose time has come.
    pub fn due(&mut self, now: Instant) -> Vec<ReloadAction> {
        let ready: Vec<PathBuf> = self
            .pending
            .iter()
            .filter(|(_, (_, due))| *due <= now)
            .map(|(p, _)| p.clone())
            .collect();
        let mut actions: Vec<ReloadAction> = ready
            .into_iter()
            .filter_map(|p| {
                let (removed, _) = self.pending.remove(&p)?;
                Some(if removed || !p.exists() {
                    ReloadAction::Unload(p)
                } else {
                    ReloadAction::Load(p)
                })
            })
            .collect();
        actions.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        actions
    }

    /// When the next pending change settles.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.values().map(|(_, due)| *due).min()
    }
}

/// The `.wasm` file a changed path belongs to, if it is a plugin or its settings.
fn plugin_of(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') || name.ends_with('~') {
        return None;
    }
    match path.extension()?.to_str()? {
        "wasm" if is_plugin_file(path) => Some(path.to_path_buf()),
        "toml" => Some(path.with_extension("wasm")),
        _ => None,
    }
}

/// The changes a notify event stands for (only complete writes, renames and removals).
pub fn changes_of(event: &Event) -> Vec<FileChange> {
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write))
        | EventKind::Modify(ModifyKind::Name(RenameMode::To)) => event
            .paths
            .iter()
            .cloned()
            .map(FileChange::Written)
            .collect(),
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => match event.paths.as_slice() {
            [from, to] => vec![
                FileChange::Removed(from.clone()),
                FileChange::Written(to.clone()),
            ],
            _ => Vec::new(),
        },
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => event
            .paths
            .iter()
            .cloned()
            .map(FileChange::Removed)
            .collect(),
        _ => Vec::new(),
    }
}

/// Keeps the watcher alive; dropping it stops watching.
pub struct WatchHandle {
    _watcher: notify::RecommendedWatcher,
    stop: crossbeam_channel::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Watch the host's plugin folder and apply settled changes to `host` on a reloader
/// thread (compilation happens there, never on the event path).
pub fn watch(host: Arc<PluginHost>) -> Result<WatchHandle, PluginError> {
    let dir = host.config().dir.clone();
    let debounce = host.config().reload_debounce;
    let grace = host.config().unload_grace;
    let (tx, rx) = crossbeam_channel::unbounded::<FileChange>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<Event>| match res {
        Ok(event) => {
            for change in changes_of(&event) {
                let _ = tx.send(change);
            }
        }
        Err(e) => tracing::warn!(target: "tradehost::plugins", "plugin folder watch error: {e}"),
    })
    .map_err(|e| PluginError::Runtime(format!("cannot watch {}: {e}", dir.display())))?;
    std::fs::create_dir_all(&dir).map_err(|source| PluginError::Read {
        path: dir.clone(),
        source,
    })?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| PluginError::Runtime(format!("cannot watch {}: {e}", dir.display())))?;
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
    let thread = std::thread::Builder::new()
        .name("plugin-reloader".into())
        .spawn(move || reload_loop(host, rx, stop_rx, Debouncer::new(debounce, grace)))
        .map_err(|e| PluginError::Runtime(format!("cannot start the reloader thread: {e}")))?;
    tracing::info!(target: "tradehost::plugins", "watching {} for plugin changes", dir.display());
    Ok(WatchHandle {
        _watcher: watcher,
        stop: stop_tx,
        thread: Some(thread),
    })
}

fn reload_loop(
    host: Arc<PluginHost>,
    changes: crossbeam_channel::Receiver<FileChange>,
    stop: crossbeam_channel::Receiver<()>,
    mut debouncer: Debouncer,
) {
    loop {
        let wait = debouncer
            .next_due()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(3600));
        crossbeam_channel::select! {
            recv(changes) -> change => match change {
                Ok(c) => debouncer.record(c, Instant::now()),
                Err(_) => return,
            },
            recv(stop) -> _ => return,
            default(wait) => {}
        }
        for action in debouncer.due(Instant::now()) {
            match action {
                ReloadAction::Load(path) => {
                    if let Err(e) = host.load_file(&path, None) {
                        tracing::error!(target: "tradehost::plugins", "not loaded: {e}; the running version (if any) keeps serving");
                    }
                }
                ReloadAction::Unload(path) => {
                    if let Ok(name) = super::host::plugin_name(&path) {
                        host.unload(&name);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_settle_after_the_debounce_and_removals_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("sma.wasm");
        std::fs::write(&wasm, b"x").unwrap();
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::from_millis(100), Duration::from_secs(2));
        d.record(FileChange::Written(wasm.clone()), t0);
        d.record(
            FileChange::Written(dir.path().join("sma.toml")),
            t0 + Duration::from_millis(50),
        );
        assert!(
            d.due(t0 + Duration::from_millis(120)).is_empty(),
            "settings write restarted the debounce"
        );
        assert_eq!(
            d.due(t0 + Duration::from_millis(151)),
            vec![ReloadAction::Load(wasm.clone())]
        );
        assert!(
            d.due(t0 + Duration::from_secs(9)).is_empty(),
            "one reload per settled change"
        );

        d.record(FileChange::Removed(wasm.clone()), t0);
        assert!(d.due(t0 + Duration::from_secs(1)).is_empty());
        // Recreated within the grace period: a reload, not an unload.
        d.record(
            FileChange::Written(wasm.clone()),
            t0 + Duration::from_secs(1),
        );
        assert_eq!(
            d.due(t0 + Duration::from_secs(3)),
            vec![ReloadAction::Load(wasm.clone())]
        );

        std::fs::remove_file(&wasm).unwrap();
        d.record(FileChange::Removed(wasm.clone()), t0);
        assert_eq!(
            d.due(t0 + Duration::from_secs(3)),
            vec![ReloadAction::Unload(wasm)]
        );
    }

    #[test]
    fn ignores_temporary_hidden_and_foreign_files() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::ZERO, Duration::ZERO);
        for name in [
            ".sma.wasm.swp",
            ".sma.wasm",
            "sma.wasm~",
            "notes.txt",
            "sma.wasm.part",
        ] {
            d.record(FileChange::Written(PathBuf::from("/p").join(name)), t0);
        }
        assert!(d.due(t0 + Duration::from_secs(1)).is_empty());
    }

    #[test]
    fn only_complete_writes_and_renames_count() {
        let p = PathBuf::from("/p/a.wasm");
        let ev = |kind| Event {
            kind,
            paths: vec![p.clone()],
            attrs: Default::default(),
        };
        assert!(
            changes_of(&ev(EventKind::Modify(ModifyKind::Data(
                notify::event::DataChange::Any
            ))))
            .is_empty()
        );
        assert_eq!(
            changes_of(&ev(EventKind::Access(AccessKind::Close(AccessMode::Write)))),
            vec![FileChange::Written(p.clone())]
        );
        assert_eq!(
            changes_of(&ev(EventKind::Remove(notify::event::RemoveKind::File))),
            vec![FileChange::Removed(p.clone())]
        );
    }
}
