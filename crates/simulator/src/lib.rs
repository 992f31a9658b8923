//! A faithful simulator of the Agent Assist compliance-violations API
//! (`shared/spec/compliance-api.md`) and of the real Genesys Cloud endpoints
//! the speech-analytics and evaluations sources read
//! (`shared/spec/genesys-real-apis.md`, module [`genesys`]): the OAuth token
//! endpoint and every API on one loopback port, over datasets generated from
//! a seed, with rate limits, permissions, token lifetimes and injectable
//! faults.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use compliance_simulator::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default(), "127.0.0.1:0".parse().unwrap()).await?;
//! println!("token endpoint and API at {}", sim.base_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod access;
mod agentassist;
pub mod cards;
mod dataset;
pub mod evidence;
pub mod genesys;
mod limiter;
mod net;
mod query;
mod respond;
mod server;
mod token;

pub use dataset::{
    generate, Dataset, Generator, Rule, SimEvidence, SimViolation, REQUIRED_FIELDS, RULES,
};
pub use genesys::catalogue;
pub use genesys::org::{Conversation, Evaluation, Org, Phrase, Version};
pub use genesys::transcripts::transcript_json;
pub use server::{FaultStats, RequestRecord, Simulator, Stats};

use compliance_api::Timestamp;
use std::time::Duration;

pub use compliance_http::ServerTls;

/// Fields newer than the contract that a few served violations carry
/// (clients must keep them): every other key of a served violation is one of
/// the contract's.
pub const EXTRA_VIOLATION_FIELDS: [&str; 2] = ["sentiment", "channel"];
/// Fields newer than the contract that a few served evidence items carry.
pub const EXTRA_EVIDENCE_FIELDS: [&str; 1] = ["confidenceBand"];

/// The default client id, accepted unless the configuration says otherwise.
pub const DEMO_CLIENT_ID: &str = "demo-client";
/// The default client secret.
pub const DEMO_CLIENT_SECRET: &str = "demo-secret";

/// How a simulator behaves. [`SimConfig::default`] is a well-behaved server:
/// seed 42, 5,000 violations on 2023-10-01 (UTC), the demo client with the
/// permission, 24-hour tokens (86,399 s), 300 requests per minute, no latency
/// and no faults.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub violations: usize,
    /// The dataset's violations are detected in `[start, end)`.
    pub start: Timestamp,
    pub end: Timestamp,
    pub clients: Vec<SimClient>,
    /// How long an issued token is accepted (`expires_in`).
    pub token_lifetime: Duration,
    /// Requests per client per rolling minute, token endpoint and API together; 0 = unlimited.
    pub rate_limit_per_minute: u32,
    /// Added to every query response.
    pub latency: Duration,
    pub faults: Faults,
    /// Answer like an older server: no `total`, and no `nextPageCursor` on
    /// the last page (clients must treat an absent cursor as null).
    pub legacy_pages: bool,
    /// How many violations one query may page through before
    /// `pagination.limit.exceeded`: the contract's 100,000. Lower it only in
    /// tests, to reach the cap without generating 100,000 violations.
    pub max_results_per_query: u64,
    /// How many conversations the organisation behind the real Genesys
    /// Cloud endpoints holds, starting in `[start, end)`.
    pub conversations: usize,
    /// Status polls an aggregate job answers QUEUED, then PENDING (half
    /// each), before it is done; 0: done at the first poll.
    pub job_polls: u32,
    /// How long a pre-signed transcript URL works.
    pub transcript_url_lifetime: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            violations: 5_000,
            start: "2023-10-01T00:00:00Z".parse().expect("a valid timestamp"),
            end: "2023-10-02T00:00:00Z".parse().expect("a valid timestamp"),
            clients: vec![SimClient::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)],
            token_lifetime: Duration::from_secs(86_399),
            rate_limit_per_minute: 300,
            latency: Duration::ZERO,
            faults: Faults::default(),
            legacy_pages: false,
            max_results_per_query: compliance_api::MAX_RESULTS_PER_QUERY,
            conversations: 1_000,
            job_polls: 2,
            transcript_url_lifetime: Duration::from_secs(600),
        }
    }
}

/// An OAuth client the simulator knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimClient {
    pub id: String,
    pub secret: String,
    /// Whether it holds permissions at all; without any, every API endpoint
    /// but the limits one answers 403.
    pub permitted: bool,
    /// Permissions it lacks although `permitted` (such as
    /// `recording:recording:view`): the endpoints needing them answer 403.
    pub withheld: Vec<String>,
}

impl SimClient {
    /// A client holding every permission.
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Self {
        SimClient {
            id: id.into(),
            secret: secret.into(),
            permitted: true,
            withheld: Vec::new(),
        }
    }
    /// A client that gets tokens but holds no permission.
    pub fn without_permission(id: impl Into<String>, secret: impl Into<String>) -> Self {
        SimClient {
            permitted: false,
            ..SimClient::new(id, secret)
        }
    }
    /// A client holding every permission except `withheld`.
    pub fn lacking(
        id: impl Into<String>,
        secret: impl Into<String>,
        withheld: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        SimClient {
            withheld: withheld.into_iter().map(Into::into).collect(),
            ..SimClient::new(id, secret)
        }
    }
    /// Whether it holds `permission`.
    pub fn holds(&self, permission: &str) -> bool {
        self.permitted && !self.withheld.iter().any(|p| p == permission)
    }
}

/// Faults to inject; probabilities are per request, from 0 to 1. The default
/// injects none.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// A request gets 429 (`Retry-After: 1`) regardless of the rate limit.
    pub rate_limit_bursts: f64,
    /// A request gets 500, 502, 503 or 504 with an HTML or empty body (503
    /// sometimes with `Retry-After`).
    pub server_errors: f64,
    /// The connection is closed (reset) with no response.
    pub resets: f64,
    /// The response is delayed by `slow_delay`.
    pub slow: f64,
    pub slow_delay: Duration,
    /// A page (other than the first) begins with the last violation of the previous page.
    pub duplicates: f64,
    /// A page holds fewer violations than the size (possibly none) while more
    /// pages follow, as the contract allows.
    pub short_pages: f64,
    /// Fraction of violations that become visible only some time after `detectedAt`.
    pub late_arrivals: f64,
    /// Late violations' delay is uniform in (0, late_max].
    pub late_max: Duration,
    /// Fraction of violations served without a required field (see
    /// [`SimViolation::served_without`]), always the same ones for a seed.
    /// Applied to the dataset when the simulator starts.
    pub malformed: f64,
    /// Share of transcript aggregate jobs that end FAILED instead of FULFILLED.
    pub job_failures: f64,
    /// Share of jobs that are FULFILLED, then EXPIRED after serving their
    /// first page of results (a client must submit again).
    pub job_expiries: f64,
    /// Share of pre-signed transcript URLs issued already expired (the store
    /// answers 403; a client must ask `transcripturl` again).
    pub transcript_url_expiries: f64,
    /// Share of violations pages sent with `oversized_bytes` of whitespace
    /// before the JSON (still a valid page), without a Content-Length: a
    /// client must refuse it while reading, not after.
    pub oversized: f64,
    pub oversized_bytes: u64,
    /// Share of violations pages whose body is sent one byte every
    /// `trickle_interval`: a client's total timeout must cut it.
    pub trickle: f64,
    pub trickle_interval: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate_limit_bursts: 0.0,
            server_errors: 0.0,
            resets: 0.0,
            slow: 0.0,
            slow_delay: Duration::from_secs(5),
            duplicates: 0.0,
            short_pages: 0.0,
            late_arrivals: 0.0,
            late_max: Duration::from_secs(15 * 60),
            malformed: 0.0,
            job_failures: 0.0,
            job_expiries: 0.0,
            transcript_url_expiries: 0.0,
            oversized: 0.0,
            oversized_bytes: 256 << 20,
            trickle: 0.0,
            trickle_interval: Duration::from_millis(500),
        }
    }
}
