//! The one retry policy of the program: the API client's requests and the
//! audit webhooks' deliveries both wait by it. Exponential backoff with
//! jitter, capped per wait, bounded by attempts and by total time; a
//! server's `Retry-After` is obeyed as given.

use rand::Rng;
use std::time::Duration;

/// Bounds and pace of retries: exponential backoff with jitter, capped per
/// wait, bounded by attempts and by total time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (at least 1).
    pub max_attempts: u32,
    /// The first backoff; each later one may double.
    pub base_delay: Duration,
    /// No single backoff is longer than this (a server's `Retry-After` may be).
    pub max_delay: Duration,
    /// Give up once the next wait would end later than this after the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 500 ms doubling up to 30 s, 5 minutes in all.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1), or the
    /// server's `Retry-After` when it gave one. Exponential and capped, with
    /// jitter between half and all of it so that many senders do not retry
    /// in step.
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            // A little jitter so that concurrent windows do not return in lockstep.
            let spread = self.base_delay.min(Duration::from_millis(250));
            return wait + spread.mul_f64(rand::thread_rng().gen_range(0.0..=1.0));
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.max_delay);
        cap.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }

    /// After failed attempt `attempt` (from 1), `elapsed` after the first
    /// one: the wait before the next attempt, or `None` when the attempts or
    /// the time budget are spent (the wait would end past `max_elapsed`).
    pub fn next_wait(
        &self,
        attempt: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let wait = self.backoff(attempt, retry_after);
        (attempt < self.max_attempts && elapsed + wait <= self.max_elapsed).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let first = p.backoff(1, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = p.backoff(3, None);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = p.backoff(30, None);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_secs(1));
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let p = RetryPolicy {
            max_attempts: 9,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            max_elapsed: Duration::from_secs(1),
        };
        for (attempt, full) in [(1, 100), (2, 200), (3, 400), (4, 500), (30, 500)] {
            let wait = p.backoff(attempt, None).as_millis();
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {attempt}: {wait} ms"
            );
        }
    }

    #[test]
    fn retry_after_is_obeyed_even_beyond_the_cap() {
        let p = RetryPolicy {
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        let wait = p.backoff(1, Some(Duration::from_secs(7)));
        assert!(wait >= Duration::from_secs(7) && wait <= Duration::from_millis(7250));
    }

    #[test]
    fn the_attempts_and_the_time_budget_each_end_the_retries() {
        let p = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(100),
            max_elapsed: Duration::from_secs(1),
        };
        assert!(p.next_wait(1, Duration::ZERO, None).is_some());
        assert!(p.next_wait(2, Duration::ZERO, None).is_some());
        assert_eq!(p.next_wait(3, Duration::ZERO, None), None, "attempts spent");
        // The wait (50 to 100 ms) would end past the second allowed.
        assert_eq!(p.next_wait(1, Duration::from_millis(950), None), None);
        assert!(p.next_wait(1, Duration::from_millis(850), None).is_some());
        // A Retry-After past the budget ends it too.
        assert_eq!(
            p.next_wait(1, Duration::ZERO, Some(Duration::from_secs(2))),
            None
        );
    }
}
