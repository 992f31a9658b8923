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
pub use endpoint::{BaseUrl, BaseUrlError, Endpoints};
pub use error::{Error, ErrorKind};
pub use extractor::{Batch, Batches, ExtractorConfig, Plan, Query, Resume, ViolationExtractor};
pub use pacer::Pacer;
pub use page::Rejected;
pub use retry::{RetryCause, RetryPolicy};
pub use stats::{Stats, StatsSnapshot, PAGE_LATENCY_METRIC};
pub use transport::{Credentials, TransportConfig};
pub use window::Window;
