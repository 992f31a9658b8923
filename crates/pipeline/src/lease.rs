//! A lease held while a worker runs a unit: renewed in the background every
//! third of its time, and checked before anything is written that the store
//! cannot fence (output files, the audit log).
//!
//! The store fences its own commits (each write transaction compares the
//! token); files cannot, so the worker keeps a local deadline, the time it
//! *sent* its last successful renewal plus the lease time, which is never
//! later than the server's expiry. Past it, [`LeaseGuard::check`] asks the
//! store before letting a write through.
//!
//! The org's rate budget travels with the lease: the pacer continues from
//! the row when the lease is acquired, and every renewal and the release
//! write back what it has spent (see docs/scale.md).

use compliance_client::{Pacer, Spent};
use compliance_store::{Lease, PostgresStore, RateBudget, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The lease of one unit, renewed while this lives.
pub struct LeaseGuard {
    state: Arc<GuardState>,
    heartbeat: tokio::task::JoinHandle<()>,
}

struct GuardState {
    store: Arc<PostgresStore>,
    lease: Lease,
    ttl: Duration,
    pacer: Arc<Pacer>,
    deadline: Mutex<Instant>,
    lost: AtomicBool,
}

impl LeaseGuard {
    /// Starts renewing `lease` (acquired at `acquired`, just before the
    /// acquiring statement was sent) every `ttl / 3`, with the budget
    /// `pacer` spends; the pacer first continues from the lease's budget.
    pub fn start(
        store: Arc<PostgresStore>,
        lease: Lease,
        ttl: Duration,
        acquired: Instant,
        pacer: Arc<Pacer>,
    ) -> LeaseGuard {
        let left = Spent {
            next_due_in: lease.budget.next_due_in,
            paused_for: lease.budget.paused_for,
        };
        pacer.resume(left, lease.taken_over);
        let state = Arc::new(GuardState {
            store,
            lease,
            ttl,
            pacer,
            deadline: Mutex::new(acquired + ttl),
            lost: AtomicBool::new(false),
        });
        let beating = state.clone();
        let heartbeat = tokio::spawn(async move {
            loop {
                tokio::time::sleep(beating.ttl / 3).await;
                if !beating.renew() && beating.lost.load(Ordering::SeqCst) {
                    break;
                }
            }
        });
        LeaseGuard { state, heartbeat }
    }

    /// The lease held.
    pub fn lease(&self) -> &Lease {
        &self.state.lease
    }

    /// `Ok` while the lease is certainly this worker's: within the local
    /// deadline, or renewed now. [`StoreError::Fenced`] once another worker
    /// holds it; the store's error when it cannot be asked past the deadline.
    pub fn check(&self) -> Result<(), StoreError> {
        let s = &self.state;
        if s.lost.load(Ordering::SeqCst) {
            return Err(s.fenced());
        }
        if Instant::now() < *s.deadline.lock().unwrap_or_else(|p| p.into_inner()) {
            return Ok(());
        }
        match s.try_renew()? {
            true => Ok(()),
            false => Err(s.fenced()),
        }
    }

    /// Gives the lease up with the budget spent: the unit is due again in
    /// `next_run_in`. `false` when it was no longer this worker's.
    pub fn release(&self, next_run_in: Duration) -> Result<bool, StoreError> {
        let s = &self.state;
        s.store.release(&s.lease, next_run_in, s.budget())
    }

    /// Whether another worker took the lease over (as opposed to the store
    /// being out of reach).
    pub fn is_lost(&self) -> bool {
        let _ = self.check();
        self.state.lost.load(Ordering::SeqCst)
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

impl GuardState {
    /// Renews the lease; `false` once it is lost (taken over, or expired
    /// while the store could not be reached).
    fn renew(&self) -> bool {
        match self.try_renew() {
            Ok(renewed) => renewed,
            Err(e) => {
                // Not lost yet: the next beat tries again, and the local
                // deadline stops writes if none succeeds in time.
                tracing::warn!(unit = %self.lease.unit, error = %e, "could not renew the lease");
                let deadline = *self.deadline.lock().unwrap_or_else(|p| p.into_inner());
                Instant::now() < deadline
            }
        }
    }

    /// Renews the lease: `Ok(false)` when another worker holds it now.
    fn try_renew(&self) -> Result<bool, StoreError> {
        if self.lost.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let sent = Instant::now();
        let renewed = self.store.renew(&self.lease, self.ttl, self.budget())?;
        if renewed {
            *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = sent + self.ttl;
        } else {
            self.lost.store(true, Ordering::SeqCst);
        }
        Ok(renewed)
    }

    /// The budget as the pacer has spent it, for the lease row.
    fn budget(&self) -> RateBudget {
        let spent = self.pacer.spent();
        RateBudget {
            next_due_in: spent.next_due_in,
            paused_for: spent.paused_for,
        }
    }

    fn fenced(&self) -> StoreError {
        let current = self
            .store
            .lease_row(&self.lease.unit)
            .ok()
            .flatten()
            .map(|row| row.token);
        StoreError::Fenced {
            unit: self.lease.unit.clone(),
            token: self.lease.token,
            current,
        }
    }
}
