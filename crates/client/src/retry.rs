//! Why a request is tried again; when and how long to wait is the one
//! [`RetryPolicy`] of `compliance-retry`, shared with the audit webhooks.

pub use compliance_retry::RetryPolicy;

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
