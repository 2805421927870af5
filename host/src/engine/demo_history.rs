//! The history demo mode trains on, compiled into the binary so it runs from any directory:
//! 1-minute bars of every symbol the demo replays, built by the daemon's own bar aggregator
//! from the real trades before the replayed window (`host/data/demo_history/`, made by
//! `scripts/demo-data.sh`; see `host/data/SOURCES.md`).
//!
//! At start-up the bars go to the trainer and a cycle starts at once, so the demo's models are
//! trained and judged by the gate within seconds, not after `MODEL_TRAINING_INTERVAL`.

use crate::data::memory_source;
use crate::data::{BarReader, DataError};
use crate::trainer::{Trainer, TrainerError, TrainerHandle};
use crate::types::Bar;

/// Bar length of the bundled history.
pub const DEMO_BAR_SECS: u32 = 60;

/// Each bundled symbol with its bars file (name, gzip bytes).
const BUNDLED: [(&str, &str, &[u8]); 4] = [
    (
        "SPY",
        "SPY_1m_2013-10-07_2013-10-11.csv.gz",
        include_bytes!("../../data/demo_history/SPY_1m_2013-10-07_2013-10-11.csv.gz"),
    ),
    (
        "BAC",
        "BAC_1m_2013-10-07_2013-10-11.csv.gz",
        include_bytes!("../../data/demo_history/BAC_1m_2013-10-07_2013-10-11.csv.gz"),
    ),
    (
        "AIG",
        "AIG_1m_2013-10-07_2013-10-11.csv.gz",
        include_bytes!("../../data/demo_history/AIG_1m_2013-10-07_2013-10-11.csv.gz"),
    ),
    (
        "IBM",
        "IBM_1m_2013-10-07_2013-10-11.csv.gz",
        include_bytes!("../../data/demo_history/IBM_1m_2013-10-07_2013-10-11.csv.gz"),
    ),
];

/// The bundled bars of every demo symbol, oldest first; a file that cannot be read is an
/// error naming it.
pub fn demo_history() -> Vec<(&'static str, Result<Vec<Bar>, DataError>)> {
    BUNDLED
        .iter()
        .map(|(symbol, name, bytes)| {
            let bars = BarReader::from_source(
                format!("bundled demo_history/{name}"),
                memory_source(bytes),
                symbol,
                DEMO_BAR_SECS,
            )
            .and_then(|reader| reader.collect::<Result<Vec<Bar>, DataError>>());
            (*symbol, bars)
        })
        .collect()
}

/// Gives the trainer the bundled history of every demo symbol, shifted to end at `now_ms`,
/// and starts a cycle. The demo server rebases the replayed trades to start now, so the
/// shifted history runs straight into them, as a real backfill would: forecasts made from
/// it are fresh, not years old. Bars of another length than `update_interval_secs` would mix
/// with the live ones, so then nothing is loaded (and said so).
pub fn load_demo_history(trainer: &TrainerHandle, update_interval_secs: u32, now_ms: i64) {
    const LOG: &str = "tradehost::trainer";
    if update_interval_secs != DEMO_BAR_SECS {
        tracing::warn!(target: LOG, "demo history not loaded: it holds {DEMO_BAR_SECS} s bars and UPDATE_INTERVAL is {update_interval_secs} s");
        return;
    }
    for (symbol, bars) in demo_history() {
        match bars {
            Ok(bars) => {
                let bars = shifted_to_end_at(bars, now_ms);
                tracing::info!(target: LOG, symbol, bars = bars.len(), "demo history loaded (shifted to end now)");
                trainer.history(symbol.into(), bars);
            }
            Err(e) => tracing::warn!(target: LOG, symbol, "demo history not loaded: {e}"),
        }
    }
    trainer.train_now();
}

/// `bars` moved in time, all by the same amount, so that the last one ends at `end_ms`.
fn shifted_to_end_at(mut bars: Vec<Bar>, end_ms: i64) -> Vec<Bar> {
    let Some(last) = bars.last() else {
        return bars;
    };
    let shift = end_ms - (last.start_ms + i64::from(last.period_secs) * 1000);
    for bar in &mut bars {
        bar.start_ms += shift;
    }
    bars
}

/// Start the trainer; in demo mode, with the demo's bar history loaded first.
pub fn spawn_trainer(config: &crate::config::Config) -> Result<TrainerHandle, TrainerError> {
    let trainer = Trainer::spawn(config.trainer.clone(), config.models_dir.clone())?;
    if config.mode == crate::config::Mode::Demo {
        load_demo_history(
            &trainer,
            config.market.update_interval_secs,
            crate::plugins::view::wall_clock_ms(),
        );
    }
    Ok(trainer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TradeReader;
    use std::path::Path;

    /// Every bundled symbol's bars read, are 1-minute bars in time order, and end before the
    /// first trade the demo replays: the demo never trains on what it then shows.
    #[test]
    fn bundled_history_reads_and_ends_before_the_replay() {
        let replay =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo_trades_2013-10-11.csv.gz");
        let first_replayed = TradeReader::open(&replay)
            .unwrap()
            .map(|t| t.unwrap().time_ms)
            .min()
            .unwrap();
        let history = demo_history();
        let symbols: Vec<&str> = history.iter().map(|(s, _)| *s).collect();
        assert_eq!(symbols, ["SPY", "BAC", "AIG", "IBM"]);
        for (symbol, bars) in history {
            let bars = bars.unwrap();
            assert!(bars.len() > 1000, "{symbol}: {} bars", bars.len());
            assert!(
                bars.iter()
                    .all(|b| &*b.symbol == symbol && b.period_secs == 60)
            );
            assert!(bars.windows(2).all(|w| w[0].start_ms < w[1].start_ms));
            let last = bars.last().unwrap();
            assert!(
                last.start_ms + 60_000 <= first_replayed,
                "{symbol}: {last:?}"
            );
        }
    }

    #[test]
    fn shifted_history_ends_now_with_its_spacing_kept() {
        let (_, bars) = demo_history().remove(0);
        let bars = bars.unwrap();
        let now = 1_796_000_000_123;
        let shifted = shifted_to_end_at(bars.clone(), now);
        let last = shifted.last().unwrap();
        assert_eq!(last.start_ms + 60_000, now);
        let gaps = |b: &[Bar]| -> Vec<i64> {
            b.windows(2)
                .map(|w| w[1].start_ms - w[0].start_ms)
                .collect()
        };
        assert_eq!(gaps(&shifted), gaps(&bars));
        assert_eq!(shifted[0].close, bars[0].close);
    }
}
