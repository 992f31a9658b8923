//! The HTTP server: the token endpoint and the query endpoint on one port,
//! with correlation ids, the rate limit and fault injection around both.

use crate::dataset::{generate, Dataset, SimViolation};
use crate::limiter::{retry_after_secs, RateLimiter};
use crate::query::{self, Refusal};
use crate::{Faults, SimClient, SimConfig};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use compliance_api::{
    codes, Timestamp, CORRELATION_HEADER, MAX_BODY_BYTES, QUERY_PATH, TOKEN_PATH,
};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

/// A running simulator. It stops when dropped or on [`Simulator::shutdown`].
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
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
struct Shared {
    clients: Vec<SimClient>,
    token_lifetime: Duration,
    latency: Duration,
    legacy_pages: bool,
    max_results_per_query: u64,
    /// Changeable while running ([`Simulator::set_faults`]).
    faults: RwLock<Faults>,
    dataset: RwLock<Arc<Dataset>>,
    tokens: Mutex<HashMap<String, Issued>>,
    limiter: RateLimiter,
    stats: Mutex<Stats>,
    requests: Mutex<std::collections::VecDeque<RequestRecord>>,
    /// Fault dice: seeded, so a run with the same seed and requests rolls the same.
    dice: Mutex<ChaCha8Rng>,
}

#[derive(Debug)]
struct Issued {
    client: usize,
    expires: Instant,
}

/// The correlation id of the request being answered.
#[derive(Debug, Clone)]
struct CorrelationId(String);

/// Marks a response that must not be sent: the connection is reset instead.
#[derive(Debug, Clone, Copy)]
struct Reset;

impl Simulator {
    /// Generates the dataset and starts serving on `listen` (use port 0 for a free port).
    pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<Simulator> {
        // Bind first, so that a busy port is reported before a long generation.
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let faults = config.faults.clone();
        let seed = config.seed;
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
        let dataset = dataset.await.map_err(std::io::Error::other)?;
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
        });
        let task = tokio::spawn(accept_loop(listener, router(shared.clone())));
        Ok(Simulator {
            addr,
            shared,
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`: both `/oauth/token` and `/api/v2/...` live there.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The dataset as it stands (violations added later are in later snapshots).
    pub fn dataset(&self) -> Arc<Dataset> {
        self.shared.dataset.read().expect("dataset lock").clone()
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

/// Accepts connections and serves each with hyper, so that a reset fault can
/// drop a connection without writing a response. Aborting this task drops the
/// `JoinSet` and with it every connection.
async fn accept_loop(listener: TcpListener, app: Router) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, app.clone()));
                }
                Err(e) => {
                    tracing::warn!("simulator: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(mut stream: TcpStream, app: Router) {
    let reset = Arc::new(Notify::new());
    let signal = reset.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let app = app.clone();
        let signal = signal.clone();
        async move {
            let response = app.oneshot(req.map(Body::new)).await?;
            if response.extensions().get::<Reset>().is_some() {
                signal.notify_one();
                std::future::pending::<()>().await;
            }
            Ok::<_, Infallible>(response)
        }
    });
    let reset_requested = {
        let io = hyper_util::rt::TokioIo::new(&mut stream);
        let connection = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
        tokio::select! {
            _ = connection => false,
            _ = reset.notified() => true,
        }
    };
    if reset_requested {
        // SO_LINGER 0: closing sends RST, as a crashed proxy would.
        let _ = stream.set_zero_linger();
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(TOKEN_PATH, post(token))
        .route(QUERY_PATH, post(query_violations))
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

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl Shared {
    fn faults(&self) -> Faults {
        self.faults.read().expect("faults lock").clone()
    }

    fn roll(&self, p: f64) -> bool {
        p > 0.0 && self.dice.lock().expect("dice lock").gen_bool(p.min(1.0))
    }

    fn count_fault(&self, f: impl FnOnce(&mut FaultStats)) {
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

    /// Counts a request against `client`'s budget; the 429 to send if it is spent.
    fn over_limit(&self, client: usize, correlation: &str) -> Option<Response> {
        let wait = self
            .limiter
            .admit(&self.clients[client].id, Instant::now())
            .err()?;
        self.stats.lock().expect("stats lock").rate_limited += 1;
        Some(too_many_requests(retry_after_secs(wait), correlation))
    }
}

/// The API's error body (section 5 of the contract).
fn api_error(
    status: StatusCode,
    code: &str,
    message: &str,
    details: &[(&str, String)],
    correlation: &str,
) -> Response {
    let details: Vec<Value> = details
        .iter()
        .map(|(code, field)| json!({"errorCode": code, "fieldName": field}))
        .collect();
    let body = json!({
        "message": message,
        "code": code,
        "status": status.as_u16(),
        "contextId": correlation,
        "details": details,
        "errors": [],
    });
    (status, axum::Json(body)).into_response()
}

fn too_many_requests(retry_after: u64, correlation: &str) -> Response {
    let mut response = api_error(
        StatusCode::TOO_MANY_REQUESTS,
        codes::TOO_MANY_REQUESTS,
        &format!("Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds"),
        &[],
        correlation,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

async fn not_found(Extension(CorrelationId(id)): Extension<CorrelationId>) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "not.found",
        &format!("No resource here; the API serves POST {TOKEN_PATH} and POST {QUERY_PATH}."),
        &[],
        &id,
    )
}

async fn method_not_allowed(Extension(CorrelationId(id)): Extension<CorrelationId>) -> Response {
    api_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method.not.allowed",
        "Only POST is served here.",
        &[],
        &id,
    )
}

/// The token endpoint's error body (OAuth format, not the API's).
fn oauth_error(status: StatusCode, description: &str) -> Response {
    let body = json!({
        "error": "invalid_client",
        "description": description,
        "error_description": description,
    });
    (status, axum::Json(body)).into_response()
}

/// `POST /oauth/token`: client credentials from the Basic header or the form.
async fn token(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !content_type_is(&headers, FORM) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "Send the token request as a form: Content-Type: application/x-www-form-urlencoded.",
        );
    }
    let form: Vec<(String, String)> = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(_) => return oauth_error(StatusCode::BAD_REQUEST, "The body must be form-urlencoded."),
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let credentials = match headers.get(header::AUTHORIZATION) {
        Some(value) => match basic_credentials(value) {
            Some(pair) => Some(pair),
            None => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "The Authorization header must be Basic base64(client_id:client_secret).",
                )
            }
        },
        None => field("client_id")
            .zip(field("client_secret"))
            .map(|(id, secret)| (id.to_string(), secret.to_string())),
    };
    let Some((id, secret)) = credentials else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "Client credentials are missing: send a Basic Authorization header or client_id and client_secret.",
        );
    };
    // The token endpoint counts against the client's rate limit too.
    let known = shared.clients.iter().position(|c| c.id == id);
    if let Some(client) = known {
        if let Some(refused) = shared.over_limit(client, &correlation) {
            return refused;
        }
    }
    if field("grant_type") != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "grant_type must be client_credentials.",
        );
    }
    let Some(client) = known.filter(|&c| shared.clients[c].secret == secret) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "Client authentication failed.");
    };
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let access_token = URL_SAFE_NO_PAD.encode(bytes);
    {
        let mut tokens = shared.tokens.lock().expect("tokens lock");
        let now = Instant::now();
        // Forget expired tokens now and then, so a long run does not grow without bound.
        if tokens.len() % 1024 == 1023 {
            tokens.retain(|_, issued| issued.expires > now);
        }
        let expires = now + shared.token_lifetime;
        tokens.insert(access_token.clone(), Issued { client, expires });
    }
    shared.stats.lock().expect("stats lock").tokens_issued += 1;
    let body = json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": shared.token_lifetime.as_secs(),
    });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// Whether the request's `Content-Type` is `media` (parameters such as
/// `charset` allowed, case ignored), as the contract has clients send.
fn content_type_is(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media))
}

fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// `POST /api/v2/agentassist/compliance/violations/query`.
async fn query_violations(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let unauthorized = || {
        api_error(
            StatusCode::UNAUTHORIZED,
            codes::BAD_CREDENTIALS,
            "Invalid login credentials: the token is missing, expired or revoked.",
            &[],
            &correlation,
        )
    };
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
    else {
        return unauthorized();
    };
    let client = {
        let tokens = shared.tokens.lock().expect("tokens lock");
        match tokens.get(token.trim()) {
            Some(issued) if issued.expires > Instant::now() => issued.client,
            _ => return unauthorized(),
        }
    };
    if let Some(refused) = shared.over_limit(client, &correlation) {
        return refused;
    }
    if !shared.clients[client].permitted {
        return api_error(
            StatusCode::FORBIDDEN,
            codes::MISSING_PERMISSIONS,
            &format!("Unable to perform the requested action. You are missing the following permission(s): [{}]", compliance_api::REQUIRED_PERMISSION),
            &[],
            &correlation,
        );
    }
    if !content_type_is(&headers, JSON) {
        let sent = headers
            .get(header::CONTENT_TYPE)
            .map_or("none".into(), |v| {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            });
        return api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported.media.type",
            &format!("The media type '{sent}' is not supported; send Content-Type: {JSON}."),
            &[],
            &correlation,
        );
    }
    // The size limit is checked before anything is parsed.
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::REQUEST_TOO_LARGE,
            &format!("The request body exceeds {MAX_BODY_BYTES} bytes."),
            &[],
            &correlation,
        );
    };
    let refuse = |r: Refusal| {
        api_error(
            StatusCode::BAD_REQUEST,
            r.code,
            &r.message,
            &r.details,
            &correlation,
        )
    };
    let query = match query::parse(&body) {
        Ok(q) => q,
        Err(r) => return refuse(r),
    };
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let faults = shared.faults();
    let repeat_last = query.cursor.is_some() && shared.roll(faults.duplicates);
    // A short page holds 0 to size - 1 violations.
    let short = shared.roll(faults.short_pages).then(|| {
        shared
            .dice
            .lock()
            .expect("dice lock")
            .gen_range(0..query.size) as usize
    });
    let serving = query::Serving {
        repeat_last,
        short,
        cap: shared.max_results_per_query,
    };
    let dataset = shared.dataset.read().expect("dataset lock").clone();
    let page = match query::page(&dataset, &query, Timestamp::now(), serving) {
        Ok(page) => page,
        Err(r) => return refuse(r),
    };
    if repeat_last {
        shared.count_fault(|s| s.duplicates += 1);
    }
    if short.is_some() && page.next.is_some() {
        shared.count_fault(|s| s.short_pages += 1);
    }
    let next = page.next.as_ref().map(|c| c.encode());
    let legacy = shared.legacy_pages;
    let body = serde_json::to_vec(&PageBody {
        violations: page.violations,
        page_size: query.size,
        // An older server leaves the cursor out on the last page, and the total out.
        next_page_cursor: if legacy && next.is_none() {
            None
        } else {
            Some(next)
        },
        total: (!legacy).then_some(page.total),
    });
    match body {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal.server.error",
            &format!("The page could not be rendered: {e}"),
            &[],
            &correlation,
        ),
    }
}

/// The 200 body of the query endpoint, rendered straight from the dataset.
#[derive(serde::Serialize)]
struct PageBody<'a> {
    violations: Vec<&'a SimViolation>,
    #[serde(rename = "pageSize")]
    page_size: u32,
    /// Present and null on the last page (absent only in legacy mode).
    #[serde(rename = "nextPageCursor", skip_serializing_if = "Option::is_none")]
    next_page_cursor: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
}
