//! The state store: what must survive between runs of `genesys-compliance`.
//!
//! It holds the audit chain's anchors (the head of each audit directory's hash
//! chain, kept outside the log so that truncation is caught), the appends in
//! flight (so that a crash between writing the log and queuing its webhook is
//! reconciled on the next open), the durable webhook outbox and the endpoints
//! that answered `410 Gone`, and the progress of extractions: checkpoints,
//! `serve`'s watermark, and the ids already output (so a re-read drops them).
//!
//! [`StateStore`] is the interface; [`SqliteStore`] the embedded
//! implementation (one file, WAL, `synchronous=FULL`) and [`PostgresStore`]
//! the one that several processes share. [`StateLocation`] tells them apart
//! by what `--state` names (a `postgres://` URL or a file) and opens either.
//!
//! The store is synchronous. Every call is one short transaction; async
//! callers may call it directly for these brief calls or wrap it in
//! `tokio::task::spawn_blocking` when they batch many. (The PostgreSQL
//! store waits for the network inside `block_in_place` when called from a
//! multi-threaded runtime: see `postgres/connection.rs`.)

pub mod blocking;
mod location;
mod postgres;
mod sqlite;
pub mod testing;

pub use location::{PostgresUrl, StateLocation};
pub use postgres::{Lease, LeaseRow, PostgresStore, RateBudget};
pub use sqlite::SqliteStore;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The head of an audit chain: the sequence number of its newest record and
/// that record's hash (64 lowercase hex digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Anchor {
    pub seq: u64,
    pub hash: String,
}

/// A webhook to queue: its stable id, where it goes and the exact body bytes
/// that every attempt sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub webhook_id: String,
    pub endpoint: String,
    pub body: Vec<u8>,
}

/// An audit record about to be appended to the log of `audit_dir`: written to
/// the store before the log, so that a crash in between is recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendIntent {
    /// The audit directory's key (its canonical path).
    pub audit_dir: String,
    /// The chain head once the record is appended.
    pub anchor: Anchor,
    /// The webhook to queue once the record is in the log, if one is configured.
    pub webhook: Option<NewWebhook>,
}

/// One queued webhook and what its delivery attempts met so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub webhook_id: String,
    pub endpoint: String,
    pub body: Vec<u8>,
    /// Unix milliseconds when it was queued.
    pub created_at_ms: i64,
    /// Attempts made so far, over all runs.
    pub attempts: u32,
    /// Unix milliseconds of the next planned attempt, if one was planned.
    pub next_attempt_at_ms: Option<i64>,
    /// HTTP status of the last attempt, if it got one.
    pub last_status: Option<u16>,
    /// What went wrong on the last attempt.
    pub last_error: Option<String>,
    /// Unix milliseconds of delivery; `None` while queued.
    pub delivered_at_ms: Option<i64>,
}

/// An endpoint that answered `410 Gone`: nothing more is sent to it until it
/// is enabled again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledEndpoint {
    pub endpoint: String,
    /// Unix milliseconds when it was disabled.
    pub disabled_at_ms: i64,
    pub reason: String,
}

/// The state store's interface. Implementations are shared between threads
/// (`Send + Sync`) and make each method one atomic, durable transaction.
pub trait StateStore: Send + Sync {
    /// The file the store lives in, when it is one: messages name it as the
    /// state store to give to a follow-up command.
    fn file(&self) -> Option<&Path> {
        None
    }

    /// The anchored head of the chain in `audit_dir`, `None` when the store
    /// knows no record of it.
    fn anchor(&self, audit_dir: &str) -> Result<Option<Anchor>, StoreError>;

    /// Sets the anchor without queuing anything: used to adopt a log that
    /// this store did not write (a new state file beside an old audit dir).
    fn set_anchor(&self, audit_dir: &str, anchor: &Anchor) -> Result<(), StoreError>;

    /// Records an append about to happen. At most one is in flight per
    /// audit directory; a new one replaces an old one.
    fn begin_append(&self, intent: &AppendIntent) -> Result<(), StoreError>;

    /// The append in flight for `audit_dir`, if a crash left one.
    fn pending_append(&self, audit_dir: &str) -> Result<Option<AppendIntent>, StoreError>;

    /// Completes the append in flight for `audit_dir` in one transaction:
    /// moves the anchor to it and queues its webhook (once per webhook id).
    /// Returns `false` when no append with that sequence number was in flight.
    fn finish_append(&self, audit_dir: &str, seq: u64) -> Result<bool, StoreError>;

    /// Forgets the append in flight for `audit_dir` (its record never reached the log).
    fn abandon_append(&self, audit_dir: &str) -> Result<(), StoreError>;

    /// Undelivered webhooks for `endpoint`, oldest first.
    fn pending_webhooks(&self, endpoint: &str) -> Result<Vec<OutboxEntry>, StoreError>;

    /// One queued webhook by id, delivered or not.
    fn webhook(&self, webhook_id: &str) -> Result<Option<OutboxEntry>, StoreError>;

    /// Marks a webhook delivered after a 2xx answer.
    fn mark_delivered(&self, webhook_id: &str, status: u16) -> Result<(), StoreError>;

    /// Counts a failed attempt: its status (if any), what went wrong and when
    /// the next attempt is planned (unix milliseconds).
    fn record_failure(
        &self,
        webhook_id: &str,
        status: Option<u16>,
        error: &str,
        next_attempt_at_ms: Option<i64>,
    ) -> Result<(), StoreError>;

    /// Stops deliveries to `endpoint` (it answered `410 Gone`).
    fn disable_endpoint(&self, endpoint: &str, reason: &str) -> Result<(), StoreError>;

    /// Allows deliveries to `endpoint` again.
    fn enable_endpoint(&self, endpoint: &str) -> Result<(), StoreError>;

    /// Whether `endpoint` is disabled, and why.
    fn disabled_endpoint(&self, endpoint: &str) -> Result<Option<DisabledEndpoint>, StoreError>;

    /// How many webhooks are still queued, for all endpoints.
    fn outbox_depth(&self) -> Result<u64, StoreError>;

    /// The progress saved under `key` (a checkpoint, a watermark: the
    /// caller's JSON), `None` when there is none.
    fn load_progress(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Saves `state` under `key` and records `seen` as output under the same
    /// key, in one transaction: either both are durable or neither.
    fn save_progress(&self, key: &str, state: &str, seen: &[SeenId]) -> Result<(), StoreError>;

    /// Forgets the progress and the seen ids of `key` (its extraction is complete).
    fn clear_progress(&self, key: &str) -> Result<(), StoreError>;

    /// Which of `ids` were recorded as seen under `scope`.
    fn seen_among(&self, scope: &str, ids: &[&str]) -> Result<HashSet<String>, StoreError>;

    /// Forgets seen ids of `scope` detected before `detected_before_ms` (unix
    /// milliseconds): the retention that keeps the table bounded.
    fn prune_seen(&self, scope: &str, detected_before_ms: i64) -> Result<u64, StoreError>;
}

/// Why the state store failed. Each message names the file and what
/// happened; what to do about the first three depends on how the store was
/// given, which the caller says.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store {path}: the database is locked by another process")]
    Locked { path: PathBuf },
    #[error("state store {path} does not exist")]
    Missing { path: PathBuf },
    /// `store` names the file or the URL (never with its password).
    #[error(
        "state store {store} has schema version {found}, newer than this program knows ({known})"
    )]
    TooNew {
        store: String,
        found: i64,
        known: i64,
    },
    /// What `--state` names cannot be a state store (`shown` is without its password).
    #[error("state store `{shown}`: {problem}")]
    BadLocation { shown: String, problem: String },
    /// The PostgreSQL server did not answer, after retries.
    #[error("state store {store}: the server stayed unreachable: {cause}; check that PostgreSQL is running there and that the URL's host and port are right")]
    Unreachable { store: String, cause: String },
    /// The PostgreSQL server answered with an error, or the connection broke mid-call.
    #[error("state store {store}: {action} failed: {cause}; check that the URL names a genesys-compliance state database that its user may read and write")]
    Postgres {
        store: String,
        action: &'static str,
        cause: String,
    },
    #[error("state store {path}: {action} failed: {cause}; check that the file is a genesys-compliance state database, readable and writable, on a disk with free space")]
    Sqlite {
        path: PathBuf,
        action: &'static str,
        cause: rusqlite::Error,
    },
    /// A worker's write after another worker took its lease over: rolled
    /// back, nothing committed.
    #[error("the lease of {unit} was taken over by another worker (this worker's fencing token {token}, the current one {}); nothing was committed, and this worker stops work on it", current.map_or("none".to_string(), |t| t.to_string()))]
    Fenced {
        unit: String,
        token: i64,
        current: Option<i64>,
    },
    #[error("state store {path}: cannot create the file (owner-only): {cause}; check that its directory exists and this user may write there")]
    Permissions {
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl StoreError {
    /// A failed SQLite call on the store at `path`: `Locked` when another
    /// process holds the lock, else what `action` met.
    pub(crate) fn from_sqlite(path: &Path, action: &'static str, cause: rusqlite::Error) -> Self {
        match cause.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Locked {
                    path: path.to_path_buf(),
                }
            }
            _ => StoreError::Sqlite {
                path: path.to_path_buf(),
                action,
                cause,
            },
        }
    }
}

impl StoreError {
    pub(crate) fn postgres(
        store: String,
        action: &'static str,
        cause: &tokio_postgres::Error,
    ) -> Self {
        StoreError::Postgres {
            store,
            action,
            cause: describe(cause),
        }
    }
}

/// `error` and its causes, joined by `: ` (tokio-postgres says only "db
/// error" at the top; the server's message is its cause). No part of it
/// carries the connection's password: tokio-postgres names options, not
/// their values.
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// A violation already output, remembered so that a re-read drops it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenId {
    pub id: String,
    /// Its `detectedAt`, in unix milliseconds: what retention goes by.
    pub detected_at_ms: i64,
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
