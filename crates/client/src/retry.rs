//! When and how long to wait before trying a request again.

use rand::Rng;
use std::time::Duration;

/// Bounds and pace of retries: exponential backoff with full jitter, capped
/// per wait, bounded by attempts and by total time.
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
    /// server's `Retry-After` when it gave one.
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
}

/// Why a request was retried (the summary counts each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryCause {
    /// 429 Too Many Requests.
    RateLimited,
    /// 500, 502, 503 or 504.
    ServerError,
    /// The connection failed or was reset.
    Connection,
    /// No answer within the request timeout.
    Timeout,
    /// A 200 whose body is not a page.
    BadBody,
    /// A 401 on a token that had been accepted: one new token, one retry.
    TokenExpired,
}

impl RetryCause {
    /// Every cause, in the order of [`crate::StatsSnapshot::retries`].
    pub const ALL: [RetryCause; 6] = [
        RetryCause::RateLimited,
        RetryCause::ServerError,
        RetryCause::Connection,
        RetryCause::Timeout,
        RetryCause::BadBody,
        RetryCause::TokenExpired,
    ];
    /// Snake-case name, as in logs and metrics labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            RetryCause::RateLimited => "rate_limited",
            RetryCause::ServerError => "server_error",
            RetryCause::Connection => "connection",
            RetryCause::Timeout => "timeout",
            RetryCause::BadBody => "bad_body",
            RetryCause::TokenExpired => "token_expired",
        }
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
    fn retry_after_is_obeyed_even_beyond_the_cap() {
        let p = RetryPolicy {
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        let wait = p.backoff(1, Some(Duration::from_secs(7)));
        assert!(wait >= Duration::from_secs(7) && wait <= Duration::from_millis(7250));
    }
}
