//! Configuration of the message bus: where the server is, who this host is, and how long each
//! stream keeps what it holds.
//!
//! Every field is read from one `BUS_*` setting (see [`BusConfig::from_settings`]). The
//! defaults suit one machine or a LAN; the tests shorten the times.

use super::subject::HostName;
use crate::settings::{SettingError, Settings};
use std::time::Duration;

/// Where a stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStorage {
    /// On disk: survives a restart of nats-server.
    File,
    /// In memory: faster, lost when nats-server stops.
    Memory,
}

/// Settings of the bus, shared by every role.
#[derive(Debug, Clone, PartialEq)]
pub struct BusConfig {
    /// NATS server(s), comma-separated (`BUS_URL`, `nats://127.0.0.1:4222`).
    pub url: String,
    /// This host's name in subjects, consumers and the health board (`BUS_HOST`, `tradehost`).
    pub host: HostName,
    /// How long the market stream keeps messages (`BUS_MD_RETENTION_SECS`, 600): how far a
    /// subscriber can fall behind, or be down, before it misses data (and is told).
    pub market_retention: Duration,
    /// Size cap of the market stream in bytes (`BUS_MD_MAX_MB`, 1024 MiB); oldest go first.
    pub market_max_bytes: i64,
    /// Storage of the market stream (`BUS_MD_STORAGE`, `file` or `memory`; `file`).
    pub market_storage: StreamStorage,
    /// How long the server remembers message ids to drop repeats (`BUS_DEDUP_WINDOW_SECS`,
    /// 120). The broker remembers handled orders forever, from its journal.
    pub dedup_window: Duration,
    /// How long outcomes and fills are kept for strategy hosts that are down
    /// (`BUS_OUTCOME_RETENTION_SECS`, 86400).
    pub outcome_retention: Duration,
    /// How long a delivered order may stay unacknowledged before the server delivers it again
    /// (`BUS_ACK_WAIT_SECS`, 10). The broker extends it while its callback is busy.
    pub ack_wait: Duration,
    /// How long an order or outcome publish is retried before giving up
    /// (`BUS_PUBLISH_TIMEOUT_SECS`, 30).
    pub publish_timeout: Duration,
    /// Lifetime of a lease that is not renewed (`BUS_LEASE_TTL_SECS`, 10); it is renewed
    /// every third of it.
    pub lease_ttl: Duration,
    /// How often each host writes its health record (`BUS_HEALTH_INTERVAL_SECS`, 2).
    pub health_interval: Duration,
    /// A subscriber further behind than this says so (`BUS_MAX_LAG_SECS`, 1).
    pub max_lag: Duration,
    /// Longest wait between reconnection attempts (`BUS_RECONNECT_MAX_SECS`, 2).
    pub reconnect_max_delay: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            url: "nats://127.0.0.1:4222".into(),
            host: HostName::default(),
            market_retention: Duration::from_secs(600),
            market_max_bytes: 1 << 30,
            market_storage: StreamStorage::File,
            dedup_window: Duration::from_secs(120),
            outcome_retention: Duration::from_secs(86_400),
            ack_wait: Duration::from_secs(10),
            publish_timeout: Duration::from_secs(30),
            lease_ttl: Duration::from_secs(10),
            health_interval: Duration::from_secs(2),
            max_lag: Duration::from_secs(1),
            reconnect_max_delay: Duration::from_secs(2),
        }
    }
}

impl BusConfig {
    /// The default configuration for `url` and `host` (tests, tools).
    pub fn new(url: impl Into<String>, host: HostName) -> BusConfig {
        BusConfig {
            url: url.into(),
            host,
            ..BusConfig::default()
        }
    }

    /// Reads every `BUS_*` setting; unset ones take the defaults above.
    pub fn from_settings(s: &Settings) -> Result<BusConfig, SettingError> {
        let d = BusConfig::default();
        let host = s.parse_with(
            "BUS_HOST",
            d.host.clone(),
            "1 to 64 letters, digits, '-' or '_', e.g. strategies-1",
            |v| HostName::new(v).ok(),
        )?;
        let mb = s.int_in("BUS_MD_MAX_MB", 1024_i64, 1, 1 << 20)?;
        Ok(BusConfig {
            url: s.raw("BUS_URL").map(str::to_string).unwrap_or(d.url),
            host,
            market_retention: s.secs("BUS_MD_RETENTION_SECS", d.market_retention)?,
            market_max_bytes: mb << 20,
            market_storage: s.parse_with(
                "BUS_MD_STORAGE",
                d.market_storage,
                "file or memory",
                |v| match v.to_ascii_lowercase().as_str() {
                    "file" => Some(StreamStorage::File),
                    "memory" => Some(StreamStorage::Memory),
                    _ => None,
                },
            )?,
            dedup_window: s.secs("BUS_DEDUP_WINDOW_SECS", d.dedup_window)?,
            outcome_retention: s.secs("BUS_OUTCOME_RETENTION_SECS", d.outcome_retention)?,
            ack_wait: s.secs("BUS_ACK_WAIT_SECS", d.ack_wait)?,
            publish_timeout: s.secs("BUS_PUBLISH_TIMEOUT_SECS", d.publish_timeout)?,
            lease_ttl: s.secs("BUS_LEASE_TTL_SECS", d.lease_ttl)?,
            health_interval: s.secs("BUS_HEALTH_INTERVAL_SECS", d.health_interval)?,
            max_lag: s.secs("BUS_MAX_LAG_SECS", d.max_lag)?,
            reconnect_max_delay: s.secs("BUS_RECONNECT_MAX_SECS", d.reconnect_max_delay)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_settings_take_the_defaults_and_set_ones_are_read() {
        assert_eq!(
            BusConfig::from_settings(&Settings::default()).unwrap(),
            BusConfig::default()
        );
        let s = Settings::from_pairs([
            ("BUS_URL", "nats://10.0.0.5:4222"),
            ("BUS_HOST", "strategies-2"),
            ("BUS_MD_STORAGE", "Memory"),
            ("BUS_MD_MAX_MB", "64"),
            ("BUS_LEASE_TTL_SECS", "2.5"),
        ]);
        let c = BusConfig::from_settings(&s).unwrap();
        assert_eq!(c.url, "nats://10.0.0.5:4222");
        assert_eq!(c.host.as_str(), "strategies-2");
        assert_eq!(c.market_storage, StreamStorage::Memory);
        assert_eq!(c.market_max_bytes, 64 << 20);
        assert_eq!(c.lease_ttl, Duration::from_millis(2500));
    }

    #[test]
    fn the_documented_example_gives_the_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../.env.example");
        let mut settings = Settings::default();
        for item in dotenvy::from_path_iter(path).unwrap() {
            let (k, v) = item.unwrap();
            settings.set(k, v);
        }
        assert!(settings.raw("BUS_URL").is_some(), "BUS_* documented");
        assert_eq!(
            BusConfig::from_settings(&settings).unwrap(),
            BusConfig::default()
        );
    }

    #[test]
    fn invalid_values_are_refused_with_the_variable_name() {
        // TC: (variable, bad value, words the message must contain)
        let cases = [
            ("BUS_HOST", "feed.1", "letters, digits"),
            ("BUS_MD_STORAGE", "disk", "file or memory"),
            ("BUS_MD_MAX_MB", "0", "from 1"),
            ("BUS_LEASE_TTL_SECS", "-1", "positive number of seconds"),
        ];
        for (name, value, words) in cases {
            let e = BusConfig::from_settings(&Settings::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(e.name, name);
            assert!(e.to_string().contains(words), "{name}={value}: {e}");
        }
    }
}
