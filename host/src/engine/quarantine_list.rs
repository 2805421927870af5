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
use std::sync::{Arc, Mutex};

/// One quarantined plugin as it was when it was put aside.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldPlugin {
    /// SHA-256 of the plugin file, hex.
    pub sha256: String,
    /// Its status at the time (name, file, version, last error).
    pub status: PluginStatus,
}

/// The quarantine file of a state directory. Clones share what was last written.
#[derive(Debug, Clone)]
pub struct QuarantineList {
    path: PathBuf,
    /// Per plugin, the digest of its file and the file's (length, modified time) when it
    /// was taken: a file is hashed again only when it changed on disk.
    digests: Arc<Mutex<BTreeMap<String, (FileStamp, String)>>>,
    /// The list as last written (or read): an unchanged list is not written again.
    written: Arc<Mutex<Vec<u8>>>,
}

/// A file's length and modification time.
type FileStamp = (u64, Option<std::time::SystemTime>);

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()))
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
            digests: Arc::default(),
            written: Arc::default(),
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
        *lock(&self.written) = bytes;
        listed
            .into_iter()
            .filter(|(name, h)| {
                self.digest(name, &h.status.info.file).as_deref() == Some(h.sha256.as_str())
            })
            .collect()
    }

    /// Record the quarantined plugins among `statuses` (running ones and held ones alike);
    /// a plugin that runs again drops off the list. Writes only when the list changed.
    pub fn save(&self, statuses: &[PluginStatus]) -> std::io::Result<()> {
        let list: BTreeMap<String, HeldPlugin> = statuses
            .iter()
            .filter(|s| s.stats.state == PluginRunState::Quarantined)
            .filter_map(|s| {
                let sha256 = self.digest(&s.info.name, &s.info.file)?;
                Some((
                    s.info.name.clone(),
                    HeldPlugin {
                        sha256,
                        status: s.clone(),
                    },
                ))
            })
            .collect();
        let json = serde_json::to_vec_pretty(&list).map_err(std::io::Error::other)?;
        let mut written = lock(&self.written);
        if *written == json {
            return Ok(());
        }
        write_atomic(&self.path, &json)?;
        *written = json;
        Ok(())
    }

    /// The digest of `plugin`'s `file`, hashed again only when the file changed.
    fn digest(&self, plugin: &str, file: &Path) -> Option<String> {
        let now = stamp(file)?;
        let mut digests = lock(&self.digests);
        if let Some((seen, sha)) = digests.get(plugin)
            && *seen == now
        {
            return Some(sha.clone());
        }
        let sha = file_digest(file)?;
        digests.insert(plugin.to_string(), (now, sha.clone()));
        Some(sha)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
        list.save(&[
            status("bad", &bad, PluginRunState::Quarantined),
            status("good", &good, PluginRunState::Running),
        ])
        .unwrap();
        let held = list.held();
        assert_eq!(held.keys().collect::<Vec<_>>(), ["bad"]);
        // Saved again while held (not loaded): still listed.
        let listed = std::fs::metadata(dir.path().join("quarantine.json")).unwrap();
        list.save(&[held["bad"].status.clone()]).unwrap();
        assert_eq!(list.held().len(), 1);
        assert_eq!(
            std::fs::metadata(dir.path().join("quarantine.json"))
                .unwrap()
                .modified()
                .unwrap(),
            listed.modified().unwrap(),
            "an unchanged list is not written again"
        );
        // A new build of the file lifts it, seen by this list (the file's stamp changed)
        // and by a fresh one (a restart).
        std::fs::write(&bad, b"v2, rebuilt").unwrap();
        assert!(list.held().is_empty());
        assert!(QuarantineList::new(dir.path()).held().is_empty());
    }

    #[test]
    fn an_unreadable_list_holds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("quarantine.json"), b"{not json").unwrap();
        assert!(QuarantineList::new(dir.path()).held().is_empty());
    }
}
