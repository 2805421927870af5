//! Where the feed client sends its events: a tokio channel (async consumers: the `feed`
//! command, tests) or a crossbeam channel read by a plain thread (the daemon's engine).
//!
//! Sending straight into the engine's channel saves a hop: a relay task between the two
//! kinds of channel cost a task wake-up per frame (tens of microseconds measured at median,
//! more under load) on the way from socket to strategy. Either way the client never blocks
//! its runtime: a full channel is waited on asynchronously, for at most the slow-consumer
//! grace, and then the trades are dropped and counted.

use super::event::FeedEvent;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often a full thread channel is checked for room.
const FULL_POLL: Duration = Duration::from_millis(1);

/// The consumer is gone: the client stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// The sending half of the feed's event channel.
#[derive(Debug, Clone)]
pub enum FeedSender {
    /// A tokio channel, for async consumers.
    Tokio(mpsc::Sender<FeedEvent>),
    /// A crossbeam channel, for a consumer thread.
    Thread(crossbeam_channel::Sender<FeedEvent>),
}

impl From<mpsc::Sender<FeedEvent>> for FeedSender {
    fn from(tx: mpsc::Sender<FeedEvent>) -> Self {
        FeedSender::Tokio(tx)
    }
}

impl From<crossbeam_channel::Sender<FeedEvent>> for FeedSender {
    fn from(tx: crossbeam_channel::Sender<FeedEvent>) -> Self {
        FeedSender::Thread(tx)
    }
}

/// Why `try_send` did not send.
#[derive(Debug)]
pub enum TrySend {
    /// No room now; the event is given back.
    Full(FeedEvent),
    /// The consumer is gone.
    Closed,
}

impl FeedSender {
    /// Send without waiting.
    pub fn try_send(&self, event: FeedEvent) -> Result<(), TrySend> {
        match self {
            FeedSender::Tokio(tx) => tx.try_send(event).map_err(|e| match e {
                mpsc::error::TrySendError::Full(e) => TrySend::Full(e),
                mpsc::error::TrySendError::Closed(_) => TrySend::Closed,
            }),
            FeedSender::Thread(tx) => tx.try_send(event).map_err(|e| match e {
                crossbeam_channel::TrySendError::Full(e) => TrySend::Full(e),
                crossbeam_channel::TrySendError::Disconnected(_) => TrySend::Closed,
            }),
        }
    }

    /// Send, waiting (asynchronously) for room as long as it takes.
    pub async fn send(&self, event: FeedEvent) -> Result<(), Closed> {
        match self {
            FeedSender::Tokio(tx) => tx.send(event).await.map_err(|_| Closed),
            FeedSender::Thread(_) => {
                let mut event = event;
                loop {
                    match self.try_send(event) {
                        Ok(()) => return Ok(()),
                        Err(TrySend::Closed) => return Err(Closed),
                        Err(TrySend::Full(e)) => event = e,
                    }
                    tokio::time::sleep(FULL_POLL).await;
                }
            }
        }
    }

    /// Send, waiting at most `grace` for room; `Ok(false)` when it timed out (not sent).
    pub async fn send_within(&self, event: FeedEvent, grace: Duration) -> Result<bool, Closed> {
        match tokio::time::timeout(grace, self.send(event)).await {
            Ok(result) => result.map(|()| true),
            Err(_) => Ok(false),
        }
    }

    /// Resolves once the channel has room (or is closed).
    pub async fn ready(&self) -> Result<(), Closed> {
        match self {
            FeedSender::Tokio(tx) => tx.reserve().await.map(drop).map_err(|_| Closed),
            FeedSender::Thread(tx) => loop {
                if !tx.is_full() {
                    return Ok(());
                }
                tokio::time::sleep(FULL_POLL).await;
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::FeedStatus;

    fn event() -> FeedEvent {
        FeedEvent::Status(FeedStatus::EndOfData)
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_thread_channel_waits_for_room_then_gives_up_after_the_grace() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let sender = FeedSender::from(tx);
        sender.try_send(event()).unwrap();
        assert!(matches!(sender.try_send(event()), Err(TrySend::Full(_))));
        assert_eq!(
            sender.send_within(event(), Duration::from_millis(50)).await,
            Ok(false)
        );
        rx.recv().unwrap();
        sender.ready().await.unwrap();
        assert_eq!(
            sender.send_within(event(), Duration::from_millis(50)).await,
            Ok(true)
        );
        drop(rx);
        assert!(matches!(sender.try_send(event()), Err(TrySend::Closed)));
        assert_eq!(sender.send(event()).await, Err(Closed));
    }
}
