//! The daemon's own feed: Finnhub's WebSocket, or in demo mode a local Finnhub-compatible
//! server that replays real trades, read by the same client. The client's task runs in the
//! engine thread's runtime ([`FeedRuntime`]), so a frame is read and handled on one thread.
//! A strategy host has no feed of its own (its market data comes from the bus).

use super::engine_error::EngineError;
use super::feed_runtime::FeedRuntime;
use crate::config::{Config, Mode};
use crate::doorbell::Doorbell;
use crate::feed::{DemoServer, FeedHandle, FeedReceiver, FeedStats, FeedSubscriber, FinnhubClient};
use std::sync::Arc;

/// Feed events the engine thread may fall behind by before the client waits, then drops.
const FEED_QUEUE: usize = 4096;

/// The running feed (either part may be absent), to stop at shutdown.
pub struct LocalFeed {
    demo: Option<DemoServer>,
    client: Option<FeedHandle>,
}

/// What the engine thread takes from the feed.
pub struct FeedWires {
    /// Its events.
    pub events: FeedReceiver,
    /// The runtime its client runs in, which the engine thread drives.
    pub runtime: Option<FeedRuntime>,
    /// Its counters, for the status API.
    pub stats: Arc<FeedStats>,
}

impl LocalFeed {
    /// Start the demo server (demo mode) and the client (when `wanted` and the config reads
    /// in real time). Every event rings `bell`.
    pub async fn start(
        config: &Config,
        wanted: bool,
        bell: &Doorbell,
    ) -> Result<(LocalFeed, FeedWires), EngineError> {
        let mut feed_config = config.feed.clone();
        let demo = match config.mode {
            Mode::Demo if wanted => {
                let server = DemoServer::start(config.feed.demo.clone()).await?;
                feed_config = feed_config.with_ws_url(server.url());
                Some(server)
            }
            _ => None,
        };
        let (event_tx, events) = crate::feed::thread_channel(FEED_QUEUE, bell.clone());
        let (client, runtime) = match config.real_time && wanted {
            true => {
                let runtime = FeedRuntime::new(bell.clone()).map_err(EngineError::Thread)?;
                let client = FinnhubClient::spawn_on(runtime.handle(), feed_config, event_tx);
                (Some(client), Some(runtime))
            }
            false => (None, None),
        };
        let stats = client
            .as_ref()
            .map(|c| c.stats_handle())
            .unwrap_or_default();
        Ok((
            LocalFeed { demo, client },
            FeedWires {
                events,
                runtime,
                stats,
            },
        ))
    }

    /// Changes the client's subscriptions (none without a client).
    pub fn subscriber(&self) -> Option<FeedSubscriber> {
        self.client.as_ref().map(|c| c.subscriber())
    }

    /// Close the client's connection, then stop the demo server. The engine thread must
    /// still be running: it drives the client's task.
    pub async fn stop(self) {
        if let Some(client) = self.client {
            client.shutdown().await;
        }
        drop(self.demo);
    }
}
