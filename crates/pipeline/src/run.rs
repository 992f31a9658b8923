//! One extraction: batches from the extractor are verified and written to a
//! sink; what could not be used goes to the rejects file; after each batch
//! the output is made durable and a [`Checkpoint`] is told. The audit record
//! is then built from the counts and appended (the `audit` module).

use crate::output::{JsonlFile, OutputError, Position, RecordSink};
use compliance_audit::{AuditError, DeliveryError};
use compliance_client::{Batch, Plan, Rejected, Resume};
use compliance_sources::Source;
use compliance_store::StateStore;
use compliance_verify::late::Late;
use compliance_verify::{redact, scan, Tally, Verifier};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    #[error("the state store holds a checkpoint this program cannot read ({0})")]
    Checkpoint(String),
    #[error("stopped before the end; everything output so far is committed and a rerun continues from there")]
    Interrupted,
}

/// Counts of what an extraction output; they survive restarts in checkpoints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub tally: Tally,
    pub pages: u64,
    pub duplicates_dropped: u64,
    pub rejects: u64,
    pub retries: u64,
    /// API requests sent (token requests included; transcript downloads not).
    /// Checkpoints written before it existed read as 0.
    #[serde(default)]
    pub requests: u64,
}

/// Told after each batch is durably written, before the next one is read:
/// `extract`'s checkpoints and `serve`'s seen ids live behind it.
pub trait Checkpoint: Send {
    /// Drops the violations of `batch` that were output before and returns
    /// how many. The default keeps them all.
    fn filter_seen(&mut self, batch: &mut Batch) -> Result<u64, RunError> {
        let _ = batch;
        Ok(0)
    }
    /// The batch is on disk: output up to `output`, rejects up to `rejects`.
    fn committed(
        &mut self,
        batch: &Batch,
        output: &Position,
        rejects: u64,
        progress: &Progress,
    ) -> Result<(), RunError>;
}

/// Drops the violations of `batch` whose id is in `ids`; returns how many.
pub(crate) fn drop_ids(batch: &mut Batch, ids: &std::collections::HashSet<String>) -> u64 {
    let before = batch.violations.len();
    batch.violations.retain(|v| !ids.contains(&v.id));
    (before - batch.violations.len()) as u64
}

/// Reads the JSON state saved under `key`, `None` when there is none.
pub(crate) fn load_state<T: serde::de::DeserializeOwned>(
    store: &dyn StateStore,
    key: &str,
) -> Result<Option<T>, RunError> {
    match store.load_progress(key)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| RunError::Checkpoint(e.to_string())),
    }
}

/// Saves `state` as JSON under `key`, with the ids it output, in one transaction.
pub(crate) fn save_state<T: Serialize>(
    store: &dyn StateStore,
    key: &str,
    state: &T,
    seen: &[compliance_store::SeenId],
) -> Result<(), RunError> {
    let text = serde_json::to_string(state).expect("state serialises to JSON");
    Ok(store.save_progress(key, &text, seen)?)
}

/// The rejects file: created on the first reject, resumable like the output.
pub struct Rejects {
    path: PathBuf,
    file: Option<JsonlFile>,
    resume_at: u64,
}

impl Rejects {
    pub fn new(path: PathBuf, resume_at: u64) -> Rejects {
        Rejects {
            path,
            file: None,
            resume_at,
        }
    }

    /// Writes one reject; its PII is redacted like evidence unless `keep_pii`.
    /// Returns how many card numbers the last pass redacted in it.
    fn write(&mut self, reject: &Rejected, keep_pii: bool) -> Result<Late, OutputError> {
        if self.file.is_none() {
            self.file = Some(JsonlFile::open(&self.path, self.resume_at)?);
        }
        let redacted;
        let record = if keep_pii {
            &reject.raw
        } else {
            redacted = redact_json(&reject.raw);
            &redacted
        };
        let line = RejectLine {
            reason: &reject.reason,
            record,
        };
        let file = self.file.as_mut().expect("opened above");
        crate::late::write_swept(&line, keep_pii, |l| file.write(l))
    }

    fn commit(&mut self) -> Result<u64, OutputError> {
        match self.file.as_mut() {
            Some(file) => Ok(file.commit()?.offset),
            None => Ok(self.resume_at),
        }
    }

    /// The file, when anything was ever written to it.
    pub fn path(&self) -> Option<&Path> {
        (self.file.is_some() || self.resume_at > 0).then_some(self.path.as_path())
    }
}

/// `value` with PII redacted in every string (and every number that reads as
/// PII, such as a card number sent as a number), keys included: a reject
/// may carry PII anywhere, not only in evidence.
pub(crate) fn redact_json(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let text = |s: &str| {
        let findings = scan(s);
        (!findings.is_empty()).then(|| redact(s, &findings))
    };
    match value {
        Value::String(s) => Value::String(text(s).unwrap_or_else(|| s.clone())),
        Value::Number(n) => text(&n.to_string()).map_or_else(|| value.clone(), Value::String),
        Value::Array(items) => Value::Array(items.iter().map(redact_json).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (text(k).unwrap_or_else(|| k.clone()), redact_json(v)))
                .collect(),
        ),
        Value::Null | Value::Bool(_) => value.clone(),
    }
}

/// One line of the rejects file: why, and the record as received (PII redacted
/// unless kept).
#[derive(Serialize)]
struct RejectLine<'a> {
    reason: &'a str,
    record: &'a serde_json::Value,
}

/// Fetches `plan` from `resume` on, verifies each violation, writes it, and
/// commits after every batch. Returns the counts, `progress` included.
/// `stop` is honoured between batches, so the last one is always complete.
#[allow(clippy::too_many_arguments)]
pub async fn extract(
    source: &dyn Source,
    plan: Plan,
    resume: Resume,
    verifier: &Verifier,
    out: &mut dyn RecordSink,
    rejects: &mut Rejects,
    checkpoint: &mut dyn Checkpoint,
    mut progress: Progress,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Progress, RunError> {
    // One warning for the run, even an interrupted one, not one per record.
    let late_before = progress.tally.late();
    let result = batches(
        source,
        plan,
        resume,
        verifier,
        out,
        rejects,
        checkpoint,
        &mut progress,
        stop,
    )
    .await;
    let late = progress.tally.late();
    crate::late::warn_late_pii(Late {
        issued_range: late.issued_range - late_before.issued_range,
        no_issued_range: late.no_issued_range - late_before.no_issued_range,
    });
    result.map(|()| progress)
}

/// [`extract`]'s loop over the batches.
#[allow(clippy::too_many_arguments)]
async fn batches(
    source: &dyn Source,
    plan: Plan,
    resume: Resume,
    verifier: &Verifier,
    out: &mut dyn RecordSink,
    rejects: &mut Rejects,
    checkpoint: &mut dyn Checkpoint,
    progress: &mut Progress,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), RunError> {
    let batches = source.fetch(plan, resume);
    futures::pin_mut!(batches);
    futures::pin_mut!(stop);
    let stats = source.stats();
    let retries_before = stats.snapshot().retries_total();
    // Requests are counted into each checkpoint, so that a resumed run's
    // total includes what the killed run sent.
    let (requests_base, requests_before) = (progress.requests, stats.snapshot().requests);
    loop {
        let next = tokio::select! {
            biased;
            _ = &mut stop => return Err(RunError::Interrupted),
            next = batches.next() => next,
        };
        let Some(batch) = next else { break };
        let mut batch = batch?;
        let dropped = checkpoint.filter_seen(&mut batch)? + u64::from(batch.duplicates_dropped);
        progress.duplicates_dropped += dropped;
        metrics::counter!(crate::metrics::DUPLICATES_DROPPED).increment(dropped);
        progress.pages += 1;
        out.start_batch()?;
        for violation in std::mem::take(&mut batch.violations) {
            let record = verifier.verify(violation);
            progress.tally.add(&record);
            crate::metrics::record_output(&record);
            let late = crate::late::write_swept(&record, verifier.keep_pii(), |l| out.write(l))?;
            progress.tally.add_late(late);
            // Kept for the checkpoint, which records what was output.
            batch.violations.push(record.violation);
        }
        for reject in &batch.rejects {
            let late = rejects.write(reject, verifier.keep_pii())?;
            progress.tally.add_late(late);
        }
        progress.rejects += batch.rejects.len() as u64;
        progress.requests = requests_base + stats.snapshot().requests - requests_before;
        let output = out.commit()?;
        let rejects_at = rejects.commit()?;
        checkpoint.committed(&batch, &output, rejects_at, progress)?;
    }
    out.commit()?;
    progress.retries += stats.snapshot().retries_total() - retries_before;
    progress.requests = requests_base + stats.snapshot().requests - requests_before;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejects_are_redacted_everywhere_like_evidence() {
        let raw = json!({
            "severity": "HIGH",
            "note": "card 4111 1111 1111 1111 from jane.doe@example.com",
            "card": 4111111111111111u64,
            "count": 3,
            "evidence": [{"type": "TRANSCRIPT", "value": "my ssn is 536-22-1234"}],
            "jane.doe@example.com": true,
        });
        let text = redact_json(&raw).to_string();
        for pii in ["4111", "jane.doe", "536-22-1234"] {
            assert!(!text.contains(pii), "{pii} survived: {text}");
        }
        for marker in [
            "[REDACTED:credit_card]",
            "[REDACTED:email]",
            "[REDACTED:ssn]",
        ] {
            assert!(text.contains(marker), "{marker} missing: {text}");
        }
        assert_eq!(redact_json(&raw)["count"], 3, "plain numbers stay numbers");
        assert_eq!(redact_json(&raw)["severity"], "HIGH");
    }
}
