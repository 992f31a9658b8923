//! What can go wrong talking to the API, sorted by what the caller should do.

use std::time::Duration;

/// A correlation id for messages: the server's, or `none` when no answer came.
fn cid(c: &Option<String>) -> &str {
    c.as_deref().unwrap_or("none")
}

/// An extraction failure. Each variant says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The token endpoint refused the client id and secret.
    #[error(
        "the OAuth client credentials were refused ({detail}); check the client id and secret \
         (correlation id {})",
        cid(correlation_id)
    )]
    CredentialsRefused {
        /// What the token endpoint said (status, OAuth error, description).
        detail: String,
        /// The server's `ININ-Correlation-Id`.
        correlation_id: Option<String>,
    },
    /// A fresh token was refused again (401 twice in a row).
    #[error(
        "the server refused a freshly issued token (401 {code}); check that the OAuth client \
         is active and belongs to this region (correlation id {})",
        cid(correlation_id)
    )]
    TokenRefused {
        /// The error code of the second 401.
        code: String,
        /// The server's `ININ-Correlation-Id`.
        correlation_id: Option<String>,
    },
    /// 403: the OAuth client lacks the permission.
    #[error(
        "the OAuth client lacks the permission `{permission}` that the source {asked_by} needs \
         (403 {code}); grant it to the client's role (correlation id {})",
        cid(correlation_id)
    )]
    PermissionDenied {
        /// The permission the refused endpoint needs.
        permission: String,
        /// The source (or endpoint) that asked.
        asked_by: String,
        /// The error code of the 403.
        code: String,
        /// The server's `ININ-Correlation-Id`.
        correlation_id: Option<String>,
    },
    /// Every retry failed (5xx, 429, network, bad bodies).
    #[error(
        "the server stayed unavailable after {attempts} attempts over {:.1} s; last: {last} \
         (correlation id {}); try again later or raise the retry settings",
        elapsed.as_secs_f64(), cid(correlation_id)
    )]
    Unavailable {
        /// Why the last attempt was to be retried (a timeout, a 5xx, ...).
        cause: crate::RetryCause,
        /// The last failure, such as `HTTP 503 (code service.unavailable)` or `connection reset`.
        last: String,
        /// Attempts made, the first included.
        attempts: u32,
        /// Time from the first attempt to giving up.
        elapsed: Duration,
        /// The last answer's `ININ-Correlation-Id` (or the one this client sent).
        correlation_id: Option<String>,
    },
    /// The server's TLS certificate is not trusted: an unknown CA (a
    /// private one, or a TLS-inspecting proxy's), another host's name, or
    /// expired. Nothing was sent to it; retrying cannot help.
    #[error(
        "the TLS certificate of {host} is {detail}: no CA in the system's trust store, the \
         bundled roots or the added CA file vouches for it; nothing was sent to it"
    )]
    Untrusted {
        /// `host:port` that presented the certificate.
        host: String,
        /// What is wrong with it, such as `signed by a CA that is not trusted`.
        detail: String,
    },
    /// An answer larger than the bound, refused while it was read.
    #[error(
        "the answer from {url} is larger than {limit}; it was refused while being read \
         (correlation id {})",
        cid(correlation_id)
    )]
    TooLarge {
        /// `host:port/path` that answered.
        url: String,
        /// The bound.
        limit: compliance_http::ByteSize,
        /// The server's `ININ-Correlation-Id`.
        correlation_id: Option<String>,
    },
    /// 400 or 413: the server refused the request itself; retrying cannot help.
    #[error(
        "the server refused the request: HTTP {status} {code}{}: {message} (correlation id {})",
        field.as_ref().map(|f| format!(" on field `{f}`")).unwrap_or_default(),
        cid(correlation_id)
    )]
    Rejected {
        /// HTTP status (400 or 413).
        status: u16,
        /// The error body's `code`, or `none`.
        code: String,
        /// The first `details[].fieldName`, when the server named one.
        field: Option<String>,
        /// The error body's `message`.
        message: String,
        /// The server's `ININ-Correlation-Id`.
        correlation_id: Option<String>,
    },
    /// A window holds more than the API pages through and is too short to split.
    #[error(
        "the window {start} .. {end} holds more than {} violations and cannot be split further",
        compliance_api::MAX_RESULTS_PER_QUERY
    )]
    Unsplittable {
        /// Start of the window.
        start: String,
        /// End of the window.
        end: String,
    },
    /// An asynchronous job of the API ended FAILED, CANCELLED or EXPIRED twice
    /// (it was submitted again once).
    #[error(
        "the {what} job {job} ended {state} twice ({message}); the API could not run the \
         query: try again later, or a shorter interval"
    )]
    JobFailed {
        /// Which kind of job, such as `transcript aggregates`.
        what: String,
        /// The second job's id.
        job: String,
        /// Its last state.
        state: String,
        /// Its `errorMessage`, or `no message`.
        message: String,
    },
    /// A fault of this program (a fetch task ended early, ...).
    #[error("internal error: {0}; please report it")]
    Internal(String),
    /// The HTTP client could not be built (TLS backend, ...).
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

impl Error {
    /// Which of the interface's failure kinds this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::CredentialsRefused { .. }
            | Error::TokenRefused { .. }
            | Error::PermissionDenied { .. } => ErrorKind::Refused,
            Error::Unavailable { .. }
            | Error::JobFailed { .. }
            | Error::Untrusted { .. }
            | Error::TooLarge { .. } => ErrorKind::Unavailable,
            Error::Rejected { .. }
            | Error::Unsplittable { .. }
            | Error::Internal(_)
            | Error::Setup(_) => ErrorKind::Internal,
        }
    }
    /// The server's correlation id of the failing answer, when there was one.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            Error::CredentialsRefused { correlation_id, .. }
            | Error::TokenRefused { correlation_id, .. }
            | Error::PermissionDenied { correlation_id, .. }
            | Error::Unavailable { correlation_id, .. }
            | Error::Rejected { correlation_id, .. }
            | Error::TooLarge { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }
}

/// Failure kinds, one per exit code of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Credentials or permission refused (exit 3).
    Refused,
    /// Unavailable after every retry, or an answer that cannot be used: an
    /// untrusted certificate, an oversized body (exit 4).
    Unavailable,
    /// A request the server will never accept, or a fault of this program (exit 1).
    Internal,
}
