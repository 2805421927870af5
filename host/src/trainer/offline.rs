//! Offline training: one cycle on a file of bars or trades (`tradehost train --data FILE`).
//!
//! Bars files (`timestamp,...` or daily `date,...`) take their symbol from `--symbol` or from
//! the file name (`SPY_1h_1998-2021.csv` is SPY). Trade files (`timestamp,symbol,price,size`,
//! plain or gzip) are aggregated to bars of `UPDATE_INTERVAL` seconds; a file with several
//! symbols needs `--symbol`. The deployed model of the symbol in `models_dir`, when it matches
//! the settings and the bar length, is the live model the new one must beat.

use super::TrainerConfig;
use super::cycle::{CycleReport, run_cycle};
use super::error::TrainerError;
use super::predictor::Compatibility;
use super::store::ModelStore;
use crate::data::bar_file::{FileLayout, detect_layout, read_bars_csv, read_trades_csv};
use crate::market::BarAggregator;
use crate::types::Bar;
use std::path::Path;

/// Runs one cycle on the data in `data` and stores the model under `models_dir`.
pub fn train_offline(
    config: &TrainerConfig,
    data: &Path,
    symbol: Option<&str>,
    models_dir: &Path,
) -> Result<CycleReport, TrainerError> {
    let (symbol, bars) = load_bars(config, data, symbol)?;
    let store = ModelStore::new(models_dir);
    let compat = Compatibility {
        feature_window: config.feature_window,
        horizon: config.prediction_horizon,
        bar_secs: bars.first().map(|b| b.period_secs),
    };
    let (live, skipped) = store.load_deployed(&symbol, &compat);
    for problem in skipped {
        tracing::warn!(target: "tradehost::trainer::offline", symbol, "stored model skipped: {problem}");
    }
    tracing::info!(target: "tradehost::trainer::offline", symbol, bars = bars.len(), file = %data.display(), "training offline");
    run_cycle(config, &store, &symbol, &bars, live.as_ref()).map(|(report, _)| report)
}

/// The bars of one symbol from a bars or trades file, and the symbol's name.
pub fn load_bars(
    config: &TrainerConfig,
    data: &Path,
    symbol: Option<&str>,
) -> Result<(String, Vec<Bar>), TrainerError> {
    match detect_layout(data)? {
        FileLayout::Bars | FileLayout::DailyBars => {
            let name = match symbol {
                Some(s) => s.to_string(),
                None => symbol_from_file_name(data)
                    .ok_or_else(|| TrainerError::UnknownSymbol { path: data.into() })?,
            };
            let bars = read_bars_csv(data, &name, None)?;
            Ok((name, bars))
        }
        FileLayout::Trades => {
            let trades = read_trades_csv(data)?;
            let name = match symbol {
                Some(s) => s.to_string(),
                None => {
                    let first = &trades[0].symbol;
                    if trades.iter().any(|t| t.symbol != *first) {
                        return Err(TrainerError::UnknownSymbol { path: data.into() });
                    }
                    first.to_string()
                }
            };
            let mut agg = BarAggregator::new(config.update_interval_secs);
            let mut bars: Vec<Bar> = trades
                .iter()
                .filter(|t| *t.symbol == *name)
                .filter_map(|t| agg.push(t))
                .collect();
            bars.extend(agg.flush_until(i64::MAX));
            Ok((name, bars))
        }
    }
}

/// `SPY_1h_1998-2021.csv` -> `SPY`; `BTC-PERP_1m_....csv` -> `BTC-PERP`.
fn symbol_from_file_name(path: &Path) -> Option<String> {
    let stem = path.file_name()?.to_str()?;
    let name = stem.split(['_', '.']).next()?;
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_come_from_the_flag_the_file_name_or_the_trades() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let config = TrainerConfig::default();
        let (name, bars) =
            load_bars(&config, &dir.join("SPY_1h_2020-02-11_2021-03-31.csv"), None).unwrap();
        assert_eq!(
            (name.as_str(), bars.len(), bars[0].period_secs),
            ("SPY", 2000, 3600)
        );
        let trades = dir.join("demo_trades_2013-10-07.csv.gz");
        assert!(matches!(
            load_bars(&config, &trades, None),
            Err(TrainerError::UnknownSymbol { .. })
        ));
        let (name, bars) = load_bars(&config, &trades, Some("IBM")).unwrap();
        assert_eq!(
            (name.as_str(), bars.len(), bars[0].period_secs),
            ("IBM", 30, 60)
        );
    }
}
