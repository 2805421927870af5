//! Quarantines that outlive a restart.
//!
//! A plugin quarantined for repeated faults would fault again after a restart: the list of
//! quarantined plugins, each with the SHA-256 of its file, is kept in
//! `STATE_DIR/quarantine.json`. At start-up a listed plugin whose file is unchanged is not
//! loaded; it shows as quarantined, with its last error, until its file changes (a new
//! build) or an operator enables it.

use crate::atomic_file::write_atomic;
use crate::plugins::{PluginRunState, PluginStatus};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One quarantined plugin as it was when it was put aside.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldPlugin {
    /// SHA-256 of the plugin file, hex.
    pub sha256: String,
    /// Its status at the time (name, file, version, last error).
    pub status: PluginStatus,
}

/// The quarantine file of a state directory.
#[derive(Debug, Clone)]
pub struct QuarantineList {
    path: PathBuf,
}

/// SHA-256 of a file's bytes, hex; `None` when it cannot be read.
pub fn file_digest(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

impl QuarantineList {
    /// The list in `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        QuarantineList {
            path: state_dir.join("quarantine.json"),
        }
    }

    /// Plugins still held: listed, and their file unchanged. An unreadable list is logged
    /// and treated as empty (the plugins load, and fault again if they must).
    pub fn held(&self) -> BTreeMap<String, HeldPlugin> {
        let Ok(bytes) = std::fs::read(&self.path) else {
            return BTreeMap::new();
        };
        let listed: BTreeMap<String, HeldPlugin> = match serde_json::from_slice(&bytes) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(target: "tradehost::plugins", "ignoring unreadable quarantine list {}: {e}", self.path.display());
                return BTreeMap::new();
            }
        };
        listed
            .into_iter()
            .filter(|(_, h)| file_digest(&h.status.info.file).as_deref() == Some(&h.sha256))
            .collect()
    }

    /// Record the quarantined plugins among `statuses` (running ones and held ones alike);
    /// a plugin that runs again, or whose file changed, drops off the list.
    pub fn save(
        &self,
        statuses: &[PluginStatus],
        held: &BTreeMap<String, HeldPlugin>,
    ) -> std::io::Result<()> {
        let mut list = BTreeMap::new();
        for s in statuses {
            if s.stats.state != PluginRunState::Quarantined {
                continue;
            }
            let kept = held
                .get(&s.info.name)
                .map(|h| h.sha256.clone())
                .or_else(|| file_digest(&s.info.file));
            if let Some(sha256) = kept {
                list.insert(
                    s.info.name.clone(),
                    HeldPlugin {
                        sha256,
                        status: s.clone(),
                    },
                );
            }
        }
        let json = serde_json::to_vec_pretty(&list).map_err(std::io::Error::other)?;
        write_atomic(&self.path, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::PluginStats;

    fn status(name: &str, file: &Path, state: PluginRunState) -> PluginStatus {
        let mut s = crate::status::health::test_plugin(name, "1.0.0", PluginStats::default());
        s.info.file = file.to_path_buf();
        s.stats.state = state;
        s
    }

    #[test]
    fn a_quarantine_holds_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (bad, good) = (dir.path().join("bad.wasm"), dir.path().join("good.wasm"));
        std::fs::write(&bad, b"v1").unwrap();
        std::fs::write(&good, b"ok").unwrap();
        let list = QuarantineList::new(dir.path());
        assert!(list.held().is_empty());
        list.save(
            &[
                status("bad", &bad, PluginRunState::Quarantined),
                status("good", &good, PluginRunState::Running),
            ],
            &BTreeMap::new(),
        )
        .unwrap();
        let held = list.held();
        assert_eq!(held.keys().collect::<Vec<_>>(), ["bad"]);
        // Saved again while held (not loaded): still listed.
        list.save(&[held["bad"].status.clone()], &held).unwrap();
        assert_eq!(list.held().len(), 1);
        // A new build of the file lifts it.
        std::fs::write(&bad, b"v2").unwrap();
        assert!(list.held().is_empty());
    }

    #[test]
    fn an_unreadable_list_holds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("quarantine.json"), b"{not json").unwrap();
        assert!(QuarantineList::new(dir.path()).held().is_empty());
    }
}
