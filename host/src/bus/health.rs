//! The deployment's health board: every host writes a small typed record (role, state, lag,
//! traffic counters) to a KV bucket every `health_interval`, and anyone (the status API, the
//! dashboard) reads them all to show the whole deployment.
//!
//! A record older than three intervals is shown as stale: its host stopped writing (killed,
//! or cut off from the server). A host that stops cleanly writes `Stopped` last.

use super::codec::{decode, encode};
use super::connection::Bus;
use super::error::BusError;
use super::stats::BusCounters;
use super::subject::{HEALTH_BUCKET, HostName};
use crate::types::Symbol;
use async_nats::jetstream::kv;
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use std::future::Future;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a host does in the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Holds the Finnhub connection (when it holds the lease) and publishes market data.
    Feed,
    /// Runs plugins on market data from the bus and publishes their orders.
    Strategies,
    /// The single writer of the journal: applies orders, publishes outcomes and fills.
    Broker,
    /// Everything in one process (no bus needed).
    All,
}

/// How a host is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HostState {
    /// Setting up.
    Starting,
    /// Doing its job.
    Running,
    /// Ready, waiting for a lease another host holds.
    Standby {
        /// The holder, when known.
        holder: Option<HostName>,
    },
    /// Running with a problem it reports.
    Degraded {
        /// What is wrong.
        reason: String,
    },
    /// Stopped cleanly.
    Stopped,
}

/// How far behind the publisher a subscriber is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lag {
    /// Messages waiting in the stream for it.
    pub pending: u64,
    /// Age of the last message it read, in milliseconds.
    pub behind_ms: u64,
}

/// What a role says about itself; the reporter adds the host, times and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    /// The role.
    pub role: Role,
    /// Its state.
    pub state: HostState,
    /// Its lag on market data, if it reads any.
    pub lag: Option<Lag>,
    /// The symbols it wants market data of (a strategy host's plugins'): the feed host
    /// subscribes to those of every live host.
    pub symbols: Vec<Symbol>,
}

/// One host's record on the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostHealth {
    /// The host.
    pub host: HostName,
    /// Its role.
    pub role: Role,
    /// Its state.
    #[serde(flatten)]
    pub state: HostState,
    /// Its lag on market data.
    pub lag: Option<Lag>,
    /// Its traffic on the bus.
    pub counters: BusCounters,
    /// The symbols it wants market data of.
    #[serde(default)]
    pub symbols: Vec<Symbol>,
    /// When it started (its wall clock, ms).
    pub started_ms: i64,
    /// When it wrote this record (its wall clock, ms).
    pub updated_ms: i64,
}

/// A record as a reader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostView {
    /// The record.
    #[serde(flatten)]
    pub health: HostHealth,
    /// Milliseconds since it was written (reader's clock).
    pub age_ms: i64,
    /// Older than three intervals: the host stopped reporting.
    pub stale: bool,
}

/// The health bucket.
#[derive(Debug, Clone)]
pub struct HealthBoard {
    /// The bucket.
    kv: kv::Store,
    /// Records older than this are stale.
    stale_after_ms: i64,
}

impl HealthBoard {
    /// The board of the deployment `bus` belongs to.
    pub async fn open(bus: &Bus) -> Result<HealthBoard, BusError> {
        let kv = bus
            .jetstream()
            .get_key_value(HEALTH_BUCKET)
            .await
            .map_err(|e| BusError::setup(format!("KV bucket {HEALTH_BUCKET}"), e))?;
        let interval = bus.config().health_interval;
        Ok(HealthBoard {
            kv,
            stale_after_ms: i64::try_from(3 * interval.as_millis()).unwrap_or(i64::MAX),
        })
    }

    /// Writes `health` under its host's name.
    pub async fn put(&self, health: &HostHealth) -> Result<(), BusError> {
        let value = encode("health", health)?;
        self.kv
            .put(health.host.as_str(), value)
            .await
            .map_err(|e| BusError::consume(format!("health record of {}", health.host), e))?;
        Ok(())
    }

    /// Every host's latest record, by host name; records that do not decode are skipped with
    /// a warning (a host running another build).
    pub async fn read_all(&self) -> Result<Vec<HostView>, BusError> {
        let what = format!("KV bucket {HEALTH_BUCKET}");
        let mut keys: Vec<String> = self
            .kv
            .keys()
            .await
            .map_err(|e| BusError::consume(&what, e))?
            .try_collect()
            .await
            .map_err(|e| BusError::consume(&what, e))?;
        keys.sort();
        let now = chrono::Utc::now().timestamp_millis();
        let mut views = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(bytes) = self
                .kv
                .get(&key)
                .await
                .map_err(|e| BusError::consume(&what, e))?
            else {
                continue;
            };
            match decode::<HostHealth>("health", &bytes) {
                Ok(health) => {
                    let age_ms = now - health.updated_ms;
                    let stale = age_ms > self.stale_after_ms && health.state != HostState::Stopped;
                    views.push(HostView {
                        health,
                        age_ms,
                        stale,
                    });
                }
                Err(e) => tracing::warn!(target: "tradehost::bus", "health record of {key}: {e}"),
            }
        }
        Ok(views)
    }
}

/// Writes this host's record every `health_interval` from `status` and the bus counters, and
/// a last one saying `Stopped` when `shutdown` completes.
pub fn report_health(
    bus: &Bus,
    status: watch::Receiver<HostStatus>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    let bus = bus.clone();
    tokio::spawn(async move {
        let board = match HealthBoard::open(&bus).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(target: "tradehost::bus", "no health reports: {e}");
                return;
            }
        };
        let started_ms = chrono::Utc::now().timestamp_millis();
        let record = |stopped: bool| {
            let s = status.borrow().clone();
            HostHealth {
                host: bus.host().clone(),
                role: s.role,
                state: if stopped { HostState::Stopped } else { s.state },
                lag: s.lag,
                counters: bus.stats().snapshot(),
                symbols: s.symbols,
                started_ms,
                updated_ms: chrono::Utc::now().timestamp_millis(),
            }
        };
        let mut ticks = tokio::time::interval(bus.config().health_interval);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = ticks.tick() => {}
            }
            if let Err(e) = board.put(&record(false)).await {
                tracing::debug!(target: "tradehost::bus", "{e}");
            }
        }
        if let Err(e) = board.put(&record(true)).await {
            tracing::debug!(target: "tradehost::bus", "{e}");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_read_as_flat_json() {
        let h = HostHealth {
            host: HostName::new("strategies-1").unwrap(),
            role: Role::Strategies,
            state: HostState::Degraded {
                reason: "behind".into(),
            },
            lag: Some(Lag {
                pending: 12,
                behind_ms: 1500,
            }),
            counters: BusCounters::default(),
            symbols: vec!["AAPL".into()],
            started_ms: 1,
            updated_ms: 2,
        };
        let bytes = encode("health", &h).unwrap();
        assert_eq!(decode::<HostHealth>("health", &bytes).unwrap(), h);
        let view = HostView {
            health: h,
            age_ms: 10,
            stale: false,
        };
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["host"], "strategies-1");
        assert_eq!(json["role"], "strategies");
        assert_eq!(json["state"], "degraded");
        assert_eq!(json["reason"], "behind");
        assert_eq!(json["lag"]["pending"], 12);
    }
}
