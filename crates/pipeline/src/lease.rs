//! A lease held while a worker runs a unit: renewed in the background every
//! third of its time, and checked before anything is written that the store
//! cannot fence (output files, the audit log).
//!
//! The store fences its own commits (each write transaction compares the
//! token); files cannot, so the worker keeps a local deadline, the time it
//! *sent* its last successful renewal plus the lease time, which is never
//! later than the server's expiry. Past it, [`LeaseGuard::check`] asks the
//! store before letting a write through.

use compliance_store::{Lease, PostgresStore, StoreError};
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
    deadline: Mutex<Instant>,
    lost: AtomicBool,
}

impl LeaseGuard {
    /// Starts renewing `lease` (acquired at `acquired`, just before the
    /// acquiring statement was sent) every `ttl / 3`.
    pub fn start(
        store: Arc<PostgresStore>,
        lease: Lease,
        ttl: Duration,
        acquired: Instant,
    ) -> LeaseGuard {
        let state = Arc::new(GuardState {
            store,
            lease,
            ttl,
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
        let renewed = self.store.renew(&self.lease, self.ttl)?;
        if renewed {
            *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = sent + self.ttl;
        } else {
            self.lost.store(true, Ordering::SeqCst);
        }
        Ok(renewed)
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
