//! The console's heartbeat: every `CONSOLE_SUMMARY_SECS` one line saying what the daemon did
//! since the last one, in words, so that an operator watching the console (or
//! `logs/trading_agent.log`) sees trades, bars, forecasts, orders, fills, money and plugin
//! health move without opening the dashboard.

use super::broker_board::BrokerBoard;
use super::pipeline::PipelineStats;
use crate::broker::BrokerTotals;
use crate::human::Money;
use crate::plugins::{PluginHost, PluginRunState};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Counters the summary reports as differences.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    /// Trades processed.
    pub trades: u64,
    /// Bars completed.
    pub bars: u64,
    /// Forecasts forwarded to strategies.
    pub forecasts: u64,
    /// Orders accepted.
    pub orders: u64,
    /// Fills.
    pub fills: u64,
    /// Orders refused.
    pub refusals: u64,
}

/// One summary's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Seconds the line covers.
    pub secs: u64,
    /// What happened in them.
    pub delta: Counts,
    /// Realised plus unrealised PnL over every strategy, now.
    pub pnl: f64,
    /// Plugins running.
    pub healthy: usize,
    /// Plugins loaded.
    pub plugins: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &self.delta;
        write!(
            f,
            "last {} s: {} trades, {} bars, {} forecasts, {} orders, {} fills, {} refused; PnL {}; plugins {}/{} healthy",
            self.secs,
            d.trades,
            d.bars,
            d.forecasts,
            d.orders,
            d.fills,
            d.refusals,
            Money(self.pnl),
            self.healthy,
            self.plugins
        )
    }
}

/// Counts now, from the engine's counters and the broker's totals.
fn counts(stats: &PipelineStats, totals: &BrokerTotals) -> Counts {
    Counts {
        trades: stats.trades.load(Ordering::Relaxed),
        bars: stats.bars.load(Ordering::Relaxed),
        forecasts: stats.predictions.load(Ordering::Relaxed),
        orders: totals.orders,
        fills: totals.fills,
        refusals: totals.refusals,
    }
}

/// The summary between `before` and `now`.
pub fn summarise(
    before: Counts,
    now: Counts,
    secs: u64,
    pnl: f64,
    healthy: usize,
    plugins: usize,
) -> Summary {
    let d = |a: u64, b: u64| b.saturating_sub(a);
    Summary {
        secs,
        delta: Counts {
            trades: d(before.trades, now.trades),
            bars: d(before.bars, now.bars),
            forecasts: d(before.forecasts, now.forecasts),
            orders: d(before.orders, now.orders),
            fills: d(before.fills, now.fills),
            refusals: d(before.refusals, now.refusals),
        },
        pnl,
        healthy,
        plugins,
    }
}

/// Log a summary every `every` until `stop` fires.
pub async fn run(
    every: Duration,
    stats: Arc<PipelineStats>,
    broker: BrokerBoard,
    plugins: Arc<PluginHost>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let log = |line: &Summary| tracing::info!(target: "tradehost::summary", "{line}");
    run_with(every, stats, broker, plugins, stop, log).await
}

/// [`run`], handing each summary to `emit`.
async fn run_with(
    every: Duration,
    stats: Arc<PipelineStats>,
    broker: BrokerBoard,
    plugins: Arc<PluginHost>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    mut emit: impl FnMut(&Summary),
) {
    let totals = || broker.figures().totals.clone();
    let mut before = counts(&stats, &totals());
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => return,
        }
        let t = totals();
        let now = counts(&stats, &t);
        let statuses = plugins.statuses();
        let healthy = statuses
            .iter()
            .filter(|s| s.stats.state == PluginRunState::Running)
            .count();
        let line = summarise(
            before,
            now,
            every.as_secs(),
            t.realised_pnl + t.unrealised_pnl,
            healthy,
            statuses.len(),
        );
        emit(&line);
        before = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::PaperBroker;
    use std::sync::Mutex;

    #[test]
    fn the_line_says_what_changed_in_words() {
        let before = Counts {
            trades: 100,
            bars: 2,
            forecasts: 1,
            orders: 3,
            fills: 2,
            refusals: 0,
        };
        let now = Counts {
            trades: 1_334,
            bars: 3,
            forecasts: 2,
            orders: 5,
            fills: 4,
            refusals: 1,
        };
        let line = summarise(before, now, 30, -12.3456, 2, 3).to_string();
        assert_eq!(
            line,
            "last 30 s: 1234 trades, 1 bars, 1 forecasts, 2 orders, 2 fills, 1 refused; PnL -12.35; plugins 2/3 healthy"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_line_comes_every_period_and_stops_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let (broker, _) = PaperBroker::open(crate::broker::BrokerConfig {
            journal_path: dir.path().join("j.bin"),
            ..Default::default()
        })
        .unwrap();
        let board = BrokerBoard::default();
        board.publish(&broker);
        let stats = Arc::new(PipelineStats::default());
        let (out, _rx) = crossbeam_channel::unbounded();
        let host = Arc::new(
            PluginHost::new(
                crate::plugins::PluginConfig {
                    watch: false,
                    cache_dir: None,
                    dir: dir.path().into(),
                    ..Default::default()
                },
                Arc::new(crate::plugins::EmptyView),
                crate::plugins::SymbolTable::new(),
                out,
            )
            .unwrap(),
        );
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let task = tokio::spawn(run_with(
            Duration::from_secs(30),
            stats.clone(),
            board,
            host,
            stop_rx,
            move |s: &Summary| sink.lock().unwrap().push(s.clone()),
        ));
        tokio::task::yield_now().await;
        stats.trades.fetch_add(7, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(31)).await;
        stats.trades.fetch_add(5, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(30)).await;
        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .unwrap()
            .unwrap();
        let trades: Vec<u64> = lines
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.delta.trades)
            .collect();
        assert_eq!(trades, [7, 5]);
    }
}
