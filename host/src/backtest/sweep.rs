//! Parameter sweeps: many parameter sets of one plugin over one read of the data.
//!
//! Each set is its own sandboxed instance of the plugin, with its own orders, positions and
//! risk limits (the broker keeps them per plugin), and the set's values in `set-NNNN.toml`
//! beside a link to the plugin. The sets are split into one group per thread, and each group
//! is one backtest: its sets share the market pass (market state, bars, the trade tape) and
//! the compiled plugin, and each is a lane of the lockstep, so every set's fills and figures
//! are those it gets run alone (`tradehost backtest --plugins sweep-out/sets/set-NNNN.wasm`).
//! With a split time, every set is chosen on the trades before it (in sample) and also run
//! on the trades after it (out of sample), starting flat, so a reader sees how much of the
//! best in-sample result held up. Results do not depend on the number of threads; the
//! ranking breaks ties by the set's place in the grid.

use super::{BacktestConfig, BacktestError, BacktestReport};
use crate::broker::BrokerConfig;
use crate::market::MarketConfig;
use crate::plugins::PluginConfig;
use crate::types::{TimestampMs, Trade};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    /// The figures of one plugin of a backtest.
    fn of(p: &super::report::PluginResult) -> Score {
        Score {
            pnl: p.realised_pnl + p.unrealised_pnl,
            sharpe: p.sharpe,
            max_drawdown: p.max_drawdown,
            fills: p.fills,
        }
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
    // One compile for every set: the user's artifact cache, else one in the output folder.
    if plugin_config.cache_dir.is_none() {
        plugin_config.cache_dir = Some(cfg.out_dir.join(".cache"));
    }
    let files = sets
        .iter()
        .enumerate()
        .map(|(set, values)| prepare(&cfg.plugin, &cfg.out_dir.join("sets"), set, values))
        .collect::<Result<Vec<PathBuf>, SweepError>>()?;
    // One group of sets per thread, each group one backtest: the sets share its market
    // pass, and each has its own instance, orders and positions.
    let groups = cfg.threads.max(1).min(sets.len()).max(1);
    // Every `groups`-th set: neighbours in the grid cost alike (the same fast length trades
    // about as often), so dealing them out keeps the groups even.
    let group_of = |g: usize| (g..sets.len()).step_by(groups);
    let backtest = |g: usize, members: &[usize], part: &[Trade], name: &str| {
        let bt = BacktestConfig {
            data: Vec::new(),
            plugins: cfg.out_dir.join("sets"),
            from_ms: None,
            to_ms: None,
            batch_size: cfg.batch_size,
            out_dir: cfg.out_dir.join(format!("group-{g}")).join(name),
            predictions: None,
            inline: true,
        };
        let files: Vec<PathBuf> = members.iter().map(|&i| files[i].clone()).collect();
        // Only the journal: the figures go to sweep.json.
        Scores::of(super::run_files(
            &bt,
            &files,
            part,
            plugin_config.clone(),
            broker_config.clone(),
            market_config,
            super::Outputs::JournalOnly,
        ))
    };
    let run_group = |g: usize| -> Vec<SweepRow> {
        let members: Vec<usize> = group_of(g).collect();
        let in_sample = backtest(g, &members, before, "in-sample");
        let ran: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| in_sample.get(i).is_ok())
            .collect();
        let out_of_sample = match cfg.split_ms {
            Some(_) if !ran.is_empty() => Some(backtest(g, &ran, after, "out-of-sample")),
            _ => None,
        };
        members
            .iter()
            .map(|&set| {
                let inside = in_sample.get(set);
                let outside = out_of_sample
                    .as_ref()
                    .filter(|_| inside.is_ok())
                    .map(|o| o.get(set));
                let error = inside
                    .as_ref()
                    .err()
                    .or(outside.as_ref().and_then(|r| r.as_ref().err()))
                    .cloned();
                SweepRow {
                    set,
                    parameters: sets[set].clone(),
                    in_sample: inside.ok(),
                    out_of_sample: outside.and_then(Result::ok),
                    error,
                }
            })
            .collect()
    };
    let mut rows: Vec<SweepRow> = std::thread::scope(|scope| {
        let running: Vec<_> = (0..groups)
            .map(|g| scope.spawn(move || run_group(g)))
            .collect();
        running
            .into_iter()
            .enumerate()
            .flat_map(|(g, r)| {
                r.join().unwrap_or_else(|_| {
                    group_of(g)
                        .map(|set| SweepRow {
                            set,
                            parameters: sets[set].clone(),
                            in_sample: None,
                            out_of_sample: None,
                            error: Some("the sweep's thread for this set failed".to_string()),
                        })
                        .collect()
                })
            })
            .collect()
    });
    rank(&mut rows);
    Ok(SweepReport {
        trades: (before.len(), after.len()),
        split_ms: cfg.split_ms,
        rows,
    })
}

/// The figures of every set of one group's backtest, or why a set has none.
enum Scores {
    /// The backtest ran: the sets that loaded, and those that did not with the reason.
    Ran(BTreeMap<String, Result<Score, String>>),
    /// It could not run at all.
    Failed(String),
}

impl Scores {
    /// From a group's backtest.
    fn of(result: Result<BacktestReport, BacktestError>) -> Scores {
        let refused = |not_loaded: &[super::report::NotLoaded]| {
            not_loaded
                .iter()
                .map(|n| (file_set_name(&n.file), Err(n.error.clone())))
                .collect::<Vec<_>>()
        };
        match result {
            Ok(report) => Scores::Ran(
                report
                    .plugins
                    .iter()
                    .map(|p| (p.plugin.clone(), Ok(Score::of(p))))
                    .chain(refused(&report.not_loaded))
                    .collect(),
            ),
            // No set of the group could start: each says why.
            Err(BacktestError::NoPlugins { not_loaded, .. }) if !not_loaded.is_empty() => {
                Scores::Ran(refused(&not_loaded).into_iter().collect())
            }
            Err(e) => Scores::Failed(e.to_string()),
        }
    }

    /// The figures of `set`, or why there are none.
    fn get(&self, set: usize) -> Result<Score, String> {
        match self {
            Scores::Ran(all) => all
                .get(&set_name(set))
                .cloned()
                .unwrap_or_else(|| Err("the backtest did not report this set".to_string())),
            Scores::Failed(why) => Err(why.clone()),
        }
    }
}

/// A set's plugin name (its file's name without `.wasm`).
fn set_name(set: usize) -> String {
    format!("set-{set:04}")
}

/// The plugin name of a set's file.
fn file_set_name(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
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

/// A set's plugin in `dir`: `set-NNNN.wasm` (a link to the plugin, or a copy) and
/// `set-NNNN.toml` holding the set's values, so `tradehost backtest --plugins` on the file
/// runs the set alone.
fn prepare(
    plugin: &Path,
    dir: &Path,
    set: usize,
    values: &[(String, String)],
) -> Result<PathBuf, SweepError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SweepError::Output { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let file = dir.join(format!("{}.wasm", set_name(set)));
    let _ = std::fs::remove_file(&file);
    if std::fs::hard_link(plugin, &file).is_err() {
        std::fs::copy(plugin, &file).map_err(io(&file))?;
    }
    let mut toml = String::from("[parameters]\n");
    for (k, v) in values {
        // Numbers and booleans as they are; anything else as a TOML string.
        let literal = v.parse::<f64>().is_ok() || v == "true" || v == "false";
        if literal {
            toml.push_str(&format!("{k} = {v}\n"));
        } else {
            toml.push_str(&format!("{k} = {}\n", toml::Value::String(v.clone())));
        }
    }
    let settings = file.with_extension("toml");
    std::fs::write(&settings, toml).map_err(io(&settings))?;
    Ok(file)
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
