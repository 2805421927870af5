//! Models on disk: `models/<symbol>/<version>/` holding `model.safetensors` and
//! `metadata.json`.
//!
//! The metadata's `kind` (MLP or ridge) says which tensors the weights file holds. Format 1
//! (written before ridge existed, no `kind`) is read as an MLP; this build writes format 2.
//!
//! A version is written into a hidden temporary directory beside the others, each file
//! synced, then the directory is renamed into place: a reader sees a whole version or none.
//! Every trained model is kept; its metadata says whether it was deployed or kept as a
//! candidate. At start-up the newest deployed version that loads and matches the settings is
//! used; each one skipped (corrupt, incompatible) is returned as an error to report.

use super::candidates::CandidateScore;
use super::error::TrainerError;
use super::evaluation::Evaluation;
use super::features::Normaliser;
use super::gate::DeployDecision;
use super::predictor::{Compatibility, DeployedModel};
use super::weights::{ModelKind, ModelWeights};
use crate::market::CleaningReport;
use crate::types::TimestampMs;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the metadata layout written; format 2 added `kind` and `candidates`.
pub const FORMAT_VERSION: u32 = 2;
/// Oldest layout still read (its models are MLPs).
const OLDEST_FORMAT: u32 = 1;
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

/// How the fit of the chosen candidate went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Epochs run (0 for ridge, a closed-form fit).
    pub epochs_run: usize,
    /// Epoch whose weights were kept (0 for ridge).
    pub best_epoch: usize,
    /// Last training loss (scaled targets).
    pub train_loss: f64,
    /// Validation loss (scaled targets), on which the candidate was chosen.
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
    /// MLP or ridge (absent in format 1: MLP).
    #[serde(default)]
    pub kind: ModelKind,
    /// Hidden layer widths of the MLP (empty for ridge).
    pub hidden: Vec<usize>,
    /// Feature standardisation and target scale, fitted on the training rows.
    pub normaliser: Normaliser,
    /// Held-out scores beside baselines and the live model.
    pub evaluation: Evaluation,
    /// The gate's decision and why.
    pub decision: DeployDecision,
    /// The data trained on.
    pub data: DataRange,
    /// The fit of the chosen candidate.
    pub training: TrainingSummary,
    /// Every candidate's validation loss (absent in format 1).
    #[serde(default)]
    pub candidates: Vec<CandidateScore>,
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
        weights: &ModelWeights,
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
        if !(OLDEST_FORMAT..=FORMAT_VERSION).contains(&meta.format) {
            return Err(TrainerError::IncompatibleModel {
                path: version_dir.into(),
                reason: format!(
                    "metadata format {} (this build reads {OLDEST_FORMAT} to {FORMAT_VERSION})",
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
        let weights =
            ModelWeights::from_tensors(meta.kind, meta.features.len(), &meta.hidden, &tensors)
                .map_err(|reason| {
                    corrupt(format!("{WEIGHTS_FILE} ({} model): {reason}", meta.kind))
                })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::clean_bars;
    use crate::trainer::TrainerConfig;
    use crate::trainer::cycle::run_cycle;
    use crate::trainer::cycle::tests::{LEARNABLE, compat, momentum_bars, quick_config};
    use crate::trainer::dataset::{Dataset, Split};
    use crate::trainer::evaluation::Metrics;
    use crate::trainer::features::FEATURE_COUNT;

    /// A ridge model goes to disk and back unchanged, and the loaded model's forecasts on
    /// the held-out rows are exactly those the cycle scored.
    #[test]
    fn a_ridge_model_round_trips_and_serves_what_was_scored() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path());
        let config = TrainerConfig {
            candidates: vec![ModelKind::Ridge],
            ..quick_config()
        };
        let bars = momentum_bars(LEARNABLE);
        let (report, deployed) = run_cycle(&config, &store, "SPY", &bars, None).unwrap();
        let fitted = deployed.unwrap_or_else(|| panic!("ridge should learn momentum: {report}"));
        assert_eq!(report.kind, ModelKind::Ridge);
        assert!(matches!(fitted.weights, ModelWeights::Ridge(_)));
        let (loaded, skipped) = store.load_deployed("SPY", &compat(&config));
        assert!(skipped.is_empty(), "{skipped:?}");
        let loaded = loaded.unwrap();
        assert_eq!(loaded.weights, fitted.weights);
        assert_eq!(loaded.meta.normaliser, fitted.meta.normaliser);
        assert_eq!(loaded.meta.kind, ModelKind::Ridge);
        assert!(loaded.meta.hidden.is_empty());

        let (clean, _) = clean_bars(&bars, &config.cleaning);
        let data = Dataset::build(&clean, config.feature_window, config.prediction_horizon);
        let split = Split::new(data.len(), 0.2, 0.15, config.prediction_horizon).unwrap();
        let served: Vec<f64> = data
            .rows(&split.test)
            .chunks_exact(FEATURE_COUNT)
            .map(|r| loaded.predict_row(r))
            .collect();
        let targets: Vec<f64> = data.y[split.test.clone()]
            .iter()
            .map(|y| f64::from(*y))
            .collect();
        assert_eq!(Metrics::score(&served, &targets), report.evaluation.model);
        // And the latest forecast is the last row's.
        let latest = loaded.predict_latest(&clean[..=clean.len() - 6]).unwrap();
        assert_eq!(latest, *served.last().unwrap());
    }

    /// Metadata written before ridge existed (format 1, no `kind`) loads as an MLP; a file
    /// whose kind does not match its tensors is corrupt, naming the weights file.
    #[test]
    fn format_1_models_still_load_and_a_wrong_kind_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(dir.path());
        let config = TrainerConfig {
            candidates: vec![ModelKind::Mlp],
            epochs: 3,
            ..quick_config()
        };
        let (report, _) =
            run_cycle(&config, &store, "SPY", &momentum_bars(LEARNABLE), None).unwrap();
        let meta_path = report.path.join(METADATA_FILE);
        edit_json(&meta_path, |fields| {
            assert_eq!(fields.remove("kind"), Some("mlp".into()));
            assert!(fields.remove("candidates").is_some());
            fields.insert("format".into(), 1.into());
        });
        let old = store.load(&report.path, &compat(&config)).unwrap();
        assert_eq!((old.meta.kind, old.meta.format), (ModelKind::Mlp, 1));
        assert!(old.meta.candidates.is_empty());
        assert!(matches!(old.weights, ModelWeights::Mlp(_)));

        edit_json(&meta_path, |f| {
            f.insert("kind".into(), "ridge".into());
        });
        let err = store.load(&report.path, &compat(&config)).unwrap_err();
        assert!(err.is_bad_model_file(), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("model.safetensors (ridge model)") && text.contains("ridge.weight"),
            "{text}"
        );
        edit_json(&meta_path, |f| {
            f.insert("format".into(), 3.into());
        });
        let err = store.load(&report.path, &compat(&config)).unwrap_err();
        assert!(
            matches!(err, TrainerError::IncompatibleModel { .. }),
            "{err}"
        );
    }

    fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        edit(json.as_object_mut().unwrap());
        std::fs::write(path, serde_json::to_vec(&json).unwrap()).unwrap();
    }
}
