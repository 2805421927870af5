//! History backfill at start-up against a local Finnhub-compatible REST server: candles
//! come back per symbol (the daemon hands them to the engine thread for plugins'
//! `recent-bars`), and refusals are survived.

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use std::collections::HashMap;
use tradehost::engine::backfill::backfill;
use tradehost::feed::{FeedConfig, Secret};

async fn candles(
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    if headers.get("x-finnhub-token").and_then(|v| v.to_str().ok()) != Some("test-key") {
        return (
            StatusCode::UNAUTHORIZED,
            "{\"error\":\"Invalid API key\"}".into(),
        );
    }
    match q.get("symbol").map(String::as_str) {
        // Real SPY minute bars, 2013-10-07 13:30..13:32 UTC, as in host/data/SPY_1m_*.csv.
        Some("SPY") if q.get("resolution").map(String::as_str) == Some("1") => (
            StatusCode::OK,
            r#"{"s":"ok","t":[1381152600,1381152660,1381152720],"o":[167.43,167.47,167.37],"h":[167.52,167.47,167.37],"l":[167.41,167.31,167.25],"c":[167.44,167.37,167.28],"v":[816453,876364,642093]}"#.into(),
        ),
        Some("IBM") => (StatusCode::FORBIDDEN, "{\"error\":\"You don't have access to this resource.\"}".into()),
        _ => (StatusCode::OK, "{\"s\":\"no_data\"}".into()),
    }
}

#[tokio::test]
async fn backfill_loads_history_and_survives_refusals() {
    let app = axum::Router::new().route("/stock/candle", get(candles));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let feed = FeedConfig {
        api_key: Some(Secret::new("test-key")),
        rest_url: format!("http://{addr}"),
        ..FeedConfig::default()
    };
    let symbols = ["SPY".to_string(), "IBM".to_string(), "NOPE".to_string()];
    let loaded = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        backfill(&feed, &symbols, 60, 100, 1_381_152_800, None),
    )
    .await
    .expect("backfill hung");
    let names: Vec<(&str, usize)> = loaded.iter().map(|(s, b)| (s.as_str(), b.len())).collect();
    assert_eq!(
        names,
        vec![("SPY", 3)],
        "403 and no_data must be skipped, not fatal"
    );
    let bars = &loaded[0].1;
    assert_eq!(
        (bars[0].open, bars[2].close, bars[1].volume),
        (167.43, 167.28, 876_364.0)
    );
    server.abort();
}
