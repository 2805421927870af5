//! The feed's settings: endpoints, credentials, reconnect policy, keep-alive and limits.
//!
//! [`FeedConfig::from_settings`] reads every `FINNHUB_*`, `RECONNECT_*`, keep-alive and demo
//! variable, rejecting invalid values with the variable's name. The docs of the fields below
//! are the reference for the README. Credentials are held in [`Secret`], whose `Debug` and
//! `Display` never show the value.

use std::path::PathBuf;
use std::time::Duration;

use crate::settings::{SettingError, Settings};

use super::backoff::BackoffPolicy;

/// The real Finnhub WebSocket endpoint (`FINNHUB_WS_URL` default).
pub const DEFAULT_WS_URL: &str = "wss://ws.finnhub.io";
/// The real Finnhub REST base URL (`FINNHUB_REST_URL` default).
pub const DEFAULT_REST_URL: &str = "https://finnhub.io/api/v1";

pub use crate::settings::Secret;

/// When the client sends the reference platform's `{"type":"ping"}` acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// Never (`ACK_INTERVAL=off`); the protocol ping alone keeps the link alive.
    Off,
    /// After every received message, as the reference does (`ACK_INTERVAL=0`).
    EveryMessage,
    /// At most one per interval, and only when messages arrived since the last one.
    Coalesced(Duration),
}

/// Where the demo server's trades come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoTrades {
    /// The real trades compiled into the binary (`host/data/demo_trades_2013-10-11.csv.gz`).
    Bundled,
    /// A trades file (`.csv` or `.csv.gz`, `timestamp,symbol,price,size,...`).
    File(PathBuf),
}

/// Settings of the embedded demo server.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoConfig {
    /// Trades to replay (`DEMO_TRADES_FILE`, default the bundled file).
    pub trades: DemoTrades,
    /// Replay speed as a multiple of real time (`DEMO_SPEED`, default 1).
    pub speed: f64,
    /// Start over at the end of the file (`DEMO_LOOP`, default true).
    pub looping: bool,
    /// Interval of the server's `{"type":"ping"}` messages (10 s, as Finnhub does now and then).
    pub ping_interval: Duration,
    /// Trades closer together than this are sent in one message (50 ms).
    pub batch_window: Duration,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            trades: DemoTrades::Bundled,
            speed: 1.0,
            looping: true,
            ping_interval: Duration::from_secs(10),
            batch_window: Duration::from_millis(50),
        }
    }
}

impl DemoConfig {
    /// Read `DEMO_TRADES_FILE`, `DEMO_SPEED` and `DEMO_LOOP`.
    pub fn from_settings(s: &Settings) -> Result<Self, SettingError> {
        let d = DemoConfig::default();
        Ok(DemoConfig {
            trades: s
                .raw("DEMO_TRADES_FILE")
                .map(|p| DemoTrades::File(PathBuf::from(p)))
                .unwrap_or(DemoTrades::Bundled),
            speed: s.parse_with(
                "DEMO_SPEED",
                d.speed,
                "a positive multiple of real time, e.g. 1 or 10",
                |v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && *x > 0.0 && *x <= 1e6)
                },
            )?,
            looping: s.flag("DEMO_LOOP", d.looping)?,
            ..d
        })
    }
}

/// Everything the Finnhub client, the REST client and the demo server need.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedConfig {
    /// API key (`FINNHUB_API_KEY`); none means demo or replay only.
    pub api_key: Option<Secret>,
    /// Secret sent as `X-Finnhub-Secret` on REST calls when set (`FINNHUB_SECRET`).
    pub secret: Option<Secret>,
    /// WebSocket endpoint without the token (`FINNHUB_WS_URL`, default `wss://ws.finnhub.io`).
    pub ws_url: String,
    /// REST base URL (`FINNHUB_REST_URL`, default `https://finnhub.io/api/v1`).
    pub rest_url: String,
    /// Reconnection schedule (`RECONNECT_DELAY`, `RECONNECT_MAX_DELAY`,
    /// `RECONNECT_MAX_RETRIES`, `RECONNECT_STABLE_AFTER`).
    pub backoff: BackoffPolicy,
    /// Interval of WebSocket protocol pings (`PING_INTERVAL`, default 15 s).
    pub ping_interval: Duration,
    /// With no pong and no other traffic this long after a ping, the link is dead
    /// (`PONG_TIMEOUT`, default 10 s).
    pub pong_timeout: Duration,
    /// Acknowledgements (`ACK_INTERVAL`: seconds, default 5; `0` = after every message; `off`).
    pub ack: AckMode,
    /// Client-side limit of subscribed symbols (`MAX_SYMBOLS`, default 50, the free tier's).
    pub max_symbols: usize,
    /// Time allowed for TCP + TLS + WebSocket handshake (`CONNECT_TIMEOUT`, default 10 s).
    pub connect_timeout: Duration,
    /// How long a full event channel may hold up the socket before trades are dropped and
    /// counted (250 ms).
    pub slow_consumer_grace: Duration,
    /// REST requests allowed per minute (`FINNHUB_REST_RATE_LIMIT`, default 60, the free tier).
    pub rest_per_minute: u32,
    /// REST request timeout (30 s).
    pub rest_timeout: Duration,
    /// The demo server's settings.
    pub demo: DemoConfig,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            api_key: None,
            secret: None,
            ws_url: DEFAULT_WS_URL.to_string(),
            rest_url: DEFAULT_REST_URL.to_string(),
            backoff: BackoffPolicy::default(),
            ping_interval: Duration::from_secs(15),
            pong_timeout: Duration::from_secs(10),
            ack: AckMode::Coalesced(Duration::from_secs(5)),
            max_symbols: 50,
            connect_timeout: Duration::from_secs(10),
            slow_consumer_grace: Duration::from_millis(250),
            rest_per_minute: 60,
            rest_timeout: Duration::from_secs(30),
            demo: DemoConfig::default(),
        }
    }
}

impl FeedConfig {
    /// Read every feed setting; invalid values are errors naming the variable.
    pub fn from_settings(s: &Settings) -> Result<Self, SettingError> {
        let d = FeedConfig::default();
        let url = |name: &str, default: &str, schemes: &[&str]| -> Result<String, SettingError> {
            let expected = format!("a URL starting with {}", schemes.join(" or "));
            s.parse_with(name, default.to_string(), &expected, |v| {
                schemes
                    .iter()
                    .any(|p| v.starts_with(p) && v.len() > p.len())
                    .then(|| v.trim_end_matches('/').to_string())
            })
        };
        let backoff = BackoffPolicy {
            initial: s.secs("RECONNECT_DELAY", d.backoff.initial)?,
            max: s.secs("RECONNECT_MAX_DELAY", d.backoff.max)?,
            max_retries: s.int_in("RECONNECT_MAX_RETRIES", d.backoff.max_retries, 0, 1_000_000)?,
            stable_after: s.secs("RECONNECT_STABLE_AFTER", d.backoff.stable_after)?,
            ..d.backoff
        };
        if backoff.max < backoff.initial {
            return Err(SettingError {
                name: "RECONNECT_MAX_DELAY".into(),
                value: format!("{}", backoff.max.as_secs_f64()),
                expected: format!(
                    "at least RECONNECT_DELAY ({} s)",
                    backoff.initial.as_secs_f64()
                ),
            });
        }
        Ok(FeedConfig {
            api_key: s.raw("FINNHUB_API_KEY").map(Secret::new),
            secret: s.raw("FINNHUB_SECRET").map(Secret::new),
            ws_url: url("FINNHUB_WS_URL", DEFAULT_WS_URL, &["ws://", "wss://"])?,
            rest_url: url(
                "FINNHUB_REST_URL",
                DEFAULT_REST_URL,
                &["http://", "https://"],
            )?,
            backoff,
            ping_interval: s.secs("PING_INTERVAL", d.ping_interval)?,
            pong_timeout: s.secs("PONG_TIMEOUT", d.pong_timeout)?,
            ack: s.parse_with(
                "ACK_INTERVAL",
                d.ack,
                "seconds between acknowledgements, 0 for one per message, or off",
                parse_ack,
            )?,
            max_symbols: s.int_in("MAX_SYMBOLS", d.max_symbols, 1, 10_000)?,
            connect_timeout: s.secs("CONNECT_TIMEOUT", d.connect_timeout)?,
            rest_per_minute: s.int_in("FINNHUB_REST_RATE_LIMIT", d.rest_per_minute, 1, 100_000)?,
            demo: DemoConfig::from_settings(s)?,
            ..d
        })
    }

    /// The configuration with its WebSocket URL pointed at `ws_url` (demo, tests).
    pub fn with_ws_url(mut self, ws_url: impl Into<String>) -> Self {
        self.ws_url = ws_url.into();
        self
    }
}

fn parse_ack(v: &str) -> Option<AckMode> {
    if v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("never") {
        return Some(AckMode::Off);
    }
    let secs = v
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0 && *x < 1e9)?;
    Some(if secs == 0.0 {
        AckMode::EveryMessage
    } else {
        AckMode::Coalesced(Duration::from_secs_f64(secs))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_reference() {
        let c = FeedConfig::from_settings(&Settings::default()).unwrap();
        assert_eq!(c, FeedConfig::default());
        assert_eq!(c.backoff.initial, Duration::from_secs(30));
        assert_eq!(c.ping_interval, Duration::from_secs(15));
        assert_eq!(c.max_symbols, 50);
        assert_eq!(c.ws_url, DEFAULT_WS_URL);
    }

    #[test]
    fn reads_every_setting() {
        let s = Settings::from_pairs([
            ("FINNHUB_API_KEY", "k123"),
            ("FINNHUB_SECRET", "s456"),
            ("FINNHUB_WS_URL", "ws://127.0.0.1:9/"),
            ("FINNHUB_REST_URL", "http://127.0.0.1:9/api/v1"),
            ("RECONNECT_DELAY", "2"),
            ("RECONNECT_MAX_DELAY", "60"),
            ("RECONNECT_MAX_RETRIES", "3"),
            ("RECONNECT_STABLE_AFTER", "5"),
            ("PING_INTERVAL", "1.5"),
            ("PONG_TIMEOUT", "4"),
            ("ACK_INTERVAL", "0"),
            ("MAX_SYMBOLS", "7"),
            ("CONNECT_TIMEOUT", "3"),
            ("FINNHUB_REST_RATE_LIMIT", "30"),
            ("DEMO_SPEED", "20"),
            ("DEMO_LOOP", "no"),
            ("DEMO_TRADES_FILE", "/tmp/t.csv.gz"),
        ]);
        let c = FeedConfig::from_settings(&s).unwrap();
        assert_eq!(c.api_key.as_ref().map(Secret::expose), Some("k123"));
        assert_eq!(c.secret.as_ref().map(Secret::expose), Some("s456"));
        assert_eq!(c.ws_url, "ws://127.0.0.1:9");
        assert_eq!(c.rest_url, "http://127.0.0.1:9/api/v1");
        assert_eq!(c.backoff.initial, Duration::from_secs(2));
        assert_eq!(c.backoff.max, Duration::from_secs(60));
        assert_eq!(c.backoff.max_retries, 3);
        assert_eq!(c.backoff.stable_after, Duration::from_secs(5));
        assert_eq!(c.ping_interval, Duration::from_millis(1500));
        assert_eq!(c.pong_timeout, Duration::from_secs(4));
        assert_eq!(c.ack, AckMode::EveryMessage);
        assert_eq!(c.max_symbols, 7);
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.rest_per_minute, 30);
        assert_eq!(c.demo.speed, 20.0);
        assert!(!c.demo.looping);
        assert_eq!(c.demo.trades, DemoTrades::File("/tmp/t.csv.gz".into()));
    }

    #[test]
    fn invalid_values_are_rejected_by_name() {
        let cases = [
            ("FINNHUB_WS_URL", "https://ws.finnhub.io"),
            ("FINNHUB_REST_URL", "ftp://x"),
            ("RECONNECT_DELAY", "-1"),
            ("RECONNECT_MAX_DELAY", "1"),
            ("RECONNECT_MAX_RETRIES", "many"),
            ("PING_INTERVAL", "0"),
            ("ACK_INTERVAL", "sometimes"),
            ("MAX_SYMBOLS", "0"),
            ("DEMO_SPEED", "0"),
        ];
        for (name, value) in cases {
            let err =
                FeedConfig::from_settings(&Settings::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(err.name, name, "{value}");
        }
    }

    #[test]
    fn ack_interval_forms() {
        assert_eq!(parse_ack("off"), Some(AckMode::Off));
        assert_eq!(parse_ack("0"), Some(AckMode::EveryMessage));
        assert_eq!(
            parse_ack("2.5"),
            Some(AckMode::Coalesced(Duration::from_millis(2500)))
        );
        assert_eq!(parse_ack("-1"), None);
    }

    #[test]
    fn debug_never_prints_secrets() {
        let s = Settings::from_pairs([
            ("FINNHUB_API_KEY", "topsecretkey"),
            ("FINNHUB_SECRET", "hush"),
        ]);
        let c = FeedConfig::from_settings(&s).unwrap();
        let shown = format!("{c:?} {c:#?}");
        assert!(
            !shown.contains("topsecretkey") && !shown.contains("hush"),
            "{shown}"
        );
        assert!(shown.contains("***"));
    }
}
