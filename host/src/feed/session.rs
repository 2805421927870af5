//! One connection's life: resubscribe, read frames, keep the link alive, forward trades.
//!
//! A session starts by sending every wanted subscription, then loops over four things at once:
//! frames from the server, commands from the handle, the protocol-ping timer and the pong
//! deadline (plus the acknowledgement timer when acknowledgements are coalesced). The link is
//! declared dead when a ping got neither a pong nor any other frame within `PONG_TIMEOUT`, or
//! when a write does not finish within it (the peer stopped reading). Malformed and binary
//! frames are counted and logged, never fatal. A full event channel holds up reading for at
//! most `slow_consumer_grace`; after that the batch is dropped, counted and reported.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::types::Trade;

use super::backoff::ReconnectCause;
use super::client::{Client, FeedCommand, SessionEnd, Stop};
use super::config::AckMode;
use super::error::FeedError;
use super::event::{FeedEvent, FeedStats, FeedStatus, TradeBatch};
use super::protocol::{self, ServerMessage};
use super::sender::TrySend;
use super::subscriptions::Added;

/// Why the session must end, inside the loop.
enum Exit {
    /// Reconnect, for this reason.
    Lost(String, ReconnectCause),
    /// Stop the task.
    Stop,
}

impl From<Stop> for Exit {
    fn from(_: Stop) -> Self {
        Exit::Stop
    }
}

impl Client {
    /// Run one open connection until it ends.
    pub(super) async fn session<S>(&mut self, mut ws: WebSocketStream<S>) -> SessionEnd
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        tracing::info!(url = %self.url_shown, symbols = self.subs.len(), "connected");
        let result = self.session_loop(&mut ws).await;
        match result {
            Exit::Lost(reason, cause) => SessionEnd::Lost { reason, cause },
            Exit::Stop => {
                // Best effort: a clean close tells the server we are gone on purpose.
                let close = ws.close(None);
                let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
                SessionEnd::Stop
            }
        }
    }

    async fn session_loop<S>(&mut self, ws: &mut WebSocketStream<S>) -> Exit
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if let Err(e) = self
            .emit(FeedStatus::Connected {
                url: self.url_shown.clone(),
            })
            .await
        {
            return e.into();
        }
        // Commands queued before the connection opened join the first batch of subscriptions.
        while let Ok(command) = self.commands.try_recv() {
            if let Err(e) = self.offline_command(Some(command)).await {
                return e.into();
            }
        }
        let wanted: Vec<_> = self.subs.iter().cloned().collect();
        for sub in wanted {
            if let Err(exit) = self.send(ws, protocol::subscribe(&sub.provider)).await {
                return exit;
            }
            tracing::info!(symbol = %sub.user, provider = %sub.provider, "subscribed");
            if let Err(e) = self.emit(FeedStatus::Subscribed { symbol: sub.user }).await {
                return e.into();
            }
        }

        let cfg = &self.config;
        let (ping_every, pong_timeout, ack) = (cfg.ping_interval, cfg.pong_timeout, cfg.ack);
        let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let ack_every = match ack {
            AckMode::Coalesced(d) => d,
            // Never fires in practice; the branch is disabled for these modes.
            AckMode::Off | AckMode::EveryMessage => Duration::from_secs(3600),
        };
        let mut ack_timer = tokio::time::interval_at(Instant::now() + ack_every, ack_every);
        ack_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut ack_due = false;
        let mut awaiting_pong: Option<Instant> = None;
        let mut last_rx = Instant::now();
        // A clone, so a permit borrowed from it can be used while `self` is mutated.
        let events = self.events.clone();

        loop {
            let pong_deadline = awaiting_pong.map_or_else(Instant::now, |t| t + pong_timeout);
            let step = tokio::select! {
                frame = ws.next() => match frame {
                    None => Err(Exit::Lost("the server closed the TCP connection".into(), ReconnectCause::Failure)),
                    Some(Err(e)) => Err(Exit::Lost(self.redactor.clean(&e.to_string()), ReconnectCause::Failure)),
                    Some(Ok(message)) => {
                        last_rx = Instant::now();
                        awaiting_pong = None;
                        self.on_message(ws, message, &mut ack_due).await
                    }
                },
                command = self.commands.recv() => self.online_command(ws, command).await,
                _ = ping.tick() => {
                    FeedStats::add(&self.stats.pings, 1);
                    awaiting_pong.get_or_insert_with(Instant::now);
                    self.send_message(ws, Message::Ping(Default::default())).await
                }
                _ = tokio::time::sleep_until(pong_deadline), if awaiting_pong.is_some() => {
                    let silent = last_rx.elapsed();
                    Err(Exit::Lost(FeedError::PongTimeout { silent }.to_string(), ReconnectCause::Failure))
                }
                _ = ack_timer.tick(), if matches!(ack, AckMode::Coalesced(_)) => {
                    if std::mem::take(&mut ack_due) {
                        FeedStats::add(&self.stats.acks, 1);
                        self.send(ws, protocol::ACK.to_string()).await
                    } else {
                        Ok(())
                    }
                }
                // Dropped trades are reported as soon as the consumer makes room, even if no
                // further trades arrive.
                room = events.ready(), if self.unreported_drops > 0 => match room {
                    Ok(()) => {
                        let dropped_trades = self.unreported_drops;
                        let report = FeedEvent::Status(FeedStatus::SlowConsumer { dropped_trades });
                        match events.try_send(report) {
                            Ok(()) => {
                                self.unreported_drops = 0;
                                Ok(())
                            }
                            Err(TrySend::Full(_)) => Ok(()),
                            Err(TrySend::Closed) => Err(Exit::Stop),
                        }
                    }
                    Err(_) => Err(Exit::Stop),
                },
            };
            if let Err(exit) = step {
                return exit;
            }
        }
    }

    /// Handle one frame from the server.
    async fn on_message<S>(
        &mut self,
        ws: &mut WebSocketStream<S>,
        message: Message,
        ack_due: &mut bool,
    ) -> Result<(), Exit>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        match message {
            Message::Text(text) => {
                FeedStats::add(&self.stats.frames, 1);
                self.on_text(text.as_str()).await?;
                match self.config.ack {
                    AckMode::EveryMessage => {
                        FeedStats::add(&self.stats.acks, 1);
                        self.send(ws, protocol::ACK.to_string()).await?;
                    }
                    AckMode::Coalesced(_) => *ack_due = true,
                    AckMode::Off => {}
                }
                Ok(())
            }
            Message::Binary(bytes) => {
                let n = self
                    .stats
                    .binary_frames
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n < 10 || n.is_power_of_two() {
                    tracing::warn!(
                        len = bytes.len(),
                        count = n + 1,
                        "ignored a binary frame (Finnhub sends text)"
                    );
                }
                Ok(())
            }
            // tungstenite queues the pong itself; it goes out with the next read or write.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(()),
            Message::Close(frame) => {
                let (code, text) = frame
                    .map(|f| (f.code, f.reason.to_string()))
                    .unwrap_or((CloseCode::Status, String::new()));
                let cause = if code == CloseCode::Away {
                    ReconnectCause::GoingAway
                } else {
                    ReconnectCause::Failure
                };
                let reason = format!(
                    "the server closed the connection (code {}{}{})",
                    u16::from(code),
                    if text.is_empty() { "" } else { ": " },
                    text
                );
                Err(Exit::Lost(reason, cause))
            }
        }
    }

    /// Handle a text frame: trades, pings, errors.
    async fn on_text(&mut self, text: &str) -> Result<(), Exit> {
        let received = std::time::Instant::now();
        let message = match protocol::parse(text) {
            Ok(m) => m,
            Err(e) => {
                let n = self
                    .stats
                    .malformed_frames
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n < 10 || n.is_power_of_two() {
                    let head: String = text.chars().take(120).collect();
                    tracing::warn!(count = n + 1, frame = %head, "{e}");
                }
                return Ok(());
            }
        };
        match message {
            ServerMessage::Trades { trades, invalid } => {
                if invalid > 0 {
                    FeedStats::add(&self.stats.invalid_trades, invalid as u64);
                    tracing::warn!(invalid, "skipped trades with impossible values");
                }
                let batch: Vec<Trade> = trades
                    .into_iter()
                    .filter_map(|t| {
                        let symbol = self.subs.user_of(&t.symbol)?.clone();
                        Some(Trade {
                            symbol,
                            price: t.price,
                            size: t.size,
                            time_ms: t.time_ms,
                        })
                    })
                    .collect();
                if !batch.is_empty() {
                    self.deliver(TradeBatch::received_at(batch, received))
                        .await?;
                }
            }
            ServerMessage::Ping => tracing::trace!("server ping"),
            ServerMessage::Error(msg) => {
                let msg = self.redactor.clean(&msg);
                match self.subs.blame(&msg) {
                    Some(symbol) => {
                        self.subs.remove(&symbol);
                        let reason = format!(
                            "Finnhub refused {symbol}: {msg}; check the symbol (STOCK:AAPL, \
                             FOREX:EUR/USD, CRYPTO:BTC/USDT or Finnhub's own notation) and your \
                             plan's symbol limit (MAX_SYMBOLS)"
                        );
                        self.reject(&symbol, reason).await?;
                    }
                    None => {
                        tracing::warn!("server error: {msg}");
                        self.emit(FeedStatus::ServerError { message: msg }).await?;
                    }
                }
            }
            ServerMessage::News(n) => tracing::debug!(items = n, "news frame (not forwarded)"),
            ServerMessage::Unknown(kind) => tracing::debug!(%kind, "frame of unknown type ignored"),
        }
        Ok(())
    }

    /// Forward a batch; wait at most the grace period for room, then drop and count it.
    async fn deliver(&mut self, batch: TradeBatch) -> Result<(), Exit> {
        let n = batch.len() as u64;
        if self.unreported_drops > 0 {
            let report = FeedStatus::SlowConsumer {
                dropped_trades: self.unreported_drops,
            };
            match self.events.try_send(FeedEvent::Status(report)) {
                Ok(()) => self.unreported_drops = 0,
                Err(TrySend::Closed) => return Err(Exit::Stop),
                Err(TrySend::Full(_)) => {}
            }
        }
        let event = match self.events.try_send(FeedEvent::Trades(batch)) {
            Ok(()) => {
                FeedStats::add(&self.stats.trades, n);
                return Ok(());
            }
            Err(TrySend::Closed) => return Err(Exit::Stop),
            Err(TrySend::Full(event)) => event,
        };
        match self
            .events
            .send_within(event, self.config.slow_consumer_grace)
            .await
        {
            Ok(true) => FeedStats::add(&self.stats.trades, n),
            Err(_) => return Err(Exit::Stop),
            Ok(false) => {
                FeedStats::add(&self.stats.dropped_trades, n);
                if self.unreported_drops == 0 {
                    tracing::warn!(dropped = n, "consumer too slow: dropping trades (counted)");
                }
                self.unreported_drops += n;
            }
        }
        Ok(())
    }

    /// Apply a command while connected: send (un)subscribe frames.
    async fn online_command<S>(
        &mut self,
        ws: &mut WebSocketStream<S>,
        command: Option<FeedCommand>,
    ) -> Result<(), Exit>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        match command {
            None | Some(FeedCommand::Shutdown) => Err(Exit::Stop),
            Some(FeedCommand::Subscribe(symbol)) => match self.subs.add(&symbol) {
                Ok(Added::New(sub)) => {
                    self.send(ws, protocol::subscribe(&sub.provider)).await?;
                    tracing::info!(symbol = %sub.user, provider = %sub.provider, "subscribed");
                    Ok(self
                        .emit(FeedStatus::Subscribed { symbol: sub.user })
                        .await?)
                }
                Ok(Added::Already) => Ok(()),
                Err(e) => Ok(self.reject(&symbol, e.to_string()).await?),
            },
            Some(FeedCommand::Unsubscribe(symbol)) => match self.subs.remove(&symbol) {
                Some(sub) => {
                    self.send(ws, protocol::unsubscribe(&sub.provider)).await?;
                    tracing::info!(symbol = %sub.user, "unsubscribed");
                    Ok(self
                        .emit(FeedStatus::Unsubscribed { symbol: sub.user })
                        .await?)
                }
                None => Ok(()),
            },
        }
    }

    async fn send<S>(&self, ws: &mut WebSocketStream<S>, text: String) -> Result<(), Exit>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.send_message(ws, Message::text(text)).await
    }

    /// Write a frame; a write that does not finish within `PONG_TIMEOUT` means a dead link.
    async fn send_message<S>(
        &self,
        ws: &mut WebSocketStream<S>,
        message: Message,
    ) -> Result<(), Exit>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let timeout = self.config.pong_timeout;
        match tokio::time::timeout(timeout, ws.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Exit::Lost(
                format!("sending failed: {}", self.redactor.clean(&e.to_string())),
                ReconnectCause::Failure,
            )),
            Err(_) => Err(Exit::Lost(
                FeedError::SendTimeout { timeout }.to_string(),
                ReconnectCause::Failure,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Keep-alive and acknowledgement timing, on tokio's paused clock over an in-memory pipe.

    use std::sync::Arc;

    use tokio::io::DuplexStream;
    use tokio::sync::mpsc;
    use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

    use super::*;
    use crate::feed::config::FeedConfig;
    use crate::feed::event::FeedStats;

    async fn pair() -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
        let (a, b) = tokio::io::duplex(1 << 20);
        let client = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
        let server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        (client, server)
    }

    fn client(
        config: FeedConfig,
    ) -> (
        Client,
        mpsc::Receiver<FeedEvent>,
        mpsc::UnboundedSender<FeedCommand>,
    ) {
        let (tx, rx) = mpsc::channel(1024);
        let (ctx, crx) = mpsc::unbounded_channel();
        let c = Client::new(
            config.with_ws_url("ws://pipe"),
            tx.into(),
            crx,
            Arc::new(FeedStats::default()),
        );
        (c, rx, ctx)
    }

    fn lost(end: SessionEnd) -> (String, ReconnectCause) {
        match end {
            SessionEnd::Lost { reason, cause } => (reason, cause),
            SessionEnd::Stop => panic!("session stopped instead of losing the link"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_link_is_dead_after_ping_interval_plus_pong_timeout() {
        let (ws, _server_never_reads) = pair().await;
        let (mut c, _rx, _cmd) = client(FeedConfig::default());
        let start = Instant::now();
        let (reason, cause) = lost(c.session(ws).await);
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(25),
            "15 s ping + 10 s pong timeout"
        );
        assert!(reason.contains("PONG_TIMEOUT"), "{reason}");
        assert_eq!(cause, ReconnectCause::Failure);
        assert_eq!(c.stats.snapshot().pings, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answering_link_stays_up_until_the_server_goes_away() {
        let (ws, mut server) = pair().await;
        let (mut c, _rx, _cmd) = client(FeedConfig::default());
        let serve = tokio::spawn(async move {
            // Reading lets tungstenite answer the client's pings with pongs.
            let reading = async { while server.next().await.is_some() {} };
            let _ = tokio::time::timeout(Duration::from_secs(120), reading).await;
            let away = CloseFrame {
                code: CloseCode::Away,
                reason: "deploy".into(),
            };
            let _ = server.close(Some(away)).await;
            while server.next().await.is_some() {}
        });
        let start = Instant::now();
        let (reason, cause) = lost(c.session(ws).await);
        assert_eq!(start.elapsed(), Duration::from_secs(120));
        assert_eq!(cause, ReconnectCause::GoingAway, "{reason}");
        assert!(reason.contains("1001"), "{reason}");
        assert_eq!(c.stats.snapshot().pings, 8, "one ping every 15 s");
        serve.await.unwrap();
    }

    /// Acknowledgements: (mode, expected acks for 100 messages sent within the first second and
    /// 12 s of session).
    #[tokio::test(start_paused = true)]
    async fn acknowledgements_are_coalesced_or_per_message() {
        let table = [
            (AckMode::Coalesced(Duration::from_secs(5)), 1),
            (AckMode::EveryMessage, 100),
            (AckMode::Off, 0),
        ];
        for (ack, want) in table {
            let (ws, mut server) = pair().await;
            let (mut c, _rx, _cmd) = client(FeedConfig {
                ack,
                ..FeedConfig::default()
            });
            let serve = tokio::spawn(async move {
                for _ in 0..100 {
                    server
                        .send(Message::text(r#"{"type":"ping"}"#))
                        .await
                        .unwrap();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                let mut acks = 0;
                let count = async {
                    while let Some(Ok(m)) = server.next().await {
                        acks += usize::from(m == Message::text(protocol::ACK));
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(11), count).await;
                let _ = server.close(None).await;
                acks
            });
            lost(c.session(ws).await);
            assert_eq!(serve.await.unwrap(), want, "{ack:?}");
            assert_eq!(c.stats.snapshot().acks, want as u64, "{ack:?}");
        }
    }
}
