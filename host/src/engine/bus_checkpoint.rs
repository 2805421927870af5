//! A strategy host's checkpoint, `state/bus.checkpoint`: every plugin's snapshot, the market
//! stream position they were all taken at, and each plugin's instance number, written as
//! one file (MessagePack, temp file and rename), so a crash leaves the old cut or the new
//! one, never snapshots of one and the position of the other.
//!
//! Restarted, the host puts the snapshots back in place and reads on from that position, so
//! its plugins see again exactly the events their snapshots did not; the orders they make
//! again carry the same ids (host/plugin/instance/tag) and are dropped as repeats. A plugin
//! that starts without a snapshot gets a new instance number, so its fresh tags are new
//! orders, not repeats.

use crate::atomic_file::write_atomic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusCheckpoint {
    /// Market stream position of the last event the snapshots include (0: none).
    pub position: u64,
    /// Instance number of each plugin that has sent orders.
    pub instances: BTreeMap<String, u32>,
    /// Each plugin's snapshot at `position`.
    #[serde(default)]
    pub snapshots: BTreeMap<String, Vec<u8>>,
}

/// `bus.checkpoint` could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file exists but is not a checkpoint.
    #[error(
        "{path} is not a bus checkpoint ({reason}); move it away to start this strategy host from the live end of the stream"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parser's words.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl BusCheckpoint {
    /// The file in `state_dir`.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("bus.checkpoint")
    }

    /// The saved checkpoint, or the empty one when there is none.
    pub fn load(state_dir: &Path) -> Result<BusCheckpoint, CheckpointError> {
        let path = BusCheckpoint::path(state_dir);
        match std::fs::read(&path) {
            Ok(bytes) => rmp_serde::from_slice(&bytes).map_err(|e| CheckpointError::Corrupt {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BusCheckpoint::default()),
            Err(source) => Err(CheckpointError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Writes it atomically.
    pub fn save(&self, state_dir: &Path) -> Result<(), CheckpointError> {
        let path = BusCheckpoint::path(state_dir);
        let bytes = rmp_serde::to_vec_named(self).map_err(|e| CheckpointError::Io {
            action: "encode",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&path, &bytes).map_err(|source| CheckpointError::Io {
            action: "write",
            path,
            source,
        })
    }

    /// The instance of `plugin`, a new one if it has none: the current Unix time in
    /// seconds, above every number it may have had (a plugin restarted fresh in the same
    /// second as before would otherwise repeat its ids).
    pub fn instance_of(&mut self, plugin: &str, now_secs: u64) -> u32 {
        if let Some(i) = self.instances.get(plugin) {
            return *i;
        }
        let fresh = u32::try_from(now_secs).unwrap_or(u32::MAX);
        self.instances.insert(plugin.to_string(), fresh);
        fresh
    }

    /// Put every snapshot back in the state folder, over any newer one a crash left there:
    /// the plugins must start from the states that match `position`.
    pub fn restore_into(
        &self,
        state: &super::state_store::StateStore,
    ) -> Result<(), CheckpointError> {
        for (name, bytes) in &self.snapshots {
            state
                .save_plugin(name, bytes)
                .map_err(|source| CheckpointError::Io {
                    action: "restore the state of plugin",
                    path: PathBuf::from(name),
                    source,
                })?;
        }
        Ok(())
    }

    /// Forget the instances of plugins that start without a snapshot.
    pub fn retain_restored(&mut self, mut restored: impl FnMut(&str) -> bool) {
        self.instances.retain(|name, _| restored(name));
    }

    /// At start: keep the instances of the plugins this checkpoint has a snapshot of and
    /// whose saved state `loaded` (the others start fresh, with new instance numbers).
    pub fn retain_started_from_snapshots(&mut self, mut loaded: impl FnMut(&str) -> bool) {
        let snapshots = &self.snapshots;
        self.instances
            .retain(|name, _| snapshots.contains_key(name) && loaded(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_round_trips_and_a_missing_file_is_the_start_of_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            BusCheckpoint::load(dir.path()).unwrap(),
            BusCheckpoint::default()
        );
        let mut c = BusCheckpoint {
            position: 42,
            ..Default::default()
        };
        c.snapshots.insert("sma".into(), vec![0, 200, 255]);
        assert_eq!(c.instance_of("sma", 1_700_000_000), 1_700_000_000);
        assert_eq!(c.instance_of("sma", 1_800_000_000), 1_700_000_000);
        c.save(dir.path()).unwrap();
        assert_eq!(BusCheckpoint::load(dir.path()).unwrap(), c);
    }

    #[test]
    fn restoring_puts_the_checkpoint_states_over_newer_ones() {
        let dir = tempfile::tempdir().unwrap();
        let state = super::super::state_store::StateStore::new(dir.path().to_path_buf());
        state.save_plugin("sma", b"newer").unwrap();
        let mut c = BusCheckpoint::default();
        c.snapshots
            .insert("sma".into(), b"at the position".to_vec());
        c.restore_into(&super::super::state_store::StateStore::new(
            dir.path().to_path_buf(),
        ))
        .unwrap();
        assert_eq!(
            state.load_plugin("sma").as_deref(),
            Some(&b"at the position"[..])
        );
    }

    #[test]
    fn a_plugin_without_its_snapshot_gets_a_new_instance() {
        let mut c = BusCheckpoint::default();
        c.instance_of("sma", 100);
        c.instance_of("rsi", 100);
        c.retain_restored(|name| name == "rsi");
        assert_eq!(c.instance_of("sma", 200), 200);
        assert_eq!(c.instance_of("rsi", 200), 100);
    }

    #[test]
    fn at_start_only_plugins_with_a_snapshot_and_a_loaded_state_keep_their_instance() {
        let mut c = BusCheckpoint::default();
        for name in ["sma", "rsi", "new"] {
            c.instance_of(name, 100);
        }
        c.snapshots.insert("sma".into(), vec![1]);
        c.snapshots.insert("rsi".into(), vec![2]);
        c.retain_started_from_snapshots(|name| name != "rsi");
        assert_eq!(c.instance_of("sma", 200), 100);
        assert_eq!(c.instance_of("rsi", 200), 200, "its state did not load");
        assert_eq!(c.instance_of("new", 200), 200, "no snapshot");
        assert_eq!(c.snapshots.len(), 2, "the snapshots stay");
    }

    #[test]
    fn a_damaged_file_is_named_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(BusCheckpoint::path(dir.path()), b"\xc1junk").unwrap();
        let e = BusCheckpoint::load(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("bus.checkpoint") && e.contains("move it away"),
            "{e}"
        );
    }
}
