//! The thread that advances the engine's epoch every [`EPOCH_TICK`], so that per-call
//! deadlines can interrupt runaway guests, and only while some guest call is running.
//!
//! Ticking for ever would wake the process a thousand times a second while nothing runs (a
//! daemon on a quiet market, at night): the ticker parks when no call is in flight, and the
//! first call to start wakes it. A deadline counts ticks from its call's start, so ticks
//! missed while parked change no deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Duration;
use wasmtime::Engine;

/// How often the epoch advances while a guest call runs.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The ticker's shared state.
#[derive(Debug)]
pub struct EpochTicker {
    /// Guest calls in flight, on any thread.
    calls: AtomicUsize,
    /// Set when the runtime goes.
    stop: AtomicBool,
    /// Ticks so far (for tests and curiosity).
    ticks: AtomicU64,
    /// The ticker thread, to wake it.
    thread: Thread,
}

impl EpochTicker {
    /// Start the ticker thread for `engine`.
    pub fn spawn(engine: Engine) -> std::io::Result<Arc<EpochTicker>> {
        let (tx, rx) = std::sync::mpsc::channel::<Arc<EpochTicker>>();
        let handle = std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                // The shared state names this thread, so it arrives once the thread runs.
                let Ok(me) = rx.recv() else { return };
                while !me.stop.load(Ordering::Acquire) {
                    if me.calls.load(Ordering::Acquire) == 0 {
                        // Woken by the next call to start (or by stop); a spurious wake
                        // only looks again.
                        std::thread::park();
                        continue;
                    }
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                    me.ticks.fetch_add(1, Ordering::Relaxed);
                }
            })?;
        let ticker = Arc::new(EpochTicker {
            calls: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            ticks: AtomicU64::new(0),
            thread: handle.thread().clone(),
        });
        // The thread holds the receiver until it gets this: it cannot be gone yet.
        let _ = tx.send(ticker.clone());
        Ok(ticker)
    }

    /// Mark a guest call as running until the returned guard drops.
    pub fn hold(self: &Arc<Self>) -> Ticking {
        if self.calls.fetch_add(1, Ordering::AcqRel) == 0 {
            // Cheap unless the ticker is parked: then one wake-up.
            self.thread.unpark();
        }
        Ticking(self.clone())
    }

    /// Epoch ticks so far.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }

    /// End the ticker thread.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// A guest call in flight; the epoch advances while one exists.
#[derive(Debug)]
pub struct Ticking(Arc<EpochTicker>);

impl Drop for Ticking {
    fn drop(&mut self) {
        self.0.calls.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Wait (at most 5 s) until `ready` holds.
    fn eventually(ready: impl Fn() -> bool) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if ready() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    #[test]
    fn it_ticks_only_while_a_call_runs() {
        let ticker = EpochTicker::spawn(Engine::default()).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(ticker.ticks(), 0, "ticked with no call in flight");
        let call = ticker.hold();
        assert!(eventually(|| ticker.ticks() >= 3), "no ticks during a call");
        let at_end = ticker.ticks();
        drop(call);
        // At most two more: one before the drop, the one under way when the call ended
        // (however late the loaded machine lets it run); ticking on would give ≈50.
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            ticker.ticks() <= at_end + 2,
            "kept ticking after the call ended: {} ticks after {at_end}",
            ticker.ticks()
        );
        // Two overlapping calls: ticking until both end.
        let (a, b) = (ticker.hold(), ticker.hold());
        drop(a);
        let during = ticker.ticks();
        assert!(eventually(|| ticker.ticks() >= during + 3));
        drop(b);
        ticker.stop();
    }
}
