//! The engine thread's own tokio runtime, in which the feed client runs.
//!
//! A frame read on another thread reached the engine through a channel, and the engine
//! thread had to be woken to take it. With the client's task on a current-thread runtime
//! that the engine thread drives whenever it has nothing else to do, the socket is read, the
//! frame parsed and its trades handled on one thread, with no hand-off between them: frame
//! to engine went from 39 / 95 µs to 9 / 44 µs (p50 / p99, 8 threaded plugins at 2,000
//! trades/s on this 2-core machine; `docs/performance.md`). The engine's other inputs (plugin answers,
//! forecasts, commands, stop) stay channels whose senders ring the engine's [`Doorbell`].

use crate::doorbell::Doorbell;
use std::time::{Duration, Instant};
use tokio::runtime::{Handle, Runtime};

/// While busy, the engine lets the feed's task run at least this often, so a stream of
/// other inputs cannot keep frames waiting in the socket.
const DRIVE_EVERY: Duration = Duration::from_micros(500);

/// The runtime, and the bell that the engine's other inputs ring.
#[derive(Debug)]
pub struct FeedRuntime {
    /// Always `Some` until dropped.
    runtime: Option<Runtime>,
    bell: Doorbell,
    driven: Instant,
}

impl FeedRuntime {
    /// A current-thread runtime (timers and I/O), woken by `bell`.
    pub fn new(bell: Doorbell) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(FeedRuntime {
            runtime: Some(runtime),
            bell,
            driven: Instant::now(),
        })
    }

    /// Where to spawn the feed client's task. It runs only while the engine thread drives
    /// the runtime ([`idle`](Self::idle), [`drive_if_due`](Self::drive_if_due)).
    pub fn handle(&self) -> &Handle {
        self.runtime().handle()
    }

    fn runtime(&self) -> &Runtime {
        match &self.runtime {
            Some(runtime) => runtime,
            None => unreachable!("the runtime is taken only on drop"),
        }
    }

    /// Nothing is ready: run the feed's task until the bell rings (something was sent to
    /// the engine, or was since it last looked) or `deadline` (the engine's next tick)
    /// passes; after the deadline, wake every millisecond.
    pub fn idle(&mut self, deadline: Instant) {
        let bell = &self.bell;
        let until = deadline.max(Instant::now() + Duration::from_millis(1));
        self.runtime().block_on(async {
            let _ = tokio::time::timeout_at(until.into(), bell.rung()).await;
        });
        self.driven = Instant::now();
    }

    /// The engine is busy: let the feed's task run now if it has not for a while, so a
    /// stream of other inputs cannot keep frames waiting in the socket.
    pub fn drive_if_due(&mut self) {
        if self.driven.elapsed() < DRIVE_EVERY {
            return;
        }
        // The first yield polls the socket, the second runs the task it woke.
        self.runtime().block_on(async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        });
        self.driven = Instant::now();
    }
}

impl Drop for FeedRuntime {
    /// Without waiting for its tasks: the daemon may drop it on its own runtime (a start-up
    /// that fails before the engine thread runs), where a blocking drop would panic. By the
    /// time the engine thread ends, the feed's task has already stopped.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doorbell::RingingSender;
    use std::io::Write;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::AsyncReadExt;

    const FAR: Duration = Duration::from_secs(60);

    /// A task spawned on the runtime runs while the engine idles, and its send ends the idle.
    #[test]
    fn the_feed_task_runs_while_the_engine_idles_and_its_send_wakes_it() {
        let bell = Doorbell::new();
        let mut rt = FeedRuntime::new(bell.clone()).unwrap();
        let (tx, rx) = crossbeam_channel::unbounded::<u32>();
        let feed = RingingSender::new(tx, bell);
        rt.handle().spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            feed.send(1).unwrap();
        });
        let started = Instant::now();
        while rx.is_empty() && started.elapsed() < FAR {
            rt.idle(Instant::now() + FAR);
        }
        assert_eq!(rx.try_recv(), Ok(1));
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    /// A send from another thread ends the idle long before the deadline.
    #[test]
    fn a_send_from_another_thread_ends_the_idle() {
        let bell = Doorbell::new();
        let mut rt = FeedRuntime::new(bell.clone()).unwrap();
        let (tx, rx) = crossbeam_channel::unbounded::<u32>();
        let sender = RingingSender::new(tx, bell);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            sender.send(2).unwrap();
        });
        let started = Instant::now();
        rt.idle(started + FAR);
        thread.join().unwrap();
        assert_eq!(rx.try_recv(), Ok(2));
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    /// Dropped inside another runtime (a daemon start-up that fails after creating it), it
    /// does not panic.
    #[tokio::test]
    async fn it_can_be_dropped_inside_another_runtime() {
        let rt = FeedRuntime::new(Doorbell::new()).unwrap();
        rt.handle().spawn(std::future::pending::<()>());
        drop(rt);
    }

    /// With nothing sent, the idle ends at the deadline.
    #[test]
    fn the_idle_ends_at_the_deadline() {
        let mut rt = FeedRuntime::new(Doorbell::new()).unwrap();
        let started = Instant::now();
        rt.idle(started + Duration::from_millis(30));
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    /// A busy engine still lets the feed's task read what came on its socket, in one turn.
    #[test]
    fn a_busy_engine_still_lets_the_feed_read_its_socket() {
        let mut rt = FeedRuntime::new(Doorbell::new()).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (socket, _) = listener.accept().unwrap();
        socket.set_nonblocking(true).unwrap();
        let read = Arc::new(AtomicBool::new(false));
        let flag = read.clone();
        rt.handle().spawn(async move {
            let mut socket = tokio::net::TcpStream::from_std(socket).unwrap();
            let mut byte = [0u8; 1];
            if socket.read_exact(&mut byte).await.is_ok() {
                flag.store(true, Ordering::SeqCst);
            }
        });
        // The task starts and waits on its socket.
        rt.idle(Instant::now() + Duration::from_millis(5));
        peer.write_all(b"x").unwrap();
        // The byte is in the socket's buffer; one turn of a busy engine reads it.
        std::thread::sleep(Duration::from_millis(20));
        rt.drive_if_due();
        assert!(read.load(Ordering::SeqCst), "the frame was never read");
    }
}
