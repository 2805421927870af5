//! A client-side rate limiter for the REST API: at most N requests per minute and 30 per second.
//!
//! Finnhub's free tier allows 60 calls per minute, and every plan 30 per second; going over
//! answers 429 and may get the key throttled. The limiter keeps the instants of the requests of
//! the last minute and makes a caller wait until both windows have room. Waiting callers queue
//! on one lock, so they go in arrival order.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Requests allowed in any one-second window on every Finnhub plan.
pub const PER_SECOND: usize = 30;

/// Limits request rate over a sliding minute and a sliding second.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: usize,
    per_second: usize,
    sent: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    /// At most `per_minute` requests in any 60 s and [`PER_SECOND`] in any 1 s.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1) as usize,
            per_second: PER_SECOND,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Wait until a request may be sent, and count it as sent.
    pub async fn acquire(&self) {
        let mut sent = self.sent.lock().await;
        loop {
            let now = Instant::now();
            while sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
            {
                sent.pop_front();
            }
            let wait_minute = (sent.len() >= self.per_minute)
                .then(|| sent[sent.len() - self.per_minute] + Duration::from_secs(60));
            let wait_second = (sent.len() >= self.per_second)
                .then(|| sent[sent.len() - self.per_second] + Duration::from_secs(1));
            match wait_minute.into_iter().chain(wait_second).max() {
                Some(until) if until > now => tokio::time::sleep_until(until).await,
                _ => {
                    sent.push_back(now);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (per minute, requests, expected second at which each of a few requests went out)
    #[tokio::test(start_paused = true)]
    async fn schedule_table() {
        type Checks = &'static [(usize, u64)];
        let table: [(u32, usize, Checks); 3] = [
            // Free tier: 30 in the first second, 30 in the next, then the minute is full.
            (
                60,
                62,
                &[(0, 0), (29, 0), (30, 1), (59, 1), (60, 60), (61, 60)],
            ),
            // A low limit: 5 at once, then one as each leaves the window.
            (5, 7, &[(0, 0), (4, 0), (5, 60), (6, 60)]),
            // A high limit: only the per-second rule binds.
            (1000, 95, &[(29, 0), (30, 1), (60, 2), (90, 3)]),
        ];
        for (per_minute, n, checks) in table {
            let limiter = RateLimiter::new(per_minute);
            let start = Instant::now();
            let mut at = Vec::with_capacity(n);
            for _ in 0..n {
                limiter.acquire().await;
                at.push(start.elapsed().as_secs());
            }
            for &(i, secs) in checks {
                assert_eq!(at[i], secs, "limit {per_minute}/min, request {i}: {at:?}");
            }
        }
    }
}
