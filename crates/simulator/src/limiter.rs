//! The per-client rate limit: at most N requests in any rolling 60 seconds.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// An exact sliding-window limiter: it remembers when each admitted request
/// of the last minute arrived, so a client that keeps to N per rolling minute
/// is never refused, and one that exceeds it always is.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_minute: u32,
    admitted: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// `per_minute == 0` admits everything.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            admitted: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one request of `client` at `now`, or says how long until a slot
    /// frees (refused requests do not count).
    pub fn admit(&self, client: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let mut admitted = self.admitted.lock().expect("limiter lock");
        let log = admitted.entry(client.to_string()).or_default();
        while log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            log.pop_front();
        }
        if log.len() < self.per_minute as usize {
            log.push_back(now);
            Ok(())
        } else {
            let oldest = *log.front().expect("a full window is not empty");
            Err(WINDOW - now.duration_since(oldest))
        }
    }
}

/// `Retry-After` in whole seconds, rounded up and at least 1.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_n_per_rolling_minute_and_says_when_the_next_slot_frees() {
        let limiter = RateLimiter::new(3);
        let t0 = Instant::now();
        for i in 0..3 {
            limiter.admit("a", t0 + Duration::from_secs(i)).unwrap();
        }
        let wait = limiter
            .admit("a", t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert_eq!(retry_after_secs(wait), 50);
        // Another client has its own budget.
        limiter.admit("b", t0 + Duration::from_secs(10)).unwrap();
        // Exactly 60 s after the first, one slot frees, and only one.
        limiter.admit("a", t0 + Duration::from_secs(60)).unwrap();
        assert!(limiter.admit("a", t0 + Duration::from_secs(60)).is_err());
    }

    #[test]
    fn zero_means_unlimited_and_retry_after_is_at_least_one_second() {
        let limiter = RateLimiter::new(0);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            limiter.admit("a", t0).unwrap();
        }
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
    }

    #[test]
    fn a_client_keeping_to_n_per_rolling_minute_is_never_refused() {
        let limiter = RateLimiter::new(300);
        let t0 = Instant::now();
        // A burst of 300, then one request every 200 ms for three minutes:
        // every rolling minute holds at most 300, and each is admitted.
        for _ in 0..300 {
            limiter.admit("a", t0).unwrap();
        }
        let mut at = t0 + WINDOW;
        while at < t0 + 4 * WINDOW {
            limiter.admit("a", at).unwrap();
            if at >= t0 + 2 * WINDOW {
                // The steady pace fills every minute: one more would be the 301st.
                assert!(limiter.admit("a", at + Duration::from_millis(100)).is_err());
            }
            at += Duration::from_millis(200);
        }
    }
}
