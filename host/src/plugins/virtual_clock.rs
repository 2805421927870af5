//! WASI clocks that read market time, for replays and backtests.
//!
//! A guest can read time without the `now` host import: Rust's `SystemTime::now()` and
//! `Instant::now()` go to `wasi:clocks`. In a backtest those must say market time too, or a
//! strategy that uses them would behave differently on every run. Live, the host's own clocks
//! are kept (see [`MarketView::market_time`]).

use super::view::MarketView;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// `wasi:clocks/wall-clock` at the view's time (milliseconds since the epoch).
pub struct MarketWallClock(pub Arc<dyn MarketView>);

impl HostWallClock for MarketWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.now_ms()).unwrap_or(0))
    }
}

/// `wasi:clocks/monotonic-clock` at the view's time in nanoseconds, never going back.
pub struct MarketMonotonicClock {
    view: Arc<dyn MarketView>,
    last_ns: AtomicU64,
}

impl MarketMonotonicClock {
    /// A monotonic clock over `view`'s time.
    pub fn new(view: Arc<dyn MarketView>) -> Self {
        MarketMonotonicClock {
            view,
            last_ns: AtomicU64::new(0),
        }
    }
}

impl HostMonotonicClock for MarketMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    fn now(&self) -> u64 {
        let ns = u64::try_from(self.view.now_ms())
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
    use crate::types::{Bar, Position, Prediction, TimestampMs};
    use std::sync::atomic::AtomicI64;

    struct At(AtomicI64);

    impl MarketView for At {
        fn now_ms(&self) -> TimestampMs {
            self.0.load(Ordering::Relaxed)
        }
        fn prediction(&self, _: &str) -> Option<Prediction> {
            None
        }
        fn position(&self, _: &str, _: &str) -> Position {
            Position::default()
        }
        fn recent_bars(&self, _: &str, _: usize) -> Vec<Bar> {
            Vec::new()
        }
    }

    #[test]
    fn clocks_read_market_time_and_the_monotonic_one_never_goes_back() {
        let view = Arc::new(At(AtomicI64::new(1_381_152_600_007)));
        let wall = MarketWallClock(view.clone());
        let mono = MarketMonotonicClock::new(view.clone());
        assert_eq!(wall.now(), Duration::from_millis(1_381_152_600_007));
        assert_eq!(mono.now(), 1_381_152_600_007_000_000);
        view.0.store(1_381_152_600_500, Ordering::Relaxed);
        assert_eq!(mono.now(), 1_381_152_600_500_000_000);
        view.0.store(1_381_152_600_000, Ordering::Relaxed);
        assert_eq!(wall.now(), Duration::from_millis(1_381_152_600_000));
        assert_eq!(mono.now(), 1_381_152_600_500_000_000, "went back");
    }
}
