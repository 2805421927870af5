//! The compiled-artifact cache: unchanged plugins load in about a millisecond.
//!
//! Compiling a component takes 100+ ms (seconds for large guests); deserialising a
//! precompiled artifact takes well under a millisecond. Artifacts are keyed by the SHA-256
//! of the component bytes and by the engine's compatibility hash (wasmtime version and
//! every `Config` setting that changes code), and written atomically (temp file + rename).
//! Only artifacts this host wrote are ever deserialised, since deserialisation trusts them.

use crate::atomic_file::write_atomic;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of precompiled components.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
}

/// A SHA-256 digest.
pub type Digest32 = [u8; 32];

/// The SHA-256 digest of a component's bytes, which names its cached compilation.
pub fn digest(bytes: &[u8]) -> Digest32 {
    Sha256::digest(bytes).into()
}

impl ArtifactCache {
    /// A cache in `dir` (created on first write) for artifacts of `engine`.
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ArtifactCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    fn path_for(&self, digest: &Digest32) -> PathBuf {
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}-{}.cwasm", self.engine_key))
    }

    /// The cached compilation of the bytes with SHA-256 `digest` ([`digest`]), if present
    /// and loadable.
    pub fn load(&self, engine: &Engine, digest: &Digest32) -> Option<Component> {
        let path = self.path_for(digest);
        let artifact = std::fs::read(&path).ok()?;
        // SAFETY: the file name is the hash of the source bytes and of this engine's
        // configuration, and only `store` (below) writes such files, from wasmtime's own
        // `Component::serialize`, atomically. The bytes were read into memory, so a later
        // change to the file cannot affect the loaded component.
        match unsafe { Component::deserialize(engine, &artifact) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(target: "tradehost::plugins", "ignoring unusable cached artifact {}: {e}", path.display());
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Store the compilation of the bytes with SHA-256 `digest`; failures are logged, never
    /// fatal.
    pub fn store(&self, digest: &Digest32, component: &Component) {
        let path = self.path_for(digest);
        let result = component
            .serialize()
            .map_err(|e| e.to_string())
            .and_then(|artifact| write_atomic(&path, &artifact).map_err(|e| e.to_string()));
        if let Err(e) = result {
            tracing::warn!(target: "tradehost::plugins", "cannot cache compiled plugin in {}: {e}", self.dir.display());
        }
    }
}
