//! Plugin state on disk: each plugin's snapshot and the symbol table (the names something
//! real used, with their ids), so that a restarted daemon resumes where it stopped. Files
//! are written atomically (temp file + rename).

use crate::atomic_file::write_atomic;
use crate::feed::FeedStatus;
use crate::plugins::SymbolTable;
use crate::plugins::symbols::KeptSymbols;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
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
        let Ok(bytes) = std::fs::read(&path) else {
            return SymbolTable::new();
        };
        match serde_json::from_slice::<SymbolFile>(&bytes) {
            Ok(SymbolFile::Kept { next_id, .. }) if next_id > MAX_NEXT_ID => {
                tracing::warn!(
                    "ignoring symbol table {}: next_id {next_id} is beyond {MAX_NEXT_ID}",
                    path.display()
                );
                SymbolTable::new()
            }
            Ok(SymbolFile::Kept { next_id, symbols }) => SymbolTable::restore(KeptSymbols {
                symbols: symbols.into_iter().map(|(n, id)| (n.into(), id)).collect(),
                next_id,
            }),
            // Written before uses were told apart: same ids, kept only if used in this run.
            Ok(SymbolFile::Listed(names)) => SymbolTable::from_names(names),
            Err(e) => {
                tracing::warn!("ignoring unreadable symbol table {}: {e}", path.display());
                SymbolTable::new()
            }
        }
    }

    /// Save the names of the symbol table that something real used (see
    /// [`SymbolTable::kept`]), with their ids.
    pub fn save_symbols(&self, symbols: &SymbolTable) -> std::io::Result<()> {
        let kept = symbols.kept();
        let file = SymbolFile::Kept {
            next_id: kept.next_id,
            symbols: kept
                .symbols
                .iter()
                .map(|(name, id)| (name.to_string(), *id))
                .collect(),
        };
        let json = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
        write_atomic(&self.dir.join("symbols.json"), &json)
    }
}

/// Tell the symbol table what the feed did with a subscription: a symbol it subscribed is
/// kept across restarts, unless the server refuses it.
pub fn note_subscription(symbols: &SymbolTable, status: &FeedStatus) {
    match status {
        FeedStatus::Subscribed { symbol } => symbols.subscribed(symbol, true),
        FeedStatus::Rejected { symbol, .. } => symbols.subscribed(symbol, false),
        _ => {}
    }
}

/// Highest `next_id` a symbol file may give: ids stay far from `u32::MAX`, which answers a
/// refused `intern-symbol`.
const MAX_NEXT_ID: u32 = 1 << 30;

/// `symbols.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum SymbolFile {
    /// The names kept (traded or subscribed) with their ids, and the id the next new name
    /// gets (so the ids of names not kept are never handed out again).
    Kept {
        next_id: u32,
        symbols: BTreeMap<String, u32>,
    },
    /// Every name ever interned, the id of each its place in the list (earlier versions).
    Listed(Vec<String>),
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
    }

    #[test]
    fn junk_symbols_are_not_saved_and_real_ones_keep_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path().join("state"));
        let t = SymbolTable::new();
        let junk: std::sync::Arc<str> = "junk".into();
        t.intern_traded("SPY");
        for i in 0..1_000 {
            t.intern_for(&junk, &format!("JUNK{i}"), 1_000, 100_000)
                .unwrap();
        }
        t.subscribed("IBM", true);
        store.save_symbols(&t).unwrap();
        let text = std::fs::read_to_string(dir.path().join("state/symbols.json")).unwrap();
        assert_eq!(text, r#"{"next_id":1002,"symbols":{"IBM":1001,"SPY":0}}"#);
        let loaded = store.load_symbols();
        assert_eq!((loaded.id("SPY"), loaded.id("IBM")), (Some(0), Some(1_001)));
        assert_eq!((loaded.len(), loaded.intern("BAC")), (2, 1_002));
    }

    #[test]
    fn a_symbol_the_feed_subscribed_is_kept_unless_the_server_refused_it() {
        let t = SymbolTable::new();
        let status = |symbol: &str, accepted: bool| match accepted {
            true => FeedStatus::Subscribed {
                symbol: symbol.into(),
            },
            false => FeedStatus::Rejected {
                symbol: symbol.into(),
                reason: "unknown symbol".into(),
            },
        };
        for (symbol, accepted) in [("SPY", true), ("NOPE", true), ("NOPE", false)] {
            note_subscription(&t, &status(symbol, accepted));
        }
        note_subscription(&t, &FeedStatus::EndOfData);
        let kept: Vec<String> = t
            .kept()
            .symbols
            .iter()
            .map(|(s, _)| s.to_string())
            .collect();
        assert_eq!(kept, ["SPY"]);
    }

    #[test]
    fn an_older_symbol_list_keeps_its_ids_and_only_what_this_run_uses() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path().to_path_buf());
        std::fs::write(dir.path().join("symbols.json"), r#"["SPY","JUNK","BAC"]"#).unwrap();
        let t = store.load_symbols();
        assert_eq!((t.id("SPY"), t.id("BAC")), (Some(0), Some(2)));
        t.intern_traded("BAC");
        store.save_symbols(&t).unwrap();
        let text = std::fs::read_to_string(dir.path().join("symbols.json")).unwrap();
        assert_eq!(text, r#"{"next_id":3,"symbols":{"BAC":2}}"#);
        // A file beyond the ids' range is not trusted.
        std::fs::write(
            dir.path().join("symbols.json"),
            r#"{"next_id":4294967295,"symbols":{"SPY":0}}"#,
        )
        .unwrap();
        assert!(store.load_symbols().is_empty());
    }
}
