//! History backfill at start-up: when an API key is set, fetch recent candles of every
//! wanted symbol over Finnhub's REST API, so that plugins' `recent-bars` and the trainer
//! start with history instead of an empty window. Failures (403 on plans without candles,
//! 429, no data) are logged with their reason and never stop the daemon.

use super::control::EngineCommand;
use crate::config::Config;
use crate::feed::{CandleClient, FeedConfig, Resolution};
use crate::trainer::TrainerHandle;
use crate::types::Bar;
use std::sync::Arc;

/// The candle resolution matching a bar length, if Finnhub has one.
pub fn resolution_for(period_secs: u32) -> Option<Resolution> {
    Some(match period_secs {
        60 => Resolution::Min1,
        300 => Resolution::Min5,
        900 => Resolution::Min15,
        1800 => Resolution::Min30,
        3600 => Resolution::Min60,
        86_400 => Resolution::Day,
        _ => return None,
    })
}

/// Starts a backfill of `symbols` in the background, as configured: `MARKET_HISTORY_BARS` bars of
/// `UPDATE_INTERVAL` ending now, to the trainer as each symbol arrives, then to the engine
/// thread (market state and snapshot) through `engine`. Call it inside the runtime.
pub fn spawn_at_start(
    config: &Config,
    symbols: Vec<String>,
    engine: super::control::CommandSender,
    trainer: Arc<TrainerHandle>,
) {
    let feed = config.feed.clone();
    let (period, bars) = (
        config.market.update_interval_secs,
        config.market.history_bars,
    );
    let now_secs = crate::plugins::view::wall_clock_ms() / 1000;
    tokio::spawn(async move {
        let loaded = backfill(&feed, &symbols, period, bars, now_secs, Some(&trainer)).await;
        let bars: Vec<Bar> = loaded.into_iter().flat_map(|(_, bars)| bars).collect();
        if !bars.is_empty() {
            // The command channel is bounded: wait for room off the runtime's workers.
            let _ =
                tokio::task::spawn_blocking(move || engine.send(EngineCommand::History { bars }))
                    .await;
        }
    });
}

/// Fetch up to `bars` recent bars of each symbol ending at `now_secs`, hand each symbol's
/// to the trainer, and return them per symbol (symbols without history are left out).
pub async fn backfill(
    feed: &FeedConfig,
    symbols: &[String],
    period_secs: u32,
    bars: usize,
    now_secs: i64,
    trainer: Option<&Arc<TrainerHandle>>,
) -> Vec<(String, Vec<Bar>)> {
    let Some(resolution) = resolution_for(period_secs) else {
        tracing::warn!(
            target: "tradehost::feed",
            "no history backfill: UPDATE_INTERVAL={period_secs} has no Finnhub candle resolution (use 60, 300, 900, 1800, 3600 or 86400)"
        );
        return Vec::new();
    };
    let client = match CandleClient::new(feed) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(target: "tradehost::feed", "no history backfill: {e}");
            return Vec::new();
        }
    };
    let from = now_secs - (bars as i64) * i64::from(period_secs);
    let mut loaded = Vec::new();
    for symbol in symbols {
        match client.candles(symbol, resolution, from, now_secs).await {
            Ok(history) => {
                let count = history.len();
                if let Some(t) = trainer {
                    t.history(symbol.as_str().into(), history.clone());
                }
                tracing::info!(target: "tradehost::feed", symbol = %symbol, "backfilled {count} bars of history");
                loaded.push((symbol.clone(), history));
            }
            Err(e) => {
                tracing::warn!(target: "tradehost::feed", symbol = %symbol, "history backfill failed: {e}")
            }
        }
    }
    loaded
}
