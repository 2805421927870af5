//! Where the feed client sends its events: a tokio channel (async consumers: the `feed`
//! command, tests) or a crossbeam channel read by a plain thread (the daemon's engine).
//!
//! Sending straight into the engine's channel saves a hop: a relay task between the two
//! kinds of channel cost a task wake-up per frame (tens of microseconds measured at median,
//! more under load) on the way from socket to strategy. Either way the client never blocks
//! its runtime: a full channel is waited on asynchronously, for at most the slow-consumer
//! grace, and then the trades are dropped and counted. The consumer thread of a
//! [`thread_channel`] says when it has taken an event ([`FeedReceiver::took`]), which wakes a
//! client waiting for room at once, without polling.

use super::event::FeedEvent;
use crate::doorbell::{Doorbell, RingingSender};
use crossbeam_channel::Receiver;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// How long a client waiting for room sleeps before looking again if no wake came (a bound
/// on the wait, should a consumer not say it took an event).
const RECHECK: Duration = Duration::from_millis(20);

/// The consumer is gone: the client stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// The sending half of the feed's event channel.
#[derive(Debug, Clone)]
pub enum FeedSender {
    /// A tokio channel, for async consumers.
    Tokio(mpsc::Sender<FeedEvent>),
    /// A crossbeam channel, for a consumer thread (rung on each send), with the wake-up the
    /// consumer sends on taking.
    Thread(RingingSender<FeedEvent>, Arc<Notify>),
}

/// The consumer thread's end of a [`thread_channel`].
#[derive(Debug, Clone)]
pub struct FeedReceiver {
    rx: Receiver<FeedEvent>,
    room: Arc<Notify>,
}

impl FeedReceiver {
    /// The channel, to receive from (or select on).
    pub fn receiver(&self) -> &Receiver<FeedEvent> {
        &self.rx
    }

    /// Say that an event was taken: a client waiting for room wakes.
    pub fn took(&self) {
        self.room.notify_one();
    }
}

/// A channel of `capacity` events from the feed client to a consumer thread, which each
/// event wakes through `bell` (when it waits in a runtime, not in a channel select).
pub fn thread_channel(capacity: usize, bell: Doorbell) -> (FeedSender, FeedReceiver) {
    let (tx, rx) = crossbeam_channel::bounded(capacity);
    let room = Arc::new(Notify::new());
    (
        FeedSender::Thread(RingingSender::new(tx, bell), room.clone()),
        FeedReceiver { rx, room },
    )
}

impl From<mpsc::Sender<FeedEvent>> for FeedSender {
    fn from(tx: mpsc::Sender<FeedEvent>) -> Self {
        FeedSender::Tokio(tx)
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
            FeedSender::Thread(tx, _) => tx.try_send(event).map_err(|e| match e {
                crossbeam_channel::TrySendError::Full(e) => TrySend::Full(e),
                crossbeam_channel::TrySendError::Disconnected(_) => TrySend::Closed,
            }),
        }
    }

    /// Send, waiting (asynchronously) for room as long as it takes.
    pub async fn send(&self, event: FeedEvent) -> Result<(), Closed> {
        match self {
            FeedSender::Tokio(tx) => tx.send(event).await.map_err(|_| Closed),
            FeedSender::Thread(_, room) => {
                let mut event = event;
                loop {
                    // Registered before the attempt, so a take in between is not missed.
                    let taken = room.notified();
                    tokio::pin!(taken);
                    taken.as_mut().enable();
                    match self.try_send(event) {
                        Ok(()) => return Ok(()),
                        Err(TrySend::Closed) => return Err(Closed),
                        Err(TrySend::Full(e)) => event = e,
                    }
                    let _ = tokio::time::timeout(RECHECK, taken).await;
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
            FeedSender::Thread(tx, room) => loop {
                let taken = room.notified();
                tokio::pin!(taken);
                taken.as_mut().enable();
                if !tx.is_full() {
                    return Ok(());
                }
                let _ = tokio::time::timeout(RECHECK, taken).await;
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
        let (sender, rx) = thread_channel(1, Doorbell::new());
        sender.try_send(event()).unwrap();
        assert!(matches!(sender.try_send(event()), Err(TrySend::Full(_))));
        assert_eq!(
            sender.send_within(event(), Duration::from_millis(50)).await,
            Ok(false)
        );
        rx.receiver().recv().unwrap();
        rx.took();
        sender.ready().await.unwrap();
        assert_eq!(
            sender.send_within(event(), Duration::from_millis(50)).await,
            Ok(true)
        );
        drop(rx);
        assert!(matches!(sender.try_send(event()), Err(TrySend::Closed)));
        assert_eq!(sender.send(event()).await, Err(Closed));
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_waiting_for_room_wakes_when_the_consumer_takes_an_event() {
        let (sender, rx) = thread_channel(1, Doorbell::new());
        sender.try_send(event()).unwrap();
        let started = tokio::time::Instant::now();
        let waiting = tokio::spawn(async move { sender.send(event()).await });
        tokio::task::yield_now().await;
        rx.receiver().recv().unwrap();
        rx.took();
        assert_eq!(waiting.await.unwrap(), Ok(()));
        // The paused clock moves only for timers: the wake-up, not the re-check, sent it.
        assert!(started.elapsed() < RECHECK, "{:?}", started.elapsed());
        assert!(rx.receiver().try_recv().is_ok());
    }
}
