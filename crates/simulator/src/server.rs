//! The HTTP server: the token endpoint, the agentassist query and the real
//! Genesys Cloud endpoints on one port, with correlation ids, the rate limit
//! and fault injection around every request.

use crate::agentassist::query_violations;
use crate::dataset::{generate, Dataset, SimViolation};
use crate::genesys::jobs::Jobs;
use crate::genesys::transcripts::Urls;
use crate::genesys::Org;
use crate::limiter::RateLimiter;
use crate::net::{accept_loop, Reset};
use crate::respond::{
    header_text, method_not_allowed, not_found, too_many_requests, CorrelationId,
};
use crate::token::token;
use crate::{Faults, SimClient, SimConfig};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use compliance_api::{Timestamp, CORRELATION_HEADER, QUERY_PATH, TOKEN_PATH};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running simulator. It stops when dropped or on [`Simulator::shutdown`].
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    /// Serving HTTPS (else plain HTTP).
    tls: bool,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

/// What the simulator has seen and done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests to the token endpoint.
    pub token_requests: u64,
    /// Requests to the query endpoint.
    pub query_requests: u64,
    /// Requests to anything else.
    pub other_requests: u64,
    /// Responses sent, by status (resets send none).
    pub responses: BTreeMap<u16, u64>,
    pub tokens_issued: u64,
    /// 429s sent because a client went over the rate limit.
    pub rate_limited: u64,
    pub faults: FaultStats,
}

/// Faults injected so far, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultStats {
    pub rate_limit_bursts: u64,
    pub server_errors: u64,
    pub resets: u64,
    pub slow: u64,
    pub duplicates: u64,
    pub short_pages: u64,
    /// Aggregate jobs doomed to FAILED.
    pub jobs_failed: u64,
    /// Aggregate jobs that expire after their first page of results.
    pub jobs_expired: u64,
    /// Transcript URLs issued already expired.
    pub transcript_urls_expired: u64,
    /// Pages sent padded beyond any sane size.
    pub oversized: u64,
    /// Pages sent one byte at a time.
    pub trickled: u64,
}

/// One request as the simulator received and answered it, for tests that
/// check what a client sends (see [`Simulator::requests`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The request's `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The `ININ-Correlation-Id` the client sent, if any.
    pub client_correlation_id: Option<String>,
    /// The `ININ-Correlation-Id` of the response (absent for a reset).
    pub correlation_id: Option<String>,
    /// The response's status; `None` for a reset.
    pub status: Option<u16>,
}

/// The requests kept by [`Simulator::requests`]: the latest ones, so that a
/// long-running simulator does not grow.
const REQUESTS_KEPT: usize = 10_000;

impl Stats {
    /// Responses sent with `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.responses.get(&status).copied().unwrap_or(0)
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) clients: Vec<SimClient>,
    pub(crate) token_lifetime: Duration,
    pub(crate) latency: Duration,
    pub(crate) legacy_pages: bool,
    pub(crate) max_results_per_query: u64,
    /// Changeable while running ([`Simulator::set_faults`]).
    pub(crate) faults: RwLock<Faults>,
    pub(crate) dataset: RwLock<Arc<Dataset>>,
    pub(crate) tokens: Mutex<HashMap<String, Issued>>,
    pub(crate) limiter: RateLimiter,
    pub(crate) stats: Mutex<Stats>,
    pub(crate) requests: Mutex<std::collections::VecDeque<RequestRecord>>,
    /// Fault dice: seeded, so a run with the same seed and requests rolls the same.
    pub(crate) dice: Mutex<ChaCha8Rng>,
    /// The organisation behind the real Genesys Cloud endpoints.
    pub(crate) org: Arc<Org>,
    pub(crate) jobs: Mutex<Jobs>,
    pub(crate) urls: Mutex<Urls>,
    /// What "now" is for data that appears over time (evaluations); `None`: the real clock.
    pub(crate) clock: RwLock<Option<Timestamp>>,
    pub(crate) job_polls: u32,
    pub(crate) transcript_url_lifetime: Duration,
    pub(crate) rate_limit_per_minute: u32,
}

#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) client: usize,
    pub(crate) expires: Instant,
}

impl Simulator {
    /// Generates the dataset and starts serving on `listen` (use port 0 for a free port).
    pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<Simulator> {
        Simulator::start_with_tls(config, listen, None).await
    }

    /// [`Simulator::start`], serving HTTPS with `tls` when given (a
    /// certificate from a private CA, as a gateway inside a company has).
    pub async fn start_with_tls(
        config: SimConfig,
        listen: SocketAddr,
        tls: Option<compliance_http::ServerTls>,
    ) -> std::io::Result<Simulator> {
        // Bind first, so that a busy port is reported before a long generation.
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let faults = config.faults.clone();
        let seed = config.seed;
        let (start, end, conversations) = (config.start, config.end, config.conversations);
        let dataset = tokio::task::spawn_blocking(move || {
            let mut dataset = generate(
                seed,
                config.violations,
                config.start,
                config.end,
                (faults.late_arrivals, faults.late_max),
            );
            dataset.break_records(faults.malformed, seed);
            dataset
        });
        let org =
            tokio::task::spawn_blocking(move || Org::generate(seed, conversations, start, end));
        let dataset = dataset.await.map_err(std::io::Error::other)?;
        let org = org.await.map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            clients: config.clients,
            token_lifetime: config.token_lifetime,
            latency: config.latency,
            legacy_pages: config.legacy_pages,
            max_results_per_query: config.max_results_per_query,
            faults: RwLock::new(config.faults),
            dataset: RwLock::new(Arc::new(dataset)),
            tokens: Mutex::new(HashMap::new()),
            limiter: RateLimiter::new(config.rate_limit_per_minute),
            stats: Mutex::new(Stats::default()),
            requests: Mutex::new(Default::default()),
            dice: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed ^ 0x5EED_FA17)),
            org: Arc::new(org),
            jobs: Mutex::new(Jobs::default()),
            urls: Mutex::new(Urls::default()),
            clock: RwLock::new(None),
            job_polls: config.job_polls,
            transcript_url_lifetime: config.transcript_url_lifetime,
            rate_limit_per_minute: config.rate_limit_per_minute,
        });
        let https = tls.is_some();
        let task = tokio::spawn(accept_loop(listener, router(shared.clone()), tls));
        Ok(Simulator {
            addr,
            tls: https,
            shared,
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT` (`https://localhost:PORT` when serving TLS: the
    /// name its certificate is issued for): both `/oauth/token` and
    /// `/api/v2/...` live there.
    pub fn base_url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// The dataset as it stands (violations added later are in later snapshots).
    pub fn dataset(&self) -> Arc<Dataset> {
        self.shared.dataset.read().expect("dataset lock").clone()
    }

    /// The organisation behind the real Genesys Cloud endpoints, with its
    /// ground truth ([`Org::category_hits`], [`Org::failed_questions`], ...).
    pub fn org(&self) -> Arc<Org> {
        self.shared.org.clone()
    }

    /// Sets what "now" is for data that appears over time (evaluations are
    /// visible from their first submission, rescored and retracted later);
    /// `None` returns to the real clock. Tests move it to watch an
    /// evaluation change.
    pub fn set_clock(&self, now: Option<Timestamp>) {
        *self.shared.clock.write().expect("clock lock") = now;
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats.lock().expect("stats lock").clone()
    }

    /// The latest requests received (up to 10,000), oldest first: what
    /// each carried and how it was answered.
    pub fn requests(&self) -> Vec<RequestRecord> {
        let requests = self.shared.requests.lock().expect("requests lock");
        requests.iter().cloned().collect()
    }

    /// Adds violations while running (they are served once visible), for
    /// tests of data arriving during a query.
    pub fn add_violations(&self, more: impl IntoIterator<Item = SimViolation>) {
        let mut dataset = self.shared.dataset.write().expect("dataset lock");
        let mut next = Dataset::clone(&dataset);
        next.extend(more);
        *dataset = Arc::new(next);
    }

    /// Changes the faults injected from now on (for tests that need a token
    /// first, then trouble). `late_arrivals` and `late_max` shape the dataset
    /// and only take effect at [`Simulator::start`].
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.write().expect("faults lock") = faults;
    }

    /// Revokes every token issued so far, as an organisation that resets its
    /// OAuth client would: the API answers 401 `bad.credentials` to them, and
    /// the same grant gives a new token. Returns how many were still valid.
    pub fn revoke_tokens(&self) -> usize {
        let mut tokens = self.shared.tokens.lock().expect("tokens lock");
        let now = Instant::now();
        let valid = tokens.values().filter(|t| t.expires > now).count();
        tokens.clear();
        valid
    }

    /// Revokes one token; false if it was not valid (never issued, expired
    /// or already revoked).
    pub fn revoke_token(&self, access_token: &str) -> bool {
        let mut tokens = self.shared.tokens.lock().expect("tokens lock");
        let revoked = tokens.remove(access_token);
        revoked.is_some_and(|t| t.expires > Instant::now())
    }

    /// Stops serving and closes every connection.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(TOKEN_PATH, post(token))
        .route(QUERY_PATH, post(query_violations))
        .merge(crate::genesys::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            around_every_request,
        ))
        .with_state(shared)
}

/// Correlation id, counting and faults, for every request of either endpoint.
async fn around_every_request(
    State(shared): State<Arc<Shared>>,
    mut req: Request,
    next: Next,
) -> Response {
    let mut record = RequestRecord {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        content_type: header_text(req.headers(), header::CONTENT_TYPE.as_str()),
        client_correlation_id: header_text(req.headers(), CORRELATION_HEADER),
        correlation_id: None,
        status: None,
    };
    let id = record
        .client_correlation_id
        .clone()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(CorrelationId(id.clone()));
    tracing::debug!(method = %req.method(), path = req.uri().path(), correlation_id = %id, "simulator request");
    {
        let mut stats = shared.stats.lock().expect("stats lock");
        match req.uri().path() {
            TOKEN_PATH => stats.token_requests += 1,
            QUERY_PATH => stats.query_requests += 1,
            _ => stats.other_requests += 1,
        }
    }
    let mut response = match shared.inject_fault(&id) {
        Some(fault) => fault,
        None => next.run(req).await,
    };
    // A slow response is delayed after it is handled, so that the rate limit
    // counts the request when it arrived, as the client sent it.
    let faults = shared.faults();
    if shared.roll(faults.slow) {
        shared.count_fault(|s| s.slow += 1);
        tokio::time::sleep(faults.slow_delay).await;
    }
    if record.path == QUERY_PATH && response.status().is_success() {
        response = crate::net::misshapen(&shared, &faults, response).await;
    }
    if response.extensions().get::<Reset>().is_none() {
        let mut stats = shared.stats.lock().expect("stats lock");
        *stats
            .responses
            .entry(response.status().as_u16())
            .or_default() += 1;
        if let Ok(v) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(CORRELATION_HEADER, v);
            record.correlation_id = Some(id);
        }
        record.status = Some(response.status().as_u16());
    }
    let mut requests = shared.requests.lock().expect("requests lock");
    if requests.len() == REQUESTS_KEPT {
        requests.pop_front();
    }
    requests.push_back(record);
    drop(requests);
    response
}

impl Shared {
    /// The configured latency, added to every API response.
    pub(crate) async fn api_latency(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    /// "Now" for data that appears over time ([`Simulator::set_clock`]).
    pub(crate) fn now(&self) -> Timestamp {
        self.clock
            .read()
            .expect("clock lock")
            .unwrap_or_else(Timestamp::now)
    }

    pub(crate) fn faults(&self) -> Faults {
        self.faults.read().expect("faults lock").clone()
    }

    pub(crate) fn roll(&self, p: f64) -> bool {
        p > 0.0 && self.dice.lock().expect("dice lock").gen_bool(p.min(1.0))
    }

    pub(crate) fn count_fault(&self, f: impl FnOnce(&mut FaultStats)) {
        f(&mut self.stats.lock().expect("stats lock").faults)
    }

    /// Rolls each fault in turn; the first that hits answers the request.
    fn inject_fault(&self, correlation: &str) -> Option<Response> {
        let f = self.faults();
        if self.roll(f.resets) {
            self.count_fault(|s| s.resets += 1);
            let mut response = Response::new(Body::empty());
            response.extensions_mut().insert(Reset);
            return Some(response);
        }
        if self.roll(f.rate_limit_bursts) {
            self.count_fault(|s| s.rate_limit_bursts += 1);
            return Some(too_many_requests(1, correlation));
        }
        if self.roll(f.server_errors) {
            self.count_fault(|s| s.server_errors += 1);
            let (status, html, retry_after) = {
                let mut dice = self.dice.lock().expect("dice lock");
                let status = [500u16, 502, 503, 504][dice.gen_range(0..4)];
                (
                    status,
                    dice.gen_bool(0.5),
                    status == 503 && dice.gen_bool(0.5),
                )
            };
            let status = StatusCode::from_u16(status).expect("a valid status");
            let mut response = if html {
                let page = format!(
                    "<html><head><title>{status}</title></head><body><h1>{status}</h1>\
                     <p>The upstream service is temporarily unavailable.</p></body></html>"
                );
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
            } else {
                Body::empty().into_response()
            };
            *response.status_mut() = status;
            if retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            return Some(response);
        }
        None
    }
}
