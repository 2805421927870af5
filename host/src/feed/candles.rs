//! The REST history client: Finnhub candles as [`Bar`]s, to backfill history at start-up.
//!
//! `GET {FINNHUB_REST_URL}/{stock|forex|crypto}/candle?symbol=&resolution=&from=&to=`, the
//! endpoint chosen from the symbol's prefix. The key goes in the `X-Finnhub-Token` header (never
//! in the URL), the secret in `X-Finnhub-Secret` when set. A client-side [`RateLimiter`] keeps
//! requests under `FINNHUB_REST_RATE_LIMIT` per minute and 30 per second. 401, 403, 429 and
//! `no_data` are distinct errors with advice.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::types::{Bar, Symbol};

use super::config::{FeedConfig, Secret};
use super::error::FeedError;
use super::rate_limit::RateLimiter;
use super::redact::Redactor;
use super::symbol::{AssetClass, to_provider};

/// A candle resolution Finnhub accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// 1 minute.
    Min1,
    /// 5 minutes.
    Min5,
    /// 15 minutes.
    Min15,
    /// 30 minutes.
    Min30,
    /// 60 minutes.
    Min60,
    /// Daily.
    Day,
    /// Weekly.
    Week,
    /// Monthly.
    Month,
}

impl Resolution {
    /// The API's code: 1, 5, 15, 30, 60, D, W, M.
    pub fn code(self) -> &'static str {
        match self {
            Resolution::Min1 => "1",
            Resolution::Min5 => "5",
            Resolution::Min15 => "15",
            Resolution::Min30 => "30",
            Resolution::Min60 => "60",
            Resolution::Day => "D",
            Resolution::Week => "W",
            Resolution::Month => "M",
        }
    }

    /// The bar length in seconds (a month counts as 30 days).
    pub fn period_secs(self) -> u32 {
        match self {
            Resolution::Min1 => 60,
            Resolution::Min5 => 300,
            Resolution::Min15 => 900,
            Resolution::Min30 => 1800,
            Resolution::Min60 => 3600,
            Resolution::Day => 86_400,
            Resolution::Week => 7 * 86_400,
            Resolution::Month => 30 * 86_400,
        }
    }

    /// The finest resolution whose bars are `secs` long, if any.
    pub fn from_period_secs(secs: u32) -> Option<Self> {
        ALL.into_iter().find(|r| r.period_secs() == secs)
    }
}

const ALL: [Resolution; 8] = [
    Resolution::Min1,
    Resolution::Min5,
    Resolution::Min15,
    Resolution::Min30,
    Resolution::Min60,
    Resolution::Day,
    Resolution::Week,
    Resolution::Month,
];

impl FromStr for Resolution {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ALL.into_iter()
            .find(|r| r.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown resolution {s:?}: use 1, 5, 15, 30, 60, D, W or M"))
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Deserialize)]
struct CandleResponse {
    #[serde(default)]
    s: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    t: Vec<i64>,
    #[serde(default)]
    o: Vec<f64>,
    #[serde(default)]
    h: Vec<f64>,
    #[serde(default)]
    l: Vec<f64>,
    #[serde(default)]
    c: Vec<f64>,
    #[serde(default)]
    v: Vec<f64>,
}

/// Fetches candles from Finnhub's REST API.
#[derive(Debug)]
pub struct CandleClient {
    http: reqwest::Client,
    base: String,
    key: Secret,
    secret: Option<Secret>,
    limiter: RateLimiter,
    redactor: Redactor,
}

impl CandleClient {
    /// A client for `config.rest_url`; needs `FINNHUB_API_KEY`.
    pub fn new(config: &FeedConfig) -> Result<Self, FeedError> {
        let key = config.api_key.clone().ok_or_else(|| FeedError::Http {
            endpoint: config.rest_url.clone(),
            reason: "FINNHUB_API_KEY is not set; REST history needs a key".into(),
        })?;
        let http = reqwest::Client::builder()
            .timeout(config.rest_timeout)
            .build()
            .map_err(|e| FeedError::Http {
                endpoint: config.rest_url.clone(),
                reason: e.to_string(),
            })?;
        Ok(CandleClient {
            http,
            base: config.rest_url.trim_end_matches('/').to_string(),
            redactor: Redactor::new([&config.api_key, &config.secret]),
            key,
            secret: config.secret.clone(),
            limiter: RateLimiter::new(config.rest_per_minute),
        })
    }

    /// Bars of `symbol` (user notation) at `resolution` from `from` to `to` (unix seconds),
    /// oldest first.
    pub async fn candles(
        &self,
        symbol: &str,
        resolution: Resolution,
        from: i64,
        to: i64,
    ) -> Result<Vec<Bar>, FeedError> {
        let endpoint = format!("/{}/candle", AssetClass::of(symbol).path());
        let provider = to_provider(symbol);
        let (from_s, to_s) = (from.to_string(), to.to_string());
        let query = [
            ("symbol", provider.as_str()),
            ("resolution", resolution.code()),
            ("from", from_s.as_str()),
            ("to", to_s.as_str()),
        ];
        let mut request = self
            .http
            .get(format!("{}{endpoint}", self.base))
            .query(&query)
            .header("X-Finnhub-Token", self.key.expose());
        if let Some(secret) = &self.secret {
            request = request.header("X-Finnhub-Secret", secret.expose());
        }
        self.limiter.acquire().await;
        tracing::debug!(%symbol, %resolution, from, to, "GET {endpoint}");
        let http_err = |reason: String| FeedError::Http {
            endpoint: endpoint.clone(),
            reason,
        };
        let response = request
            .send()
            .await
            .map_err(|e| http_err(self.redactor.clean(&e.to_string())))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(std::time::Duration::from_secs);
        let body = response
            .text()
            .await
            .map_err(|e| http_err(self.redactor.clean(&e.to_string())))?;
        match status {
            200 => {}
            401 => {
                return Err(FeedError::Unauthorized {
                    status,
                    url: format!("{}{endpoint}", self.base),
                });
            }
            403 => return Err(FeedError::Forbidden { endpoint }),
            429 => {
                return Err(FeedError::RateLimited {
                    url: format!("{}{endpoint}", self.base),
                    retry_after,
                });
            }
            _ => {
                let head: String = body.chars().take(200).collect();
                return Err(http_err(format!(
                    "HTTP {status}: {}",
                    self.redactor.clean(&head)
                )));
            }
        }
        let parsed: CandleResponse =
            serde_json::from_str(&body).map_err(|e| FeedError::Protocol {
                endpoint: endpoint.clone(),
                reason: format!("not a candle response: {e}"),
            })?;
        if let Some(error) = parsed.error {
            let error = self.redactor.clean(&error);
            return Err(if error.to_ascii_lowercase().contains("access") {
                FeedError::Forbidden { endpoint }
            } else {
                http_err(error)
            });
        }
        match parsed.s.as_deref() {
            Some("ok") => {}
            Some("no_data") => {
                return Err(FeedError::NoData {
                    symbol: symbol.to_string(),
                    resolution: resolution.to_string(),
                    from,
                    to,
                });
            }
            other => {
                return Err(FeedError::Protocol {
                    endpoint,
                    reason: format!("status field s = {other:?}"),
                });
            }
        }
        let n = parsed.t.len();
        if [
            parsed.o.len(),
            parsed.h.len(),
            parsed.l.len(),
            parsed.c.len(),
            parsed.v.len(),
        ] != [n; 5]
        {
            return Err(FeedError::Protocol {
                endpoint,
                reason: "arrays t,o,h,l,c,v differ in length".into(),
            });
        }
        let sym = Symbol::from(symbol);
        let mut bars: Vec<Bar> = (0..n)
            .map(|i| Bar {
                symbol: sym.clone(),
                start_ms: parsed.t[i] * 1000,
                period_secs: resolution.period_secs(),
                open: parsed.o[i],
                high: parsed.h[i],
                low: parsed.l[i],
                close: parsed.c[i],
                volume: parsed.v[i],
                imputed: false,
            })
            .collect();
        bars.sort_by_key(|b| b.start_ms);
        Ok(bars)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;

    use super::*;

    type Seen = Arc<Mutex<Vec<(String, HashMap<String, String>, HeaderMap)>>>;

    /// A local Finnhub REST stand-in: the symbol decides the answer.
    async fn candle(
        State(seen): State<Seen>,
        Path(class): Path<String>,
        Query(q): Query<HashMap<String, String>>,
        headers: HeaderMap,
    ) -> axum::response::Response {
        seen.lock()
            .unwrap()
            .push((class, q.clone(), headers.clone()));
        if headers.get("x-finnhub-token").and_then(|v| v.to_str().ok()) != Some("good-key-123") {
            return (StatusCode::UNAUTHORIZED, "Invalid API key").into_response();
        }
        match q.get("symbol").map(String::as_str) {
            Some("EMPTY") => r#"{"s":"no_data"}"#.into_response(),
            Some("DENIED") => (StatusCode::FORBIDDEN, "You don't have access").into_response(),
            Some("PLAN") => r#"{"error":"You don't have access to this resource."}"#.into_response(),
            Some("BUSY") => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")], "slow down").into_response(),
            Some("BROKEN") => r#"{"s":"ok","t":[1,2],"o":[1]}"#.into_response(),
            _ => r#"{"s":"ok","t":[1700000060,1700000000],"o":[2,1],"h":[2.5,1.5],"l":[1.5,0.5],"c":[2.2,1.2],"v":[20,10]}"#
                .into_response(),
        }
    }

    async fn server() -> (String, Seen) {
        let seen: Seen = Arc::default();
        let app = axum::Router::new()
            .route("/api/v1/{class}/candle", axum::routing::get(candle))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}/api/v1"), seen)
    }

    fn client(url: &str, key: &str, secret: Option<&str>) -> CandleClient {
        let cfg = FeedConfig {
            api_key: Some(Secret::new(key)),
            secret: secret.map(Secret::new),
            rest_url: url.to_string(),
            rest_timeout: std::time::Duration::from_secs(5),
            ..FeedConfig::default()
        };
        CandleClient::new(&cfg).unwrap()
    }

    #[tokio::test]
    async fn fetches_candles_with_headers_and_maps_symbols() {
        let (url, seen) = server().await;
        let c = client(&url, "good-key-123", Some("shh-secret"));
        let bars = c
            .candles(
                "FOREX:EUR/USD",
                Resolution::Min1,
                1_699_999_000,
                1_700_000_100,
            )
            .await
            .unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(
            (bars[0].start_ms, bars[0].open, bars[0].volume),
            (1_700_000_000_000, 1.0, 10.0)
        );
        assert_eq!(
            (bars[1].close, bars[1].period_secs, &*bars[1].symbol),
            (2.2, 60, "FOREX:EUR/USD")
        );
        let (class, q, headers) = seen.lock().unwrap()[0].clone();
        assert_eq!(class, "forex");
        assert_eq!(q["symbol"], "OANDA:EUR_USD");
        assert_eq!(
            (q["resolution"].as_str(), q["from"].as_str()),
            ("1", "1699999000")
        );
        assert_eq!(headers["x-finnhub-secret"], "shh-secret");
        assert!(
            !q.values().any(|v| v.contains("good-key")),
            "the key stays out of the URL"
        );
        c.candles("CRYPTO:BTC/USDT", Resolution::Day, 0, 1)
            .await
            .unwrap();
        c.candles("STOCK:AAPL", Resolution::Day, 0, 1)
            .await
            .unwrap();
        let classes: Vec<String> = seen.lock().unwrap().iter().map(|s| s.0.clone()).collect();
        assert_eq!(classes, ["forex", "crypto", "stock"]);
    }

    #[tokio::test]
    async fn errors_are_typed_and_say_what_to_check() {
        let (url, _) = server().await;
        let good = client(&url, "good-key-123", None);
        let err = client(&url, "wrong-key-456", None)
            .candles("AAPL", Resolution::Day, 0, 1)
            .await
            .unwrap_err();
        assert!(
            matches!(err, FeedError::Unauthorized { status: 401, .. }),
            "{err}"
        );
        assert!(!err.to_string().contains("wrong-key-456"));
        type Check = fn(&FeedError) -> bool;
        let table: [(&str, Check, &str); 5] = [
            (
                "EMPTY",
                |e| matches!(e, FeedError::NoData { .. }),
                "no_data",
            ),
            (
                "DENIED",
                |e| matches!(e, FeedError::Forbidden { .. }),
                "plan",
            ),
            ("PLAN", |e| matches!(e, FeedError::Forbidden { .. }), "plan"),
            (
                "BUSY",
                |e| matches!(e, FeedError::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 7),
                "429",
            ),
            (
                "BROKEN",
                |e| matches!(e, FeedError::Protocol { .. }),
                "differ",
            ),
        ];
        for (symbol, is, word) in table {
            let err = good
                .candles(symbol, Resolution::Min5, 10, 20)
                .await
                .unwrap_err();
            assert!(is(&err), "{symbol}: {err}");
            assert!(err.to_string().contains(word), "{symbol}: {err}");
        }
    }

    #[test]
    fn resolutions() {
        for (code, secs) in [
            ("1", 60),
            ("5", 300),
            ("60", 3600),
            ("D", 86_400),
            ("w", 604_800),
        ] {
            let r: Resolution = code.parse().unwrap();
            assert_eq!(r.period_secs(), secs);
            assert_eq!(Resolution::from_period_secs(secs), Some(r));
        }
        assert!("2".parse::<Resolution>().is_err());
    }
}
