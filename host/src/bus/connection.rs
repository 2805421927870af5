//! [`Bus`]: one connection to NATS per host, shared by its publishers and subscribers, that
//! reconnects by itself and says whether it is up.
//!
//! The client retries for ever, with a delay growing to `reconnect_max_delay`; consumers
//! resume where they were (see [`durable`](super::durable) and
//! [`market_subscriber`](super::market_subscriber)), publishers retry with the same message
//! ids. [`Bus::link`] tells the roles when the link goes down and comes back.

use super::config::BusConfig;
use super::error::BusError;
use super::stats::BusStats;
use super::streams;
use super::subject::HostName;
use async_nats::jetstream;
use async_nats::{Client, ConnectOptions, Event};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// The state of the connection to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Connected.
    Up,
    /// Lost; the client is reconnecting.
    Down,
    /// Closed for good (the bus was shut down).
    Closed,
}

/// A host's connection to the bus. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Bus {
    /// The core NATS client.
    client: Client,
    /// JetStream on that client.
    jetstream: jetstream::Context,
    /// The settings it was opened with.
    config: Arc<BusConfig>,
    /// Whether the link is up.
    link: watch::Receiver<Link>,
    /// This host's traffic counters.
    stats: Arc<BusStats>,
}

impl Bus {
    /// Connects to `config.url` and creates (or updates) the streams the roles use.
    pub async fn connect(config: BusConfig) -> Result<Bus, BusError> {
        let stats = Arc::new(BusStats::default());
        let (link_tx, link) = watch::channel(Link::Up);
        let max_delay = config.reconnect_max_delay;
        let counters = stats.clone();
        let host = config.host.clone();
        // The first connection also reports `Connected`; only later ones are reconnections.
        let connected_before = Arc::new(AtomicBool::new(false));
        let options = ConnectOptions::new()
            .name(format!("tradehost {host}"))
            .connection_timeout(Duration::from_secs(5))
            // A dead server is noticed within a few seconds, not the default minute.
            .ping_interval(Duration::from_secs(5))
            .reconnect_delay_callback(move |attempts| {
                let exp = u32::try_from(attempts).unwrap_or(u32::MAX).min(16);
                Duration::from_millis(25u64 << exp).min(max_delay)
            })
            .event_callback(move |event| {
                let (link_tx, counters, host) = (link_tx.clone(), counters.clone(), host.clone());
                let connected_before = connected_before.clone();
                async move {
                    match event {
                        Event::Connected => {
                            if connected_before.swap(true, Ordering::Relaxed) {
                                BusStats::add(&counters.reconnects, 1);
                                tracing::info!(target: "tradehost::bus", %host, "reconnected to NATS");
                            }
                            link_tx.send_replace(Link::Up);
                        }
                        Event::Disconnected => {
                            tracing::warn!(target: "tradehost::bus", %host, "lost the connection to NATS; reconnecting");
                            link_tx.send_replace(Link::Down);
                        }
                        Event::Closed => {
                            link_tx.send_replace(Link::Closed);
                        }
                        other => {
                            tracing::warn!(target: "tradehost::bus", %host, "NATS: {other}")
                        }
                    }
                }
            });
        let client = options
            .connect(config.url.as_str())
            .await
            .map_err(|e| BusError::Connect {
                url: config.url.clone(),
                reason: e.to_string(),
            })?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(5))
            .build(client.clone());
        let bus = Bus {
            client,
            jetstream,
            config: Arc::new(config),
            link,
            stats,
        };
        streams::ensure(&bus).await?;
        Ok(bus)
    }

    /// This host's name.
    pub fn host(&self) -> &HostName {
        &self.config.host
    }

    /// The settings.
    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// Whether the connection is up, and a way to wait for changes.
    pub fn link(&self) -> watch::Receiver<Link> {
        self.link.clone()
    }

    /// This host's traffic counters.
    pub fn stats(&self) -> &Arc<BusStats> {
        &self.stats
    }

    /// The core client (for tests and tools).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// JetStream on this connection.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// Sends everything buffered and closes the connection.
    pub async fn close(self) {
        if let Err(e) = self.client.drain().await {
            tracing::debug!(target: "tradehost::bus", "closing the NATS connection: {e}");
        }
    }
}
