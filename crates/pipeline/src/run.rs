//! One extraction, end to end: batches from the extractor are verified and
//! written; what could not be used goes to the rejects file; at the end the
//! audit record is appended to the hash-chained log and its webhook delivered.

use crate::output::{JsonlSink, OutputError, OutputTarget};
use compliance_api::{Timestamp, ViolationQuery};
use compliance_audit::{
    Appended, AuditError, AuditLog, AuditRecord, Deliverer, DeliveryError, DeliveryReport,
    WebhookEndpoint, WebhookSecret,
};
use compliance_client::{Batch, Plan, Rejected, Resume, StatsSnapshot, ViolationExtractor};
use compliance_store::StateStore;
use compliance_verify::{OutputRecord, Tally, Verifier};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Why a run failed. The variants keep their sources so the binary can map
/// them to exit codes.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Client(#[from] compliance_client::Error),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    Store(#[from] compliance_store::StoreError),
    #[error("the run was stopped before it finished; its progress is checkpointed")]
    Interrupted,
}

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
}

/// Counts that survive a restart: what the earlier, interrupted part of an
/// extraction already output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub tally: Tally,
    pub pages: u64,
    pub duplicates_dropped: u64,
    pub rejects: u64,
    pub retries: u64,
}

impl Progress {
    fn add_batch(&mut self, batch: &Batch) {
        self.pages += 1;
        self.duplicates_dropped += u64::from(batch.duplicates_dropped);
        self.rejects += batch.rejects.len() as u64;
    }
}

/// Called after each batch is durably written, before the next one is read;
/// `extract`'s checkpoints and `serve`'s seen-ids live behind it.
pub trait Checkpoint: Send {
    /// Which violations of `batch` are new; `serve` drops those it output
    /// before. The default keeps them all.
    fn filter_seen(&mut self, batch: &mut Batch) -> Result<u64, RunError> {
        let _ = batch;
        Ok(0)
    }
    /// The batch's records are on disk up to these positions.
    fn committed(
        &mut self,
        batch: &Batch,
        output_position: u64,
        rejects_position: u64,
        progress: &Progress,
    ) -> Result<(), RunError>;
}

/// What one run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub extraction_id: uuid::Uuid,
    pub tally: Tally,
    pub progress: Progress,
    pub client: StatsSnapshot,
    pub rejects_file: Option<PathBuf>,
    pub audit: Option<Appended>,
    pub record: AuditRecord,
    pub delivery: Option<DeliveryReport>,
    pub elapsed: std::time::Duration,
}

/// One extraction's settings, already valid.
pub struct Extraction {
    pub extraction_id: uuid::Uuid,
    pub plan: Plan,
    pub resume: Resume,
    pub output: OutputTarget,
    /// Byte positions to resume the output and rejects files at (0: new files).
    pub output_position: u64,
    pub rejects_position: u64,
    /// Counts carried over from an interrupted run of the same extraction.
    pub progress: Progress,
}

impl Extraction {
    /// A fresh extraction of `plan` into `output`.
    pub fn new(plan: Plan, output: OutputTarget) -> Extraction {
        Extraction {
            extraction_id: uuid::Uuid::new_v4(),
            plan,
            resume: Resume::default(),
            output,
            output_position: 0,
            rejects_position: 0,
            progress: Progress::default(),
        }
    }

    /// The exact JSON the extraction's first query sends: what `payload_hash` covers.
    pub fn payload(&self) -> Vec<u8> {
        let q = &self.plan.query;
        serde_json::to_vec(&ViolationQuery {
            time_interval: q.window.interval(),
            filters: q.filters.clone(),
            size: q.page_size,
            cursor: None,
        })
        .expect("a query serialises")
    }

    /// Runs the extraction: fetch, verify, write, checkpoint, then audit and deliver.
    pub async fn run(
        self,
        extractor: &ViolationExtractor,
        verifier: &Verifier,
        checkpoint: &mut dyn Checkpoint,
        audit: Option<&AuditTarget>,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<RunReport, RunError> {
        let started = Instant::now();
        let batches = extractor.fetch(self.plan.clone(), self.resume.clone());
        let mut written = self.write_all(batches, verifier, checkpoint, stop).await?;
        let client = extractor.stats().snapshot();
        written.progress.retries += client.retries_total();
        let record = self.record(&written.progress, started.elapsed());

        let (appended, delivery) = match audit {
            None => (None, None),
            Some(target) => {
                let (appended, delivery) = append_and_deliver(target, &record).await?;
                (Some(appended), delivery)
            }
        };
        Ok(RunReport {
            extraction_id: self.extraction_id,
            tally: written.progress.tally.clone(),
            progress: written.progress,
            client,
            rejects_file: written.rejects_file,
            audit: appended,
            record,
            delivery,
            elapsed: started.elapsed(),
        })
    }

    async fn write_all(
        &self,
        batches: impl Stream<Item = Result<Batch, compliance_client::Error>>,
        verifier: &Verifier,
        checkpoint: &mut dyn Checkpoint,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<Written, RunError> {
        let mut out = JsonlSink::open(&self.output, self.output_position)?;
        let rejects_path = self.output.rejects_path();
        let mut rejects: Option<JsonlSink> = None;
        if self.rejects_position > 0 {
            rejects = Some(JsonlSink::open(
                &OutputTarget::File(rejects_path.clone()),
                self.rejects_position,
            )?);
        }
        let mut progress = self.progress.clone();
        futures::pin_mut!(batches);
        futures::pin_mut!(stop);
        loop {
            // A stop is honoured between batches: the last one is complete and committed.
            let next = tokio::select! {
                biased;
                _ = &mut stop => return Err(RunError::Interrupted),
                next = batches.next() => next,
            };
            let Some(batch) = next else { break };
            let mut batch = batch?;
            progress.duplicates_dropped += checkpoint.filter_seen(&mut batch)?;
            for violation in std::mem::take(&mut batch.violations) {
                let record: OutputRecord = verifier.verify(violation);
                progress.tally.add(&record);
                out.write(&record)?;
                // Keep the ids for the checkpoint (serve's seen set).
                batch.violations.push(record.violation);
            }
            if !batch.rejects.is_empty() {
                let sink = match rejects.as_mut() {
                    Some(sink) => sink,
                    None => rejects.insert(JsonlSink::open(
                        &OutputTarget::File(rejects_path.clone()),
                        0,
                    )?),
                };
                for reject in &batch.rejects {
                    sink.write(&RejectLine::from(reject))?;
                }
            }
            progress.add_batch(&batch);
            let output_position = out.commit()?;
            let rejects_position = match rejects.as_mut() {
                Some(sink) => sink.commit()?,
                None => 0,
            };
            checkpoint.committed(&batch, output_position, rejects_position, &progress)?;
        }
        out.commit()?;
        Ok(Written {
            progress,
            rejects_file: rejects.map(|_| rejects_path),
        })
    }

    fn record(&self, progress: &Progress, elapsed: std::time::Duration) -> AuditRecord {
        let tally = &progress.tally;
        let by_status = BTreeMap::from([
            ("validated".to_string(), tally.validated),
            ("false_positive".to_string(), tally.false_positives),
        ]);
        AuditRecord {
            timestamp: Timestamp::now(),
            extraction_id: self.extraction_id,
            payload_hash: compliance_audit::payload_hash(&self.payload()),
            total_violations: tally.validated,
            accuracy_rate: tally.accuracy_rate(),
            latency_ms: elapsed.as_secs_f64() * 1000.0,
            pii_exposures_detected: tally.pii_exposures,
            false_positives_filtered: tally.false_positives,
            interval: self.plan.query.window.interval(),
            windows: self.plan.windows.iter().map(|w| w.interval()).collect(),
            filters: self.plan.query.filters.clone(),
            pages: progress.pages,
            violations_fetched: tally.violations,
            duplicates_dropped: progress.duplicates_dropped,
            by_severity: tally
                .by_severity
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect(),
            by_status,
            by_pii_type: tally
                .pii_by_type
                .iter()
                .map(|(k, n)| (k.as_str().to_string(), *n))
                .collect(),
            retries: progress.retries,
            program_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

struct Written {
    progress: Progress,
    rejects_file: Option<PathBuf>,
}

/// One line of the rejects file: why, and the record as received.
#[derive(Serialize)]
struct RejectLine<'a> {
    reason: &'a str,
    record: &'a serde_json::Value,
}

impl<'a> From<&'a Rejected> for RejectLine<'a> {
    fn from(r: &'a Rejected) -> Self {
        RejectLine {
            reason: &r.reason,
            record: &r.raw,
        }
    }
}

/// Appends the record to the audit log (which queues its webhook in the same
/// step), then delivers everything queued for the endpoint, oldest first.
pub async fn append_and_deliver(
    target: &AuditTarget,
    record: &AuditRecord,
) -> Result<(Appended, Option<DeliveryReport>), RunError> {
    let endpoint = target.webhook.as_ref().map(|w| w.endpoint.clone());
    let mut log = AuditLog::open(&target.dir, target.store.clone(), endpoint)?;
    let appended = log.append(record)?;
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
    let mut deliverer = Deliverer::new(store, webhook.endpoint.clone(), webhook.secret.clone())?;
    if let Some(policy) = webhook.retry.clone() {
        deliverer = deliverer.with_retry(policy);
    }
    Ok(deliverer.deliver_pending().await?)
}

/// A checkpoint that keeps nothing: for `--out -` and one-off runs.
pub struct NoCheckpoint;

impl Checkpoint for NoCheckpoint {
    fn committed(&mut self, _: &Batch, _: u64, _: u64, _: &Progress) -> Result<(), RunError> {
        Ok(())
    }
}
