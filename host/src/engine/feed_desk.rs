//! The feed host's status API: its market-data link and counters, the models its trainer
//! serves, and every host of the deployment (`/api/status`, `/health`, the dashboard).
//!
//! A standby feed host shows its link as off (it waits for the lease, by design, so `/health`
//! does not count that as the feed being down); the holder shows the link as the client
//! reports it. The counters are those of the current connection: a host that takes the lease
//! over starts them from zero. The feed host has no broker and no kill switch.

use super::deployment::Deployment;
use super::status_source::{feed_report, model_reports};
use crate::feed::{FeedStats, FeedStatus};
use crate::status::feed::FeedState;
use crate::status::report::{FeedReport, RunMode};
use crate::status::{StatusReport, StatusSource};
use crate::trainer::TrainerStatus;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// The link's state and the current connection's counters, as the feed host updates them.
#[derive(Debug, Clone)]
pub struct FeedPanel(Arc<Mutex<Panel>>);

#[derive(Debug)]
struct Panel {
    state: FeedState,
    stats: Option<Arc<FeedStats>>,
}

impl Default for FeedPanel {
    fn default() -> Self {
        FeedPanel(Arc::new(Mutex::new(Panel {
            state: FeedState::new(false),
            stats: None,
        })))
    }
}

impl FeedPanel {
    fn panel(&self) -> std::sync::MutexGuard<'_, Panel> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection starts: its counters from now on, the link connecting.
    pub fn connecting(&self, stats: Arc<FeedStats>) {
        let mut p = self.panel();
        p.state = FeedState::new(true);
        p.stats = Some(stats);
    }

    /// The connection is closed (the lease is lost or the host stops): the link is off.
    pub fn off(&self) {
        let mut p = self.panel();
        p.state = FeedState::new(false);
        p.stats = None;
    }

    /// A status event of the client.
    pub fn apply(&self, status: &FeedStatus) {
        self.panel().state.apply(status);
    }

    /// The feed section of the status report.
    fn report(&self) -> FeedReport {
        let now_ms = crate::plugins::view::wall_clock_ms();
        let mut p = self.panel();
        let feed = p.stats.as_ref().map(|s| s.snapshot()).unwrap_or_default();
        let trades_per_sec = p.state.sample_trades(feed.trades, now_ms);
        feed_report(p.state.clone(), feed, trades_per_sec)
    }
}

/// What `/api/status` shows on a feed host.
pub struct FeedDesk {
    /// When the host started.
    pub started: Instant,
    /// Wall-clock start time (ms).
    pub started_ms: i64,
    /// Live or demo.
    pub mode: RunMode,
    /// The link and its counters.
    pub panel: FeedPanel,
    /// The trainer's status.
    pub trainer: Box<dyn Fn() -> TrainerStatus + Send + Sync>,
    /// Every host, from the health board.
    pub deployment: Deployment,
}

impl StatusSource for FeedDesk {
    fn report(&self) -> StatusReport {
        StatusReport {
            started_ms: self.started_ms,
            uptime_secs: self.started.elapsed().as_secs_f64(),
            mode: self.mode,
            feed: self.panel.report(),
            models: model_reports(&(self.trainer)()),
            deployment: self.deployment.hosts(),
            ..StatusReport::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::feed::FeedLink;

    #[test]
    fn the_panel_follows_the_connection_and_is_off_without_one() {
        let panel = FeedPanel::default();
        assert_eq!(panel.report().link, FeedLink::Off);
        assert_eq!(panel.report().down_since_ms, None, "standby is not down");
        let stats = Arc::new(FeedStats::default());
        panel.connecting(stats);
        assert!(
            panel.report().down_since_ms.is_some(),
            "down until connected"
        );
        panel.apply(&FeedStatus::Connected {
            url: "ws://127.0.0.1:1/".into(),
        });
        let connected = panel.report();
        assert!(
            matches!(connected.link, FeedLink::Connected { .. }),
            "{connected:?}"
        );
        assert_eq!(connected.down_since_ms, None);
        panel.off();
        assert_eq!(panel.report().link, FeedLink::Off);
    }
}
