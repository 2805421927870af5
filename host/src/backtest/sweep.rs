//! Parameter sweeps: many parameter sets of one plugin over one read of the data.
//!
//! Each set is an ordinary backtest (its own sandboxed instance, broker and journal, the
//! set's values in a `NAME.toml` beside a copy of the plugin), run on a pool of threads over
//! the same trades in memory; the compiled plugin is shared through the artifact cache. With
//! a split time, every set is chosen on the trades before it (in sample) and also run on the
//! trades after it (out of sample), starting flat, so a reader sees how much of the best
//! in-sample result held up. Results do not depend on the number of threads: each set's run
//! is deterministic and the ranking breaks ties by the set's place in the grid.

use super::{BacktestConfig, BacktestError, BacktestReport};
use crate::broker::BrokerConfig;
use crate::market::MarketConfig;
use crate::plugins::PluginConfig;
use crate::types::{TimestampMs, Trade};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Most parameter sets one sweep may run.
pub const MAX_SETS: usize = 10_000;

/// A sweep could not run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A `--grid` value is malformed.
    #[error("bad grid {spec:?}: {why} (write NAME=V1,V2,..., e.g. fast=5,10,20)")]
    Grid {
        /// The value given.
        spec: String,
        /// What is wrong.
        why: String,
    },
    /// The grid has too many combinations.
    #[error("the grid has {sets} parameter sets; the most one sweep runs is {MAX_SETS}")]
    TooLarge {
        /// Combinations.
        sets: usize,
    },
    /// The split time leaves no trades on one side.
    #[error(
        "the split at {split} leaves no trades {side} it: the data runs from {first} to {last}; pick a time inside"
    )]
    Split {
        /// The split time (RFC 3339).
        split: String,
        /// "before" or "after".
        side: &'static str,
        /// The first trade's time (RFC 3339).
        first: String,
        /// The last trade's time (RFC 3339).
        last: String,
    },
    /// A set's folder could not be prepared.
    #[error("cannot prepare {path}: {source}")]
    Output {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The parameters to vary and their values, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    axes: Vec<(String, Vec<String>)>,
}

impl Grid {
    /// Parse `NAME=V1,V2,...` specs, one per parameter.
    pub fn parse(specs: &[String]) -> Result<Grid, SweepError> {
        let bad = |spec: &str, why: &str| SweepError::Grid {
            spec: spec.to_string(),
            why: why.to_string(),
        };
        let mut axes: Vec<(String, Vec<String>)> = Vec::new();
        for spec in specs {
            let (name, values) = spec.split_once('=').ok_or_else(|| bad(spec, "no `=`"))?;
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(bad(spec, "a parameter name is letters, digits and _"));
            }
            if axes.iter().any(|(n, _)| n == name) {
                return Err(bad(spec, "parameter given twice"));
            }
            let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
            if values.iter().any(String::is_empty) {
                return Err(bad(spec, "an empty value"));
            }
            axes.push((name.to_string(), values));
        }
        if axes.is_empty() {
            return Err(bad("", "no parameter to vary"));
        }
        let sets = axes
            .iter()
            .try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()))
            .unwrap_or(usize::MAX);
        if sets > MAX_SETS {
            return Err(SweepError::TooLarge { sets });
        }
        Ok(Grid { axes })
    }

    /// Every combination, the last parameter varying fastest.
    pub fn sets(&self) -> Vec<Vec<(String, String)>> {
        let mut sets: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for (name, values) in &self.axes {
            sets = sets
                .into_iter()
                .flat_map(|set| {
                    values.iter().map(move |v| {
                        let mut next = set.clone();
                        next.push((name.clone(), v.clone()));
                        next
                    })
                })
                .collect();
        }
        sets
    }
}

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// The plugin file.
    pub plugin: PathBuf,
    /// The parameters to vary.
    pub grid: Grid,
    /// Choose on trades before this time, report on the rest too.
    pub split_ms: Option<TimestampMs>,
    /// Backtests run at once.
    pub threads: usize,
    /// Trades per batch (a speed setting: results are the same at every size).
    pub batch_size: usize,
    /// Where each set's backtest and `sweep.json` go.
    pub out_dir: PathBuf,
}

/// One backtest's figures for the ranking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Score {
    /// Realised plus unrealised PnL at the end.
    pub pnl: f64,
    /// Sharpe ratio of the equity curve.
    pub sharpe: f64,
    /// Largest fall from a peak of equity.
    pub max_drawdown: f64,
    /// Fills.
    pub fills: usize,
}

impl Score {
    /// The figures of a set's run: it holds the one plugin swept.
    fn of(report: &BacktestReport) -> Score {
        report
            .plugins
            .first()
            .map_or_else(Score::default, |p| Score {
                pnl: p.realised_pnl + p.unrealised_pnl,
                sharpe: p.sharpe,
                max_drawdown: p.max_drawdown,
                fills: p.fills,
            })
    }
}

/// One parameter set's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRow {
    /// Its place in the grid (0-based), which also names its folder.
    pub set: usize,
    /// The values.
    pub parameters: Vec<(String, String)>,
    /// On the trades before the split (all of them without one).
    pub in_sample: Option<Score>,
    /// On the trades after the split.
    pub out_of_sample: Option<Score>,
    /// Why it could not run (the plugin refused the values, ...).
    pub error: Option<String>,
}

/// A sweep's ranked results.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    /// Trades in sample and out of sample.
    pub trades: (usize, usize),
    /// The split time, if any.
    pub split_ms: Option<TimestampMs>,
    /// Rows, best in-sample PnL first; sets that failed last.
    pub rows: Vec<SweepRow>,
}

/// Run every set of `cfg.grid` over `trades`.
pub fn run(
    cfg: &SweepConfig,
    trades: &[Trade],
    plugin_config: &PluginConfig,
    broker_config: &BrokerConfig,
    market_config: &MarketConfig,
) -> Result<SweepReport, SweepError> {
    let cut = cfg
        .split_ms
        .map_or(trades.len(), |t| trades.partition_point(|x| x.time_ms < t));
    let (before, after) = trades.split_at(cut);
    if let Some(split) = cfg.split_ms {
        let side = if before.is_empty() {
            Some("before")
        } else if after.is_empty() {
            Some("after")
        } else {
            None
        };
        if let Some(side) = side {
            let time = |ms: TimestampMs| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .map_or_else(|| format!("{ms} ms"), |t| t.to_rfc3339())
            };
            return Err(SweepError::Split {
                split: time(split),
                side,
                first: time(trades.first().map_or(0, |t| t.time_ms)),
                last: time(trades.last().map_or(0, |t| t.time_ms)),
            });
        }
    }
    let sets = cfg.grid.sets();
    let mut plugin_config = plugin_config.clone();
    // One compile for every set: they share the artifact cache.
    plugin_config.cache_dir = Some(cfg.out_dir.join(".cache"));
    let next = AtomicUsize::new(0);
    let rows = Mutex::new(Vec::with_capacity(sets.len()));
    let run_set = |set: usize| -> Result<SweepRow, SweepError> {
        let dir = cfg.out_dir.join(format!("set-{set:04}"));
        let plugin = prepare(&cfg.plugin, &dir, &sets[set])?;
        let backtest = |part: &[Trade], name: &str| -> Result<Score, BacktestError> {
            let bt = BacktestConfig {
                data: Vec::new(),
                plugins: plugin.clone(),
                from_ms: None,
                to_ms: None,
                batch_size: cfg.batch_size,
                out_dir: dir.join(name),
                predictions: None,
                inline: true,
            };
            // Only the journal per set: reports of a hundred sets would cost as much as the
            // backtests (the figures go to sweep.json).
            super::run_writing(
                &bt,
                part,
                plugin_config.clone(),
                broker_config.clone(),
                market_config,
                super::Outputs::JournalOnly,
            )
            .map(|r| Score::of(&r))
        };
        let in_sample = backtest(before, "in-sample");
        let out_of_sample = match (&in_sample, cfg.split_ms) {
            (Ok(_), Some(_)) => Some(backtest(after, "out-of-sample")),
            _ => None,
        };
        let error = in_sample
            .as_ref()
            .err()
            .or(out_of_sample.as_ref().and_then(|r| r.as_ref().err()))
            .map(ToString::to_string);
        Ok(SweepRow {
            set,
            parameters: sets[set].clone(),
            in_sample: in_sample.ok(),
            out_of_sample: out_of_sample.and_then(Result::ok),
            error,
        })
    };
    let failure = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..cfg.threads.max(1) {
            scope.spawn(|| {
                loop {
                    let set = next.fetch_add(1, Ordering::Relaxed);
                    if set >= sets.len() {
                        return;
                    }
                    match run_set(set) {
                        Ok(row) => rows.lock().unwrap_or_else(|p| p.into_inner()).push(row),
                        Err(e) => {
                            *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            next.store(sets.len(), Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut rows = rows.into_inner().unwrap_or_else(|p| p.into_inner());
    rank(&mut rows);
    Ok(SweepReport {
        trades: (before.len(), after.len()),
        split_ms: cfg.split_ms,
        rows,
    })
}

/// Best in-sample PnL first, then the grid's order; sets that failed last.
pub fn rank(rows: &mut [SweepRow]) {
    rows.sort_by(|a, b| {
        let pnl = |r: &SweepRow| r.in_sample.map(|s| s.pnl);
        match (pnl(a), pnl(b)) {
            (Some(x), Some(y)) => y.total_cmp(&x).then(a.set.cmp(&b.set)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.set.cmp(&b.set),
        }
    });
}

/// A set's folder: a copy of the plugin and a `NAME.toml` holding the set's values.
fn prepare(plugin: &Path, dir: &Path, set: &[(String, String)]) -> Result<PathBuf, SweepError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SweepError::Output { path, source }
    };
    let plugins = dir.join("plugin");
    std::fs::create_dir_all(&plugins).map_err(io(&plugins))?;
    let name = plugin.file_name().unwrap_or_default();
    let copy = plugins.join(name);
    std::fs::copy(plugin, &copy).map_err(io(&copy))?;
    let mut toml = String::from("[parameters]\n");
    for (k, v) in set {
        // Numbers and booleans as they are; anything else as a TOML string.
        let literal = v.parse::<f64>().is_ok() || v == "true" || v == "false";
        if literal {
            toml.push_str(&format!("{k} = {v}\n"));
        } else {
            toml.push_str(&format!("{k} = {}\n", toml::Value::String(v.clone())));
        }
    }
    let settings = copy.with_extension("toml");
    std::fs::write(&settings, toml).map_err(io(&settings))?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_every_combination_in_order() {
        let g = Grid::parse(&["fast=5,10".into(), "slow = 50,100,200".into()]).unwrap();
        let sets = g.sets();
        assert_eq!(sets.len(), 6);
        assert_eq!(
            sets[0],
            [("fast".into(), "5".into()), ("slow".into(), "50".into())]
        );
        assert_eq!(
            sets[5],
            [("fast".into(), "10".into()), ("slow".into(), "200".into())]
        );
    }

    #[test]
    fn bad_grids_say_what_is_wrong() {
        for (spec, why) in [
            ("fast", "no `=`"),
            ("fast=5,,10", "empty value"),
            ("fa st=5", "letters, digits"),
        ] {
            let e = Grid::parse(&[spec.into()]).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("NAME=V1,V2"), "{e}");
        }
        let e = Grid::parse(&["a=1".into(), "a=2".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("twice"), "{e}");
        let big: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|n| {
                format!(
                    "{n}={}",
                    (0..30).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
                )
            })
            .collect();
        assert!(matches!(
            Grid::parse(&big),
            Err(SweepError::TooLarge { sets: 27_000 })
        ));
    }

    #[test]
    fn ranking_is_by_pnl_then_grid_order_with_failures_last() {
        let row = |set, pnl: Option<f64>| SweepRow {
            set,
            parameters: vec![],
            in_sample: pnl.map(|pnl| Score {
                pnl,
                ..Default::default()
            }),
            out_of_sample: None,
            error: pnl.is_none().then(|| "refused".into()),
        };
        let mut rows = vec![
            row(0, Some(1.0)),
            row(1, None),
            row(2, Some(5.0)),
            row(3, Some(1.0)),
        ];
        rank(&mut rows);
        let order: Vec<usize> = rows.iter().map(|r| r.set).collect();
        assert_eq!(order, [2, 0, 3, 1]);
    }
}
