//! Leases of work units for several workers, with fencing tokens.
//!
//! A unit (for `serve`, an org's run: `org:<name>`) has one row. A worker
//! acquires it when it is free (its lease expired or was released) and due
//! (`next_run_at_ms` has come), renews it while it works, and releases it
//! with the time the unit is next due. Every acquisition, takeovers
//! included, increments the row's token; a handle made by
//! [`PostgresStore::fenced`] commits only while its token is current (see
//! `write` in `mod.rs`). Times are the server's clock, so the workers'
//! clocks need not agree.
//!
//! The row also keeps the unit's rate budget: how far its holder's pacer
//! has booked requests ahead and how long a 429 holds them, written with
//! every renewal and release and handed to the next holder with the lease.
//! Only the holder spends it, so it needs no round trip per request.

use super::PostgresStore;
use crate::StoreError;
use std::time::Duration;
use tokio_postgres::Transaction;

/// The server's clock in unix milliseconds, in SQL.
const NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

/// Sets the row's budget from parameters 4 and 5 (milliseconds from now).
fn set_budget() -> String {
    format!("budget_due_at_ms = {NOW_MS} + $4, budget_paused_until_ms = {NOW_MS} + $5")
}

/// A lease held: the unit, who holds it, and the fencing token of this
/// acquisition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub unit: String,
    pub holder: String,
    pub token: i64,
    /// The previous holder did not release the unit: it died or stalled, and
    /// what it spent of the budget since its last renewal is not in the row.
    pub taken_over: bool,
    /// The unit's rate budget as the previous holder left it.
    pub budget: RateBudget,
}

/// A rate budget relative to the moment it was read or written: until the
/// next request is on schedule (a pacer's theoretical arrival time; zero
/// when a burst is free) and until requests may be sent at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateBudget {
    pub next_due_in: Duration,
    pub paused_for: Duration,
}

impl RateBudget {
    fn from_millis(next_due_in: i64, paused_for: i64) -> RateBudget {
        let ms = |v: i64| Duration::from_millis(u64::try_from(v).unwrap_or(0));
        RateBudget {
            next_due_in: ms(next_due_in),
            paused_for: ms(paused_for),
        }
    }
}

/// A unit's lease row as it stands, for inspection and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub holder: Option<String>,
    pub token: i64,
    /// Milliseconds until it expires (negative: expired), by the server's clock.
    pub expires_in_ms: i64,
    /// Milliseconds until the unit is due (negative: overdue).
    pub due_in_ms: i64,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// The token of `unit`'s lease now, locked against a takeover until the
/// transaction ends; `None` when the unit has no lease row.
pub(super) async fn current_token(
    tx: &Transaction<'_>,
    unit: &str,
) -> Result<Option<i64>, tokio_postgres::Error> {
    Ok(tx
        .query_opt(
            "SELECT token FROM leases WHERE unit = $1 FOR SHARE",
            &[&unit],
        )
        .await?
        .map(|row| row.get(0)))
}

impl PostgresStore {
    /// Acquires `unit` for `holder` for `ttl` if it is free and due: a new
    /// unit, an expired lease (its holder died or stalled: a takeover) or a
    /// released one whose next run has come. `None` when another worker
    /// holds it or it is not due yet. The lease carries the budget its
    /// previous holder left.
    pub fn acquire(
        &self,
        unit: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let sql = format!(
            "INSERT INTO leases (unit, holder, expires_at_ms, token, next_run_at_ms)
             VALUES ($1, $2, {NOW_MS} + $3, 1, 0)
             ON CONFLICT (unit) DO UPDATE
             SET holder = excluded.holder, expires_at_ms = excluded.expires_at_ms,
                 token = leases.token + 1, taken_over = leases.holder IS NOT NULL
             WHERE leases.expires_at_ms <= {NOW_MS} AND leases.next_run_at_ms <= {NOW_MS}
             RETURNING token, taken_over,
                 budget_due_at_ms - {NOW_MS}, budget_paused_until_ms - {NOW_MS}"
        );
        let ttl = millis(ttl);
        self.query_opt("acquiring a lease", &sql, &[&unit, &holder, &ttl], |r| {
            Lease {
                unit: unit.to_owned(),
                holder: holder.to_owned(),
                token: r.get(0),
                taken_over: r.get(1),
                budget: RateBudget::from_millis(r.get(2), r.get(3)),
            }
        })
    }

    /// Extends `lease` by `ttl` from now and keeps `budget` as its holder
    /// has spent it so far; `false` when its token is no longer current
    /// (another worker took the unit over).
    pub fn renew(
        &self,
        lease: &Lease,
        ttl: Duration,
        budget: RateBudget,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE leases SET expires_at_ms = {NOW_MS} + $3, {}
             WHERE unit = $1 AND token = $2",
            set_budget()
        );
        let ttl = millis(ttl);
        let (due, paused) = (millis(budget.next_due_in), millis(budget.paused_for));
        self.run("renewing a lease", async |client| {
            client
                .execute(&sql, &[&lease.unit, &lease.token, &ttl, &due, &paused])
                .await
        })
        .map(|n| n == 1)
    }

    /// Gives `lease` up with the `budget` its holder leaves: the unit is
    /// free at once and due again in `next_run_in`. `false` when the token
    /// was no longer current (nothing changed then).
    pub fn release(
        &self,
        lease: &Lease,
        next_run_in: Duration,
        budget: RateBudget,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE leases SET holder = NULL, expires_at_ms = {NOW_MS},
                 next_run_at_ms = {NOW_MS} + $3, {}
             WHERE unit = $1 AND token = $2",
            set_budget()
        );
        let next = millis(next_run_in);
        let (due, paused) = (millis(budget.next_due_in), millis(budget.paused_for));
        self.run("releasing a lease", async |client| {
            client
                .execute(&sql, &[&lease.unit, &lease.token, &next, &due, &paused])
                .await
        })
        .map(|n| n == 1)
    }

    /// The lease row of `unit`, `None` when it was never acquired.
    pub fn lease_row(&self, unit: &str) -> Result<Option<LeaseRow>, StoreError> {
        let sql = format!(
            "SELECT holder, token, expires_at_ms - {NOW_MS}, next_run_at_ms - {NOW_MS}
             FROM leases WHERE unit = $1"
        );
        self.query_opt("reading a lease", &sql, &[&unit], |r| LeaseRow {
            holder: r.get(0),
            token: r.get(1),
            expires_in_ms: r.get(2),
            due_in_ms: r.get(3),
        })
    }

    /// A handle on the same connection whose every write commits only while
    /// `lease` is current, and otherwise fails with [`StoreError::Fenced`],
    /// committing nothing.
    pub fn fenced(&self, lease: &Lease) -> PostgresStore {
        PostgresStore {
            config: self.config.clone(),
            shown: self.shown.clone(),
            connection: self.connection.clone(),
            fence: Some(lease.clone()),
        }
    }
}
