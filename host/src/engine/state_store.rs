//! Plugin state on disk: each plugin's snapshot and the symbol table, so that a restarted
//! daemon resumes where it stopped. Files are written atomically (temp file + rename).

use crate::atomic_file::write_atomic;
use crate::plugins::SymbolTable;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The state directory. Clones share what was last written.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
    /// Per plugin, the SHA-256 of the state last read or written: an unchanged state is
    /// not written again (nor read back to find out).
    last: Arc<Mutex<HashMap<String, [u8; 32]>>>,
}

impl StateStore {
    /// A store in `dir` (created on first save).
    pub fn new(dir: PathBuf) -> Self {
        StateStore {
            dir,
            last: Arc::default(),
        }
    }

    fn remember(&self, plugin: &str, state: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(state).into();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.insert(plugin.to_string(), digest) != Some(digest)
    }

    fn plugin_path(&self, plugin: &str) -> PathBuf {
        self.dir.join("plugins").join(format!("{plugin}.state"))
    }

    /// The saved state of a plugin, if any.
    pub fn load_plugin(&self, plugin: &str) -> Option<Vec<u8>> {
        let state = std::fs::read(self.plugin_path(plugin)).ok()?;
        self.remember(plugin, &state);
        Some(state)
    }

    /// Save a plugin's state; an unchanged state is not written again. Returns whether the
    /// file was written.
    pub fn save_plugin(&self, plugin: &str, state: &[u8]) -> std::io::Result<bool> {
        if !self.remember(plugin, state) {
            return Ok(false);
        }
        if let Err(e) = write_atomic(&self.plugin_path(plugin), state) {
            // Not on disk after all: the next save must try again.
            self.forget(plugin);
            return Err(e);
        }
        Ok(true)
    }

    /// Move a plugin's saved state aside (it could not be restored), so that the plugin
    /// starts fresh and the state is kept for a person to look at; returns where it went.
    pub fn set_aside(&self, plugin: &str, now_ms: i64) -> std::io::Result<PathBuf> {
        self.forget(plugin);
        let from = self.plugin_path(plugin);
        let to = from.with_extension(format!("state.refused-{now_ms}"));
        std::fs::rename(&from, &to)?;
        Ok(to)
    }

    fn forget(&self, plugin: &str) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.remove(plugin);
    }

    /// The saved symbol table (empty when none or unreadable, which is logged).
    pub fn load_symbols(&self) -> SymbolTable {
        let path = self.dir.join("symbols.json");
        match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Vec<String>>(&bytes) {
                Ok(names) => SymbolTable::from_names(names),
                Err(e) => {
                    tracing::warn!("ignoring unreadable symbol table {}: {e}", path.display());
                    SymbolTable::new()
                }
            },
            Err(_) => SymbolTable::new(),
        }
    }

    /// Save the symbol table.
    pub fn save_symbols(&self, symbols: &SymbolTable) -> std::io::Result<()> {
        let names: Vec<String> = symbols.names().iter().map(|s| s.to_string()).collect();
        let json = serde_json::to_vec(&names).map_err(std::io::Error::other)?;
        write_atomic(&self.dir.join("symbols.json"), &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_plugin_state_and_symbols() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path().join("state"));
        assert_eq!(store.load_plugin("sma"), None);
        assert!(store.save_plugin("sma", b"abc").unwrap());
        assert_eq!(store.load_plugin("sma").as_deref(), Some(&b"abc"[..]));
        assert!(
            !store.save_plugin("sma", b"abc").unwrap(),
            "unchanged: not written"
        );
        assert!(store.save_plugin("sma", b"abd").unwrap());
        assert_eq!(store.load_plugin("sma").as_deref(), Some(&b"abd"[..]));
        let aside = store.set_aside("sma", 42).unwrap();
        assert_eq!(store.load_plugin("sma"), None);
        assert_eq!(std::fs::read(&aside).unwrap(), b"abd");
        assert!(
            aside.to_string_lossy().ends_with("sma.state.refused-42"),
            "{aside:?}"
        );
        let t = SymbolTable::from_names(["SPY", "BAC"]);
        store.save_symbols(&t).unwrap();
        assert_eq!(store.load_symbols().id("BAC"), Some(1));
    }
}
