//! The clock of a plugin call's deadline: CPU time of the calling thread, not wall time.
//!
//! With more plugin threads than cores, a well-behaved plugin can be descheduled in the
//! middle of a call while others run; a wall-clock deadline would fault it for their work.
//! So when the epoch deadline passes, the store's callback asks how much CPU time this
//! thread spent in the call: below the budget, the deadline is extended by what is left;
//! at or above it, the call traps. A wall-time cap (20× the budget, at least a second)
//! still stops a call on a machine so overloaded that CPU time barely moves.
//!
//! Reading a thread's CPU clock is a system call (measured ≈690 ns on this machine's VM,
//! against ≈25 ns for the wall clock), too dear for every call: at batch 1 it doubled the
//! boundary's cost. So a call starts from the thread's last reading when that is recent
//! (younger than a tenth of the budget), and the check counts only CPU time it is sure the
//! call used: what the thread used since the reading, less the wall time from the reading to
//! the call's start (the most the thread could have used before the call). A runaway guest
//! is therefore stopped after between 1 and 1.1 times its budget; a call under budget is
//! never stopped by the CPU rule.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many times the CPU budget a call may take in wall time, at most.
const WALL_FACTOR: u32 = 20;
/// The wall-time cap is never below this.
const MIN_WALL_CAP: Duration = Duration::from_secs(1);
/// A call reads the CPU clock afresh when the thread's last reading is older than this
/// fraction of its budget.
const REFRESH_DIVISOR: u32 = 10;

thread_local! {
    /// This thread's last CPU clock reading: (CPU ns, wall ns since [`CallClock::origin`]'s
    /// process-wide epoch).
    static LAST_READING: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

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
        #[cfg(test)]
        tests::READS.with(|n| n.set(n.get() + 1));
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
    budget_ns: AtomicU64,
    /// The CPU reading the call is measured from, and when (wall) it was taken.
    cpu_ref_ns: AtomicU64,
    wall_ref_ns: AtomicU64,
    /// When the call started (wall).
    wall_start_ns: AtomicU64,
}

/// Wall time since a process-wide origin, in nanoseconds (readings of all threads compare).
fn wall_ns() -> u64 {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    nanos(ORIGIN.get_or_init(Instant::now).elapsed())
}

impl CallClock {
    /// A clock with no call started yet.
    pub fn new() -> Arc<CallClock> {
        Arc::new(CallClock {
            budget_ns: AtomicU64::new(0),
            cpu_ref_ns: AtomicU64::new(0),
            wall_ref_ns: AtomicU64::new(0),
            wall_start_ns: AtomicU64::new(0),
        })
    }

    /// A call with `budget` of CPU time starts now, on this thread.
    pub fn start(&self, budget: Duration) {
        let now = wall_ns();
        let fresh_for = nanos(budget / REFRESH_DIVISOR);
        let (cpu, at) = match LAST_READING.get() {
            Some((cpu, at)) if now.saturating_sub(at) <= fresh_for => (cpu, at),
            _ => read_now().unwrap_or((0, now)),
        };
        self.budget_ns.store(nanos(budget), Ordering::Relaxed);
        self.cpu_ref_ns.store(cpu, Ordering::Relaxed);
        self.wall_ref_ns.store(at, Ordering::Relaxed);
        self.wall_start_ns.store(now, Ordering::Relaxed);
    }

    /// Whether the call started last may go on; called on the calling thread.
    pub fn check(&self) -> Verdict {
        let budget = Duration::from_nanos(self.budget_ns.load(Ordering::Relaxed));
        let start = self.wall_start_ns.load(Ordering::Relaxed);
        let Some((cpu_now, now)) = read_now() else {
            // No CPU clock: the wall deadline that just passed is the deadline.
            return Verdict::Expired;
        };
        let wall = Duration::from_nanos(now.saturating_sub(start));
        // CPU the thread used since the reference, less what it may have used before the
        // call started: a lower bound of the call's own CPU time.
        let since_ref = cpu_now.saturating_sub(self.cpu_ref_ns.load(Ordering::Relaxed));
        let before_call = start.saturating_sub(self.wall_ref_ns.load(Ordering::Relaxed));
        let cpu = Duration::from_nanos(since_ref.saturating_sub(before_call));
        let wall_cap = (budget * WALL_FACTOR).max(MIN_WALL_CAP);
        if cpu >= budget || wall >= wall_cap {
            Verdict::Expired
        } else {
            Verdict::Extend(budget - cpu)
        }
    }
}

/// Reads this thread's CPU clock, remembers the reading for the next calls, and returns it
/// with its wall time.
fn read_now() -> Option<(u64, u64)> {
    let cpu = nanos(thread_cpu_time()?);
    let reading = (cpu, wall_ns());
    LAST_READING.set(Some(reading));
    Some(reading)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    thread_local! {
        /// CPU clock reads made by this thread.
        pub(super) static READS: Cell<u64> = const { Cell::new(0) };
    }

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

    #[test]
    fn calls_in_quick_succession_share_one_cpu_reading_and_are_not_charged_for_the_gap() {
        let clock = CallClock::new();
        let budget = Duration::from_millis(40);
        clock.start(budget);
        let before = READS.get();
        for _ in 0..10_000 {
            clock.start(budget);
        }
        assert!(
            READS.get() - before <= 20,
            "{} CPU clock reads for 10,000 calls",
            READS.get() - before
        );
        // CPU spent between the reading and the call's start (3 ms, under the 4 ms refresh)
        // is not charged to the call.
        clock.check(); // a fresh reading
        spin(Duration::from_millis(3));
        clock.start(budget);
        match clock.check() {
            Verdict::Extend(left) => assert!(left > Duration::from_millis(39), "{left:?}"),
            Verdict::Expired => panic!("charged for CPU used before the call"),
        }
    }
}
