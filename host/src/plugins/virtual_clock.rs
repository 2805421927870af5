//! WASI clocks that read market time, for replays and backtests.
//!
//! A guest can read time without the `now` host import: Rust's `SystemTime::now()` and
//! `Instant::now()` go to `wasi:clocks`. In a backtest those must say market time too, or a
//! strategy that uses them would behave differently on every run. Live, the host's own clocks
//! are kept (see [`MarketView::market_time`](super::MarketView::market_time)).
//!
//! The time they read is the instance's [`GuestTime`]: the time of the first event of the
//! batch in the call, moved to the event the strategy asks about whenever it calls `now(at)`
//! (or another host function that takes `at`). So `ctx.now()` and `SystemTime::now()` agree,
//! and a strategy that reads only the WASI clocks sees its batch's first event's time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// Market time as one instance sees it, in milliseconds since the epoch.
#[derive(Debug, Clone, Default)]
pub struct GuestTime(Arc<AtomicI64>);

impl GuestTime {
    /// The time now.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Move to `t`.
    pub fn set(&self, t: i64) {
        self.0.store(t, Ordering::Relaxed);
    }
}

/// `wasi:clocks/wall-clock` at the instance's market time (milliseconds since the epoch).
pub struct MarketWallClock(pub GuestTime);

impl HostWallClock for MarketWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.get()).unwrap_or(0))
    }
}

/// `wasi:clocks/monotonic-clock` at the instance's market time in nanoseconds, never going
/// back.
pub struct MarketMonotonicClock {
    time: GuestTime,
    last_ns: AtomicU64,
}

impl MarketMonotonicClock {
    /// A monotonic clock over `time`.
    pub fn new(time: GuestTime) -> Self {
        MarketMonotonicClock {
            time,
            last_ns: AtomicU64::new(0),
        }
    }
}

impl HostMonotonicClock for MarketMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    fn now(&self) -> u64 {
        let ns = u64::try_from(self.time.get())
            .unwrap_or(0)
            .saturating_mul(1_000_000);
        // Market time only moves forward, but a clock reading must never go back even if
        // the view's did (a replay starting over).
        self.last_ns.fetch_max(ns, Ordering::Relaxed).max(ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_read_market_time_and_the_monotonic_one_never_goes_back() {
        let time = GuestTime::default();
        time.set(1_381_152_600_007);
        let wall = MarketWallClock(time.clone());
        let mono = MarketMonotonicClock::new(time.clone());
        assert_eq!(wall.now(), Duration::from_millis(1_381_152_600_007));
        assert_eq!(mono.now(), 1_381_152_600_007_000_000);
        time.set(1_381_152_600_500);
        assert_eq!(mono.now(), 1_381_152_600_500_000_000);
        time.set(1_381_152_600_000);
        assert_eq!(wall.now(), Duration::from_millis(1_381_152_600_000));
        assert_eq!(mono.now(), 1_381_152_600_500_000_000, "went back");
    }
}
