//! How commands reach a plugin's worker: through a bounded channel to the worker's own
//! thread (live), or by running the worker on the sender's thread (backtests).
//!
//! A backtest waits for every plugin's answer to each batch before it sends the next one, so
//! a thread per plugin buys nothing there, and each batch's two hand-offs between threads
//! (wake the worker, wake the engine) cost more than the plugin call itself: a quarter of
//! the CPU time of the SPY backtest went to the kernel's wake-ups (docs/performance.md). Inline,
//! [`Mailbox::send`] runs the command to completion before returning, and the plugin's
//! answer is already in the output channel. Deadlines, memory caps, fault recovery and
//! swaps are the worker's and behave the same either way.

use super::worker::{Worker, WorkerCommand};
use crossbeam_channel::{Sender, TrySendError};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Where a plugin's commands go.
#[derive(Clone)]
pub enum Mailbox {
    /// The worker runs on its own thread, fed by this bounded channel.
    Thread(Sender<WorkerCommand>),
    /// The worker runs on the sender's thread (`None` once it has stopped or panicked).
    Inline(Arc<Mutex<Option<Worker>>>),
}

/// Why a command was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undelivered {
    /// The worker's queue is full (only when not blocking).
    Full,
    /// The worker has exited.
    Gone,
}

impl Mailbox {
    /// Start `worker` on a thread of its own with a queue of `capacity` commands, or keep
    /// it to run inline; returns the mailbox and the thread to join, if any.
    pub fn start(
        worker: Worker,
        inline: bool,
        capacity: usize,
        thread_name: String,
    ) -> std::io::Result<(Mailbox, Option<JoinHandle<()>>)> {
        if inline {
            return Ok((Mailbox::Inline(Arc::new(Mutex::new(Some(worker)))), None));
        }
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        let thread = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || worker.run(rx))?;
        Ok((Mailbox::Thread(tx), Some(thread)))
    }

    /// Hand `command` to the worker. A threaded worker's full queue makes this wait when
    /// `block`, and refuse otherwise; an inline worker handles the command now.
    pub fn send(&self, command: WorkerCommand, block: bool) -> Result<(), Undelivered> {
        match self {
            Mailbox::Thread(tx) if block => tx.send(command).map_err(|_| Undelivered::Gone),
            Mailbox::Thread(tx) => tx.try_send(command).map_err(|e| match e {
                TrySendError::Full(_) => Undelivered::Full,
                TrySendError::Disconnected(_) => Undelivered::Gone,
            }),
            Mailbox::Inline(slot) => {
                let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
                let worker = slot.as_mut().ok_or(Undelivered::Gone)?;
                let name = worker.name().clone();
                // A panic in host code ends this worker as it would end its thread; the
                // caller (the engine) carries on.
                match catch_unwind(AssertUnwindSafe(|| worker.handle(command))) {
                    Ok(true) => {}
                    Ok(false) => *slot = None,
                    Err(_) => {
                        tracing::error!(target: "tradehost::plugins", plugin = %name, "plugin worker panicked; it is stopped");
                        *slot = None;
                    }
                }
                Ok(())
            }
        }
    }
}
