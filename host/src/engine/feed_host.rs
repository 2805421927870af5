//! The feed host of a scale-out deployment (`tradehost run --role feed`): holds Finnhub's one
//! WebSocket (or the demo server) while it holds the bus's feed lease, builds bars, runs the
//! trainer, and publishes trades, feed status, bars and forecasts to the market stream.
//!
//! It subscribes to the symbols every live strategy host says its plugins want (their health
//! records), plus `SYMBOLS`. A standby feed host waits for the lease; when it gets it (the
//! holder died or stopped) it connects, and subscribers see the new session as a gap. Its
//! status API (`engine::feed_desk`) shows the link, the models and the whole deployment.

use super::deployment::Deployment;
use super::engine_error::EngineError;
use super::feed_desk::{FeedDesk, FeedPanel};
use crate::bus::{
    Bus, FEED_LEASE, FeedPublisher, HealthBoard, HostState, HostStatus, Lease, LeaseState,
    MarketEvent, Role, report_health,
};
use crate::config::{Config, Mode};
use crate::feed::{DemoServer, FeedEvent, FeedHandle, FinnhubClient};
use crate::market::MarketState;
use crate::trainer::TrainerHandle;
use crate::types::{Bar, Prediction};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Feed events the publisher may fall behind by before the client waits, then drops.
const FEED_QUEUE: usize = 4096;
/// How long after its period a quiet symbol's bar is closed.
const FLUSH_LAG_MS: i64 = 2_000;

/// The connection while the lease is held.
struct Connection {
    client: FeedHandle,
    demo: Option<DemoServer>,
    subscribed: BTreeSet<String>,
}

/// Runs the feed host until `shutdown` completes.
pub async fn run(
    config: Config,
    bus: Bus,
    shutdown: impl Future<Output = ()>,
) -> Result<(), EngineError> {
    tracing::info!(target: "tradehost::bus", "feed host {} starting", bus.host());
    // The status port first: a clash is reported now.
    let status_listener = match config.status_addr {
        Some(addr) => Some(crate::status::bind(addr).await?),
        None => None,
    };
    let started = std::time::Instant::now();
    let trainer = Arc::new(super::demo_history::spawn_trainer(&config)?);
    let forecasts = forward_forecasts(trainer.predictions());
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let (lease_rx, lease_task) = Lease::open(&bus, FEED_LEASE)
        .await?
        .keep(stopped(stop_rx.clone()));
    let (status_tx, status_rx) = watch::channel(HostStatus {
        role: Role::Feed,
        state: HostState::Starting,
        lag: None,
        symbols: Vec::new(),
    });
    let health = report_health(&bus, status_rx, stopped(stop_rx.clone()));
    let board = HealthBoard::open(&bus).await?;
    let panel = FeedPanel::default();
    let (deployment, follower) = Deployment::following(&bus, stopped(stop_rx.clone())).await?;
    let status_server = match status_listener {
        Some(listener) => {
            let status_of = trainer.clone();
            let desk = FeedDesk {
                started,
                started_ms: crate::plugins::view::wall_clock_ms(),
                mode: super::host_status::run_mode(config.mode),
                panel: panel.clone(),
                trainer: Box::new(move || status_of.status()),
                deployment,
            };
            let stop = stopped(stop_rx);
            let server = super::host_status::spawn(
                &config,
                listener,
                Arc::new(desk),
                None,
                stop,
                "feed host",
            )?;
            Some(server)
        }
        None => None,
    };
    let mut host = FeedHost {
        config: &config,
        publisher: FeedPublisher::new(&bus),
        market: MarketState::new(&config.market),
        trainer: &trainer,
        board,
        status: status_tx,
        panel,
    };
    host.run(lease_rx, forecasts, shutdown).await;
    host.publisher.flush().await;
    let _ = stop_tx.send(true);
    let _ = lease_task.await;
    let _ = health.await;
    let _ = follower.await;
    if let Some(server) = status_server {
        let _ = server.await;
    }
    // The status server, which held the other handle, has stopped.
    match Arc::try_unwrap(trainer) {
        Ok(trainer) => trainer.shutdown(),
        Err(_) => {
            tracing::warn!(target: "tradehost::trainer", "the trainer is still in use: not stopped")
        }
    }
    bus.close().await;
    tracing::info!(target: "tradehost::bus", "feed host stopped cleanly");
    Ok(())
}

/// The feed host's state.
struct FeedHost<'a> {
    config: &'a Config,
    publisher: FeedPublisher,
    market: MarketState,
    trainer: &'a TrainerHandle,
    board: HealthBoard,
    status: watch::Sender<HostStatus>,
    panel: FeedPanel,
}

impl FeedHost<'_> {
    /// Connect while the lease is held, publish, and stop when `shutdown` completes.
    async fn run(
        &mut self,
        mut lease: watch::Receiver<LeaseState>,
        mut forecasts: mpsc::Receiver<Prediction>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let (tx, mut events) = mpsc::channel::<FeedEvent>(FEED_QUEUE);
        let mut connection: Option<Connection> = None;
        let mut ticks = tokio::time::interval(self.config.bus.health_interval);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                changed = lease.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let state = lease.borrow_and_update().clone();
                    connection = self.on_lease(state, connection, &tx).await;
                }
                Some(event) = events.recv() => self.on_feed(event).await,
                Some(p) = forecasts.recv() => self.publish(MarketEvent::Forecast(p)).await,
                _ = ticks.tick() => {
                    let now = crate::plugins::view::wall_clock_ms();
                    let bars = self.market.flush_until(now - FLUSH_LAG_MS);
                    self.on_bars(bars).await;
                    if let Some(c) = connection.as_mut() {
                        self.follow(c).await;
                    }
                }
            }
        }
        if let Some(c) = connection {
            c.close().await;
            self.panel.off();
        }
        while let Ok(event) = events.try_recv() {
            self.on_feed(event).await;
        }
    }

    /// Connect on `Held`, disconnect on anything else.
    async fn on_lease(
        &mut self,
        state: LeaseState,
        connection: Option<Connection>,
        tx: &mpsc::Sender<FeedEvent>,
    ) -> Option<Connection> {
        match (state, connection) {
            (LeaseState::Held, Some(c)) => Some(c),
            (LeaseState::Held, None) => {
                tracing::info!(target: "tradehost::bus", "holding the feed lease: connecting to the market-data feed");
                self.status.send_modify(|s| s.state = HostState::Running);
                match self.connect(tx.clone()).await {
                    Ok(mut c) => {
                        self.follow(&mut c).await;
                        Some(c)
                    }
                    Err(e) => {
                        tracing::error!(target: "tradehost::feed", "cannot start the feed: {e}");
                        self.status.send_modify(|s| {
                            s.state = HostState::Degraded {
                                reason: e.to_string(),
                            }
                        });
                        None
                    }
                }
            }
            (other, connection) => {
                if let Some(c) = connection {
                    tracing::warn!(target: "tradehost::bus", "feed lease no longer held ({other:?}): closing the feed connection");
                    c.close().await;
                    self.panel.off();
                }
                let holder = match other {
                    LeaseState::Standby { holder } => holder,
                    _ => None,
                };
                self.status.send_modify(|s| {
                    s.state = HostState::Standby {
                        holder: holder.clone(),
                    }
                });
                None
            }
        }
    }

    /// The demo server (in demo mode) and the Finnhub client.
    async fn connect(
        &self,
        tx: mpsc::Sender<FeedEvent>,
    ) -> Result<Connection, crate::feed::FeedError> {
        let mut feed_config = self.config.feed.clone();
        let demo = match self.config.mode {
            Mode::Demo => {
                let server = DemoServer::start(self.config.feed.demo.clone()).await?;
                feed_config = feed_config.with_ws_url(server.url());
                Some(server)
            }
            Mode::Live => None,
        };
        let client = FinnhubClient::spawn(feed_config, tx);
        self.panel.connecting(client.stats_handle());
        Ok(Connection {
            client,
            demo,
            subscribed: BTreeSet::new(),
        })
    }

    /// Subscribe to what the live strategy hosts want, and `SYMBOLS`.
    async fn follow(&mut self, c: &mut Connection) {
        let mut wanted: BTreeSet<String> = self.config.symbols.iter().cloned().collect();
        match self.board.read_all().await {
            Ok(hosts) => {
                for h in hosts.iter().filter(|h| {
                    !h.stale
                        && h.health.role == Role::Strategies
                        && h.health.state != HostState::Stopped
                }) {
                    wanted.extend(h.health.symbols.iter().map(|s| s.to_string()));
                }
            }
            // Keep what is subscribed: a board that cannot be read says nothing new.
            Err(e) => {
                tracing::debug!(target: "tradehost::bus", "{e}");
                return;
            }
        }
        let sub = c.client.subscriber();
        for s in wanted.difference(&c.subscribed) {
            if let Err(e) = sub.subscribe(s) {
                tracing::warn!(target: "tradehost::feed", "cannot subscribe to {s}: {e}");
            }
        }
        for s in c.subscribed.difference(&wanted) {
            let _ = sub.unsubscribe(s);
        }
        self.status.send_modify(|s| {
            s.symbols = wanted.iter().map(|w| w.as_str().into()).collect();
        });
        c.subscribed = wanted;
    }

    /// Trades build bars (to the trainer and the stream); everything is published.
    async fn on_feed(&mut self, event: FeedEvent) {
        let mut bars = Vec::new();
        if let FeedEvent::Status(status) = &event {
            self.panel.apply(status);
        }
        if let FeedEvent::Trades(batch) = &event {
            for trade in &batch.trades {
                if let Some(bar) = self.market.apply_trade(trade) {
                    bars.push(bar);
                }
            }
        }
        self.publish(MarketEvent::Feed(event)).await;
        self.on_bars(bars).await;
    }

    /// Completed bars go to the trainer and the stream.
    async fn on_bars(&mut self, bars: Vec<Bar>) {
        for bar in bars {
            self.trainer.bar(bar.clone());
            self.publish(MarketEvent::Bar(bar)).await;
        }
    }

    async fn publish(&mut self, event: MarketEvent) {
        if let Err(e) = self.publisher.publish(&event).await {
            tracing::warn!(target: "tradehost::bus", "{e}; subscribers will see a gap");
        }
    }
}

impl Connection {
    async fn close(self) {
        self.client.shutdown().await;
        if let Some(demo) = self.demo {
            demo.stop().await;
        }
    }
}

/// The trainer's forecasts, moved from its thread's channel to an async one.
fn forward_forecasts(rx: crossbeam_channel::Receiver<Prediction>) -> mpsc::Receiver<Prediction> {
    let (tx, out) = mpsc::channel(256);
    let forwarder = std::thread::Builder::new()
        .name("forecasts".into())
        .spawn(move || {
            while let Ok(p) = rx.recv() {
                if tx.blocking_send(p).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = forwarder {
        tracing::error!(target: "tradehost::trainer", "forecasts will not be published: cannot start a thread: {e}");
    }
    out
}
