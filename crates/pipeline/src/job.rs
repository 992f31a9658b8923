//! `extract` as a job that survives being killed: its plan, where each window
//! stands, how far the output is durable and what it counted are checkpointed
//! in the state store after every page. Running the same job again (same
//! query, same output) continues where the last run stopped, so the output
//! ends with every violation exactly once.
//!
//! The steps, each safe to repeat after a crash:
//! 0. open the audit log, which reconciles what a crash left in it, and send
//!    what earlier runs left queued (alongside steps 1 to 3, so even a run
//!    that fails does it);
//! 1. plan (or load the checkpoint);
//! 2. fetch, verify and write, checkpointing after each page;
//! 3. mark the output complete, with its length;
//! 4. append the audit record (skipped if the log already holds it), which
//!    queues its webhook, and deliver what is queued (what stays undelivered
//!    stays queued);
//! 5. move `OUT.partial` to `OUT` (done already if `OUT` has the complete
//!    length and there is no `OUT.partial`) and forget the checkpoint.

use crate::audit::{append_and_deliver, audit_record, deliver_queued, AuditTarget};
use crate::crash::crash_point;
use crate::nats::NatsSink;
use crate::output::{erased, FileSink, OutputError, OutputTarget, Position, RecordSink};
use crate::run::{
    drop_ids, extract, load_state, save_state, Checkpoint, Progress, Rejects, RunError,
};
use compliance_audit::{Appended, AuditRecord, DeliveryReport};
use compliance_client::{Batch, Plan, Query, Resume, StatsSnapshot};
use compliance_sources::{Source, SourceKind};
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
    /// Where the violations come from (part of the checkpoint key).
    pub source: SourceKind,
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
        // Agentassist keys stay as they were, so that an interrupted run of an
        // earlier version still continues.
        if self.source != SourceKind::Agentassist {
            hash.update(self.source.name().as_bytes());
        }
        match &self.output {
            OutputTarget::File(path) => {
                let absolute = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                hash.update(absolute.as_os_str().as_encoded_bytes());
            }
            // The URL without credentials, and the stream: the same output
            // whoever logs in.
            OutputTarget::Stream(stream) => {
                hash.update(format!("{stream} {}", stream.stream_name()).as_bytes());
            }
            OutputTarget::Stdout => {}
        }
        format!("extract:{}", hex::encode(hash.finalize()))
    }

    /// Runs (or continues) the job. `stop` is honoured between pages.
    pub async fn run(
        self,
        source: &dyn Source,
        verifier: &Verifier,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<JobReport, RunError> {
        let started = Instant::now();
        // Opened first, so that even a run that fails reconciles what a crash
        // left in the log, and sends what earlier runs left queued: alongside
        // the extraction, ahead of this run's record.
        let mut log = self.audit.as_ref().map(AuditTarget::open).transpose()?;
        let earlier = async {
            match self
                .audit
                .as_ref()
                .and_then(|a| Some((a, a.webhook.as_ref()?)))
            {
                Some((target, webhook)) => deliver_queued(target, webhook).await,
                None => None,
            }
        };
        let (earlier, extracted) =
            tokio::join!(earlier, self.fetch_and_write(source, verifier, stop));
        let (saved, out, rejects_file, resumed) = extracted?;

        let record = audit_record(
            saved.extraction_id,
            &saved.plan,
            &saved.progress,
            started.elapsed(),
            self.source,
        );
        // Append first: the record queues its webhook in the same step.
        let (appended, mut delivery) = match (&self.audit, log.as_mut()) {
            (Some(target), Some(log)) => append_and_deliver(target, log, &record).await?,
            _ => (None, None),
        };
        crash_point("after-audit-append");
        if let Some(out) = out {
            out.finish()?;
        }
        crash_point("after-rename");
        if let Some(store) = self.checkpoint_store() {
            store.clear_progress(&self.key())?;
        }
        if let (Some(report), Some(earlier)) = (delivery.as_mut(), earlier) {
            report.delivered.splice(0..0, earlier.delivered);
        }
        Ok(JobReport {
            extraction_id: saved.extraction_id,
            resumed,
            rejects_file,
            progress: saved.progress,
            record,
            client: source.stats().snapshot(),
            appended,
            delivery,
            elapsed: started.elapsed(),
        })
    }

    /// The store that checkpoints this job: only an output that can be cut
    /// back to a checkpoint is checkpointed.
    fn checkpoint_store(&self) -> Option<&Arc<dyn StateStore>> {
        self.store.as_ref().filter(|_| self.output.is_resumable())
    }

    /// Steps 1 to 3: plans (or loads the checkpoint), fetches, writes and
    /// marks the output complete. Returns the checkpoint, the output still to
    /// be put in place (`None` when a crash came after the rename), the
    /// rejects file and whether an interrupted run was continued.
    async fn fetch_and_write(
        &self,
        source: &dyn Source,
        verifier: &Verifier,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(Saved, Option<Output>, Option<PathBuf>, bool), RunError> {
        let store = self.checkpoint_store();
        let key = self.key();
        let loaded: Option<Saved> = match store {
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
                    complete = saved.complete,
                    "continuing an interrupted extraction"
                );
                saved
            }
            None => {
                let saved = Saved {
                    extraction_id: uuid::Uuid::new_v4(),
                    plan: source.plan(&self.query).await?,
                    resume: Resume::default(),
                    output: 0,
                    rejects: 0,
                    progress: Progress::default(),
                    last_ids: Vec::new(),
                    complete: false,
                };
                if let Some(store) = store {
                    save_state(store.as_ref(), &key, &saved, &[])?;
                }
                crash_point("after-plan");
                saved
            }
        };
        let rejects = Rejects::new(self.output.rejects_path(), saved.rejects);
        // A crash after the rename and before the checkpoint was cleared: the
        // complete output is already in place, and only the last steps remain.
        if saved.complete && self.output.is_in_place(saved.output) {
            return Ok((saved, None, rejects.path().map(PathBuf::from), resumed));
        }

        let mut out = Output::open(&self.output, saved.output)?;
        let mut rejects = rejects;
        if !saved.complete {
            let mut checkpoint = ExtractCheckpoint {
                store: store.cloned(),
                key: key.clone(),
                saved: saved.clone(),
                repeated: saved.last_ids.iter().cloned().collect(),
            };
            let progress = extract(
                source,
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
            // What a rerun checks the output against once it is in place.
            saved.output = out.commit()?.offset;
            saved.complete = true;
            if let Some(store) = store {
                save_state(store.as_ref(), &key, &saved, &[])?;
            }
            crash_point("after-complete");
        }
        Ok((saved, Some(out), rejects.path().map(PathBuf::from), resumed))
    }
}

/// Where a job writes: a file (or standard output), or a stream.
enum Output {
    File(FileSink),
    Stream(NatsSink),
}

impl Output {
    /// Opens the output, resuming at `resume_at` (a file's committed bytes;
    /// a stream's acknowledged lines, where nothing needs cutting back).
    fn open(target: &OutputTarget, resume_at: u64) -> Result<Output, OutputError> {
        Ok(match target {
            OutputTarget::Stream(stream) => {
                Output::Stream(NatsSink::new(stream.clone(), resume_at))
            }
            _ => Output::File(FileSink::open(target, resume_at)?),
        })
    }

    /// Puts the complete output in place (a stream has it already).
    fn finish(self) -> Result<(), OutputError> {
        match self {
            Output::File(file) => file.finish(),
            Output::Stream(mut stream) => stream.commit().map(drop),
        }
    }
}

impl RecordSink for Output {
    fn write(&mut self, line: &dyn erased::Line) -> Result<(), OutputError> {
        match self {
            Output::File(file) => file.write(line),
            Output::Stream(stream) => stream.write(line),
        }
    }
    fn commit(&mut self) -> Result<Position, OutputError> {
        match self {
            Output::File(file) => file.commit(),
            Output::Stream(stream) => stream.commit(),
        }
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
        if let Some(store) = &self.store {
            save_state(store.as_ref(), &self.key, &self.saved, &[])?;
            crash_point("after-page");
        }
        Ok(())
    }
}
