//! HTTP to the token endpoint and the API: pacing, retries, token renewal,
//! correlation ids. Knows nothing of windows or violations.

use crate::endpoint::Endpoints;
use crate::error::Error;
use crate::pacer::Pacer;
use crate::page::ReceivedPage;
use crate::retry::{RetryCause, RetryPolicy};
use crate::stats::Stats;
use compliance_api::{
    codes, ApiError, OAuthError, TokenResponse, ViolationQuery, CORRELATION_HEADER, QUERY_PATH,
    TOKEN_PATH,
};
use compliance_http::{BodyError, ByteSize, CaBundle, ClientSettings};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// An OAuth client's id and secret. The secret never reaches a log or an error.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The OAuth client id (not secret; may appear in logs).
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: SecretString,
}

/// How the transport behaves; every field has a sane default except where to
/// go and who to be.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// The API and login hosts.
    pub endpoints: Endpoints,
    /// The OAuth client credentials grant's id and secret.
    pub credentials: Credentials,
    /// The server's limit per rolling minute, token requests included (0: no pacing).
    pub rate_limit_per_minute: u32,
    /// Backoff and bounds of retries.
    pub retry: RetryPolicy,
    /// One request (connect, send, read the whole body) must finish within
    /// this: a server that trickles its answer is cut here.
    pub request_timeout: Duration,
    /// A private CA trusted for the API and login hosts (and pre-signed
    /// URLs), beside the system's and the bundled roots.
    pub ca: Option<CaBundle>,
    /// An answer larger than this is refused while it is read.
    pub max_response_size: ByteSize,
}

/// The default bound on one answer: a page of 1,000 of the simulator's
/// violations is about 0.8 MB, so this leaves room for evidence 80 times
/// larger while a runaway answer stops long before memory does.
pub const DEFAULT_MAX_RESPONSE_SIZE: ByteSize = ByteSize::mib(64);

impl TransportConfig {
    /// Defaults: 300 requests per minute, [`RetryPolicy::default`], 30 s per
    /// request, no added CA, answers up to [`DEFAULT_MAX_RESPONSE_SIZE`].
    pub fn new(endpoints: Endpoints, credentials: Credentials) -> Self {
        TransportConfig {
            endpoints,
            credentials,
            rate_limit_per_minute: 300,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            ca: None,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
        }
    }
}

/// Who needs which permission for a request: named by a 403's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The permission the endpoint needs, such as `speechAndTextAnalytics:data:view`.
    pub permission: &'static str,
    /// The source that asked, such as `speech-analytics`.
    pub source: &'static str,
}

/// The agentassist violations query's access.
const AGENTASSIST_ACCESS: Access = Access {
    permission: compliance_api::REQUIRED_PERMISSION,
    source: "agentassist",
};

/// One API request: where, what, and whose permission it needs.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: reqwest::Method,
    pub url: Url,
    /// A JSON body, if any.
    pub body: Option<Vec<u8>>,
    pub access: Access,
}

/// What a pre-signed URL gave.
#[derive(Debug)]
pub enum Presigned<T> {
    /// The body, decoded.
    Body(T),
    /// The signature expired (or the object is gone): ask for a new URL.
    Expired,
}

/// What one attempt came to.
enum Attempt<T> {
    Done(T),
    Retry {
        cause: RetryCause,
        retry_after: Option<Duration>,
        last: String,
        correlation_id: String,
    },
    Fail(Error),
}

/// Paced, retrying HTTP with a shared token. Cheap to share behind an `Arc`.
pub(crate) struct Transport {
    http: reqwest::Client,
    token_url: Url,
    query_url: Url,
    api: crate::endpoint::BaseUrl,
    credentials: Credentials,
    retry: RetryPolicy,
    pub(crate) pacer: Arc<Pacer>,
    pub(crate) stats: Arc<Stats>,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    max_response_size: ByteSize,
}

struct CachedToken {
    token: Arc<SecretString>,
    renew_at: Instant,
    generation: u64,
}

impl Transport {
    pub(crate) fn new(config: TransportConfig, stats: Arc<Stats>) -> Result<Transport, Error> {
        let http = compliance_http::client(&ClientSettings {
            ca: config.ca.clone(),
            ..ClientSettings::new(config.request_timeout)
        })
        .map_err(|e| Error::Setup(e.to_string()))?;
        Ok(Transport {
            http,
            token_url: config.endpoints.login.join(TOKEN_PATH),
            query_url: config.endpoints.api.join(QUERY_PATH),
            api: config.endpoints.api.clone(),
            credentials: config.credentials,
            retry: config.retry,
            pacer: Arc::new(Pacer::per_minute(config.rate_limit_per_minute)),
            stats,
            token: tokio::sync::Mutex::new(None),
            max_response_size: config.max_response_size,
        })
    }

    /// Fetches one page, retrying what the contract says to retry.
    pub(crate) async fn query(&self, query: &ViolationQuery) -> Result<ReceivedPage, Error> {
        let call = Call {
            method: reqwest::Method::POST,
            url: self.query_url.clone(),
            body: Some(serde_json::to_vec(query).expect("queries serialise")),
            access: AGENTASSIST_ACCESS,
        };
        self.call(&call, "a page", |bytes| {
            crate::page::decode(bytes).map_err(|e| e.to_string())
        })
        .await
    }

    /// Sends one API request with the bearer token, paced and retried as the
    /// contract says, and decodes a 2xx body with `decode` (a body it refuses
    /// is retried like a 5xx: `what` names what was expected).
    pub(crate) async fn call<T>(
        &self,
        call: &Call,
        what: &str,
        decode: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<T, Error> {
        // Set by a 401, cleared by any other outcome: two 401s in a row (the
        // second on a fresh token) fail, while a token that expires during
        // a long run of other retries is renewed again.
        let renewed = AtomicBool::new(false);
        self.with_retries(|| async {
            // Pace first, then take the token: a token taken before a long
            // wait for the pacer (a 429's pause) could expire on the way.
            self.pacer.acquire().await;
            let (token, generation) = match self.token().await {
                Ok(t) => t,
                Err(e) => return Attempt::Fail(e),
            };
            let mut request = self
                .http
                .request(call.method.clone(), call.url.clone())
                .bearer_auth(token.expose_secret());
            if let Some(body) = &call.body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let Answer {
                status,
                cid,
                bytes,
                retry_after,
                sent_at,
            } = match self.send(request).await {
                Ok(answer) => answer,
                Err(retry) => {
                    renewed.store(false, Ordering::Relaxed);
                    return retry;
                }
            };
            if status != StatusCode::UNAUTHORIZED {
                renewed.store(false, Ordering::Relaxed);
            }
            match status {
                s if s.is_success() => match decode(&bytes) {
                    Ok(t) => {
                        self.stats.page_latency(sent_at.elapsed());
                        Attempt::Done(t)
                    }
                    Err(e) => Attempt::Retry {
                        cause: RetryCause::BadBody,
                        retry_after: None,
                        last: format!("HTTP {} with a body that is not {what} ({e})", s.as_u16()),
                        correlation_id: cid,
                    },
                },
                StatusCode::UNAUTHORIZED if !renewed.swap(true, Ordering::Relaxed) => {
                    // The token expired or was revoked early: one new token, one retry.
                    self.forget_token(generation).await;
                    Attempt::Retry {
                        cause: RetryCause::TokenExpired,
                        retry_after: Some(Duration::ZERO),
                        last: "HTTP 401".into(),
                        correlation_id: cid,
                    }
                }
                StatusCode::UNAUTHORIZED => Attempt::Fail(Error::TokenRefused {
                    code: api_error(&bytes)
                        .code
                        .unwrap_or_else(|| codes::BAD_CREDENTIALS.into()),
                    correlation_id: Some(cid),
                }),
                StatusCode::FORBIDDEN => Attempt::Fail(Error::PermissionDenied {
                    permission: call.access.permission.into(),
                    asked_by: call.access.source.into(),
                    code: api_error(&bytes)
                        .code
                        .unwrap_or_else(|| codes::MISSING_PERMISSIONS.into()),
                    correlation_id: Some(cid),
                }),
                s => transient(s, cid, retry_after, &bytes).unwrap_or_else(|cid| {
                    let e = api_error(&bytes);
                    Attempt::Fail(Error::Rejected {
                        status: s.as_u16(),
                        code: e.code.unwrap_or_else(|| "none".into()),
                        field: e.details.iter().find_map(|d| d.field_name.clone()),
                        message: e.message.unwrap_or_else(|| "no message".into()),
                        correlation_id: Some(cid),
                    })
                }),
            }
        })
        .await
    }

    /// Fetches a pre-signed URL (a transcript's, on another host): no bearer
    /// token travels with it and the API's pacer does not count it, but
    /// network failures, 429 and 5xx are retried as for the API. A 400, 403
    /// or 404 means the signature expired or was refused:
    /// [`Presigned::Expired`], for the caller to ask for a new URL.
    pub(crate) async fn presigned<T>(
        &self,
        url: &Url,
        what: &str,
        decode: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Presigned<T>, Error> {
        self.with_retries(|| async {
            let Answer {
                status,
                cid,
                bytes,
                retry_after,
                ..
            } = match self.send_uncounted(self.http.get(url.clone())).await {
                Ok(answer) => answer,
                Err(retry) => return retry,
            };
            Stats::add(&self.stats.downloads, 1);
            match status {
                s if s.is_success() => match decode(&bytes) {
                    Ok(t) => Attempt::Done(Presigned::Body(t)),
                    Err(e) => Attempt::Retry {
                        cause: RetryCause::BadBody,
                        retry_after: None,
                        last: format!("HTTP {} with a body that is not {what} ({e})", s.as_u16()),
                        correlation_id: cid,
                    },
                },
                StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                    Attempt::Done(Presigned::Expired)
                }
                s => transient(s, cid, retry_after, &bytes).unwrap_or_else(|cid| {
                    Attempt::Fail(Error::Rejected {
                        status: s.as_u16(),
                        code: "none".into(),
                        field: None,
                        message: format!("the pre-signed URL for {what} was refused"),
                        correlation_id: Some(cid),
                    })
                }),
            }
        })
        .await
    }

    /// Paces for `per_minute` from now on.
    pub(crate) fn set_rate_limit(&self, per_minute: u32) {
        self.pacer.set_per_minute(per_minute);
    }

    /// `path` (with `/api/v2/...`) on the API host, with `query` pairs encoded.
    pub(crate) fn api_url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.api.join(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// A token that is valid now, and its generation (to forget exactly it
    /// on a 401). Renewals happen one at a time: concurrent callers wait for
    /// the one in flight and share its result.
    async fn token(&self) -> Result<(Arc<SecretString>, u64), Error> {
        let mut cached = self.token.lock().await;
        if let Some(c) = cached.as_ref() {
            if Instant::now() < c.renew_at {
                return Ok((c.token.clone(), c.generation));
            }
        }
        let (answer, asked_at) = self.fetch_token().await?;
        let generation = cached.as_ref().map_or(1, |c| c.generation + 1);
        let fresh = CachedToken {
            token: Arc::new(SecretString::from(answer.access_token)),
            renew_at: renew_at(asked_at, answer.expires_in),
            generation,
        };
        let out = (fresh.token.clone(), generation);
        *cached = Some(fresh);
        Stats::add(&self.stats.token_renewals, 1);
        Ok(out)
    }

    async fn forget_token(&self, generation: u64) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|c| c.generation == generation) {
            if let Some(c) = cached.as_mut() {
                c.renew_at = Instant::now();
            }
        }
    }

    /// A token, and when the request that got it was sent.
    async fn fetch_token(&self) -> Result<(TokenResponse, Instant), Error> {
        let creds = &self.credentials;
        self.with_retries(|| async {
            self.pacer.acquire().await;
            let sent = self
                .send(
                    self.http
                        .post(self.token_url.clone())
                        .basic_auth(&creds.client_id, Some(creds.client_secret.expose_secret()))
                        .header(
                            reqwest::header::CONTENT_TYPE,
                            "application/x-www-form-urlencoded",
                        )
                        .body("grant_type=client_credentials"),
                )
                .await;
            let Answer {
                status,
                cid,
                bytes,
                retry_after,
                sent_at,
            } = match sent {
                Ok(answer) => answer,
                Err(retry) => return retry,
            };
            match status {
                StatusCode::OK => match serde_json::from_slice::<TokenResponse>(&bytes) {
                    Ok(t) => Attempt::Done((t, sent_at)),
                    Err(e) => Attempt::Retry {
                        cause: RetryCause::BadBody,
                        retry_after: None,
                        last: format!(
                            "token endpoint: HTTP 200 with a body that is not a token ({e})"
                        ),
                        correlation_id: cid,
                    },
                },
                StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED => {
                    let e: OAuthError = serde_json::from_slice(&bytes).unwrap_or_default();
                    let detail = [Some(e.error), e.error_description.or(e.description)]
                        .into_iter()
                        .flatten()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(": ");
                    Attempt::Fail(Error::CredentialsRefused {
                        detail: format!("HTTP {} {}", status.as_u16(), detail),
                        correlation_id: Some(cid),
                    })
                }
                StatusCode::FORBIDDEN => Attempt::Fail(Error::PermissionDenied {
                    permission: "the client credentials grant".into(),
                    asked_by: "the token endpoint".into(),
                    code: api_error(&bytes)
                        .code
                        .unwrap_or_else(|| codes::MISSING_PERMISSIONS.into()),
                    correlation_id: Some(cid),
                }),
                s => transient(s, cid, retry_after, &bytes).unwrap_or_else(|cid| {
                    Attempt::Fail(Error::Rejected {
                        status: s.as_u16(),
                        code: "none".into(),
                        field: None,
                        message: "the token endpoint refused the request".into(),
                        correlation_id: Some(cid),
                    })
                }),
            }
        })
        .await
    }

    /// Sends one request (the caller has paced it) and reads its whole body,
    /// up to the bound. A network failure comes back as the retry it calls
    /// for; an untrusted certificate or an oversized body as a failure
    /// (trying again cannot change either).
    async fn send<T>(&self, request: reqwest::RequestBuilder) -> Result<Answer, Attempt<T>> {
        Stats::add(&self.stats.requests, 1);
        self.send_uncounted(request).await
    }

    /// [`Transport::send`] without counting a request to the API (a
    /// pre-signed URL's host is not the API's).
    async fn send_uncounted<T>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, Attempt<T>> {
        // Latency counts from here: the wait for the pacer is not the server's.
        let sent_at = Instant::now();
        let ours = uuid::Uuid::new_v4().to_string();
        let network = |e: reqwest::Error, cid: &str| {
            if let Some(detail) = compliance_http::untrusted_certificate(&e) {
                return Attempt::Fail(Error::Untrusted {
                    host: e.url().map_or_else(|| "the server".into(), host_of),
                    detail,
                });
            }
            let cause = if e.is_timeout() {
                RetryCause::Timeout
            } else {
                RetryCause::Connection
            };
            Attempt::Retry {
                cause,
                retry_after: None,
                last: describe(&e),
                correlation_id: cid.to_string(),
            }
        };
        let response = request
            .header(CORRELATION_HEADER, &ours)
            .send()
            .await
            .map_err(|e| network(e, &ours))?;
        let status = response.status();
        let cid = response
            .headers()
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map_or(ours, str::to_string);
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if status == StatusCode::TOO_MANY_REQUESTS {
            Stats::add(&self.stats.rate_limited_received, 1);
            let wait = retry_after.unwrap_or(Duration::from_secs(1));
            self.pacer.pause_until(Instant::now() + wait);
        }
        let url = response.url().clone();
        let bytes = match compliance_http::read_bounded(response, self.max_response_size).await {
            Ok(bytes) => bytes,
            Err(BodyError::Network(e)) => return Err(network(e, &cid)),
            Err(BodyError::TooLarge { limit, .. }) => {
                return Err(Attempt::Fail(Error::TooLarge {
                    url: format!("{}{}", host_of(&url), url.path()),
                    limit,
                    correlation_id: Some(cid),
                }))
            }
        };
        Ok(Answer {
            status,
            cid,
            bytes,
            retry_after,
            sent_at,
        })
    }

    /// Runs `attempt` until it is done, fails, or the retry budget is spent.
    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Attempt<T>>,
    {
        let started = Instant::now();
        let mut n = 0;
        loop {
            n += 1;
            match attempt().await {
                Attempt::Done(t) => return Ok(t),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry {
                    cause,
                    retry_after,
                    last,
                    correlation_id,
                } => {
                    let Some(wait) = self.retry.next_wait(n, started.elapsed(), retry_after) else {
                        return Err(Error::Unavailable {
                            cause,
                            last,
                            attempts: n,
                            elapsed: started.elapsed(),
                            correlation_id: Some(correlation_id),
                        });
                    };
                    self.stats.retried(cause);
                    tracing::warn!(
                        correlation_id = %correlation_id,
                        cause = cause.as_str(),
                        attempt = n,
                        wait_ms = wait.as_millis() as u64,
                        "retrying after {last}"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// The longest token lifetime the contract allows an organisation (48 hours).
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(48 * 3600);

/// When to renew a token of `expires_in` seconds asked for at `asked_at`
/// (the server's clock started no earlier than our request left): ahead of
/// expiry by a fifth of the lifetime, at most a minute. A lifetime beyond
/// the contract's 48 hours is taken as 48 hours, so that no server value can
/// overflow the clock.
fn renew_at(asked_at: Instant, expires_in: u64) -> Instant {
    let lifetime = Duration::from_secs(expires_in).min(MAX_TOKEN_LIFETIME);
    let margin = (lifetime / 5).min(Duration::from_secs(60));
    asked_at + (lifetime - margin)
}

/// `host:port` of `url`, for messages (never its path or query).
fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        _ => "the server".into(),
    }
}

/// One HTTP answer, body read.
struct Answer {
    status: StatusCode,
    /// The server's correlation id, else the one this client sent.
    cid: String,
    bytes: bytes::Bytes,
    retry_after: Option<Duration>,
    /// When the request left the pacer.
    sent_at: Instant,
}

/// A 429 or 5xx becomes a retry; any other status is handed back (with the
/// correlation id) for the caller to turn into a failure.
fn transient<T>(
    status: StatusCode,
    cid: String,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<Attempt<T>, String> {
    let cause = match status.as_u16() {
        429 => RetryCause::RateLimited,
        500 | 502 | 503 | 504 => RetryCause::ServerError,
        _ => return Err(cid),
    };
    Ok(Attempt::Retry {
        cause,
        retry_after: if cause == RetryCause::RateLimited {
            Some(retry_after.unwrap_or(Duration::from_secs(1)))
        } else {
            retry_after
        },
        last: format!(
            "HTTP {} (code {})",
            status.as_u16(),
            api_error(body).code.as_deref().unwrap_or("none")
        ),
        correlation_id: cid,
    })
}

/// The error body of the API, or an empty one when the body is not JSON.
fn api_error(bytes: &[u8]) -> ApiError {
    serde_json::from_slice(bytes).unwrap_or_default()
}

/// A network error without the URL (which is harmless) or anything secret.
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        what.to_string()
    } else {
        format!("{what} ({detail})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_a_fifth_of_their_lifetime_early_at_most_a_minute() {
        let t = Instant::now();
        let after = |expires_in| renew_at(t, expires_in) - t;
        // The contract's range: 5 minutes to 48 hours; 24 hours by default.
        assert_eq!(after(300), Duration::from_secs(240));
        assert_eq!(after(86_399), Duration::from_secs(86_339));
        assert_eq!(after(172_800), Duration::from_secs(172_740));
        // Test servers' short lifetimes.
        assert_eq!(after(1), Duration::from_millis(800));
        assert_eq!(after(0), Duration::ZERO);
        // Beyond the contract: capped, never an overflow.
        assert_eq!(after(u64::MAX), Duration::from_secs(172_740));
        assert_eq!(after(10 * 172_800), Duration::from_secs(172_740));
    }
}
