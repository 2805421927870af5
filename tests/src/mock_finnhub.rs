//! A mock Finnhub WebSocket server on 127.0.0.1 that misbehaves on command.
//!
//! Tests start it, point the real client at [`MockFinnhub::url`], and drive faults on the
//! current connection with [`MockFinnhub::act`]: drop the TCP connection, close with a code,
//! go half-open (stop reading and answering), send garbage, binary or error frames, or flood
//! trades. Handshakes can be refused with queued HTTP statuses (429, 401...). Everything the
//! clients sent is recorded per connection, so tests can check resubscription.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Something the server does on the current connection.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send a text frame as is.
    Text(String),
    /// Send a binary frame.
    Binary(Vec<u8>),
    /// Send one trade message: (Finnhub symbol, price, volume, time ms) per trade.
    Trades(Vec<(String, f64, f64, i64)>),
    /// Send `per_symbol` trades of each symbol, `batch` trades per message, interleaved.
    Flood {
        /// Finnhub symbols.
        symbols: Vec<String>,
        /// Trades per symbol.
        per_symbol: usize,
        /// Trades per message.
        batch: usize,
    },
    /// Close the WebSocket with this code.
    Close(u16),
    /// Drop the TCP connection without a close frame.
    DropTcp,
    /// Stop reading and answering, keeping the TCP connection open (a half-open link).
    HalfOpen,
}

/// What one client connection sent.
#[derive(Debug, Clone, Default)]
pub struct ConnectionLog {
    /// The request's query string (carries `token=`).
    pub query: String,
    /// Symbols subscribed, in order.
    pub subscribes: Vec<String>,
    /// Symbols unsubscribed, in order.
    pub unsubscribes: Vec<String>,
    /// `{"type":"ping"}` acknowledgements received.
    pub acks: usize,
    /// True once the connection ended.
    pub closed: bool,
}

#[derive(Default)]
struct State {
    /// Statuses to answer the next handshakes with, instead of upgrading.
    refusals: VecDeque<u16>,
    /// Handshake attempts seen, refused or not.
    handshakes: usize,
    /// One log per upgraded connection.
    connections: Vec<ConnectionLog>,
    /// Action channel of the newest connection.
    current: Option<mpsc::UnboundedSender<Action>>,
    /// Symbols answered with an error frame on subscribe.
    unknown: HashSet<String>,
}

/// The running mock server; stops when dropped.
pub struct MockFinnhub {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl MockFinnhub {
    /// Listen on 127.0.0.1 at a free port.
    pub async fn start() -> MockFinnhub {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let task = tokio::spawn(accept(listener, state.clone()));
        MockFinnhub { addr, state, task }
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Refuse the next handshakes with these HTTP statuses, in order.
    pub fn refuse_handshakes(&self, statuses: &[u16]) {
        self.lock().refusals.extend(statuses);
    }

    /// Answer subscriptions to this Finnhub symbol with an error frame naming it.
    pub fn reject_symbol(&self, symbol: &str) {
        self.lock().unknown.insert(symbol.to_string());
    }

    /// Make the newest connection do `action`; false if there is none.
    pub fn act(&self, action: Action) -> bool {
        self.lock()
            .current
            .as_ref()
            .is_some_and(|tx| tx.send(action).is_ok())
    }

    /// Handshake attempts so far (refused ones included).
    pub fn handshakes(&self) -> usize {
        self.lock().handshakes
    }

    /// Logs of all upgraded connections, oldest first.
    pub fn connections(&self) -> Vec<ConnectionLog> {
        self.lock().connections.clone()
    }

    /// Wait until `n` connections were upgraded and the newest has subscribed to `symbols`
    /// (in any order); panics after `timeout`.
    pub async fn wait_subscribed(
        &self,
        n: usize,
        symbols: &[&str],
        timeout: Duration,
    ) -> ConnectionLog {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            {
                let st = self.lock();
                if st.connections.len() >= n {
                    let log = &st.connections[n - 1];
                    if symbols
                        .iter()
                        .all(|s| log.subscribes.iter().any(|x| x == s))
                    {
                        return log.clone();
                    }
                }
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for connection {n} subscribed to {symbols:?}; have {:?}",
                    self.connections()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for MockFinnhub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, state: Arc<Mutex<State>>) {
    let mut conns = tokio::task::JoinSet::new();
    while let Ok((tcp, _)) = listener.accept().await {
        // As a trading feed's server should: a frame leaves when written, not held by Nagle's
        // algorithm until the client's delayed acknowledgement (up to 40 ms of frames in one
        // burst, which the latency benchmark measured as queueing in the daemon).
        let _ = tcp.set_nodelay(true);
        conns.spawn(serve(tcp, state.clone()));
    }
}

// The callback's error type is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
async fn serve(tcp: TcpStream, state: Arc<Mutex<State>>) {
    let st = state.clone();
    let mut query = String::new();
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let mut s = st.lock().unwrap_or_else(|p| p.into_inner());
        s.handshakes += 1;
        query = req.uri().query().unwrap_or_default().to_string();
        match s.refusals.pop_front() {
            None => Ok(resp),
            Some(code) => {
                let mut refusal = ErrorResponse::new(Some(format!("refused with {code}")));
                *refusal.status_mut() =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
                Err(refusal)
            }
        }
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
        return;
    };
    let (tx, mut actions) = mpsc::unbounded_channel();
    let index = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.connections.push(ConnectionLog {
            query,
            ..Default::default()
        });
        s.current = Some(tx);
        s.connections.len() - 1
    };
    let record = |f: &mut dyn FnMut(&mut ConnectionLog, &HashSet<String>)| {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        let State {
            connections,
            unknown,
            ..
        } = &mut *s;
        f(&mut connections[index], unknown);
    };
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                    let symbol = v["symbol"].as_str().unwrap_or_default().to_string();
                    let mut reply = None;
                    match v["type"].as_str() {
                        Some("subscribe") => record(&mut |log, unknown| {
                            if unknown.contains(&symbol) {
                                reply = Some(format!(r#"{{"type":"error","msg":"Invalid symbol {symbol}"}}"#));
                            }
                            log.subscribes.push(symbol.clone());
                        }),
                        Some("unsubscribe") => record(&mut |log, _| log.unsubscribes.push(symbol.clone())),
                        Some("ping") => record(&mut |log, _| log.acks += 1),
                        _ => {}
                    }
                    if let Some(r) = reply
                        && ws.send(Message::text(r)).await.is_err()
                    {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            action = actions.recv() => {
                let Some(action) = action else { break };
                let sent = match action {
                    Action::Text(t) => ws.send(Message::text(t)).await,
                    Action::Binary(b) => ws.send(Message::binary(b)).await,
                    Action::Trades(trades) => ws.send(Message::text(trade_frame(&trades))).await,
                    Action::Flood { symbols, per_symbol, batch } => flood(&mut ws, &symbols, per_symbol, batch).await,
                    Action::Close(code) => {
                        let frame = CloseFrame { code: CloseCode::from(code), reason: "mock close".into() };
                        let _ = ws.close(Some(frame)).await;
                        // Let the close handshake finish, then drop.
                        let _ = tokio::time::timeout(Duration::from_secs(1), async { while ws.next().await.is_some() {} }).await;
                        break;
                    }
                    Action::DropTcp => break,
                    Action::HalfOpen => {
                        // Hold the socket without reading or writing until the client gives up.
                        let _hold = ws;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        record(&mut |log, _| log.closed = true);
                        return;
                    }
                };
                if sent.is_err() {
                    break;
                }
            }
        }
    }
    record(&mut |log, _| log.closed = true);
}

/// A Finnhub trade message.
pub fn trade_frame(trades: &[(String, f64, f64, i64)]) -> String {
    let data: Vec<serde_json::Value> = trades
        .iter()
        .map(|(s, p, v, t)| serde_json::json!({ "s": s, "p": p, "v": v, "t": t, "c": ["1"] }))
        .collect();
    serde_json::json!({ "type": "trade", "data": data }).to_string()
}

async fn flood<S>(
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
    symbols: &[String],
    per_symbol: usize,
    batch: usize,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let total = symbols.len() * per_symbol;
    let mut sent = 0;
    let mut trades = Vec::with_capacity(batch);
    while sent < total {
        trades.clear();
        while trades.len() < batch && sent < total {
            let s = &symbols[sent % symbols.len()];
            trades.push((
                s.clone(),
                100.0 + (sent % 100) as f64 / 100.0,
                1.0,
                1_700_000_000_000 + sent as i64,
            ));
            sent += 1;
        }
        ws.feed(Message::text(trade_frame(&trades))).await?;
        // Loopback buffers are large enough that writes never block: let the client run.
        tokio::task::yield_now().await;
    }
    ws.flush().await
}
