//! The audit directory: `audit.jsonl` and the extraction files, written
//! durably, kept in step with the state store.
//!
//! # How a crash is reconciled
//!
//! [`AuditLog::append`] takes four steps:
//! 1. the state store records the append in flight (seq, hash, webhook);
//! 2. the chained line is appended to `audit.jsonl` and flushed to disk;
//! 3. `extraction_<id>.json` is written (temporary file, flush, rename, flush
//!    of the directory);
//! 4. one store transaction moves the anchor to the new head and queues the
//!    webhook.
//!
//! [`AuditLog::open`] finishes or undoes what a crash interrupted: if the
//! append in flight reached the log, it rewrites a missing extraction file and
//! does step 4 (so the webhook is queued, with the same id, exactly once);
//! if it did not, it forgets it and cuts a half-written last line. A log that
//! the store has no anchor for (a new state file beside an old directory) is
//! adopted as it is, without queuing its old records. A log that runs past
//! the store's anchor (other than the one append in flight) is refused: no
//! run with this store wrote those records.
//!
//! One process writes an audit directory at a time; `append` refuses to go on
//! when `audit.jsonl` changed under it.

use crate::chain::{
    check_anchor, check_chain, extraction_file_name, head_of, scan_log, AfterAnchor, ChainEntry,
    LineInfo, TamperKind, Tampering, GENESIS_HASH, LOG_FILE,
};
use crate::delivery::{webhook_body, webhook_id_for, WebhookEndpoint};
use crate::record::AuditRecord;
use compliance_store::{Anchor, AppendIntent, NewWebhook, StateStore, StoreError};
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why the audit log could not be opened or appended to.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit directory {path}: {action} failed: {cause}; check that it is a directory you can write, on a disk with free space")]
    Io {
        path: PathBuf,
        action: &'static str,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the audit trail in {dir} is not intact, so nothing more is appended to it: {tampering}"
    )]
    Tampered { dir: PathBuf, tampering: Tampering },
    #[error(
        "{LOG_FILE} in {dir} goes on past the head that {} anchored (seq {anchored}) to seq {head}, \
         and no run with that state store appended those records ({tampering}); they are not \
         adopted and nothing more is appended",
        state_name(.state)
    )]
    NotAnchored {
        dir: PathBuf,
        /// The state store's file, when it has one.
        state: Option<PathBuf>,
        anchored: u64,
        head: u64,
        tampering: Box<Tampering>,
    },
    #[error(
        "{path} changed since it was opened (another process writing the same audit directory?)"
    )]
    ChangedUnderfoot { path: PathBuf },
    #[error("extraction {extraction_id} is already in the audit log; give each extraction a new extraction_id")]
    Duplicate { extraction_id: String },
    #[error("the audit record cannot be serialised: {0}")]
    Record(#[from] serde_json::Error),
}

/// What [`AuditLog::append`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The record's sequence number in the chain (from 1).
    pub seq: u64,
    /// The record's chain hash: the new head.
    pub hash: String,
    /// The previous head's hash ([`GENESIS_HASH`] for the first record).
    pub prev_hash: String,
    /// The id of the webhook queued for it, if a webhook is configured.
    pub webhook_id: Option<String>,
    /// The record's `extraction_<id>.json`.
    pub extraction_file: PathBuf,
}

/// What [`AuditLog::open`] repaired after an earlier run stopped mid-way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// An append had reached the log: it was completed (webhook queued).
    Completed { seq: u64 },
    /// An append had not reached the log: it was dropped.
    Abandoned { seq: u64 },
    /// The store had no anchor for the log (a new state file beside an old
    /// audit directory): its head `to` was anchored as it is.
    Adopted { to: u64 },
}

/// An audit directory open for appending. See the module documentation.
pub struct AuditLog {
    dir: PathBuf,
    key: String,
    store: Arc<dyn StateStore>,
    webhook: Option<WebhookEndpoint>,
    head: Option<Anchor>,
    log_len: u64,
    recovered: Vec<Recovery>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dir", &self.dir)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens (creating with mode 0700 if needed) the audit directory `dir`,
    /// checks its chain against the store's anchor and reconciles what a
    /// crash left behind. With `webhook`, every appended record is queued for
    /// that endpoint in the store's outbox; deliver it with
    /// [`crate::Deliverer`].
    pub fn open(
        dir: impl AsRef<Path>,
        store: Arc<dyn StateStore>,
        webhook: Option<WebhookEndpoint>,
    ) -> Result<Self, AuditError> {
        Self::open_as(dir, None, store, webhook)
    }

    /// [`open`](Self::open), with the chain anchored under `key` when one is
    /// given instead of under the directory's path: an org's chain
    /// (`org:<name>`), the same for every worker whatever path it mounts
    /// the directory at.
    pub fn open_as(
        dir: impl AsRef<Path>,
        key: Option<&str>,
        store: Arc<dyn StateStore>,
        webhook: Option<WebhookEndpoint>,
    ) -> Result<Self, AuditError> {
        let dir = dir.as_ref().to_path_buf();
        create_private_dir(&dir)?;
        let key = match key {
            Some(key) => key.to_owned(),
            None => anchor_key(&dir)?,
        };
        let log_path = dir.join(LOG_FILE);
        let io = |action| {
            let path = log_path.clone();
            move |cause| AuditError::Io {
                path,
                action,
                cause,
            }
        };
        let mut scanned = scan_log(&log_path).map_err(io("reading the log"))?;
        let tampered = |tampering| AuditError::Tampered {
            dir: dir.clone(),
            tampering,
        };
        let mut recovered = Vec::new();
        let anchor = store.anchor(&key)?;
        let pending = store.pending_append(&key)?;
        if scanned.torn_tail {
            // A line cut short was never acknowledged: its append had not
            // reached step 2's flush, so nothing points at it.
            let complete = scanned.lines.len() as u64 - 1;
            if let Some(anchor) = anchor.as_ref().filter(|a| a.seq > complete) {
                let lines = &scanned.lines[..complete as usize];
                check_anchor(lines, anchor, &AfterAnchor::Nothing).map_err(tampered)?;
            }
            scanned.lines.pop();
            let file = OpenOptions::new()
                .write(true)
                .open(&log_path)
                .map_err(io("opening the log"))?;
            file.set_len(scanned.complete_len)
                .map_err(io("cutting a half-written last line"))?;
            file.sync_all().map_err(io("flushing the log"))?;
            tracing::warn!(log = %log_path.display(), "removed a half-written last line left by a crash");
        }
        check_chain(&scanned.lines).map_err(tampered)?;
        let head = head_of(&scanned.lines);

        // The store knows this log when it anchored it or began an append to
        // it (the first append starts from seq 0). Then the log must end at
        // the anchor or at the append in flight: a record beyond was written
        // by something else and is never adopted.
        let known = anchor.clone().or_else(|| {
            pending.as_ref().map(|_| Anchor {
                seq: 0,
                hash: GENESIS_HASH.to_owned(),
            })
        });
        if let Some(known) = &known {
            let after = match &pending {
                Some(intent) => AfterAnchor::InFlight(intent.anchor.clone()),
                None => AfterAnchor::Nothing,
            };
            let in_flight = check_anchor(&scanned.lines, known, &after).map_err(|tampering| {
                let beyond = tampering.kind == TamperKind::Inserted
                    && tampering.seq.is_some_and(|seq| seq > known.seq);
                match (beyond, &head) {
                    (true, Some(head)) => AuditError::NotAnchored {
                        dir: dir.clone(),
                        state: store.file().map(Path::to_path_buf),
                        anchored: known.seq,
                        head: head.seq,
                        tampering: Box::new(tampering),
                    },
                    _ => tampered(tampering),
                }
            })?;
            if let Some(intent) = &pending {
                let seq = intent.anchor.seq;
                if in_flight == Some(seq) {
                    let record = read_record(&log_path, &scanned.lines)?;
                    write_extraction_file(&dir, &record)?;
                    store.finish_append(&key, seq)?;
                    tracing::info!(seq, "completed an audit append interrupted by a crash");
                    recovered.push(Recovery::Completed { seq });
                } else {
                    store.abandon_append(&key)?;
                    recovered.push(Recovery::Abandoned { seq });
                }
            }
        } else if let Some(head) = &head {
            tracing::warn!(
                dir = %dir.display(), head = head.seq,
                "the state store has no anchor for this audit log (a new state file?); adopting its records as they are"
            );
            store.set_anchor(&key, head)?;
            recovered.push(Recovery::Adopted { to: head.seq });
        }
        Ok(AuditLog {
            dir,
            key,
            store,
            webhook,
            head,
            log_len: scanned.complete_len,
            recovered,
        })
    }

    /// Appends `record`: the chained line, its extraction file, the new
    /// anchor and the queued webhook, all on disk when this returns. After an
    /// error, open the log again before appending more.
    pub fn append(&mut self, record: &AuditRecord) -> Result<Appended, AuditError> {
        let appended = self.write_uncommitted(record)?;
        self.store.finish_append(&self.key, appended.seq)?;
        self.head = Some(Anchor {
            seq: appended.seq,
            hash: appended.hash.clone(),
        });
        Ok(appended)
    }

    /// Everything [`append`](Self::append) does except its last step, as if
    /// the process died there. Only for crash tests.
    #[doc(hidden)]
    pub fn append_then_crash(&mut self, record: &AuditRecord) -> Result<Appended, AuditError> {
        self.write_uncommitted(record)
    }

    /// Steps 1 to 3 of the module documentation.
    fn write_uncommitted(&mut self, record: &AuditRecord) -> Result<Appended, AuditError> {
        let log_path = self.dir.join(LOG_FILE);
        let on_disk = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
        if on_disk != self.log_len {
            return Err(AuditError::ChangedUnderfoot { path: log_path });
        }
        let id = record.extraction_id.to_string();
        if self.dir.join(extraction_file_name(&id)).exists() {
            return Err(AuditError::Duplicate { extraction_id: id });
        }
        let record = serde_json::to_value(record)?;
        let (seq, prev_hash) = match &self.head {
            Some(head) => (head.seq + 1, head.hash.clone()),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let entry = ChainEntry::new(seq, &prev_hash, record);
        let anchor = Anchor {
            seq,
            hash: entry.hash.clone(),
        };
        let webhook = self.webhook.as_ref().map(|endpoint| NewWebhook {
            webhook_id: webhook_id_for(&anchor),
            endpoint: endpoint.as_str().to_owned(),
            body: webhook_body(&entry.record, &anchor, &prev_hash),
        });
        let webhook_id = webhook.as_ref().map(|w| w.webhook_id.clone());
        self.store.begin_append(&AppendIntent {
            audit_dir: self.key.clone(),
            anchor,
            webhook,
        })?;

        let mut line = entry.to_line();
        line.push('\n');
        append_durably(&log_path, line.as_bytes())?;
        self.log_len += line.len() as u64;
        let extraction_file = write_extraction_file(&self.dir, &entry.record)?;
        Ok(Appended {
            seq,
            hash: entry.hash,
            prev_hash,
            webhook_id,
            extraction_file,
        })
    }

    /// The chain head: the newest record's sequence number and hash.
    pub fn head(&self) -> Option<&Anchor> {
        self.head.as_ref()
    }

    /// The audit directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of this directory's anchor in the state store.
    pub fn anchor_key(&self) -> &str {
        &self.key
    }

    /// What [`open`](Self::open) repaired, if anything.
    pub fn recovered(&self) -> &[Recovery] {
        &self.recovered
    }
}

/// The key under which the store anchors the chain of `dir`: its canonical
/// absolute path, so that `out/audit` and `./out/audit` share one anchor.
pub fn anchor_key(dir: &Path) -> Result<String, AuditError> {
    let canonical = dir.canonicalize().map_err(|cause| AuditError::Io {
        path: dir.to_path_buf(),
        action: "resolving the path",
        cause,
    })?;
    Ok(canonical.to_string_lossy().into_owned())
}

fn state_name(state: &Option<PathBuf>) -> String {
    match state {
        Some(path) => format!("the state store {}", path.display()),
        None => "the state store".into(),
    }
}

/// The record of the last line, re-read to rewrite its extraction file.
fn read_record(log_path: &Path, lines: &[LineInfo]) -> Result<Value, AuditError> {
    let io = |cause| AuditError::Io {
        path: log_path.to_path_buf(),
        action: "reading the log",
        cause,
    };
    let text = std::fs::read_to_string(log_path).map_err(io)?;
    let last = text.lines().nth(lines.len() - 1).unwrap_or_default();
    let entry: ChainEntry = serde_json::from_str(last)?;
    Ok(entry.record)
}

fn create_private_dir(dir: &Path) -> Result<(), AuditError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|cause| AuditError::Io {
        path: dir.to_path_buf(),
        action: "creating the directory",
        cause,
    })
}

fn private_file(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

/// Flushes a directory, so that a file created or renamed in it survives a crash.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

fn append_durably(path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    let io = |action| {
        move |cause| AuditError::Io {
            path: path.to_path_buf(),
            action,
            cause,
        }
    };
    let existed = path.exists();
    let mut file = private_file(OpenOptions::new().append(true).create(true))
        .open(path)
        .map_err(io("opening the log"))?;
    file.write_all(bytes).map_err(io("appending to the log"))?;
    file.sync_all().map_err(io("flushing the log"))?;
    if !existed {
        sync_dir(path.parent().unwrap_or(Path::new("."))).map_err(io("flushing the directory"))?;
    }
    Ok(())
}

/// Writes `extraction_<id>.json` (pretty JSON, mode 0600) atomically and durably.
fn write_extraction_file(dir: &Path, record: &Value) -> Result<PathBuf, AuditError> {
    let id = record
        .get("extraction_id")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let path = dir.join(extraction_file_name(id));
    let tmp = dir.join(format!(".{}.tmp", extraction_file_name(id)));
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |cause| AuditError::Io {
            path,
            action,
            cause,
        }
    };
    let mut bytes = serde_json::to_vec_pretty(record)?;
    bytes.push(b'\n');
    let mut file = private_file(OpenOptions::new().write(true).create(true).truncate(true))
        .open(&tmp)
        .map_err(io("creating the extraction file", &tmp))?;
    file.write_all(&bytes)
        .map_err(io("writing the extraction file", &tmp))?;
    file.sync_all()
        .map_err(io("flushing the extraction file", &tmp))?;
    std::fs::rename(&tmp, &path).map_err(io("renaming the extraction file", &path))?;
    sync_dir(dir).map_err(io("flushing the directory", dir))?;
    Ok(path)
}
