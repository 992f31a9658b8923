//! `extract` as a job that survives being killed: its plan, where each window
//! stands, how far the output is durable and what it counted are checkpointed
//! in the state store after every page. Running the same job again (same
//! query, same output) continues where the last run stopped, so the output
//! ends with every violation exactly once.
//!
//! The steps, each safe to repeat after a crash:
//! 1. plan (or load the checkpoint);
//! 2. fetch, verify and write, checkpointing after each page;
//! 3. mark the output complete;
//! 4. append the audit record (skipped if the log already holds it), which
//!    queues its webhook;
//! 5. move `OUT.partial` to `OUT` and forget the checkpoint;
//! 6. deliver queued webhooks (what stays undelivered stays queued).

use crate::output::{FileSink, OutputTarget, Position};
use crate::run::{
    append_and_deliver, audit_record, drop_ids, extract, load_state, save_state, AuditTarget,
    Checkpoint, Progress, Rejects, RunError,
};
use compliance_audit::{Appended, AuditRecord, DeliveryReport};
use compliance_client::{Batch, Plan, Query, Resume, StatsSnapshot, ViolationExtractor};
use compliance_store::StateStore;
use compliance_verify::Verifier;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// One extraction of one query into one output.
pub struct ExtractJob {
    pub query: Query,
    pub output: OutputTarget,
    /// Where checkpoints go; `None` (or an output that cannot be cut back:
    /// standard output, a device, a pipe) runs without them.
    pub store: Option<Arc<dyn StateStore>>,
    pub audit: Option<AuditTarget>,
}

/// What a job did.
#[derive(Debug)]
pub struct JobReport {
    pub extraction_id: uuid::Uuid,
    /// Whether it continued an interrupted run.
    pub resumed: bool,
    pub progress: Progress,
    pub record: AuditRecord,
    pub client: StatsSnapshot,
    pub rejects_file: Option<PathBuf>,
    pub appended: Option<Appended>,
    pub delivery: Option<DeliveryReport>,
    pub elapsed: std::time::Duration,
}

/// What the state store keeps for an unfinished job.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    extraction_id: uuid::Uuid,
    plan: Plan,
    resume: Resume,
    output: u64,
    rejects: u64,
    progress: Progress,
    /// Ids of the last page output: the first page after a restart may repeat them.
    last_ids: Vec<String>,
    /// All pages are output; what is left is the audit record and the rename.
    complete: bool,
}

impl ExtractJob {
    /// The checkpoint key: the query's payload and the output's absolute path.
    pub fn key(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(serde_json::to_vec(&self.query).expect("a query serialises"));
        if let OutputTarget::File(path) = &self.output {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            hash.update(absolute.as_os_str().as_encoded_bytes());
        }
        format!("extract:{}", hex::encode(hash.finalize()))
    }

    /// Runs (or continues) the job. `stop` is honoured between pages.
    pub async fn run(
        self,
        extractor: &ViolationExtractor,
        verifier: &Verifier,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<JobReport, RunError> {
        let started = Instant::now();
        // Only an output that can be cut back to a checkpoint is checkpointed.
        let store = match self.output.is_resumable() {
            true => self.store.clone(),
            false => None,
        };
        let key = self.key();
        let loaded: Option<Saved> = match &store {
            Some(store) => load_state(store.as_ref(), &key)?,
            None => None,
        };
        let resumed = loaded.is_some();
        let mut saved = match loaded {
            Some(saved) => {
                tracing::info!(
                    extraction_id = %saved.extraction_id,
                    window = saved.resume.window,
                    violations = saved.progress.tally.violations,
                    "continuing an interrupted extraction"
                );
                saved
            }
            None => {
                let saved = Saved {
                    extraction_id: uuid::Uuid::new_v4(),
                    plan: extractor.plan(&self.query).await?,
                    resume: Resume::default(),
                    output: 0,
                    rejects: 0,
                    progress: Progress::default(),
                    last_ids: Vec::new(),
                    complete: false,
                };
                if let Some(store) = &store {
                    save_state(store.as_ref(), &key, &saved, &[])?;
                }
                saved
            }
        };

        let mut out = FileSink::open(&self.output, saved.output)?;
        let mut rejects = Rejects::new(self.output.rejects_path(), saved.rejects);
        if !saved.complete {
            let mut checkpoint = ExtractCheckpoint {
                store: store.clone(),
                key: key.clone(),
                saved: saved.clone(),
                repeated: saved.last_ids.iter().cloned().collect(),
            };
            let progress = extract(
                extractor,
                saved.plan.clone(),
                saved.resume.clone(),
                verifier,
                &mut out,
                &mut rejects,
                &mut checkpoint,
                saved.progress.clone(),
                stop,
            )
            .await?;
            saved = checkpoint.saved;
            saved.progress = progress;
            saved.complete = true;
            if let Some(store) = &store {
                save_state(store.as_ref(), &key, &saved, &[])?;
            }
        }

        let record = audit_record(
            saved.extraction_id,
            &saved.plan,
            &saved.progress,
            started.elapsed(),
        );
        // Append first: the record queues its webhook in the same step.
        let (appended, delivery) = match &self.audit {
            None => (None, None),
            Some(target) => append_and_deliver(target, &mut target.open()?, &record).await?,
        };
        out.finish()?;
        if let Some(store) = &store {
            store.clear_progress(&key)?;
        }
        Ok(JobReport {
            extraction_id: saved.extraction_id,
            resumed,
            rejects_file: rejects.path().map(PathBuf::from),
            progress: saved.progress,
            record,
            client: extractor.stats().snapshot(),
            appended,
            delivery,
            elapsed: started.elapsed(),
        })
    }
}

/// Saves the job's position after each page whose place in the plan is
/// exact: a page of a whole window (its cursor resumes it) or the last page
/// of a window. Pages of a window that had to be split while it was fetched
/// are not saved until the window ends: a restart fetches that window again
/// from the start, and cuts the output back to where it began.
struct ExtractCheckpoint {
    /// `None`: nothing is saved (standard output, or no state store).
    store: Option<Arc<dyn StateStore>>,
    key: String,
    saved: Saved,
    /// The last page before a restart, until the first page after it is seen.
    repeated: HashSet<String>,
}

impl Checkpoint for ExtractCheckpoint {
    fn filter_seen(&mut self, batch: &mut Batch) -> Result<u64, RunError> {
        let dropped = drop_ids(batch, &self.repeated);
        self.repeated.clear();
        Ok(dropped)
    }

    fn committed(
        &mut self,
        batch: &Batch,
        output: &Position,
        rejects: u64,
        progress: &Progress,
    ) -> Result<(), RunError> {
        let whole_window = self.saved.plan.windows.get(batch.window) == Some(&batch.interval);
        let resume = if batch.window_done {
            Resume {
                window: batch.window + 1,
                cursor: None,
            }
        } else if whole_window {
            Resume {
                window: batch.window,
                cursor: batch.next_cursor.clone(),
            }
        } else {
            return Ok(());
        };
        self.saved.resume = resume;
        self.saved.output = output.offset;
        self.saved.rejects = rejects;
        self.saved.progress = progress.clone();
        self.saved.last_ids = batch.violations.iter().map(|v| v.id.clone()).collect();
        match &self.store {
            Some(store) => save_state(store.as_ref(), &self.key, &self.saved, &[]),
            None => Ok(()),
        }
    }
}
