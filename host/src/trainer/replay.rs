//! The trainer of replays and backtests: the live trainer's cycle, gate and forecasts, run on
//! the caller's thread and clocked by the bars themselves, so a backtest with predictions is
//! deterministic and never looks ahead.
//!
//! Models come from a model folder (`--models DIR`: its deployed models, used as they are),
//! from walk-forward retraining (`--walk-forward K`: a cycle every K completed bars of a
//! symbol, on the bars completed so far, judged by the gate exactly as live), or both (DIR's
//! models are the ones to beat). Walk-forward models go to their own store, never into DIR.

use super::TrainerConfig;
use super::cycle::run_cycle;
use super::error::TrainerError;
use super::predictor::{Compatibility, DeployedModel};
use super::store::ModelStore;
use crate::types::{Bar, Prediction, Symbol};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;

/// Where a replay's models come from.
#[derive(Debug, Clone, Default)]
pub struct ReplayModels {
    /// Deployed models to start from (a daemon's `MODELS_DIR`).
    pub from_dir: Option<PathBuf>,
    /// Retrain each symbol every this many completed bars.
    pub walk_forward_every: Option<usize>,
    /// Where walk-forward models are written.
    pub store_dir: PathBuf,
}

/// What the replay trainer did, per symbol.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplayTrainingSummary {
    /// Cycles run.
    pub cycles: u32,
    /// Cycles whose model the gate deployed.
    pub deployed: u32,
    /// Cycles whose model the gate refused.
    pub refused: u32,
    /// Cycles skipped for too few rows.
    pub not_enough_data: u32,
    /// Cycles that failed (logged).
    pub failed: u32,
    /// Forecasts made.
    pub predictions: u64,
    /// Version of the model serving at the end, if any.
    pub final_version: Option<u32>,
}

/// A synchronous trainer fed bar by bar.
pub struct ReplayTrainer {
    config: TrainerConfig,
    every: Option<usize>,
    store: ModelStore,
    history: HashMap<Symbol, VecDeque<Bar>>,
    deployed: HashMap<Symbol, DeployedModel>,
    since_cycle: HashMap<Symbol, usize>,
    summary: BTreeMap<String, ReplayTrainingSummary>,
}

impl ReplayTrainer {
    /// Loads the deployed models of `models.from_dir` (every symbol it holds) that suit
    /// `config`; a folder that does not exist or holds none is an error saying so.
    pub fn new(config: TrainerConfig, models: &ReplayModels) -> Result<Self, TrainerError> {
        let mut deployed = HashMap::new();
        if let Some(dir) = &models.from_dir {
            let store = ModelStore::new(dir.clone());
            let compat = Compatibility {
                feature_window: config.feature_window,
                horizon: config.prediction_horizon,
                bar_secs: Some(config.update_interval_secs),
            };
            let mut problems = Vec::new();
            for symbol in store.symbols() {
                let (model, skipped) = store.load_deployed(&symbol, &compat);
                problems.extend(skipped.into_iter().map(|e| format!("{symbol}: {e}")));
                if let Some(model) = model {
                    tracing::info!(target: "tradehost::trainer", symbol, version = model.version(), "backtest uses deployed model v{} from {}", model.version(), dir.display());
                    deployed.insert(Symbol::from(symbol.as_str()), model);
                }
            }
            if deployed.is_empty() {
                return Err(TrainerError::Replay(format!(
                    "no usable deployed model in {}{}: train one first (tradehost train, or a \
                     daemon's MODELS_DIR), or use --walk-forward to train during the backtest",
                    dir.display(),
                    if problems.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", problems.join("; "))
                    }
                )));
            }
        }
        if models.walk_forward_every == Some(0) {
            return Err(TrainerError::Replay(
                "--walk-forward needs a number of bars of at least 1".into(),
            ));
        }
        let mut summary = BTreeMap::new();
        for (symbol, model) in &deployed {
            summary.insert(
                symbol.to_string(),
                ReplayTrainingSummary {
                    final_version: Some(model.version()),
                    ..Default::default()
                },
            );
        }
        Ok(ReplayTrainer {
            config,
            every: models.walk_forward_every,
            store: ModelStore::new(models.store_dir.clone()),
            history: HashMap::new(),
            deployed,
            since_cycle: HashMap::new(),
            summary,
        })
    }

    /// A bar completed: hold it, retrain when walk-forward says so, and forecast with the
    /// model serving this symbol (if any) as the live trainer would at this bar.
    pub fn on_bar(&mut self, bar: &Bar) -> Option<Prediction> {
        let symbol = bar.symbol.clone();
        let held = self.history.entry(symbol.clone()).or_default();
        if held
            .back()
            .is_some_and(|last| last.start_ms >= bar.start_ms)
        {
            return None;
        }
        if held.len() >= self.config.history_bars {
            held.pop_front();
        }
        held.push_back(bar.clone());
        if let Some(every) = self.every {
            let since = self.since_cycle.entry(symbol.clone()).or_insert(0);
            *since += 1;
            if *since >= every {
                *since = 0;
                self.retrain(&symbol);
            }
        }
        let model = self.deployed.get(&symbol)?;
        let held = self.history.get(&symbol)?;
        let need = model.bars_needed(&self.config.cleaning);
        let tail: Vec<Bar> = held
            .iter()
            .skip(held.len().saturating_sub(need))
            .cloned()
            .collect();
        let prediction = model.forecast(&symbol, &tail, &self.config.cleaning)?;
        self.summary
            .entry(symbol.to_string())
            .or_default()
            .predictions += 1;
        Some(prediction)
    }

    /// What happened per symbol so far.
    pub fn summary(&self) -> &BTreeMap<String, ReplayTrainingSummary> {
        &self.summary
    }

    /// One cycle on the bars completed so far; the gate decides as live.
    fn retrain(&mut self, symbol: &Symbol) {
        let bars: Vec<Bar> = self
            .history
            .get(symbol)
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default();
        let live = self.deployed.get(symbol);
        let result = run_cycle(&self.config, &self.store, symbol, &bars, live);
        let entry = self.summary.entry(symbol.to_string()).or_default();
        entry.cycles += 1;
        match result {
            Ok((report, model)) => {
                tracing::info!(target: "tradehost::trainer", symbol = &**symbol, version = report.version, "walk-forward cycle at {}: {}", crate::types::format_time_ms(bars.last().map_or(0, |b| b.start_ms)), report.decision);
                match model {
                    Some(model) => {
                        entry.deployed += 1;
                        entry.final_version = Some(model.version());
                        self.deployed.insert(symbol.clone(), model);
                    }
                    None => entry.refused += 1,
                }
            }
            Err(TrainerError::NotEnoughData { .. }) => entry.not_enough_data += 1,
            Err(e) => {
                entry.failed += 1;
                tracing::warn!(target: "tradehost::trainer", symbol = &**symbol, "walk-forward cycle failed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trainer::cycle::tests::{LEARNABLE, momentum_bars, quick_config};

    fn walk_forward(dir: &std::path::Path, every: usize) -> ReplayModels {
        ReplayModels {
            from_dir: None,
            walk_forward_every: Some(every),
            store_dir: dir.to_path_buf(),
        }
    }

    /// Forecasts (time, version, expected return) of a replay of `bars`.
    fn replay(trainer: &mut ReplayTrainer, bars: &[Bar]) -> Vec<(i64, u32, u64)> {
        bars.iter()
            .filter_map(|b| trainer.on_bar(b))
            .map(|p| (p.time_ms, p.model_version, p.expected_return.to_bits()))
            .collect()
    }

    #[test]
    fn walk_forward_trains_on_the_past_only_and_deploys_what_the_gate_passes() {
        // Returns with real momentum (phi 0.6): a model beats "predict zero" on them.
        let bars = momentum_bars(LEARNABLE);
        let dir = tempfile::tempdir().unwrap();
        let mut trainer =
            ReplayTrainer::new(quick_config(), &walk_forward(dir.path(), 500)).unwrap();
        let forecasts = replay(&mut trainer, &bars[..1500]);
        let s = &trainer.summary()["SPY"];
        assert_eq!(s.cycles, 3, "{s:?}");
        assert!(s.deployed >= 1 && s.final_version.is_some(), "{s:?}");
        assert_eq!(s.predictions, forecasts.len() as u64);
        // The first forecast comes right after the first deployment, made at that bar.
        assert!(forecasts[0].0 > bars[499].start_ms, "{:?}", forecasts[0]);

        // No look-ahead: a replay whose later bars differ forecasts the same until they do.
        let mut other: Vec<Bar> = bars[..1500].to_vec();
        for b in &mut other[1200..] {
            b.close *= 1.1;
            b.high *= 1.1;
        }
        let dir2 = tempfile::tempdir().unwrap();
        let mut trainer2 =
            ReplayTrainer::new(quick_config(), &walk_forward(dir2.path(), 500)).unwrap();
        let forecasts2 = replay(&mut trainer2, &other);
        let until = |f: &[(i64, u32, u64)]| -> Vec<(i64, u32, u64)> {
            f.iter()
                .filter(|p| p.0 <= bars[1199].start_ms + 3_600_000)
                .copied()
                .collect()
        };
        assert_eq!(until(&forecasts), until(&forecasts2));
        assert_ne!(
            forecasts, forecasts2,
            "the changed bars must change later forecasts"
        );
    }

    #[test]
    fn a_model_folder_is_used_as_it_is_and_a_missing_one_is_explained() {
        let bars = momentum_bars(LEARNABLE);
        let trained = tempfile::tempdir().unwrap();
        let mut first =
            ReplayTrainer::new(quick_config(), &walk_forward(trained.path(), 1400)).unwrap();
        replay(&mut first, &bars[..1400]);
        assert_eq!(first.summary()["SPY"].deployed, 1);

        let out = tempfile::tempdir().unwrap();
        let models = ReplayModels {
            from_dir: Some(trained.path().to_path_buf()),
            walk_forward_every: None,
            store_dir: out.path().to_path_buf(),
        };
        let mut trainer = ReplayTrainer::new(quick_config(), &models).unwrap();
        let forecasts = replay(&mut trainer, &bars[1400..1500]);
        // Every bar forecasts with the stored model once the replay holds a feature window.
        assert_eq!(forecasts.len(), 100 - quick_config().feature_window);
        assert!(forecasts.iter().all(|f| f.1 == 1));
        assert_eq!(
            trainer.summary()["SPY"].cycles,
            0,
            "no retraining without --walk-forward"
        );

        let missing = ReplayModels {
            from_dir: Some(out.path().join("nothing-here")),
            ..models
        };
        let err = ReplayTrainer::new(quick_config(), &missing)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("nothing-here") && err.contains("--walk-forward"),
            "{err}"
        );
    }
}
