//! A lease in a KV bucket: at most one host holds a key at a time. The feed role holds
//! [`FEED_LEASE`] before it opens Finnhub's WebSocket (one connection per API key), and a
//! standby takes over when the holder stops renewing it.
//!
//! The bucket's `max_age` is the lease's lifetime, so the *server* expires a lease that is
//! not renewed; no host's clock decides for another. Acquiring is a create (refused while the
//! key exists), renewing an update that names the revision this host wrote (refused if
//! anyone else wrote since). The holder counts its lease as valid until `ttl` after it *sent*
//! its last successful write, less a margin: the server received it later, so the holder
//! always gives up before the server lets a standby in.

use super::codec::{decode, encode};
use super::connection::Bus;
use super::error::BusError;
use super::subject::{HostName, LEASE_BUCKET};
use async_nats::jetstream::kv::{self, CreateErrorKind, UpdateErrorKind};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The key of the feed host's lease on Finnhub's WebSocket.
pub const FEED_LEASE: &str = "feed";

/// What a lease key holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LeaseValue {
    /// The host holding it.
    holder: HostName,
    /// When it was first acquired (holder's wall clock, for display).
    since_ms: i64,
}

/// Where this host stands with the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseState {
    /// Not held by this host; `holder` holds it, if anyone does.
    Standby {
        /// The current holder, when known.
        holder: Option<HostName>,
    },
    /// Held by this host: it may use the resource.
    Held,
    /// This host held it and no longer does: stop using the resource now.
    Lost {
        /// Why.
        reason: String,
    },
}

/// One host's handle on one lease key.
pub struct Lease {
    /// The lease bucket.
    kv: kv::Store,
    /// The key.
    key: String,
    /// This host.
    me: HostName,
    /// Lifetime of an unrenewed lease (the bucket's max age).
    ttl: Duration,
    /// The revision this host last wrote, while it holds the lease.
    revision: Option<u64>,
    /// Until when this host may count on it.
    valid_until: Option<Instant>,
    /// When it was first acquired.
    since_ms: i64,
}

impl Lease {
    /// A handle on `key` for this host (the lease is not acquired yet).
    pub async fn open(bus: &Bus, key: &str) -> Result<Lease, BusError> {
        let kv = bus
            .jetstream()
            .get_key_value(LEASE_BUCKET)
            .await
            .map_err(|e| BusError::setup(format!("KV bucket {LEASE_BUCKET}"), e))?;
        Ok(Lease {
            kv,
            key: key.to_string(),
            me: bus.host().clone(),
            ttl: bus.config().lease_ttl,
            revision: None,
            valid_until: None,
            since_ms: 0,
        })
    }

    /// True while this host holds the lease and it has not run out.
    pub fn is_held(&self) -> bool {
        self.valid_until.is_some_and(|t| Instant::now() < t)
    }

    /// The host holding the lease, if any.
    pub async fn holder(&self) -> Result<Option<HostName>, BusError> {
        let entry = self.kv.get(&self.key).await.map_err(|e| self.error(e))?;
        Ok(entry.and_then(|bytes| decode::<LeaseValue>("lease", &bytes).ok().map(|v| v.holder)))
    }

    /// Takes the lease if nobody holds it; `false` if someone does.
    pub async fn try_acquire(&mut self) -> Result<bool, BusError> {
        let sent = Instant::now();
        let since_ms = chrono::Utc::now().timestamp_millis();
        let value = self.value(since_ms)?;
        match self.kv.create(&self.key, value).await {
            Ok(revision) => {
                self.hold(revision, sent);
                self.since_ms = since_ms;
                tracing::info!(target: "tradehost::bus", "lease {} acquired by {}", self.key, self.me);
                Ok(true)
            }
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Extends the lease; `false` if it was lost (expired and taken, or never held).
    pub async fn renew(&mut self) -> Result<bool, BusError> {
        let Some(revision) = self.revision else {
            return Ok(false);
        };
        let sent = Instant::now();
        let value = self.value(self.since_ms)?;
        match self.kv.update(&self.key, value, revision).await {
            Ok(revision) => {
                self.hold(revision, sent);
                Ok(true)
            }
            Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => {
                self.drop_hold();
                Ok(false)
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// Gives the lease up at once (a standby can take it without waiting for it to expire).
    pub async fn release(&mut self) -> Result<(), BusError> {
        let Some(revision) = self.revision else {
            return Ok(());
        };
        self.drop_hold();
        self.kv
            .delete_expect_revision(&self.key, Some(revision))
            .await
            .map_err(|e| self.error(e))
    }

    /// Keeps trying to acquire the lease and, while held, renews it every third of its
    /// lifetime, reporting every change on the returned channel; releases it when `shutdown`
    /// completes.
    pub fn keep(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> (watch::Receiver<LeaseState>, JoinHandle<()>) {
        let (tx, rx) = watch::channel(LeaseState::Standby { holder: None });
        let every = self.ttl / 3;
        let task = tokio::spawn(async move {
            tokio::pin!(shutdown);
            loop {
                let state = self.step().await;
                tx.send_if_modified(|s| {
                    let changed = *s != state;
                    *s = state;
                    changed
                });
                // While held, wake no later than the lease runs out, to report it lost.
                let wake = match self.valid_until {
                    Some(t) => (Instant::now() + every).min(t),
                    None => Instant::now() + every,
                };
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep_until(wake.into()) => {}
                }
            }
            if let Err(e) = self.release().await {
                tracing::warn!(target: "tradehost::bus", "releasing {e}; it expires by itself");
            }
            tx.send_replace(LeaseState::Standby { holder: None });
        });
        (rx, task)
    }

    /// One round of [`keep`](Self::keep): renew if held, else try to acquire.
    async fn step(&mut self) -> LeaseState {
        if self.revision.is_some() {
            match self.renew().await {
                Ok(true) => return LeaseState::Held,
                Ok(false) => {
                    let reason = format!("lease {} was taken by another host", self.key);
                    tracing::warn!(target: "tradehost::bus", "{reason}");
                    return LeaseState::Lost { reason };
                }
                Err(e) if self.is_held() => {
                    tracing::warn!(target: "tradehost::bus", "renewing {e}; the lease is still valid");
                    return LeaseState::Held;
                }
                Err(e) => {
                    self.drop_hold();
                    let reason = format!("could not renew in time: {e}");
                    tracing::warn!(target: "tradehost::bus", "lease {}: {reason}", self.key);
                    return LeaseState::Lost { reason };
                }
            }
        }
        match self.try_acquire().await {
            Ok(true) => LeaseState::Held,
            Ok(false) => LeaseState::Standby {
                holder: self.holder().await.ok().flatten(),
            },
            Err(e) => {
                tracing::debug!(target: "tradehost::bus", "acquiring {e}");
                LeaseState::Standby { holder: None }
            }
        }
    }

    /// Records a successful write sent at `sent`.
    fn hold(&mut self, revision: u64, sent: Instant) {
        self.revision = Some(revision);
        // Give up a tenth of the lifetime early: timers and clocks are not exact.
        self.valid_until = Some(sent + self.ttl - self.ttl / 10);
    }

    /// Forgets the lease.
    fn drop_hold(&mut self) {
        self.revision = None;
        self.valid_until = None;
    }

    /// The value this host writes.
    fn value(&self, since_ms: i64) -> Result<bytes::Bytes, BusError> {
        Ok(encode(
            "lease",
            &LeaseValue {
                holder: self.me.clone(),
                since_ms,
            },
        )?)
    }

    /// A lease error for this key.
    fn error(&self, e: impl std::fmt::Display) -> BusError {
        BusError::Lease {
            key: self.key.clone(),
            reason: e.to_string(),
        }
    }
}
