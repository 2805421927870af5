//! The reconnection schedule: exponential backoff with jitter, a cap and a retry limit.
//!
//! The policy is pure data plus [`BackoffPolicy::delay`], so the schedule is tested as a table.
//! Why the connection ended changes the delay: a server going away (close 1001, deploys)
//! is retried promptly, a 429 waits longer, everything else follows the exponential curve.

use std::time::Duration;

/// Why the client is about to reconnect; decides the delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconnectCause {
    /// Dropped connection, dead link, refused connect, server error.
    Failure,
    /// The server closed with 1001 (going away / redeploy) and asks clients to come back.
    GoingAway,
    /// The server answered 429: too many connections or requests for this key.
    RateLimited,
}

/// How long to wait before each reconnection attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffPolicy {
    /// Delay before the first attempt after a failure (`RECONNECT_DELAY`, 30 s as the reference).
    pub initial: Duration,
    /// Growth of the delay per attempt (2).
    pub multiplier: f64,
    /// Cap of the delay (`RECONNECT_MAX_DELAY`, 300 s).
    pub max: Duration,
    /// Attempts before giving up with a terminal event; 0 = never give up
    /// (`RECONNECT_MAX_RETRIES`, 20).
    pub max_retries: u32,
    /// A connection that stayed up this long resets the attempt count
    /// (`RECONNECT_STABLE_AFTER`, 60 s).
    pub stable_after: Duration,
    /// Fraction of the delay removed at random, so many clients do not reconnect in step (0.2).
    pub jitter: f64,
    /// Delay of the first attempt after the server went away (1 s).
    pub going_away: Duration,
    /// A 429 multiplies the (capped) delay by this (4).
    pub rate_limit_factor: f64,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_secs(30),
            multiplier: 2.0,
            max: Duration::from_secs(300),
            max_retries: 20,
            stable_after: Duration::from_secs(60),
            jitter: 0.2,
            going_away: Duration::from_secs(1),
            rate_limit_factor: 4.0,
        }
    }
}

impl BackoffPolicy {
    /// A fast policy for tests and local servers: `initial` growing ×2 up to `max`, no jitter.
    pub fn fast(initial: Duration, max: Duration, max_retries: u32) -> Self {
        BackoffPolicy {
            initial,
            max,
            max_retries,
            jitter: 0.0,
            going_away: initial.min(Duration::from_millis(10)),
            ..BackoffPolicy::default()
        }
    }

    /// True when attempt number `attempt` (1-based) is past the retry limit.
    pub fn exhausted(&self, attempt: u32) -> bool {
        self.max_retries != 0 && attempt > self.max_retries
    }

    /// The delay before attempt number `attempt` (1-based), for the given cause.
    pub fn delay(&self, attempt: u32, cause: ReconnectCause, rng: &mut fastrand::Rng) -> Duration {
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        let grown = self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(exponent);
        let capped = grown.min(self.max.as_secs_f64());
        let secs = match cause {
            ReconnectCause::GoingAway if attempt <= 1 => self.going_away.as_secs_f64(),
            ReconnectCause::RateLimited => capped * self.rate_limit_factor.max(1.0),
            _ => capped,
        };
        let jitter = self.jitter.clamp(0.0, 1.0) * rng.f64();
        Duration::from_secs_f64((secs * (1.0 - jitter)).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReconnectCause::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn schedule_table_without_jitter() {
        let p = BackoffPolicy {
            jitter: 0.0,
            ..BackoffPolicy::default()
        };
        let mut rng = fastrand::Rng::with_seed(1);
        // (attempt, cause, expected seconds)
        let table = [
            (1, Failure, 30.0),
            (2, Failure, 60.0),
            (3, Failure, 120.0),
            (4, Failure, 240.0),
            (5, Failure, 300.0),
            (40, Failure, 300.0),
            (1, GoingAway, 1.0),
            (2, GoingAway, 60.0),
            (1, RateLimited, 120.0),
            (3, RateLimited, 480.0),
            (9, RateLimited, 1200.0),
        ];
        for (attempt, cause, want) in table {
            assert_eq!(
                p.delay(attempt, cause, &mut rng),
                secs(want),
                "attempt {attempt} {cause:?}"
            );
        }
    }

    #[test]
    fn jitter_only_shortens_and_stays_within_its_fraction() {
        let p = BackoffPolicy::default();
        let mut rng = fastrand::Rng::with_seed(7);
        let mut seen = std::collections::HashSet::new();
        for attempt in 1..=6 {
            let plain = BackoffPolicy {
                jitter: 0.0,
                ..p.clone()
            }
            .delay(attempt, Failure, &mut rng);
            for _ in 0..50 {
                let d = p.delay(attempt, Failure, &mut rng);
                assert!(d <= plain && d >= plain.mul_f64(0.8), "{d:?} vs {plain:?}");
                seen.insert(d);
            }
        }
        assert!(
            seen.len() > 100,
            "jitter should spread delays, got {}",
            seen.len()
        );
    }

    #[test]
    fn retry_limit() {
        let p = BackoffPolicy {
            max_retries: 3,
            ..BackoffPolicy::default()
        };
        let table = [(1, false), (3, false), (4, true), (100, true)];
        for (attempt, want) in table {
            assert_eq!(p.exhausted(attempt), want, "{attempt}");
        }
        let unlimited = BackoffPolicy {
            max_retries: 0,
            ..p
        };
        assert!(!unlimited.exhausted(u32::MAX));
    }

    /// The schedule as the client lives it: sleeping each delay on tokio's paused clock adds up
    /// to exactly the sum of the table.
    #[tokio::test(start_paused = true)]
    async fn schedule_elapses_on_the_paused_clock() {
        let p = BackoffPolicy::fast(Duration::from_secs(1), Duration::from_secs(8), 6);
        let mut rng = fastrand::Rng::with_seed(3);
        let start = tokio::time::Instant::now();
        let mut attempt = 1;
        let mut elapsed = Vec::new();
        while !p.exhausted(attempt) {
            tokio::time::sleep(p.delay(attempt, Failure, &mut rng)).await;
            elapsed.push(start.elapsed().as_secs());
            attempt += 1;
        }
        assert_eq!(elapsed, [1, 3, 7, 15, 23, 31]);
    }
}
