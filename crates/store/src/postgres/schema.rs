//! The PostgreSQL schema of the state store, and the migrations that bring a
//! database to it.
//!
//! The same tables as the SQLite store (`../sqlite/schema.rs`), in
//! PostgreSQL's types. The version lives in `genesys_compliance_schema`; the
//! n-th entry of `MIGRATIONS` brings a database from version n to n + 1.
//! Append entries, never edit one that has shipped.

use tokio_postgres::Client;

pub(super) const MIGRATIONS: &[&str] = &[
    // 1: everything the SQLite store's versions 1 and 2 hold.
    "CREATE TABLE audit_anchor (
        audit_dir TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL,
        updated_at_ms BIGINT NOT NULL
    );
    CREATE TABLE audit_intent (
        audit_dir TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL,
        webhook_id TEXT,
        endpoint TEXT,
        body BYTEA,
        created_at_ms BIGINT NOT NULL
    );
    CREATE TABLE webhook_outbox (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        webhook_id TEXT NOT NULL UNIQUE,
        endpoint TEXT NOT NULL,
        body BYTEA NOT NULL,
        created_at_ms BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms BIGINT,
        last_status INTEGER,
        last_error TEXT,
        delivered_at_ms BIGINT
    );
    CREATE INDEX webhook_outbox_pending ON webhook_outbox (endpoint, id)
        WHERE delivered_at_ms IS NULL;
    CREATE TABLE disabled_endpoint (
        endpoint TEXT PRIMARY KEY,
        disabled_at_ms BIGINT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE progress (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at_ms BIGINT NOT NULL
    );
    CREATE TABLE seen (
        scope TEXT NOT NULL,
        id TEXT NOT NULL,
        detected_at_ms BIGINT NOT NULL,
        PRIMARY KEY (scope, id)
    );
    CREATE INDEX seen_by_age ON seen (scope, detected_at_ms);",
    // 2: leases of work units (an org's run) for several workers; see
    // `lease.rs`. The token grows on every acquisition and takeover.
    "CREATE TABLE leases (
        unit TEXT PRIMARY KEY,
        holder TEXT,
        expires_at_ms BIGINT NOT NULL,
        token BIGINT NOT NULL,
        next_run_at_ms BIGINT NOT NULL DEFAULT 0
    );",
    // 3: the org's rate budget kept with its lease, so the next holder
    // continues it (see `lease.rs`), and whether the last acquisition was a
    // takeover.
    "ALTER TABLE leases
        ADD COLUMN budget_due_at_ms BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN budget_paused_until_ms BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN taken_over BOOLEAN NOT NULL DEFAULT FALSE;",
];

/// Any number, the same in every process of this program: the advisory lock
/// that lets one process at a time migrate a database.
const MIGRATION_LOCK: i64 = 0x6765_6e65_7379_7301;

/// What `migrate` found: the database's version when it is newer than this
/// program knows.
pub(super) enum Migrated {
    Current,
    TooNew { found: i64, known: i64 },
}

/// Brings the database to the newest version, in one transaction, under an
/// advisory lock: several processes starting at once migrate it once.
pub(super) async fn migrate(client: &mut Client) -> Result<Migrated, tokio_postgres::Error> {
    let known = MIGRATIONS.len() as i64;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS genesys_compliance_schema (version BIGINT NOT NULL)",
    )
    .await?;
    let found: i64 = tx
        .query_opt("SELECT version FROM genesys_compliance_schema", &[])
        .await?
        .map_or(0, |row| row.get(0));
    if found > known {
        return Ok(Migrated::TooNew { found, known });
    }
    for sql in &MIGRATIONS[found as usize..] {
        tx.batch_execute(sql).await?;
    }
    if found == 0 {
        tx.execute(
            "INSERT INTO genesys_compliance_schema (version) VALUES ($1)",
            &[&known],
        )
        .await?;
    } else if found < known {
        tx.execute(
            "UPDATE genesys_compliance_schema SET version = $1",
            &[&known],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Migrated::Current)
}
