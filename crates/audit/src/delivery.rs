//! Delivery of queued audit records to the webhook endpoint.
//!
//! Records are sent oldest first, those left by earlier runs before new ones,
//! one at a time so that a receiver sees the chain in order. Every attempt of
//! one record carries the same `webhook-id` and body, and a fresh
//! `webhook-timestamp` and signature. Any 2xx delivers; `410 Gone` disables the
//! endpoint in the store (nothing more is sent to it until
//! it is enabled again; the caller says how, see [`EnableCommand`]); anything
//! else is retried with exponential backoff and jitter
//! within the run's budget, and what is still undelivered stays queued for the
//! next run.

use crate::signing::WebhookSecret;
use compliance_http::{CaBundle, ClientSettings};
use compliance_retry::RetryPolicy;
use compliance_store::{Anchor, DisabledEndpoint, OutboxEntry, StateStore, StoreError};
use serde_json::Value;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long one attempt may take (the interface asks for 15 to 30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// The `type` field of every webhook body.
pub const EVENT_TYPE: &str = "compliance.extraction.audited";

/// Where webhooks go: an `https` URL, or `http` to a loopback address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint(reqwest::Url);

/// The webhook URL was refused; the message says what is allowed. A caller
/// that names the URL its own way (a flag, a config key) builds its message
/// from [`url`](Self::url), [`problem`](Self::problem) and [`ALLOWED`](Self::ALLOWED).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the webhook URL `{url}` {problem}; {}", Self::ALLOWED)]
pub struct EndpointError {
    url: String,
    problem: String,
}

impl EndpointError {
    /// What a webhook URL may be.
    pub const ALLOWED: &str = "give an https:// URL, or http:// to 127.0.0.1, [::1] or localhost";

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl WebhookEndpoint {
    /// Parses a webhook URL: `https://...`, or `http://` to a loopback host
    /// (audit records must not cross a network in clear text).
    pub fn parse(text: &str) -> Result<Self, EndpointError> {
        let refuse = |problem: String| EndpointError {
            url: text.to_owned(),
            problem,
        };
        let url = reqwest::Url::parse(text).map_err(|e| refuse(format!("is not a URL ({e})")))?;
        let host = url.host_str().ok_or_else(|| refuse("has no host".into()))?;
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(refuse(
                    "is plain http to a host that is not loopback".into(),
                ))
            }
            other => return Err(refuse(format!("has the scheme {other}"))),
        }
        Ok(WebhookEndpoint(url))
    }

    /// The URL as text (also the endpoint's key in the store).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Display for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stable webhook id of the record at `anchor`: derived from its chain
/// hash, so that it is the same on every attempt and every run.
pub fn webhook_id_for(anchor: &Anchor) -> String {
    format!("msg_{}", &anchor.hash[..32.min(anchor.hash.len())])
}

/// The webhook body: the record's fields at the top level, plus `type` and
/// `chain` (`seq`, `hash`, `prev_hash`) so that receivers can anchor the chain.
pub fn webhook_body(record: &Value, anchor: &Anchor, prev_hash: &str) -> Vec<u8> {
    let mut body = record.as_object().cloned().unwrap_or_default();
    body.insert("type".into(), EVENT_TYPE.into());
    body.insert(
        "chain".into(),
        serde_json::json!({"seq": anchor.seq, "hash": anchor.hash, "prev_hash": prev_hash}),
    );
    serde_json::to_vec(&body).expect("a JSON map serialises")
}

/// The command line that enables `endpoint` again after `410 Gone`, given
/// the file of the state store that disabled it (`None` when it has none).
/// The program that runs the delivery knows its own commands; messages about
/// a disabled endpoint quote what it returns.
pub type EnableCommand = fn(endpoint: &str, state: Option<&std::path::Path>) -> String;

/// How hard one delivery run tries before leaving a record queued: 5
/// attempts, 1 s doubling up to 30 s, 2 minutes in all.
pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    base_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(30),
    max_elapsed: Duration::from_secs(120),
};

/// What one delivery run achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Webhook ids delivered in this run, in order.
    pub delivered: Vec<String>,
    /// Webhooks for this endpoint still queued after the run.
    pub still_queued: u64,
    /// Set when the endpoint is disabled (it answered `410 Gone`).
    pub disabled: Option<DisabledEndpoint>,
    /// What the last failed attempt met.
    pub last_error: Option<String>,
    /// The last failed attempt met a certificate that is not trusted (a
    /// private CA's, or a TLS-inspecting proxy's): the fix is a CA to trust.
    pub certificate_refused: bool,
}

impl DeliveryReport {
    /// Everything queued for the endpoint was delivered (else exit 5).
    pub fn is_complete(&self) -> bool {
        self.still_queued == 0 && self.disabled.is_none()
    }
}

/// Why a delivery run could not proceed (not an undelivered webhook: that is
/// a [`DeliveryReport`]).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(String),
}

/// Sends the store's queued webhooks for one endpoint. See the module documentation.
pub struct Deliverer {
    store: Arc<dyn StateStore>,
    endpoint: WebhookEndpoint,
    secret: Option<WebhookSecret>,
    policy: RetryPolicy,
    client: reqwest::Client,
    /// What the client was built with (rebuilt when either changes).
    timeout: Duration,
    ca: Option<CaBundle>,
    enable_command: Option<EnableCommand>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("endpoint", &self.endpoint)
            .field("signed", &self.secret.is_some())
            .field("policy", &self.policy)
            .finish()
    }
}

/// The outcome of one HTTP attempt.
enum Attempt {
    Delivered(u16),
    Gone,
    Failed(Option<u16>, String),
}

impl Deliverer {
    /// A deliverer for `endpoint`, signing with `secret` when given (unsigned
    /// otherwise), with [`DEFAULT_TIMEOUT`] and [`DEFAULT_RETRY`].
    pub fn new(
        store: Arc<dyn StateStore>,
        endpoint: WebhookEndpoint,
        secret: Option<WebhookSecret>,
    ) -> Result<Self, DeliveryError> {
        Ok(Deliverer {
            store,
            endpoint,
            secret,
            policy: DEFAULT_RETRY,
            client: client(DEFAULT_TIMEOUT, None)?,
            timeout: DEFAULT_TIMEOUT,
            ca: None,
            enable_command: None,
        })
    }

    /// Quotes `command` in the messages about a disabled endpoint, so that
    /// they say how to enable it again.
    pub fn with_enable_command(mut self, command: EnableCommand) -> Self {
        self.enable_command = Some(command);
        self
    }

    /// The command that enables `url` again, when the caller said how.
    fn enable_command(&self, url: &str) -> Option<String> {
        self.enable_command
            .map(|command| command(url, self.store.file()))
    }

    /// Uses `policy` for retries within a run.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Uses `timeout` for each attempt (keep it within 15 to 30 s outside tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Result<Self, DeliveryError> {
        self.client = client(timeout, self.ca.clone())?;
        self.timeout = timeout;
        Ok(self)
    }

    /// Trusts `ca` for the endpoint's certificate too (a private CA, or a
    /// TLS-inspecting proxy's), beside the system's and the bundled roots.
    pub fn with_ca(mut self, ca: Option<CaBundle>) -> Result<Self, DeliveryError> {
        self.client = client(self.timeout, ca.clone())?;
        self.ca = ca;
        Ok(self)
    }

    /// The endpoint this deliverer sends to.
    pub fn endpoint(&self) -> &WebhookEndpoint {
        &self.endpoint
    }

    /// Delivers what is queued for the endpoint, oldest first, retrying
    /// within the policy's budget. Stops at the first record that stays
    /// undelivered (order is kept), or when the endpoint answers `410`.
    pub async fn deliver_pending(&self) -> Result<DeliveryReport, DeliveryError> {
        let url = self.endpoint.as_str();
        let mut report = DeliveryReport::default();
        if let Some(disabled) = self.store.disabled_endpoint(url)? {
            report.still_queued = self.store.pending_webhooks(url)?.len() as u64;
            let again = match self.enable_command(url) {
                Some(command) => format!("; to send to it again run `{command}`"),
                None => " until it is enabled again".into(),
            };
            tracing::warn!(
                endpoint = url, reason = %disabled.reason,
                "webhook endpoint is disabled; nothing sent{again}"
            );
            report.disabled = Some(disabled);
            return Ok(report);
        }
        let started = Instant::now();
        let pending = self.store.pending_webhooks(url)?;
        let total = pending.len() as u64;
        for entry in &pending {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.attempt(entry).await {
                    Attempt::Delivered(status) => {
                        self.store.mark_delivered(&entry.webhook_id, status)?;
                        tracing::info!(webhook_id = %entry.webhook_id, status, "webhook delivered");
                        report.delivered.push(entry.webhook_id.clone());
                        break;
                    }
                    Attempt::Gone => {
                        let until = match self.enable_command(url) {
                            Some(command) => format!("`{command}` enables it again"),
                            None => "it is enabled again".into(),
                        };
                        let reason = format!(
                            "answered 410 Gone to webhook {}; deliveries to it stopped until {until}",
                            entry.webhook_id,
                        );
                        self.store.record_failure(
                            &entry.webhook_id,
                            Some(410),
                            "410 Gone",
                            None,
                        )?;
                        self.store.disable_endpoint(url, &reason)?;
                        tracing::error!(endpoint = url, "webhook endpoint {reason}");
                        report.disabled = self.store.disabled_endpoint(url)?;
                        report.still_queued = total - report.delivered.len() as u64;
                        report.last_error = Some("410 Gone".into());
                        return Ok(report);
                    }
                    Attempt::Failed(status, error) => {
                        // No retry makes a certificate trusted: left queued at once.
                        report.certificate_refused = error.starts_with(UNTRUSTED);
                        let wait = match report.certificate_refused {
                            true => None,
                            false => self.policy.next_wait(attempt, started.elapsed(), None),
                        };
                        let next = wait.map(|wait| unix_millis() + wait.as_millis() as i64);
                        self.store
                            .record_failure(&entry.webhook_id, status, &error, next)?;
                        tracing::warn!(webhook_id = %entry.webhook_id, attempt, %error, "webhook attempt failed");
                        report.last_error = Some(error);
                        let Some(wait) = wait else {
                            report.still_queued = total - report.delivered.len() as u64;
                            tracing::warn!(
                                queued = report.still_queued,
                                "webhooks stay queued for the next run"
                            );
                            return Ok(report);
                        };
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        Ok(report)
    }

    async fn attempt(&self, entry: &OutboxEntry) -> Attempt {
        let timestamp = unix_millis() / 1000;
        let mut request = self
            .client
            .post(self.endpoint.as_str())
            .header("content-type", "application/json")
            .header("webhook-id", &entry.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .body(entry.body.clone());
        if let Some(secret) = &self.secret {
            request = request.header(
                "webhook-signature",
                secret.sign(&entry.webhook_id, timestamp, &entry.body),
            );
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    Attempt::Delivered(status.as_u16())
                } else if status == reqwest::StatusCode::GONE {
                    Attempt::Gone
                } else {
                    Attempt::Failed(Some(status.as_u16()), status.to_string())
                }
            }
            Err(e) => Attempt::Failed(None, describe(e)),
        }
    }
}

/// The client of the API's (same trust and proxies), without redirects.
fn client(timeout: Duration, ca: Option<CaBundle>) -> Result<reqwest::Client, DeliveryError> {
    compliance_http::client(&ClientSettings {
        ca,
        // A redirect is not a delivery: followed, the POST would become a
        // GET whose 200 marks a record delivered that nobody received.
        follow_redirects: false,
        ..ClientSettings::new(timeout)
    })
    .map_err(|e| DeliveryError::Client(e.to_string()))
}

/// How a failure for an untrusted certificate begins.
const UNTRUSTED: &str = "the TLS certificate of";

/// A network error with its causes, without the URL (which may carry a
/// token); an untrusted certificate says so, naming the host.
fn describe(e: reqwest::Error) -> String {
    if let Some(detail) = compliance_http::untrusted_certificate(&e) {
        let host = e
            .url()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
            .unwrap_or_else(|| "the webhook host".into());
        return format!(
            "{UNTRUSTED} {host} is {detail}: no CA in the system's trust store, the bundled \
             roots or the added CA file vouches for it"
        );
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_timeout_is_within_the_15_to_30_seconds_asked_for() {
        assert!((15..=30).contains(&DEFAULT_TIMEOUT.as_secs()));
    }

    #[test]
    fn endpoints_must_be_https_or_loopback_http() {
        for good in [
            "https://audit.example.com/hooks",
            "http://127.0.0.1:8080/h",
            "http://[::1]:9/h",
            "http://localhost/h",
        ] {
            WebhookEndpoint::parse(good).unwrap();
        }
        for (bad, why) in [
            ("http://audit.example.com/h", "not loopback"),
            ("ftp://127.0.0.1/h", "scheme ftp"),
            ("audit", "not a URL"),
        ] {
            let err = WebhookEndpoint::parse(bad).unwrap_err().to_string();
            assert!(err.contains("webhook URL") && err.contains(bad), "{err}");
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn the_body_keeps_the_record_fields_at_the_top_and_adds_the_chain() {
        let record = serde_json::json!({"extraction_id": "x", "total_violations": 3});
        let anchor = Anchor {
            seq: 2,
            hash: "ab".repeat(32),
        };
        let body: Value = serde_json::from_slice(&webhook_body(&record, &anchor, "cd")).unwrap();
        assert_eq!(body["total_violations"], 3);
        assert_eq!(body["type"], EVENT_TYPE);
        assert_eq!(body["chain"]["seq"], 2);
        assert_eq!(body["chain"]["hash"], anchor.hash);
        assert_eq!(webhook_id_for(&anchor), format!("msg_{}", "ab".repeat(16)));
    }
}
