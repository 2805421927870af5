//! The `tradehost feed` command: connect with the current settings and print every event.
//!
//! It is how a user checks a key, a symbol or a network: one line per trade and per status
//! change, as text or JSON lines, until interrupted. With `demo`, the embedded demo server is
//! started first and the client connects to it (the API key is not sent there).

use std::future::Future;
use std::io::Write;

use tokio::sync::mpsc;

use crate::types::Trade;

use super::client::FinnhubClient;
use super::config::FeedConfig;
use super::demo::DemoServer;
use super::error::FeedError;
use super::event::{FeedEvent, FeedStatsSnapshot, FeedStatus};
use super::symbol::validate_symbol;

/// Stream `symbols` and print each event to `out` until `shutdown` completes or the client
/// terminates (then the reason is returned as `FeedError::Terminated`).
pub async fn print_events<W: Write>(
    mut config: FeedConfig,
    symbols: &[String],
    demo: bool,
    json: bool,
    out: &mut W,
    shutdown: impl Future<Output = ()>,
) -> Result<FeedStatsSnapshot, FeedError> {
    for s in symbols {
        validate_symbol(s)?;
    }
    let demo_server = if demo {
        let server = DemoServer::start(config.demo.clone()).await?;
        config.ws_url = server.url().to_string();
        config.api_key = None;
        Some(server)
    } else {
        None
    };
    let (tx, mut rx) = mpsc::channel(4096);
    let handle = FinnhubClient::spawn(config, tx);
    for s in symbols {
        handle.subscribe(s)?;
    }
    tokio::pin!(shutdown);
    let io = FeedError::Output;
    let result = loop {
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            event = rx.recv() => match event {
                None => break Err(FeedError::Stopped),
                Some(event) => {
                    write_event(out, &event, json).map_err(io)?;
                    out.flush().map_err(io)?;
                    if let FeedEvent::Status(FeedStatus::Terminated { reason }) = event {
                        break Err(FeedError::Terminated { reason });
                    }
                }
            },
        }
    };
    let stats = handle.stats();
    handle.shutdown().await;
    if let Some(server) = demo_server {
        server.stop().await;
    }
    result.map(|()| stats)
}

/// Write one event as one line (one line per trade for trade batches).
pub fn write_event<W: Write>(out: &mut W, event: &FeedEvent, json: bool) -> std::io::Result<()> {
    match event {
        FeedEvent::Trades(trades) => {
            for t in trades {
                if json {
                    writeln!(out, "{}", trade_json(t))?;
                } else {
                    writeln!(
                        out,
                        "{} {} {} x {}",
                        iso(t.time_ms),
                        t.symbol,
                        t.price,
                        t.size
                    )?;
                }
            }
            Ok(())
        }
        FeedEvent::Status(status) if json => {
            let mut v = serde_json::to_value(status).unwrap_or_default();
            if let Some(map) = v.as_object_mut() {
                map.insert("type".into(), "status".into());
            }
            writeln!(out, "{v}")
        }
        FeedEvent::Status(status) => writeln!(out, "# {}", describe(status)),
    }
}

fn trade_json(t: &Trade) -> serde_json::Value {
    serde_json::json!({
        "type": "trade",
        "symbol": &*t.symbol,
        "price": t.price,
        "size": t.size,
        "time_ms": t.time_ms,
    })
}

/// A status in words.
pub fn describe(status: &FeedStatus) -> String {
    match status {
        FeedStatus::Connected { url } => format!("connected to {url}"),
        FeedStatus::Disconnected { reason } => format!("disconnected: {reason}"),
        FeedStatus::Reconnecting { attempt, delay } => {
            format!(
                "reconnecting in {:.1} s (attempt {attempt})",
                delay.as_secs_f64()
            )
        }
        FeedStatus::Subscribed { symbol } => format!("subscribed {symbol}"),
        FeedStatus::Unsubscribed { symbol } => format!("unsubscribed {symbol}"),
        FeedStatus::Rejected { symbol, reason } => format!("rejected {symbol}: {reason}"),
        FeedStatus::ServerError { message } => format!("server error: {message}"),
        FeedStatus::SlowConsumer { dropped_trades } => {
            format!("consumer too slow: {dropped_trades} trades dropped")
        }
        FeedStatus::EndOfData => "end of data".into(),
        FeedStatus::Terminated { reason } => format!("terminated: {reason}"),
    }
}

fn iso(ms: i64) -> String {
    crate::types::format_time_ms(ms)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::feed::TradeBatch;
    use crate::feed::config::{DemoConfig, Secret};

    #[test]
    fn lines_as_text_and_json() {
        let t = Trade {
            symbol: "STOCK:AAPL".into(),
            price: 189.2,
            size: 100.0,
            time_ms: 1_700_000_000_123,
        };
        let mut out = Vec::new();
        write_event(
            &mut out,
            &FeedEvent::Trades(TradeBatch::new(vec![t.clone(), t])),
            false,
        )
        .unwrap();
        let status = FeedStatus::Reconnecting {
            attempt: 2,
            delay: Duration::from_secs(60),
        };
        write_event(&mut out, &FeedEvent::Status(status.clone()), false).unwrap();
        write_event(&mut out, &FeedEvent::Status(status), true).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "2023-11-14T22:13:20.123Z STOCK:AAPL 189.2 x 100");
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[2], "# reconnecting in 60.0 s (attempt 2)");
        let v: serde_json::Value = serde_json::from_str(lines[3]).unwrap();
        assert_eq!(
            (
                v["type"].as_str(),
                v["status"].as_str(),
                v["attempt"].as_u64()
            ),
            (Some("status"), Some("reconnecting"), Some(2))
        );
    }

    #[tokio::test]
    async fn demo_prints_real_trades_as_json_lines_until_shutdown() {
        let config = FeedConfig {
            api_key: Some(Secret::new("never-sent-to-demo")),
            demo: DemoConfig {
                speed: 100.0,
                ..DemoConfig::default()
            },
            ..FeedConfig::default()
        };
        let mut out = Vec::new();
        let symbols = ["STOCK:SPY".to_string(), "IBM".to_string()];
        let stats = print_events(
            config,
            &symbols,
            true,
            true,
            &mut out,
            tokio::time::sleep(Duration::from_millis(1500)),
        )
        .await
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("never-sent-to-demo"));
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["status"], "connected", "{text}");
        let trades: Vec<_> = lines.iter().filter(|l| l["type"] == "trade").collect();
        assert!(trades.len() > 50, "{} trades", trades.len());
        assert!(
            trades
                .iter()
                .all(|t| t["symbol"] == "STOCK:SPY" || t["symbol"] == "IBM")
        );
        assert_eq!(stats.trades as usize, trades.len());
    }

    #[tokio::test]
    async fn a_live_run_without_a_key_terminates_with_advice() {
        let mut out = Vec::new();
        let err = print_events(
            FeedConfig::default(),
            &["AAPL".into()],
            false,
            false,
            &mut out,
            std::future::pending(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("FINNHUB_API_KEY"), "{err}");
        assert!(
            String::from_utf8(out)
                .unwrap()
                .starts_with("# terminated: FINNHUB_API_KEY")
        );
    }
}
