//! A doorbell: how other threads wake the engine thread while it waits inside its own tokio
//! runtime (where it reads the feed's socket) rather than in a blocking channel select.
//!
//! The engine's inputs stay crossbeam channels; each sender that feeds the engine rings the
//! bell after sending ([`RingingSender`]). A ring with nobody waiting is kept (one permit),
//! so a message sent between the engine's last look and its wait is never missed. Ringing
//! costs an atomic operation when nobody waits; an engine that waits in a channel select
//! instead never listens, and the rings are harmless.

use crossbeam_channel::{SendError, Sender, TrySendError};
use std::sync::Arc;
use tokio::sync::Notify;

/// Wakes one waiting thread; cheap to clone and to ring from any thread.
#[derive(Debug, Clone, Default)]
pub struct Doorbell(Arc<Notify>);

impl Doorbell {
    /// A new bell.
    pub fn new() -> Self {
        Doorbell::default()
    }

    /// Wake the waiter, or the next one to wait if nobody waits now.
    pub fn ring(&self) {
        self.0.notify_one();
    }

    /// Until the bell rings (at once if it rang since the last wait).
    pub async fn rung(&self) {
        self.0.notified().await;
    }
}

/// A channel sender that rings a doorbell after each message it sends.
#[derive(Debug)]
pub struct RingingSender<T> {
    tx: Sender<T>,
    bell: Option<Doorbell>,
}

impl<T> Clone for RingingSender<T> {
    fn clone(&self) -> Self {
        RingingSender {
            tx: self.tx.clone(),
            bell: self.bell.clone(),
        }
    }
}

impl<T> From<Sender<T>> for RingingSender<T> {
    /// A sender that rings nothing (its receiver waits in a channel select).
    fn from(tx: Sender<T>) -> Self {
        RingingSender { tx, bell: None }
    }
}

impl<T> RingingSender<T> {
    /// `tx`, ringing `bell` after each message.
    pub fn new(tx: Sender<T>, bell: Doorbell) -> Self {
        RingingSender {
            tx,
            bell: Some(bell),
        }
    }

    /// Send (waiting for room in a bounded channel), then ring.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.tx.send(value)?;
        self.ring();
        Ok(())
    }

    /// Send if there is room now, then ring.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.tx.try_send(value)?;
        self.ring();
        Ok(())
    }

    /// The channel is full now.
    pub fn is_full(&self) -> bool {
        self.tx.is_full()
    }

    fn ring(&self) {
        if let Some(bell) = &self.bell {
            bell.ring();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A ring before the wait is kept: the wait ends at once.
    #[tokio::test(start_paused = true)]
    async fn a_ring_before_the_wait_is_not_lost() {
        let bell = Doorbell::new();
        let (tx, rx) = crossbeam_channel::unbounded();
        RingingSender::new(tx, bell.clone()).send(7).unwrap();
        tokio::time::timeout(Duration::from_secs(1), bell.rung())
            .await
            .expect("the ring was kept");
        assert_eq!(rx.try_recv(), Ok(7));
        // One permit only: a second wait waits.
        assert!(
            tokio::time::timeout(Duration::from_secs(1), bell.rung())
                .await
                .is_err()
        );
    }

    /// A sender from another thread wakes a waiter.
    #[test]
    fn a_send_from_another_thread_wakes_the_waiter() {
        let bell = Doorbell::new();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let sender = RingingSender::new(tx, bell.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            sender.try_send(1).unwrap();
        });
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), bell.rung())
                .await
                .expect("woken by the send");
        });
        assert_eq!(rx.try_recv(), Ok(1));
        thread.join().unwrap();
    }

    /// A full channel refuses and does not ring.
    #[tokio::test(start_paused = true)]
    async fn a_refused_send_does_not_ring() {
        let bell = Doorbell::new();
        let (tx, _rx) = crossbeam_channel::bounded(0);
        let sender = RingingSender::new(tx, bell.clone());
        assert!(sender.try_send(1).is_err());
        assert!(
            tokio::time::timeout(Duration::from_secs(1), bell.rung())
                .await
                .is_err()
        );
    }
}
