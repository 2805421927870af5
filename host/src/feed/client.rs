//! The Finnhub WebSocket client task: connect, reconnect with backoff, keep subscriptions.
//!
//! [`FinnhubClient::spawn`] starts one tokio task that owns the socket and returns a
//! [`FeedHandle`] to subscribe, unsubscribe, read counters and stop it. The task sends
//! [`FeedEvent`]s into the consumer's bounded channel. Its life is a loop: connect (handshake
//! failures classified), run a session (see `session.rs`) until the link ends, report
//! `Disconnected`, wait the backoff delay while still accepting commands, and try again, until
//! shut down, until the key is refused, or until the retry limit (then `Terminated`).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::backoff::ReconnectCause;
use super::config::{DEFAULT_WS_URL, FeedConfig, Secret};
use super::error::FeedError;
use super::event::{FeedEvent, FeedStats, FeedStatsSnapshot, FeedStatus};
use super::redact::{Redactor, redact_url};
use super::sender::FeedSender;
use super::subscriptions::Subscriptions;
use super::symbol::validate_symbol;

/// A request from the handle to the client task.
#[derive(Debug)]
pub(super) enum FeedCommand {
    /// Want a symbol (user notation).
    Subscribe(String),
    /// Stop wanting a symbol.
    Unsubscribe(String),
    /// Close the connection and end the task.
    Shutdown,
}

/// Controls a running client task. Dropping it stops the task too.
#[derive(Debug)]
pub struct FeedHandle {
    commands: mpsc::UnboundedSender<FeedCommand>,
    stats: Arc<FeedStats>,
    task: JoinHandle<()>,
}

impl FeedHandle {
    /// Want `symbol` (user notation). Sent at once when connected, else when the next
    /// connection opens; a refusal (limit, alias, server error) comes back as
    /// `FeedStatus::Rejected`.
    pub fn subscribe(&self, symbol: &str) -> Result<(), FeedError> {
        validate_symbol(symbol)?;
        self.send(FeedCommand::Subscribe(symbol.to_string()))
    }

    /// Stop wanting `symbol`; confirmed by `FeedStatus::Unsubscribed`.
    pub fn unsubscribe(&self, symbol: &str) -> Result<(), FeedError> {
        self.send(FeedCommand::Unsubscribe(symbol.to_string()))
    }

    /// The counters now.
    pub fn stats(&self) -> FeedStatsSnapshot {
        self.stats.snapshot()
    }

    /// The live counters, to read after the handle is gone.
    pub fn stats_handle(&self) -> Arc<FeedStats> {
        self.stats.clone()
    }

    /// True once the task has ended (shut down, terminated, or consumer gone).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// A cloneable handle that can only change subscriptions (for other threads).
    pub fn subscriber(&self) -> FeedSubscriber {
        FeedSubscriber {
            commands: self.commands.clone(),
        }
    }

    /// Close the connection cleanly and wait for the task to end.
    pub async fn shutdown(self) {
        let _ = self.commands.send(FeedCommand::Shutdown);
        let _ = self.task.await;
    }

    fn send(&self, command: FeedCommand) -> Result<(), FeedError> {
        self.commands.send(command).map_err(|_| FeedError::Stopped)
    }
}

/// Changes a running client's subscriptions; cheap to clone and usable from any thread.
#[derive(Debug, Clone)]
pub struct FeedSubscriber {
    commands: mpsc::UnboundedSender<FeedCommand>,
}

impl FeedSubscriber {
    /// As [`FeedHandle::subscribe`].
    pub fn subscribe(&self, symbol: &str) -> Result<(), FeedError> {
        validate_symbol(symbol)?;
        self.commands
            .send(FeedCommand::Subscribe(symbol.to_string()))
            .map_err(|_| FeedError::Stopped)
    }

    /// As [`FeedHandle::unsubscribe`].
    pub fn unsubscribe(&self, symbol: &str) -> Result<(), FeedError> {
        self.commands
            .send(FeedCommand::Unsubscribe(symbol.to_string()))
            .map_err(|_| FeedError::Stopped)
    }
}

/// The Finnhub WebSocket client.
pub struct FinnhubClient;

impl FinnhubClient {
    /// Start the client task on the current tokio runtime; events go to `events`.
    pub fn spawn(config: FeedConfig, events: impl Into<FeedSender>) -> FeedHandle {
        FinnhubClient::spawn_on(&tokio::runtime::Handle::current(), config, events)
    }

    /// Start the client task on `runtime` (the engine thread's own, so that a frame is read
    /// and handled on one thread); events go to `events`.
    pub fn spawn_on(
        runtime: &tokio::runtime::Handle,
        config: FeedConfig,
        events: impl Into<FeedSender>,
    ) -> FeedHandle {
        let events = events.into();
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let stats = Arc::new(FeedStats::default());
        let client = Client::new(config, events, commands, stats.clone());
        let task = runtime.spawn(client.run());
        FeedHandle {
            commands: commands_tx,
            stats,
            task,
        }
    }
}

/// The URL to connect to: `base` with a path (`/` when it has none, as an HTTP request line
/// needs one before the query) and the key as `token=`.
fn endpoint(base: &str, key: Option<&Secret>) -> String {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let mut url = base.to_string();
    match base[after_scheme..].find(['/', '?']) {
        Some(i) if base.as_bytes()[after_scheme + i] == b'?' => url.insert(after_scheme + i, '/'),
        None => url.push('/'),
        Some(_) => {}
    }
    if let Some(key) = key {
        let sep = if url.contains('?') { '&' } else { '?' };
        url.push(sep);
        url.push_str("token=");
        url.push_str(key.expose());
    }
    url
}

/// The consumer went away or a shutdown was asked for: the task ends.
#[derive(Debug)]
pub(super) struct Stop;

/// How a session ended.
pub(super) enum SessionEnd {
    /// The link ended; reconnect.
    Lost {
        /// Why, for the `Disconnected` event and the log.
        reason: String,
        /// Decides the next delay.
        cause: ReconnectCause,
    },
    /// Shutdown asked, or the consumer went away.
    Stop,
}

/// The state of the client task.
pub(super) struct Client {
    pub(super) config: FeedConfig,
    pub(super) events: FeedSender,
    pub(super) commands: mpsc::UnboundedReceiver<FeedCommand>,
    pub(super) stats: Arc<FeedStats>,
    pub(super) subs: Subscriptions,
    pub(super) redactor: Redactor,
    /// The endpoint with its token (never logged).
    url: String,
    /// The endpoint with the token redacted.
    pub(super) url_shown: String,
    /// Trades dropped since the last `SlowConsumer` report.
    pub(super) unreported_drops: u64,
    rng: fastrand::Rng,
}

impl Client {
    pub(super) fn new(
        config: FeedConfig,
        events: FeedSender,
        commands: mpsc::UnboundedReceiver<FeedCommand>,
        stats: Arc<FeedStats>,
    ) -> Self {
        let url = endpoint(&config.ws_url, config.api_key.as_ref());
        Client {
            subs: Subscriptions::new(config.max_symbols),
            redactor: Redactor::new([&config.api_key, &config.secret]),
            url_shown: redact_url(&url),
            url,
            config,
            events,
            commands,
            stats,
            unreported_drops: 0,
            rng: fastrand::Rng::new(),
        }
    }

    /// The task: connect, run sessions, back off, until stopped or terminated.
    async fn run(mut self) {
        if self.config.api_key.is_none() && self.config.ws_url == DEFAULT_WS_URL {
            let reason = "FINNHUB_API_KEY is not set: set it (free keys at https://finnhub.io) \
                          or run in demo mode (--demo)";
            tracing::error!("{reason}");
            let _ = self
                .emit(FeedStatus::Terminated {
                    reason: reason.into(),
                })
                .await;
            return;
        }
        let mut attempt: u32 = 0;
        loop {
            let (cause, retry_after) = match self.connect().await {
                Err(Stop) => return,
                Ok(Ok(ws)) => {
                    let connected_at = Instant::now();
                    FeedStats::add(&self.stats.connections, 1);
                    match self.session(ws).await {
                        SessionEnd::Stop => return,
                        SessionEnd::Lost { reason, cause } => {
                            tracing::warn!(url = %self.url_shown, "disconnected: {reason}");
                            if self
                                .emit(FeedStatus::Disconnected { reason })
                                .await
                                .is_err()
                            {
                                return;
                            }
                            if connected_at.elapsed() >= self.config.backoff.stable_after {
                                attempt = 0;
                            }
                            (cause, None)
                        }
                    }
                }
                Ok(Err(err)) if err.is_terminal() => {
                    tracing::error!("{err}");
                    let _ = self
                        .emit(FeedStatus::Terminated {
                            reason: err.to_string(),
                        })
                        .await;
                    return;
                }
                Ok(Err(err)) => {
                    tracing::warn!("{err}");
                    let (cause, retry_after) = match &err {
                        FeedError::RateLimited { retry_after, .. } => {
                            (ReconnectCause::RateLimited, *retry_after)
                        }
                        _ => (ReconnectCause::Failure, None),
                    };
                    let reason = err.to_string();
                    if self
                        .emit(FeedStatus::Disconnected { reason })
                        .await
                        .is_err()
                    {
                        return;
                    }
                    (cause, retry_after)
                }
            };
            attempt += 1;
            if self.config.backoff.exhausted(attempt) {
                let reason = format!(
                    "gave up after {} reconnection attempts (RECONNECT_MAX_RETRIES={}); check the \
                     network and FINNHUB_WS_URL ({}), then restart",
                    attempt - 1,
                    self.config.backoff.max_retries,
                    self.url_shown
                );
                tracing::error!("{reason}");
                let _ = self.emit(FeedStatus::Terminated { reason }).await;
                return;
            }
            let mut delay = self.config.backoff.delay(attempt, cause, &mut self.rng);
            if let Some(after) = retry_after {
                delay = delay.max(after);
            }
            FeedStats::add(&self.stats.reconnects, 1);
            tracing::info!(attempt, delay_secs = delay.as_secs_f64(), "reconnecting");
            if self
                .emit(FeedStatus::Reconnecting { attempt, delay })
                .await
                .is_err()
            {
                return;
            }
            if self.wait(delay).await.is_err() {
                return;
            }
        }
    }

    /// One connection attempt, handling commands meanwhile. The outer `Err` means stop.
    async fn connect(
        &mut self,
    ) -> Result<Result<WebSocketStream<MaybeTlsStream<TcpStream>>, FeedError>, Stop> {
        tracing::debug!(url = %self.url_shown, "connecting");
        let timeout = self.config.connect_timeout;
        // Nagle off: a pong or a subscription leaves at once rather than with the next write.
        let attempt = tokio::time::timeout(
            timeout,
            tokio_tungstenite::connect_async_with_config(self.url.clone(), None, true),
        );
        tokio::pin!(attempt);
        loop {
            tokio::select! {
                result = &mut attempt => {
                    return Ok(match result {
                        Err(_) => Err(FeedError::ConnectTimeout { url: self.url_shown.clone(), timeout }),
                        Ok(Ok((ws, _response))) => Ok(ws),
                        Ok(Err(e)) => Err(self.classify(e)),
                    });
                }
                command = self.commands.recv() => self.offline_command(command).await?,
            }
        }
    }

    /// Sleep `delay`, handling commands meanwhile.
    async fn wait(&mut self, delay: Duration) -> Result<(), Stop> {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return Ok(()),
                command = self.commands.recv() => self.offline_command(command).await?,
            }
        }
    }

    /// Apply a command while no connection is open: it only changes the wanted set.
    pub(super) async fn offline_command(
        &mut self,
        command: Option<FeedCommand>,
    ) -> Result<(), Stop> {
        match command {
            None | Some(FeedCommand::Shutdown) => Err(Stop),
            Some(FeedCommand::Subscribe(symbol)) => match self.subs.add(&symbol) {
                Ok(_) => {
                    tracing::info!(%symbol, "subscription pending until connected");
                    Ok(())
                }
                Err(e) => self.reject(&symbol, e.to_string()).await,
            },
            Some(FeedCommand::Unsubscribe(symbol)) => match self.subs.remove(&symbol) {
                Some(sub) => {
                    self.emit(FeedStatus::Unsubscribed { symbol: sub.user })
                        .await
                }
                None => Ok(()),
            },
        }
    }

    /// Record a subscription that will not be served.
    pub(super) async fn reject(&mut self, symbol: &str, reason: String) -> Result<(), Stop> {
        tracing::warn!(%symbol, "subscription rejected: {reason}");
        self.emit(FeedStatus::Rejected {
            symbol: symbol.into(),
            reason,
        })
        .await
    }

    /// Send a status event, waiting for room: status is never dropped.
    pub(super) async fn emit(&self, status: FeedStatus) -> Result<(), Stop> {
        self.events
            .send(FeedEvent::Status(status))
            .await
            .map_err(|_| Stop)
    }

    /// Turn a handshake error into a typed, redacted error.
    fn classify(&self, e: WsError) -> FeedError {
        let url = self.url_shown.clone();
        match e {
            WsError::Http(response) => {
                let status = response.status().as_u16();
                match status {
                    401 | 403 => FeedError::Unauthorized { status, url },
                    429 => {
                        let retry_after = response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .map(Duration::from_secs);
                        FeedError::RateLimited { url, retry_after }
                    }
                    _ => FeedError::Handshake { status, url },
                }
            }
            other => FeedError::Connect {
                url,
                reason: self.redactor.clean(&other.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_table() {
        let key = Secret::new("K");
        let table = [
            (
                "wss://ws.finnhub.io",
                Some(&key),
                "wss://ws.finnhub.io/?token=K",
            ),
            ("ws://127.0.0.1:9", None, "ws://127.0.0.1:9/"),
            ("ws://h/feed", Some(&key), "ws://h/feed?token=K"),
            ("ws://h?x=1", Some(&key), "ws://h/?x=1&token=K"),
            ("ws://h/a?x=1", None, "ws://h/a?x=1"),
        ];
        for (base, key, want) in table {
            assert_eq!(endpoint(base, key), want, "{base}");
        }
    }
}
