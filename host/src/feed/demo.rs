//! The demo server: a Finnhub-compatible WebSocket server on 127.0.0.1 replaying real trades.
//!
//! Demo mode starts this server and points the real [`FinnhubClient`](super::FinnhubClient) at
//! it, so demo exercises the live code path: handshake, subscriptions, batches, pings,
//! reconnection. Each connection replays the file from its start (from its first
//! subscription, so a client sees the first trades of what it asked for), paced by the trades'
//! timestamps divided by `speed`, looping if asked, only for the symbols that connection
//! subscribed. Trade times are rebased so they read as "now". Trades closer together than
//! `batch_window` (in wall time) go out in one message, as Finnhub batches them; the server
//! sends `{"type":"ping"}` now and then and an error frame for symbols it has no data for.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::types::Trade;

use super::config::{DemoConfig, DemoTrades};
use super::error::FeedError;
use crate::data::{Source, TradeReader, memory_source, open_source};

/// The real trades bundled with the binary (SPY, BAC, AIG, IBM; 2013-10-11 13:30–14:00 UTC,
/// right after the bars the demo trains on, `host/data/demo_history/`).
static BUNDLED: &[u8] = include_bytes!("../../data/demo_trades_2013-10-11.csv.gz");

/// A running demo server; dropping it (or [`DemoServer::stop`]) stops it.
#[derive(Debug)]
pub struct DemoServer {
    url: String,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// The replayed data, shared by all connections.
struct Tape {
    trades: Vec<Trade>,
    symbols: Vec<String>,
}

impl DemoServer {
    /// Load the trades and listen on 127.0.0.1 at a free port.
    pub async fn start(config: DemoConfig) -> Result<DemoServer, FeedError> {
        let (name, source): (String, Source) = match &config.trades {
            DemoTrades::Bundled => (
                "bundled demo_trades_2013-10-11.csv.gz".into(),
                memory_source(BUNDLED),
            ),
            DemoTrades::File(p) => (p.display().to_string(), open_source(p)?),
        };
        let tape = tokio::task::spawn_blocking(move || load(&name, source))
            .await
            .map_err(|e| FeedError::Demo(format!("loading trades failed: {e}")))??;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| FeedError::Demo(format!("cannot listen on 127.0.0.1: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| FeedError::Demo(e.to_string()))?;
        let (stop, stopped) = watch::channel(false);
        tracing::info!(%addr, trades = tape.trades.len(), symbols = ?tape.symbols, speed = config.speed, "demo server started");
        let task = tokio::spawn(accept_loop(listener, Arc::new(tape), config, stopped));
        Ok(DemoServer {
            url: format!("ws://{addr}"),
            addr,
            stop,
            task: Some(task),
        })
    }

    /// The `ws://127.0.0.1:PORT` URL to give the client as `FINNHUB_WS_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting, close every connection and wait for the server to end.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn load(name: &str, source: Source) -> Result<Tape, FeedError> {
    let mut trades = Vec::new();
    for trade in TradeReader::from_source(name, source)? {
        trades.push(trade?);
    }
    if trades.is_empty() {
        return Err(FeedError::Demo(format!("{name} holds no trades")));
    }
    // The client must be able to rely on time order for pacing.
    trades.sort_by_key(|t| t.time_ms);
    let mut symbols: Vec<String> = trades.iter().map(|t| t.symbol.to_string()).collect();
    symbols.sort_unstable();
    symbols.dedup();
    Ok(Tape { trades, symbols })
}

async fn accept_loop(
    listener: TcpListener,
    tape: Arc<Tape>,
    config: DemoConfig,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = Vec::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    // A frame leaves when written, not batched by Nagle's algorithm with the
                    // client's delayed acknowledgements (bursts of up to 40 ms).
                    let _ = tcp.set_nodelay(true);
                    let conn = serve(tcp, peer, tape.clone(), config.clone(), stopped.clone());
                    connections.push(tokio::spawn(conn));
                    connections.retain(|c: &JoinHandle<()>| !c.is_finished());
                }
                Err(e) => {
                    tracing::warn!("demo server accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    for c in connections {
        let _ = c.await;
    }
}

/// Serve one client until it leaves or the server stops.
async fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    tape: Arc<Tape>,
    config: DemoConfig,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ws = match tokio_tungstenite::accept_async(tcp).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(%peer, "demo handshake failed: {e}");
            return;
        }
    };
    tracing::debug!(%peer, "demo client connected");
    let speed = config.speed.max(1e-6);
    let data_window_ms = (config.batch_window.as_secs_f64() * 1000.0 * speed) as i64;
    let mut subscribed: HashSet<String> = HashSet::new();
    let mut ping =
        tokio::time::interval_at(Instant::now() + config.ping_interval, config.ping_interval);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);

    let t0 = tape.trades[0].time_ms;
    let mut next = 0usize;
    let mut lap_start = Instant::now();
    let mut lap_wall_ms = now_ms();
    let mut finished = false;
    // The replay starts with the first subscription: until then nothing could be sent.
    let mut started = false;
    let mut frame = String::with_capacity(4096);

    loop {
        if !started && !subscribed.is_empty() {
            started = true;
            lap_start = Instant::now();
            lap_wall_ms = now_ms();
        }
        let due = if finished || !started {
            Instant::now() + Duration::from_secs(3600)
        } else {
            let offset = (tape.trades[next].time_ms - t0) as f64 / speed / 1000.0;
            lap_start + Duration::from_secs_f64(offset.max(0.0))
        };
        tokio::select! {
            _ = stopped.changed() => {
                let _ = ws.close(None).await;
                return;
            }
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    if let Some(reply) = on_request(text.as_str(), &tape, &mut subscribed)
                        && ws.send(Message::text(reply)).await.is_err()
                    {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    tracing::debug!(%peer, "demo client left");
                    return;
                }
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if ws.send(Message::text(r#"{"type":"ping"}"#)).await.is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(due), if !finished => {
                let first = tape.trades[next].time_ms;
                frame.clear();
                frame.push_str(r#"{"type":"trade","data":["#);
                let mut any = false;
                while next < tape.trades.len() && tape.trades[next].time_ms - first <= data_window_ms {
                    let t = &tape.trades[next];
                    next += 1;
                    if !subscribed.contains(&*t.symbol) {
                        continue;
                    }
                    let time = lap_wall_ms + ((t.time_ms - t0) as f64 / speed) as i64;
                    if any {
                        frame.push(',');
                    }
                    let symbol = serde_json::Value::from(&*t.symbol);
                    let _ = write!(frame, r#"{{"s":{symbol},"p":{},"t":{time},"v":{}}}"#, t.price, t.size);
                    any = true;
                }
                frame.push_str("]}");
                if any && ws.send(Message::text(frame.as_str())).await.is_err() {
                    return;
                }
                if next >= tape.trades.len() {
                    if config.looping {
                        next = 0;
                        lap_start = Instant::now();
                        lap_wall_ms = now_ms();
                    } else {
                        finished = true;
                    }
                }
            }
        }
    }
}

/// Answer a client request: subscribe, unsubscribe, or the reference's `ping` acknowledgement.
fn on_request(text: &str, tape: &Tape, subscribed: &mut HashSet<String>) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Request {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        symbol: Option<String>,
    }
    let error = |msg: String| Some(serde_json::json!({ "type": "error", "msg": msg }).to_string());
    let Ok(req) = serde_json::from_str::<Request>(text) else {
        return error("Invalid message: expected JSON with a type".into());
    };
    match (req.kind.as_str(), req.symbol) {
        ("subscribe", Some(symbol)) => {
            if tape.symbols.contains(&symbol) {
                subscribed.insert(symbol);
                None
            } else {
                error(format!(
                    "Unknown symbol {symbol}: the demo replays {}",
                    tape.symbols.join(", ")
                ))
            }
        }
        ("unsubscribe", Some(symbol)) => {
            subscribed.remove(&symbol);
            None
        }
        ("ping", _) => None,
        (kind, _) => error(format!("Invalid message type {kind}")),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
