//! Models on disk: `models/<symbol>/<version>/` holding `model.safetensors` and
//! `metadata.json`.
//!
//! A version is written into a hidden temporary directory beside the others, each file
//! synced, then the directory is renamed into place: a reader sees a whole version or none.
//! Every trained model is kept; its metadata says whether it was deployed or kept as a
//! candidate. At start-up the newest deployed version that loads and matches the settings is
//! used; each one skipped (corrupt, incompatible) is returned as an error to report.

use super::error::TrainerError;
use super::evaluation::Evaluation;
use super::features::Normaliser;
use super::gate::DeployDecision;
use super::model::{MlpWeights, ModelShape};
use super::predictor::{Compatibility, DeployedModel};
use crate::market::CleaningReport;
use crate::types::TimestampMs;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the metadata layout; a file of another format is incompatible.
pub const FORMAT_VERSION: u32 = 1;
const WEIGHTS_FILE: &str = "model.safetensors";
const METADATA_FILE: &str = "metadata.json";

/// Whether a stored version went live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// Passed the gate and served predictions.
    Deployed,
    /// Failed the gate; kept for inspection.
    Candidate,
}

/// The bars a model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataRange {
    /// Start of the first bar.
    pub first_bar_ms: TimestampMs,
    /// Start of the last bar.
    pub last_bar_ms: TimestampMs,
    /// What cleaning did to them.
    pub cleaning: CleaningReport,
}

/// How the fit went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Epochs run.
    pub epochs_run: usize,
    /// Epoch whose weights were kept.
    pub best_epoch: usize,
    /// Last training loss (scaled targets).
    pub train_loss: f64,
    /// Best validation loss (scaled targets).
    pub validation_loss: f64,
    /// Wall time of the fit.
    pub seconds: f64,
    /// Seed used.
    pub seed: u64,
}

/// Everything needed to use and judge a stored model (`metadata.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    /// [`FORMAT_VERSION`] when written.
    pub format: u32,
    /// The symbol, in the user's notation.
    pub symbol: String,
    /// Version number, unique per symbol, increasing.
    pub version: u32,
    /// Deployed or candidate.
    pub status: ModelStatus,
    /// Feature names in column order.
    pub features: Vec<String>,
    /// Bars per feature window.
    pub feature_window: usize,
    /// Bars ahead of the target.
    pub horizon: usize,
    /// Bar length the model was trained on.
    pub bar_secs: u32,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Feature standardisation and target scale, fitted on the training rows.
    pub normaliser: Normaliser,
    /// Held-out scores beside baselines and the live model.
    pub evaluation: Evaluation,
    /// The gate's decision and why.
    pub decision: DeployDecision,
    /// The data trained on.
    pub data: DataRange,
    /// The fit.
    pub training: TrainingSummary,
    /// When it was written (ms since the epoch).
    pub created_ms: TimestampMs,
}

/// The models directory.
#[derive(Debug, Clone)]
pub struct ModelStore {
    /// Root, e.g. `models/`.
    root: PathBuf,
}

impl ModelStore {
    /// A store under `root` (created on first save).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ModelStore { root: root.into() }
    }

    /// The directory of `symbol`'s versions; characters unsafe in file names become `_`.
    pub fn symbol_dir(&self, symbol: &str) -> PathBuf {
        let safe: String = symbol
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.root.join(safe.trim_start_matches('.'))
    }

    /// Stored versions of `symbol`, newest first.
    pub fn versions(&self, symbol: &str) -> Result<Vec<u32>, TrainerError> {
        let dir = self.symbol_dir(symbol);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(TrainerError::io(dir)(e)),
        };
        let mut versions: Vec<u32> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        versions.sort_unstable_by(|a, b| b.cmp(a));
        Ok(versions)
    }

    /// Symbols with at least one stored version (as named in their metadata).
    pub fn symbols(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| {
                let versions = std::fs::read_dir(e.path()).ok()?;
                versions
                    .filter_map(|v| v.ok())
                    .find_map(|v| read_metadata(&v.path()).ok().map(|m| m.symbol))
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Writes a new version atomically; returns its directory.
    pub fn save(
        &self,
        meta: &ModelMetadata,
        weights: &MlpWeights,
    ) -> Result<PathBuf, TrainerError> {
        let dir = self.symbol_dir(&meta.symbol);
        std::fs::create_dir_all(&dir).map_err(TrainerError::io(&dir))?;
        let final_dir = dir.join(meta.version.to_string());
        if final_dir.exists() {
            return Err(TrainerError::Io {
                path: final_dir,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "version already stored",
                ),
            });
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tmp = dir.join(format!(
            ".tmp-{}-{}-{nanos}",
            meta.version,
            std::process::id()
        ));
        std::fs::create_dir_all(&tmp).map_err(TrainerError::io(&tmp))?;
        let result = (|| {
            let weights_path = tmp.join(WEIGHTS_FILE);
            candle_core::safetensors::save(&weights.to_tensors()?, &weights_path)
                .map_err(TrainerError::candle("writing safetensors"))?;
            sync_file(&weights_path)?;
            let json = serde_json::to_vec_pretty(meta)
                .map_err(|e| TrainerError::Thread(format!("serialising metadata: {e}")))?;
            let meta_path = tmp.join(METADATA_FILE);
            let mut f = std::fs::File::create(&meta_path).map_err(TrainerError::io(&meta_path))?;
            f.write_all(&json)
                .and_then(|_| f.sync_all())
                .map_err(TrainerError::io(&meta_path))?;
            std::fs::rename(&tmp, &final_dir).map_err(TrainerError::io(&final_dir))?;
            // Make the rename itself durable.
            if let Ok(d) = std::fs::File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(final_dir.clone())
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }

    /// Loads one version directory, checking it against `compat`.
    pub fn load(
        &self,
        version_dir: &Path,
        compat: &Compatibility,
    ) -> Result<DeployedModel, TrainerError> {
        let meta = read_metadata(version_dir)?;
        if meta.format != FORMAT_VERSION {
            return Err(TrainerError::IncompatibleModel {
                path: version_dir.into(),
                reason: format!(
                    "metadata format {} (this build reads {FORMAT_VERSION})",
                    meta.format
                ),
            });
        }
        if let Some(reason) = compat.mismatch(&meta) {
            return Err(TrainerError::IncompatibleModel {
                path: version_dir.into(),
                reason,
            });
        }
        let corrupt = |reason: String| TrainerError::CorruptModel {
            path: version_dir.into(),
            reason,
        };
        if meta.normaliser.mean.len() != meta.features.len()
            || meta.normaliser.scale.len() != meta.features.len()
        {
            return Err(corrupt("normalisation does not cover every feature".into()));
        }
        let bytes = std::fs::read(version_dir.join(WEIGHTS_FILE))
            .map_err(|e| corrupt(format!("{WEIGHTS_FILE}: {e}")))?;
        let tensors = candle_core::safetensors::load_buffer(&bytes, &candle_core::Device::Cpu)
            .map_err(|e| corrupt(format!("{WEIGHTS_FILE}: {e}")))?;
        let shape = ModelShape {
            inputs: meta.features.len(),
            hidden: meta.hidden.clone(),
        };
        let weights = MlpWeights::from_tensors(&shape, &tensors).map_err(corrupt)?;
        Ok(DeployedModel { meta, weights })
    }

    /// The newest deployed version of `symbol` that loads, and every version skipped on the way.
    pub fn load_deployed(
        &self,
        symbol: &str,
        compat: &Compatibility,
    ) -> (Option<DeployedModel>, Vec<TrainerError>) {
        let mut skipped = Vec::new();
        let versions = match self.versions(symbol) {
            Ok(v) => v,
            Err(e) => return (None, vec![e]),
        };
        for version in versions {
            let dir = self.symbol_dir(symbol).join(version.to_string());
            match read_metadata(&dir) {
                Ok(meta) if meta.status == ModelStatus::Candidate => continue,
                Ok(_) => {}
                Err(e) => {
                    skipped.push(e);
                    continue;
                }
            }
            match self.load(&dir, compat) {
                Ok(model) => return (Some(model), skipped),
                Err(e) => skipped.push(e),
            }
        }
        (None, skipped)
    }

    /// The number the next version of `symbol` gets.
    pub fn next_version(&self, symbol: &str) -> Result<u32, TrainerError> {
        Ok(self.versions(symbol)?.first().map_or(1, |v| v + 1))
    }
}

fn read_metadata(version_dir: &Path) -> Result<ModelMetadata, TrainerError> {
    let path = version_dir.join(METADATA_FILE);
    let bytes = std::fs::read(&path).map_err(|e| TrainerError::CorruptModel {
        path: version_dir.into(),
        reason: format!("{METADATA_FILE}: {e}"),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| TrainerError::CorruptModel {
        path: version_dir.into(),
        reason: format!("{METADATA_FILE}: {e}"),
    })
}

fn sync_file(path: &Path) -> Result<(), TrainerError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(TrainerError::io(path))
}
