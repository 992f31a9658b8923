//! The embedded state store: one SQLite file.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a committed
//! transaction is on disk before the call returns. The file is created
//! readable and writable by its owner only (SQLite gives its `-wal` and
//! `-shm` companions the same mode).
//!
//! Schema changes go through `schema::MIGRATIONS`: the n-th entry brings the
//! file from `user_version` n to n + 1. To add a table, append one entry (as
//! entry 2 added `progress` and `seen`); never edit an entry that has shipped.
//!
//! Rooms: this file opens the store and runs each call as one transaction;
//! `schema` holds the migrations; `tests` the tests.

use crate::SeenId;
use crate::{
    now_ms, Anchor, AppendIntent, DisabledEndpoint, NewWebhook, OutboxEntry, StateStore, StoreError,
};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

mod schema;
use schema::migrate;

/// How long a call waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite state store. Cheap to share: wrap it in an `Arc`.
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens the store at `path`, creating it (mode 0600) if it does not
    /// exist, and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        create_private(&path)?;
        Self::connect(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )
    }

    /// Opens an existing store; a missing file is an error rather than a new,
    /// empty store (what checking an audit trail against its store wants).
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if !path.is_file() {
            return Err(StoreError::Missing { path });
        }
        Self::connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connect(path: PathBuf, flags: OpenFlags) -> Result<Self, StoreError> {
        let fail = |action| {
            let path = path.clone();
            move |cause| StoreError::from_sqlite(&path, action, cause)
        };
        let mut conn = Connection::open_with_flags(&path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(fail("opening"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(fail("setting the busy timeout"))?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(fail("switching to WAL"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail("setting synchronous=FULL"))?;
        migrate(&path, &mut conn)?;
        Ok(SqliteStore {
            path,
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half done
        // (rusqlite rolls back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |cause| StoreError::from_sqlite(&self.path, action, cause)
    }
}

/// Creates the file with mode 0600 if it does not exist yet, so that SQLite
/// never creates it with the default, wider mode.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|cause| StoreError::Permissions {
            path: path.to_path_buf(),
            cause,
        })
}

fn outbox_entry(row: &Row<'_>) -> rusqlite::Result<OutboxEntry> {
    Ok(OutboxEntry {
        webhook_id: row.get(0)?,
        endpoint: row.get(1)?,
        body: row.get(2)?,
        created_at_ms: row.get(3)?,
        attempts: row.get(4)?,
        next_attempt_at_ms: row.get(5)?,
        last_status: row.get(6)?,
        last_error: row.get(7)?,
        delivered_at_ms: row.get(8)?,
    })
}

const OUTBOX_COLUMNS: &str = "webhook_id, endpoint, body, created_at_ms, attempts, \
     next_attempt_at_ms, last_status, last_error, delivered_at_ms";

impl StateStore for SqliteStore {
    fn file(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn anchor(&self, audit_dir: &str) -> Result<Option<Anchor>, StoreError> {
        self.conn()
            .query_row(
                "SELECT seq, hash FROM audit_anchor WHERE audit_dir = ?1",
                [audit_dir],
                |r| {
                    Ok(Anchor {
                        seq: r.get::<_, i64>(0)? as u64,
                        hash: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(self.fail("reading the audit anchor"))
    }

    fn set_anchor(&self, audit_dir: &str, anchor: &Anchor) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO audit_anchor (audit_dir, seq, hash, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (audit_dir) DO UPDATE
                 SET seq = excluded.seq, hash = excluded.hash, updated_at_ms = excluded.updated_at_ms",
                params![audit_dir, anchor.seq as i64, anchor.hash, now_ms()],
            )
            .map(drop)
            .map_err(self.fail("writing the audit anchor"))
    }

    fn begin_append(&self, intent: &AppendIntent) -> Result<(), StoreError> {
        let webhook = intent.webhook.as_ref();
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO audit_intent
                 (audit_dir, seq, hash, webhook_id, endpoint, body, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    intent.audit_dir,
                    intent.anchor.seq as i64,
                    intent.anchor.hash,
                    webhook.map(|w| &w.webhook_id),
                    webhook.map(|w| &w.endpoint),
                    webhook.map(|w| &w.body),
                    now_ms()
                ],
            )
            .map(drop)
            .map_err(self.fail("recording the append in flight"))
    }

    fn pending_append(&self, audit_dir: &str) -> Result<Option<AppendIntent>, StoreError> {
        self.conn()
            .query_row(
                "SELECT seq, hash, webhook_id, endpoint, body FROM audit_intent WHERE audit_dir = ?1",
                [audit_dir],
                |r| {
                    let webhook = match (r.get(2)?, r.get(3)?, r.get(4)?) {
                        (Some(webhook_id), Some(endpoint), Some(body)) => Some(NewWebhook {
                            webhook_id,
                            endpoint,
                            body,
                        }),
                        _ => None,
                    };
                    Ok(AppendIntent {
                        audit_dir: audit_dir.to_owned(),
                        anchor: Anchor {
                            seq: r.get::<_, i64>(0)? as u64,
                            hash: r.get(1)?,
                        },
                        webhook,
                    })
                },
            )
            .optional()
            .map_err(self.fail("reading the append in flight"))
    }

    fn finish_append(&self, audit_dir: &str, seq: u64) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let fail = self.fail("completing the append");
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&fail)?;
        let now = now_ms();
        let anchored = tx
            .execute(
                "INSERT INTO audit_anchor (audit_dir, seq, hash, updated_at_ms)
                 SELECT audit_dir, seq, hash, ?3 FROM audit_intent
                 WHERE audit_dir = ?1 AND seq = ?2
                 ON CONFLICT (audit_dir) DO UPDATE
                 SET seq = excluded.seq, hash = excluded.hash, updated_at_ms = excluded.updated_at_ms",
                params![audit_dir, seq as i64, now],
            )
            .map_err(&fail)?;
        if anchored == 0 {
            return Ok(false);
        }
        // OR IGNORE: a webhook id is queued once, whatever happens.
        tx.execute(
            "INSERT OR IGNORE INTO webhook_outbox (webhook_id, endpoint, body, created_at_ms)
             SELECT webhook_id, endpoint, body, ?3 FROM audit_intent
             WHERE audit_dir = ?1 AND seq = ?2 AND webhook_id IS NOT NULL",
            params![audit_dir, seq as i64, now],
        )
        .map_err(&fail)?;
        tx.execute("DELETE FROM audit_intent WHERE audit_dir = ?1", [audit_dir])
            .map_err(&fail)?;
        tx.commit().map_err(&fail)?;
        Ok(true)
    }

    fn abandon_append(&self, audit_dir: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM audit_intent WHERE audit_dir = ?1", [audit_dir])
            .map(drop)
            .map_err(self.fail("forgetting the append in flight"))
    }

    fn pending_webhooks(&self, endpoint: &str) -> Result<Vec<OutboxEntry>, StoreError> {
        let conn = self.conn();
        let fail = self.fail("reading the webhook outbox");
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM webhook_outbox
                 WHERE endpoint = ?1 AND delivered_at_ms IS NULL ORDER BY id"
            ))
            .map_err(&fail)?;
        let rows = stmt.query_map([endpoint], outbox_entry).map_err(&fail)?;
        rows.collect::<Result<_, _>>().map_err(&fail)
    }

    fn webhook(&self, webhook_id: &str) -> Result<Option<OutboxEntry>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {OUTBOX_COLUMNS} FROM webhook_outbox WHERE webhook_id = ?1"),
                [webhook_id],
                outbox_entry,
            )
            .optional()
            .map_err(self.fail("reading the webhook outbox"))
    }

    fn mark_delivered(&self, webhook_id: &str, status: u16) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE webhook_outbox
                 SET attempts = attempts + 1, last_status = ?2, last_error = NULL,
                     next_attempt_at_ms = NULL, delivered_at_ms = ?3
                 WHERE webhook_id = ?1",
                params![webhook_id, status, now_ms()],
            )
            .map(drop)
            .map_err(self.fail("marking a webhook delivered"))
    }

    fn record_failure(
        &self,
        webhook_id: &str,
        status: Option<u16>,
        error: &str,
        next_attempt_at_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE webhook_outbox
                 SET attempts = attempts + 1, last_status = ?2, last_error = ?3,
                     next_attempt_at_ms = ?4
                 WHERE webhook_id = ?1",
                params![webhook_id, status, error, next_attempt_at_ms],
            )
            .map(drop)
            .map_err(self.fail("recording a failed webhook attempt"))
    }

    fn disable_endpoint(&self, endpoint: &str, reason: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO disabled_endpoint (endpoint, disabled_at_ms, reason)
                 VALUES (?1, ?2, ?3)",
                params![endpoint, now_ms(), reason],
            )
            .map(drop)
            .map_err(self.fail("disabling a webhook endpoint"))
    }

    fn enable_endpoint(&self, endpoint: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "DELETE FROM disabled_endpoint WHERE endpoint = ?1",
                [endpoint],
            )
            .map(drop)
            .map_err(self.fail("enabling a webhook endpoint"))
    }

    fn disabled_endpoint(&self, endpoint: &str) -> Result<Option<DisabledEndpoint>, StoreError> {
        self.conn()
            .query_row(
                "SELECT endpoint, disabled_at_ms, reason FROM disabled_endpoint WHERE endpoint = ?1",
                [endpoint],
                |r| {
                    Ok(DisabledEndpoint {
                        endpoint: r.get(0)?,
                        disabled_at_ms: r.get(1)?,
                        reason: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(self.fail("reading the disabled endpoints"))
    }

    fn load_progress(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row("SELECT state FROM progress WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.fail("reading progress"))
    }

    fn save_progress(&self, key: &str, state: &str, seen: &[SeenId]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let fail = self.fail("saving progress");
        let tx = conn.transaction().map_err(&fail)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO seen (scope, id, detected_at_ms) VALUES (?1, ?2, ?3)",
                )
                .map_err(&fail)?;
            for s in seen {
                insert
                    .execute(params![key, s.id, s.detected_at_ms])
                    .map_err(&fail)?;
            }
            tx.execute(
                "INSERT INTO progress (key, state, updated_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET state = ?2, updated_at_ms = ?3",
                params![key, state, now_ms()],
            )
            .map_err(&fail)?;
        }
        tx.commit().map_err(fail)
    }

    fn clear_progress(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let fail = self.fail("clearing progress");
        let tx = conn.transaction().map_err(&fail)?;
        tx.execute("DELETE FROM progress WHERE key = ?1", [key])
            .map_err(&fail)?;
        tx.execute("DELETE FROM seen WHERE scope = ?1", [key])
            .map_err(&fail)?;
        tx.commit().map_err(fail)
    }

    fn seen_among(&self, scope: &str, ids: &[&str]) -> Result<HashSet<String>, StoreError> {
        let conn = self.conn();
        let fail = self.fail("looking up seen ids");
        let mut query = conn
            .prepare_cached("SELECT 1 FROM seen WHERE scope = ?1 AND id = ?2")
            .map_err(&fail)?;
        let mut found = HashSet::new();
        for id in ids {
            if query.exists(params![scope, id]).map_err(&fail)? {
                found.insert((*id).to_string());
            }
        }
        Ok(found)
    }

    fn prune_seen(&self, scope: &str, detected_before_ms: i64) -> Result<u64, StoreError> {
        self.conn()
            .execute(
                "DELETE FROM seen WHERE scope = ?1 AND detected_at_ms < ?2",
                params![scope, detected_before_ms],
            )
            .map(|n| n as u64)
            .map_err(self.fail("pruning seen ids"))
    }

    fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.conn()
            .query_row(
                "SELECT COUNT(*) FROM webhook_outbox WHERE delivered_at_ms IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.fail("counting the webhook outbox"))
    }
}

#[cfg(test)]
mod tests;
