//! The state store in PostgreSQL: what several processes on several machines
//! can share.
//!
//! The same semantics as the SQLite store, call for call: each method is one
//! transaction. Where SQLite serialises every writer with one file lock,
//! PostgreSQL runs transactions side by side at READ COMMITTED, so the calls
//! that read before they write lock what they read: `finish_append` locks the
//! append in flight (`FOR UPDATE`), so an append is anchored and its webhook
//! queued once even when two processes finish it at the same moment.
//!
//! Rooms: `connection` bridges the synchronous trait to tokio-postgres;
//! `schema` holds the migrations; this file the calls.

mod connection;
mod lease;
mod schema;

use crate::{
    now_ms, Anchor, AppendIntent, DisabledEndpoint, NewWebhook, OutboxEntry, PostgresUrl, SeenId,
    StateStore, StoreError,
};
use connection::Connection;
use schema::{migrate, Migrated};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio_postgres::{Client, Config, Row, Transaction};

pub(crate) use connection::Connection as PgConnection;
pub use lease::{Lease, LeaseRow, RateBudget};

/// The PostgreSQL state store. Cheap to share: wrap it in an `Arc`. One
/// connection, used by one call at a time (as the SQLite store's); the
/// fenced handles of [`PostgresStore::fenced`] share it.
pub struct PostgresStore {
    config: Config,
    /// The URL without its password: what messages name.
    shown: String,
    connection: Arc<Mutex<Option<Connection>>>,
    /// The lease every write is checked against, for a worker's handle.
    fence: Option<Lease>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.shown)
            .finish()
    }
}

impl PostgresStore {
    /// Connects to the database `url` names, creating the schema if it has
    /// none and bringing it up to date. A server that stays unreachable is
    /// [`StoreError::Unreachable`]; one that answers with a newer schema,
    /// [`StoreError::TooNew`].
    pub fn open(url: &PostgresUrl) -> Result<Self, StoreError> {
        let store = PostgresStore {
            config: url.config().clone(),
            shown: url.shown().to_owned(),
            connection: Arc::new(Mutex::new(None)),
            fence: None,
        };
        let migrated = store.run("migrating the schema", async |client| migrate(client).await)?;
        match migrated {
            Migrated::Current => Ok(store),
            Migrated::TooNew { found, known } => Err(StoreError::TooNew {
                store: store.shown.clone(),
                found,
                known,
            }),
        }
    }

    /// Runs `work` as `action` on the connection, connecting first when
    /// there is none or the server closed it.
    fn run<T>(
        &self,
        action: &'static str,
        work: impl AsyncFnOnce(&mut Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut guard = self.connection();
        if guard.as_ref().is_none_or(Connection::is_closed) {
            *guard = None;
            let connection = Connection::open(&self.config).map_err(|cause| {
                let store = self.shown.clone();
                match cause.as_db_error() {
                    // The server answered: a wrong password, no such database.
                    Some(_) => StoreError::postgres(store, "connecting", &cause),
                    None => StoreError::Unreachable {
                        store,
                        cause: crate::describe(&cause),
                    },
                }
            })?;
            *guard = Some(connection);
        }
        let connection = guard.as_mut().expect("connected above");
        connection
            .run(work)
            .map_err(|cause| StoreError::postgres(self.shown.clone(), action, &cause))
    }

    fn connection(&self) -> MutexGuard<'_, Option<Connection>> {
        // A panic while holding the lock leaves no transaction half done
        // (tokio-postgres rolls back a dropped transaction).
        self.connection.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs one query that returns at most one row, mapped by `map`.
    fn query_opt<T>(
        &self,
        action: &'static str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        map: impl FnOnce(&Row) -> T,
    ) -> Result<Option<T>, StoreError> {
        self.run(action, async |client| {
            Ok(client.query_opt(sql, params).await?.as_ref().map(map))
        })
    }

    /// Runs `work` as `action` in one transaction that commits only while
    /// this handle's lease (if it has one) is current: the lease row is read
    /// `FOR SHARE` first, so a takeover waits for this commit, and a token
    /// that moved rolls everything back as [`StoreError::Fenced`].
    fn write<T>(
        &self,
        action: &'static str,
        work: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let fence = self.fence.as_ref();
        let outcome = self.run(action, async |client| {
            let tx = client.transaction().await?;
            if let Some(lease) = fence {
                let current = lease::current_token(&tx, &lease.unit).await?;
                if current != Some(lease.token) {
                    // Dropping the transaction rolls it back.
                    return Ok(Err(current));
                }
            }
            let value = work(&tx).await?;
            tx.commit().await?;
            Ok(Ok(value))
        })?;
        outcome.map_err(|current| {
            let lease = fence.expect("only a fenced write is refused");
            StoreError::Fenced {
                unit: lease.unit.clone(),
                token: lease.token,
                current,
            }
        })
    }

    /// Runs one statement that changes rows, fenced like [`Self::write`].
    fn execute_fenced(
        &self,
        action: &'static str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.write(action, async |tx| tx.execute(sql, params).await)
    }
}

fn outbox_entry(row: &Row) -> OutboxEntry {
    OutboxEntry {
        webhook_id: row.get(0),
        endpoint: row.get(1),
        body: row.get(2),
        created_at_ms: row.get(3),
        attempts: row.get::<_, i32>(4) as u32,
        next_attempt_at_ms: row.get(5),
        last_status: row.get::<_, Option<i32>>(6).map(|s| s as u16),
        last_error: row.get(7),
        delivered_at_ms: row.get(8),
    }
}

const OUTBOX_COLUMNS: &str = "webhook_id, endpoint, body, created_at_ms, attempts, \
     next_attempt_at_ms, last_status, last_error, delivered_at_ms";

impl StateStore for PostgresStore {
    fn anchor(&self, audit_dir: &str) -> Result<Option<Anchor>, StoreError> {
        self.query_opt(
            "reading the audit anchor",
            "SELECT seq, hash FROM audit_anchor WHERE audit_dir = $1",
            &[&audit_dir],
            |r| Anchor {
                seq: r.get::<_, i64>(0) as u64,
                hash: r.get(1),
            },
        )
    }

    fn set_anchor(&self, audit_dir: &str, anchor: &Anchor) -> Result<(), StoreError> {
        self.execute_fenced(
            "writing the audit anchor",
            "INSERT INTO audit_anchor (audit_dir, seq, hash, updated_at_ms)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (audit_dir) DO UPDATE
             SET seq = excluded.seq, hash = excluded.hash, updated_at_ms = excluded.updated_at_ms",
            &[&audit_dir, &(anchor.seq as i64), &anchor.hash, &now_ms()],
        )
        .map(drop)
    }

    fn begin_append(&self, intent: &AppendIntent) -> Result<(), StoreError> {
        let webhook = intent.webhook.as_ref();
        self.execute_fenced(
            "recording the append in flight",
            "INSERT INTO audit_intent
             (audit_dir, seq, hash, webhook_id, endpoint, body, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (audit_dir) DO UPDATE
             SET seq = excluded.seq, hash = excluded.hash, webhook_id = excluded.webhook_id,
                 endpoint = excluded.endpoint, body = excluded.body,
                 created_at_ms = excluded.created_at_ms",
            &[
                &intent.audit_dir,
                &(intent.anchor.seq as i64),
                &intent.anchor.hash,
                &webhook.map(|w| &w.webhook_id),
                &webhook.map(|w| &w.endpoint),
                &webhook.map(|w| &w.body),
                &now_ms(),
            ],
        )
        .map(drop)
    }

    fn pending_append(&self, audit_dir: &str) -> Result<Option<AppendIntent>, StoreError> {
        self.query_opt(
            "reading the append in flight",
            "SELECT seq, hash, webhook_id, endpoint, body FROM audit_intent WHERE audit_dir = $1",
            &[&audit_dir],
            |r| {
                let webhook = match (r.get(2), r.get(3), r.get(4)) {
                    (Some(webhook_id), Some(endpoint), Some(body)) => Some(NewWebhook {
                        webhook_id,
                        endpoint,
                        body,
                    }),
                    _ => None,
                };
                AppendIntent {
                    audit_dir: audit_dir.to_owned(),
                    anchor: Anchor {
                        seq: r.get::<_, i64>(0) as u64,
                        hash: r.get(1),
                    },
                    webhook,
                }
            },
        )
    }

    fn finish_append(&self, audit_dir: &str, seq: u64) -> Result<bool, StoreError> {
        let seq = seq as i64;
        self.write("completing the append", async |tx| {
            // The lock makes a concurrent finish of the same append wait,
            // then find it gone: anchored and queued once.
            let intent = tx
                .query_opt(
                    "SELECT 1 FROM audit_intent WHERE audit_dir = $1 AND seq = $2 FOR UPDATE",
                    &[&audit_dir, &seq],
                )
                .await?;
            if intent.is_none() {
                return Ok(false);
            }
            let now = now_ms();
            tx.execute(
                "INSERT INTO audit_anchor (audit_dir, seq, hash, updated_at_ms)
                 SELECT audit_dir, seq, hash, $3 FROM audit_intent
                 WHERE audit_dir = $1 AND seq = $2
                 ON CONFLICT (audit_dir) DO UPDATE
                 SET seq = excluded.seq, hash = excluded.hash, updated_at_ms = excluded.updated_at_ms",
                &[&audit_dir, &seq, &now],
            )
            .await?;
            // DO NOTHING: a webhook id is queued once, whatever happens.
            tx.execute(
                "INSERT INTO webhook_outbox (webhook_id, endpoint, body, created_at_ms)
                 SELECT webhook_id, endpoint, body, $3 FROM audit_intent
                 WHERE audit_dir = $1 AND seq = $2 AND webhook_id IS NOT NULL
                 ON CONFLICT (webhook_id) DO NOTHING",
                &[&audit_dir, &seq, &now],
            )
            .await?;
            tx.execute("DELETE FROM audit_intent WHERE audit_dir = $1", &[&audit_dir])
                .await?;
            Ok(true)
        })
    }

    fn abandon_append(&self, audit_dir: &str) -> Result<(), StoreError> {
        self.execute_fenced(
            "forgetting the append in flight",
            "DELETE FROM audit_intent WHERE audit_dir = $1",
            &[&audit_dir],
        )
        .map(drop)
    }

    fn pending_webhooks(&self, endpoint: &str) -> Result<Vec<OutboxEntry>, StoreError> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM webhook_outbox
             WHERE endpoint = $1 AND delivered_at_ms IS NULL ORDER BY id"
        );
        self.run("reading the webhook outbox", async |client| {
            let rows = client.query(&sql, &[&endpoint]).await?;
            Ok(rows.iter().map(outbox_entry).collect())
        })
    }

    fn webhook(&self, webhook_id: &str) -> Result<Option<OutboxEntry>, StoreError> {
        self.query_opt(
            "reading the webhook outbox",
            &format!("SELECT {OUTBOX_COLUMNS} FROM webhook_outbox WHERE webhook_id = $1"),
            &[&webhook_id],
            outbox_entry,
        )
    }

    fn mark_delivered(&self, webhook_id: &str, status: u16) -> Result<(), StoreError> {
        self.execute_fenced(
            "marking a webhook delivered",
            "UPDATE webhook_outbox
             SET attempts = attempts + 1, last_status = $2, last_error = NULL,
                 next_attempt_at_ms = NULL, delivered_at_ms = $3
             WHERE webhook_id = $1",
            &[&webhook_id, &i32::from(status), &now_ms()],
        )
        .map(drop)
    }

    fn record_failure(
        &self,
        webhook_id: &str,
        status: Option<u16>,
        error: &str,
        next_attempt_at_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        self.execute_fenced(
            "recording a failed webhook attempt",
            "UPDATE webhook_outbox
             SET attempts = attempts + 1, last_status = $2, last_error = $3,
                 next_attempt_at_ms = $4
             WHERE webhook_id = $1",
            &[
                &webhook_id,
                &status.map(i32::from),
                &error,
                &next_attempt_at_ms,
            ],
        )
        .map(drop)
    }

    fn disable_endpoint(&self, endpoint: &str, reason: &str) -> Result<(), StoreError> {
        self.execute_fenced(
            "disabling a webhook endpoint",
            "INSERT INTO disabled_endpoint (endpoint, disabled_at_ms, reason)
             VALUES ($1, $2, $3)
             ON CONFLICT (endpoint) DO UPDATE
             SET disabled_at_ms = excluded.disabled_at_ms, reason = excluded.reason",
            &[&endpoint, &now_ms(), &reason],
        )
        .map(drop)
    }

    fn enable_endpoint(&self, endpoint: &str) -> Result<(), StoreError> {
        self.execute_fenced(
            "enabling a webhook endpoint",
            "DELETE FROM disabled_endpoint WHERE endpoint = $1",
            &[&endpoint],
        )
        .map(drop)
    }

    fn disabled_endpoint(&self, endpoint: &str) -> Result<Option<DisabledEndpoint>, StoreError> {
        self.query_opt(
            "reading the disabled endpoints",
            "SELECT endpoint, disabled_at_ms, reason FROM disabled_endpoint WHERE endpoint = $1",
            &[&endpoint],
            |r| DisabledEndpoint {
                endpoint: r.get(0),
                disabled_at_ms: r.get(1),
                reason: r.get(2),
            },
        )
    }

    fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.query_opt(
            "counting the webhook outbox",
            "SELECT COUNT(*) FROM webhook_outbox WHERE delivered_at_ms IS NULL",
            &[],
            |r| r.get::<_, i64>(0) as u64,
        )
        .map(Option::unwrap_or_default)
    }

    fn load_progress(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.query_opt(
            "reading progress",
            "SELECT state FROM progress WHERE key = $1",
            &[&key],
            |r| r.get(0),
        )
    }

    fn save_progress(&self, key: &str, state: &str, seen: &[SeenId]) -> Result<(), StoreError> {
        let ids: Vec<&str> = seen.iter().map(|s| s.id.as_str()).collect();
        let detected: Vec<i64> = seen.iter().map(|s| s.detected_at_ms).collect();
        self.write("saving progress", async |tx| {
            // One statement for the whole page, whatever its size.
            tx.execute(
                "INSERT INTO seen (scope, id, detected_at_ms)
                 SELECT $1, id, at FROM UNNEST($2::text[], $3::bigint[]) AS s (id, at)
                 ON CONFLICT (scope, id) DO NOTHING",
                &[&key, &ids, &detected],
            )
            .await?;
            tx.execute(
                "INSERT INTO progress (key, state, updated_at_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET state = $2, updated_at_ms = $3",
                &[&key, &state, &now_ms()],
            )
            .await
            .map(drop)
        })
    }

    fn clear_progress(&self, key: &str) -> Result<(), StoreError> {
        self.write("clearing progress", async |tx| {
            tx.execute("DELETE FROM progress WHERE key = $1", &[&key])
                .await?;
            tx.execute("DELETE FROM seen WHERE scope = $1", &[&key])
                .await
                .map(drop)
        })
    }

    fn seen_among(&self, scope: &str, ids: &[&str]) -> Result<HashSet<String>, StoreError> {
        self.run("looking up seen ids", async |client| {
            let rows = client
                .query(
                    "SELECT id FROM seen WHERE scope = $1 AND id = ANY($2)",
                    &[&scope, &ids],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn prune_seen(&self, scope: &str, detected_before_ms: i64) -> Result<u64, StoreError> {
        self.execute_fenced(
            "pruning seen ids",
            "DELETE FROM seen WHERE scope = $1 AND detected_at_ms < $2",
            &[&scope, &detected_before_ms],
        )
    }
}
