//! Client of the Agent Assist compliance-violations API: gets tokens, paces
//! and retries requests, plans windows, and streams validated violations.
//!
//! Start with [`ViolationExtractor`]; `examples/extract.rs` runs it against
//! the built-in simulator.

#![deny(missing_docs)]

mod api_client;
mod endpoint;
mod error;
mod extractor;
mod pacer;
mod page;
mod retry;
mod stats;
mod transport;
mod window;

pub use api_client::{Access, ApiClient, Presigned};
pub use compliance_http::{ByteSize, CaBundle, CaError};
pub use endpoint::{BaseUrl, BaseUrlError, Endpoints};
pub use error::{Error, ErrorKind};
pub use extractor::{Batch, Batches, ExtractorConfig, Plan, Query, Resume, ViolationExtractor};
pub use pacer::{Pacer, Spent};
pub use page::Rejected;
pub use retry::{RetryCause, RetryPolicy};
pub use stats::{Stats, StatsSnapshot, PAGE_LATENCY_METRIC};
pub use transport::{Credentials, TransportConfig, DEFAULT_MAX_RESPONSE_SIZE};
pub use window::Window;

/// For crash tests only: with `GENESYS_COMPLIANCE_CRASH_AT` set to `point`,
/// the process aborts there, as abruptly as a kill -9 (nothing is flushed
/// or cleaned up). Points: `after-plan`, `after-page`, `after-complete`,
/// `before-delivery` (the record appended and its webhook queued, nothing
/// sent), `after-audit-append` (and delivered), `after-rename` (in the
/// pipeline), and `while-polling` (a real source's analytics job submitted
/// and polled once, not yet done).
#[doc(hidden)]
pub fn crash_point(point: &str) {
    if std::env::var_os("GENESYS_COMPLIANCE_CRASH_AT").is_some_and(|at| at == point) {
        std::process::abort();
    }
}
