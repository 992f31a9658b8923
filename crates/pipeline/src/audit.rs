//! The audit half of a run: the record built from what an extraction
//! output, appended to the hash-chained log (which queues its webhook), and
//! the webhooks queued for the endpoint delivered.

use crate::crash::crash_point;
use crate::run::{Progress, RunError};
use compliance_api::{Timestamp, ViolationQuery};
use compliance_audit::{
    Appended, AuditLog, AuditRecord, Deliverer, DeliveryReport, EnableCommand, WebhookEndpoint,
    WebhookSecret,
};
use compliance_client::Plan;
use compliance_sources::SourceKind;
use compliance_store::StateStore;
use compliance_verify::Status;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where the audit record goes.
pub struct AuditTarget {
    pub dir: PathBuf,
    pub store: Arc<dyn StateStore>,
    pub webhook: Option<Webhook>,
}

/// The audit system's endpoint and the key to sign for it.
#[derive(Clone)]
pub struct Webhook {
    pub endpoint: WebhookEndpoint,
    pub secret: Option<WebhookSecret>,
    pub retry: Option<compliance_audit::RetryPolicy>,
    /// A private CA trusted for the endpoint's certificate (`--ca-cert`).
    pub ca: Option<compliance_client::CaBundle>,
    /// How the program enables the endpoint again after `410 Gone`: quoted in
    /// the messages about a disabled endpoint.
    pub enable_command: Option<EnableCommand>,
}

impl std::fmt::Debug for Webhook {
    // The secret stays out of every log line: only whether there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("endpoint", &self.endpoint)
            .field("signed", &self.secret.is_some())
            .finish()
    }
}

/// What `payload_hash` covers: the query of the whole extraction (its
/// interval, filters and page size, no cursor) as the contract's JSON. A
/// plan split into windows sends one such query per window instead; the
/// record lists those windows.
pub fn payload(plan: &Plan) -> Vec<u8> {
    let q = &plan.query;
    serde_json::to_vec(&ViolationQuery {
        time_interval: q.window.interval(),
        filters: q.filters.clone(),
        size: q.page_size,
        cursor: None,
    })
    .expect("a query serialises")
}

/// The audit record of an extraction of `plan` that output `progress`.
pub fn audit_record(
    extraction_id: uuid::Uuid,
    plan: &Plan,
    progress: &Progress,
    elapsed: Duration,
    source: SourceKind,
) -> AuditRecord {
    let tally = &progress.tally;
    AuditRecord {
        timestamp: Timestamp::now(),
        extraction_id,
        payload_hash: compliance_audit::payload_hash(&payload(plan)),
        total_violations: tally.validated,
        accuracy_rate: tally.accuracy_rate(),
        latency_ms: elapsed.as_secs_f64() * 1000.0,
        pii_exposures_detected: tally.pii_exposures,
        false_positives_filtered: tally.false_positives,
        interval: plan.query.window.interval(),
        windows: plan.windows.iter().map(|w| w.interval()).collect(),
        filters: plan.query.filters.clone(),
        pages: progress.pages,
        violations_fetched: tally.violations,
        duplicates_dropped: progress.duplicates_dropped,
        by_severity: tally
            .by_severity
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect(),
        by_status: BTreeMap::from([
            (Status::Validated.as_str().to_string(), tally.validated),
            (
                Status::FalsePositive.as_str().to_string(),
                tally.false_positives,
            ),
        ]),
        by_pii_type: tally
            .pii_by_type
            .iter()
            .map(|(k, n)| (k.as_str().to_string(), *n))
            .collect(),
        retries: progress.retries,
        source: Some(source.name().to_string()),
        api_requests: Some(progress.requests),
        late_pii: tally.late_pii,
        program_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

impl AuditTarget {
    /// Opens the audit log (checking its chain, and repairing what a crash
    /// left). Opening reads the whole chain, so a long-running caller keeps
    /// the log open.
    pub fn open(&self) -> Result<AuditLog, RunError> {
        let endpoint = self.webhook.as_ref().map(|w| w.endpoint.clone());
        Ok(AuditLog::open(&self.dir, self.store.clone(), endpoint)?)
    }

    /// Whether the log holds the record of `extraction_id` (its extraction
    /// file is written in the same append).
    pub fn holds(&self, extraction_id: uuid::Uuid) -> bool {
        self.dir
            .join(compliance_audit::extraction_file_name(
                &extraction_id.to_string(),
            ))
            .exists()
    }
}

/// Appends the record to the audit log (which queues its webhook in the same
/// step) unless the log already holds it (a rerun after a crash that came
/// after the append), then delivers everything queued for the endpoint,
/// oldest first.
pub async fn append_and_deliver(
    target: &AuditTarget,
    log: &mut AuditLog,
    record: &AuditRecord,
) -> Result<(Option<Appended>, Option<DeliveryReport>), RunError> {
    let appended = if target.holds(record.extraction_id) {
        tracing::info!(extraction_id = %record.extraction_id, "audit record already in the log; not appended again");
        None
    } else {
        Some(log.append(record)?)
    };
    crash_point("before-delivery");
    let delivery = match &target.webhook {
        None => None,
        Some(webhook) => Some(deliver(target.store.clone(), webhook).await?),
    };
    Ok((appended, delivery))
}

/// Delivers what is queued for the webhook's endpoint.
pub async fn deliver(
    store: Arc<dyn StateStore>,
    webhook: &Webhook,
) -> Result<DeliveryReport, RunError> {
    let mut deliverer = Deliverer::new(store, webhook.endpoint.clone(), webhook.secret.clone())?
        .with_ca(webhook.ca.clone())?;
    if let Some(policy) = webhook.retry {
        deliverer = deliverer.with_retry(policy);
    }
    if let Some(command) = webhook.enable_command {
        deliverer = deliverer.with_enable_command(command);
    }
    Ok(deliverer.deliver_pending().await?)
}

/// Delivers what earlier runs left queued; a failure is only logged, since
/// this run's own delivery, or the next run, tries again.
pub(crate) async fn deliver_queued(
    target: &AuditTarget,
    webhook: &Webhook,
) -> Option<DeliveryReport> {
    match deliver(target.store.clone(), webhook).await {
        Ok(report) => Some(report),
        Err(e) => {
            tracing::warn!(error = %e, "could not deliver the queued webhooks; they stay queued");
            None
        }
    }
}
