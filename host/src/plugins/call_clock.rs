//! The clock of a plugin call's deadline: CPU time of the worker thread, not wall time.
//!
//! With more plugin threads than cores, a well-behaved plugin can be descheduled in the
//! middle of a call while others run; a wall-clock deadline would fault it for their work.
//! So when the epoch deadline passes, the store's callback asks how much CPU time this
//! thread spent in the call: below the budget, the deadline is extended by what is left;
//! at or above it, the call traps. A wall-time cap (20× the budget, at least a second)
//! still stops a call on a machine so overloaded that CPU time barely moves.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many times the CPU budget a call may take in wall time, at most.
const WALL_FACTOR: u32 = 20;
/// The wall-time cap is never below this.
const MIN_WALL_CAP: Duration = Duration::from_secs(1);

/// CPU time consumed by the calling thread so far, where the platform tells.
pub fn thread_cpu_time() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the call only writes into it.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Verdict of the deadline check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The call may run this much longer (CPU time).
    Extend(Duration),
    /// The call is over its budget.
    Expired,
}

/// The budget and start of the call in progress, shared with the store's epoch callback.
#[derive(Debug)]
pub struct CallClock {
    origin: Instant,
    budget_ns: AtomicU64,
    cpu_start_ns: AtomicU64,
    wall_start_ns: AtomicU64,
}

impl CallClock {
    /// A clock with no call started yet.
    pub fn new() -> Arc<CallClock> {
        Arc::new(CallClock {
            origin: Instant::now(),
            budget_ns: AtomicU64::new(0),
            cpu_start_ns: AtomicU64::new(0),
            wall_start_ns: AtomicU64::new(0),
        })
    }

    /// A call with `budget` of CPU time starts now, on this thread.
    pub fn start(&self, budget: Duration) {
        let cpu = thread_cpu_time().unwrap_or_default();
        self.budget_ns.store(nanos(budget), Ordering::Relaxed);
        self.cpu_start_ns.store(nanos(cpu), Ordering::Relaxed);
        self.wall_start_ns
            .store(nanos(self.origin.elapsed()), Ordering::Relaxed);
    }

    /// Whether the call started last may go on; called on the calling thread.
    pub fn check(&self) -> Verdict {
        let budget = Duration::from_nanos(self.budget_ns.load(Ordering::Relaxed));
        let wall = self.origin.elapsed().saturating_sub(Duration::from_nanos(
            self.wall_start_ns.load(Ordering::Relaxed),
        ));
        let Some(cpu_now) = thread_cpu_time() else {
            // No CPU clock: the wall deadline that just passed is the deadline.
            return Verdict::Expired;
        };
        let cpu = cpu_now.saturating_sub(Duration::from_nanos(
            self.cpu_start_ns.load(Ordering::Relaxed),
        ));
        let wall_cap = (budget * WALL_FACTOR).max(MIN_WALL_CAP);
        if cpu >= budget || wall >= wall_cap {
            Verdict::Expired
        } else {
            Verdict::Extend(budget - cpu)
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Burn `d` of this thread's CPU time, however long that takes on a busy machine.
    fn spin(d: Duration) {
        let start = thread_cpu_time().unwrap();
        let mut x = 0u64;
        while thread_cpu_time().unwrap() - start < d {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }

    #[test]
    fn sleeping_does_not_use_the_budget_and_spinning_does() {
        let clock = CallClock::new();
        clock.start(Duration::from_millis(40));
        std::thread::sleep(Duration::from_millis(60));
        match clock.check() {
            Verdict::Extend(left) => assert!(left > Duration::from_millis(20), "{left:?}"),
            Verdict::Expired => panic!("a descheduled call was charged for wall time"),
        }
        spin(Duration::from_millis(60));
        assert_eq!(clock.check(), Verdict::Expired);
    }

    #[test]
    fn a_call_starved_far_beyond_its_budget_still_ends() {
        let clock = CallClock::new();
        clock.start(Duration::from_millis(1));
        std::thread::sleep(MIN_WALL_CAP + Duration::from_millis(50));
        assert_eq!(clock.check(), Verdict::Expired);
    }
}
