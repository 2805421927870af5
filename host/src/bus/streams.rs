//! The JetStream streams and KV buckets of a deployment, created (or brought to the current
//! settings) by every host when it connects, so no host depends on another to set them up.
//!
//! | stream | subjects | retention | why |
//! | --- | --- | --- | --- |
//! | `TRADEHOST_MD` | `tradehost.md.>`, `tradehost.feed.>` | limits: `market_retention`, `market_max_bytes` | a subscriber that falls behind or restarts reads on from where it was instead of losing data silently; beyond the retention it is told of the gap |
//! | `TRADEHOST_ORDERS` | `tradehost.orders.>` | work queue, dedup window | orders wait for the broker, are removed once journaled, repeats dropped by `Nats-Msg-Id` |
//! | `TRADEHOST_OUTCOMES` | `tradehost.outcomes.>` | limits: `outcome_retention`, dedup window | outcomes and fills wait for a strategy host that is down |
//! | `TRADEHOST_DEAD` | `tradehost.dead.>` | limits: 7 days | undecodable messages, kept with the reason |

use super::config::{BusConfig, StreamStorage};
use super::connection::Bus;
use super::error::BusError;
use super::subject::*;
use async_nats::jetstream::kv;
use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
use std::time::Duration;

/// How long the dead-letter stream keeps what it holds.
const DEAD_LETTER_RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// How long a host's health record stays after its last update (it is shown as stale long
/// before: the reader compares its age with the interval).
const HEALTH_RETENTION: Duration = Duration::from_secs(86_400);

/// Creates or updates every stream and bucket.
pub async fn ensure(bus: &Bus) -> Result<(), BusError> {
    let js = bus.jetstream();
    for config in stream_configs(bus.config()) {
        let name = config.name.clone();
        js.create_or_update_stream(config)
            .await
            .map_err(|e| BusError::setup(format!("stream {name}"), e))?;
    }
    for config in bucket_configs(bus.config()) {
        let name = config.bucket.clone();
        js.create_or_update_key_value(config)
            .await
            .map_err(|e| BusError::setup(format!("KV bucket {name}"), e))?;
    }
    Ok(())
}

/// The four streams, from the settings.
pub fn stream_configs(c: &BusConfig) -> Vec<Config> {
    // The server refuses a dedup window longer than the stream's max age.
    let window = |max_age: Duration| c.dedup_window.min(max_age);
    vec![
        Config {
            name: MARKET_STREAM.into(),
            description: Some("tradehost market data: trades, bars, forecasts, feed status".into()),
            subjects: vec![MARKET_ALL.into(), "tradehost.feed.>".into()],
            retention: RetentionPolicy::Limits,
            max_age: c.market_retention,
            max_bytes: c.market_max_bytes,
            discard: DiscardPolicy::Old,
            storage: match c.market_storage {
                StreamStorage::File => StorageType::File,
                StreamStorage::Memory => StorageType::Memory,
            },
            duplicate_window: window(c.market_retention),
            ..Default::default()
        },
        Config {
            name: ORDER_STREAM.into(),
            description: Some("tradehost orders, one action per message, to the broker".into()),
            subjects: vec![ORDERS_ALL.into()],
            retention: RetentionPolicy::WorkQueue,
            storage: StorageType::File,
            duplicate_window: c.dedup_window,
            ..Default::default()
        },
        Config {
            name: OUTCOME_STREAM.into(),
            description: Some("tradehost outcomes and fills, to the strategy hosts".into()),
            subjects: vec![OUTCOMES_ALL.into()],
            retention: RetentionPolicy::Limits,
            max_age: c.outcome_retention,
            storage: StorageType::File,
            duplicate_window: window(c.outcome_retention),
            ..Default::default()
        },
        Config {
            name: DEAD_LETTER_STREAM.into(),
            description: Some("tradehost messages that did not decode, with the reason".into()),
            subjects: vec![DEAD_ALL.into()],
            retention: RetentionPolicy::Limits,
            max_age: DEAD_LETTER_RETENTION,
            storage: StorageType::File,
            duplicate_window: window(DEAD_LETTER_RETENTION),
            ..Default::default()
        },
    ]
}

/// The two KV buckets: leases expire `lease_ttl` after their last renewal.
pub fn bucket_configs(c: &BusConfig) -> Vec<kv::Config> {
    vec![
        kv::Config {
            bucket: LEASE_BUCKET.into(),
            description: "tradehost leases (one holder per key)".into(),
            history: 1,
            max_age: c.lease_ttl,
            storage: StorageType::File,
            ..Default::default()
        },
        kv::Config {
            bucket: HEALTH_BUCKET.into(),
            description: "tradehost health and lag of every host".into(),
            history: 1,
            max_age: HEALTH_RETENTION,
            storage: StorageType::File,
            ..Default::default()
        },
    ]
}
