//! The schema of the state store, and the migrations that bring a file to it.

use crate::StoreError;
use rusqlite::Connection;
use std::path::Path;

/// The schema, one step per entry (see the store's module documentation).
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: audit chain anchors, appends in flight, webhook outbox, endpoints gone.
    "CREATE TABLE audit_anchor (
        audit_dir TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE TABLE audit_intent (
        audit_dir TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,
        webhook_id TEXT,
        endpoint TEXT,
        body BLOB,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE webhook_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        webhook_id TEXT NOT NULL UNIQUE,
        endpoint TEXT NOT NULL,
        body BLOB NOT NULL,
        created_at_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms INTEGER,
        last_status INTEGER,
        last_error TEXT,
        delivered_at_ms INTEGER
    );
    CREATE INDEX webhook_outbox_pending ON webhook_outbox (endpoint, id)
        WHERE delivered_at_ms IS NULL;
    CREATE TABLE disabled_endpoint (
        endpoint TEXT PRIMARY KEY,
        disabled_at_ms INTEGER NOT NULL,
        reason TEXT NOT NULL
    );",
    // 2: extraction progress (checkpoints, serve's watermark) and ids already output.
    "CREATE TABLE progress (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE TABLE seen (
        scope TEXT NOT NULL,
        id TEXT NOT NULL,
        detected_at_ms INTEGER NOT NULL,
        PRIMARY KEY (scope, id)
    ) WITHOUT ROWID;
    CREATE INDEX seen_by_age ON seen (scope, detected_at_ms);",
];

pub(super) fn migrate(path: &Path, conn: &mut Connection) -> Result<(), StoreError> {
    let fail = |action| move |cause| StoreError::from_sqlite(path, action, cause);
    let known = MIGRATIONS.len() as i64;
    let version = |conn: &Connection| -> Result<i64, StoreError> {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(fail("reading the schema version"))
    };
    // Only a migration takes the write lock: a reader (`audit verify`) must
    // not wait for a running `serve`.
    if version(conn)? == known {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(fail("starting the schema migration"))?;
    let found = version(&tx)?;
    if found > known {
        return Err(StoreError::TooNew {
            store: path.display().to_string(),
            found,
            known,
        });
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)
            .map_err(fail("migrating the schema"))?;
        tx.pragma_update(None, "user_version", version as i64 + 1)
            .map_err(fail("migrating the schema"))?;
    }
    tx.commit().map_err(fail("migrating the schema"))
}
