//! Several `serve` workers over several orgs, sharing a PostgreSQL store.
//!
//! Each org is a work unit with a lease (`compliance_store`'s `leases`
//! table). A worker runs one task per org it knows: the task acquires the
//! org's lease when its run is due, runs one `serve` run under it (the
//! store handle is fenced by the lease's token, and the lease is checked
//! before each page is written), and releases it with the time the next run
//! is due. A worker killed mid-run leaves its lease to expire; another
//! worker then takes it over, cuts the output back to what was committed
//! and re-reads from the watermark, dropping the ids committed as seen. See
//! docs/scale.md.

use crate::audit::AuditTarget;
use crate::health::Health;
use crate::lease::LeaseGuard;
use crate::metrics as m;
use crate::run::RunError;
use crate::serve::{record_transport, Held, Service};
use compliance_api::OrgName;
use compliance_api::Timestamp;
use compliance_audit::AuditLog;
use compliance_store::{PostgresStore, StateStore, StoreError};
use futures::FutureExt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One org as a worker serves it: its service (source, verifier, schedule,
/// output and audit directory) and its own connection to the store.
pub struct OrgService {
    pub name: OrgName,
    pub service: Service,
    pub store: Arc<PostgresStore>,
}

/// How a worker takes part.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This worker's name in the lease rows (host and process id by default).
    pub holder: String,
    /// How long a lease lasts without renewal: a dead worker's orgs are
    /// taken over within this time.
    pub lease: Duration,
    /// How often a task looks for its org's lease when it does not hold it.
    pub poll: Duration,
}

/// An org whose first run in this worker was refused by the server
/// (credentials, permission): the worker stops, as a single org's `serve`
/// does, because no later run can succeed until the org's settings change.
#[derive(Debug, thiserror::Error)]
#[error("org {org}: the first run was refused: {error}")]
pub struct OrgRefused {
    pub org: OrgName,
    #[source]
    pub error: RunError,
}

/// Serves every org until `stop` completes; a stop finishes or abandons the
/// current page of each org, commits, and releases the leases. An org
/// refused on its first run stops every org the same way, then is returned.
pub async fn run_workers(
    orgs: Vec<OrgService>,
    config: WorkerConfig,
    health: Arc<Health>,
    stop: impl Future<Output = ()> + Clone + Send + 'static,
) -> Result<(), OrgRefused> {
    let (refused_tx, refused_rx) = tokio::sync::watch::channel(false);
    let stop = {
        let stop = stop.clone();
        async move {
            let mut refused = refused_rx;
            tokio::select! {
                _ = stop => {}
                _ = refused.wait_for(|r| *r) => {}
            }
        }
        .shared()
    };
    let mut tasks = tokio::task::JoinSet::new();
    for org in orgs {
        let (config, health, stop) = (config.clone(), health.clone(), stop.clone());
        tasks.spawn(async move { serve_org(org, config, health, stop).await });
    }
    // In the order they end: a refusal stops the orgs still running.
    let mut first_refusal = None;
    while let Some(ended) = tasks.join_next().await {
        match ended {
            Ok(Ok(())) => {}
            Ok(Err(refused)) => {
                let _ = refused_tx.send(true);
                first_refusal.get_or_insert(refused);
            }
            Err(e) => tracing::error!(error = %e, "an org's task ended abnormally"),
        }
    }
    first_refusal.map_or(Ok(()), Err)
}

/// What became of one leased run.
enum Leased {
    /// The run ended (done or failed); the lease is released.
    Released,
    /// The lease was taken over: nothing more was committed.
    Lost,
    /// A stop was asked for.
    Stopped,
    /// The org's first run here was refused by the server.
    Refused(RunError),
}

async fn serve_org(
    org: OrgService,
    config: WorkerConfig,
    health: Arc<Health>,
    stop: impl Future<Output = ()> + Clone,
) -> Result<(), OrgRefused> {
    let unit = org.name.unit();
    let mut first = true;
    loop {
        let asked = Instant::now();
        match org.store.acquire(&unit, &config.holder, config.lease) {
            Ok(Some(lease)) => {
                tracing::info!(org = %org.name, token = lease.token, "acquired the lease");
                let pacer = org.service.source.pacer();
                let guard = LeaseGuard::start(org.store.clone(), lease, config.lease, asked, pacer);
                match run_leased(&org, &guard, &health, first, stop.clone()).await {
                    Leased::Stopped => return Ok(()),
                    Leased::Refused(error) => {
                        let org = org.name.clone();
                        return Err(OrgRefused { org, error });
                    }
                    Leased::Released | Leased::Lost => first = false,
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(org = %org.name, error = %e, "could not ask for the lease; asking again")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(config.poll) => {}
            _ = stop.clone() => return Ok(()),
        }
    }
}

/// One run of `org` under `guard`'s lease, then the lease released (due
/// again `every` after this run started) unless it was lost.
async fn run_leased(
    org: &OrgService,
    guard: &LeaseGuard,
    health: &Health,
    first: bool,
    stop: impl Future<Output = ()>,
) -> Leased {
    let started = Instant::now();
    let unit = org.name.unit();
    let service = &org.service;
    let fenced: Arc<dyn StateStore> = Arc::new(org.store.fenced(guard.lease()));
    let audit = AuditTarget {
        dir: service.config.audit.dir.clone(),
        store: fenced.clone(),
        webhook: service.config.audit.webhook.clone(),
    };
    let key = format!("serve:{unit}");
    let stats_before = service.source.stats().snapshot();
    if !service.can_start(fenced.as_ref(), &key).unwrap_or(true) {
        tracing::error!(org = %org.name, "no watermark in the state store yet for this org, and no --since for its first run; give --since");
        let _ = guard.release(service.config.every);
        return Leased::Released;
    }
    let outcome = async {
        // Opened afresh under each lease: another worker may have appended.
        let endpoint = audit.webhook.as_ref().map(|w| w.endpoint.clone());
        let mut log = AuditLog::open_as(&audit.dir, Some(&unit), fenced.clone(), endpoint)?;
        let held = Held {
            store: &fenced,
            audit: &audit,
            lease: Some(guard),
        };
        service.run_once_in(held, &key, &mut log, stop).await
    }
    .await;
    // The same metrics as a single org's runs, summed over the orgs.
    record_transport(&stats_before, &service.source.stats().snapshot());
    metrics::histogram!(m::EXTRACTION_DURATION).record(started.elapsed().as_secs_f64());
    m::set_outbox_depth(org.store.as_ref());
    let next_in = service.config.every.saturating_sub(started.elapsed());
    let (next_in, leased) = match outcome {
        Ok(run) => {
            health.record(true);
            metrics::counter!(m::RUNS, "outcome" => m::RUN_SUCCEEDED).increment(1);
            metrics::gauge!(m::LAST_SUCCESS).set(Timestamp::now().unix_millis() as f64 / 1000.0);
            tracing::info!(
                org = %org.name,
                new = run.progress.tally.violations,
                duplicates_dropped = run.progress.duplicates_dropped,
                audit_seq = run.audit_seq,
                "run complete"
            );
            (next_in, Leased::Released)
        }
        Err(RunError::Interrupted) => {
            tracing::info!(org = %org.name, "stopping: output and state committed");
            // Free at once for another worker.
            (Duration::ZERO, Leased::Stopped)
        }
        Err(e) if is_fenced(&e) => {
            tracing::warn!(org = %org.name, "lost the lease of org {}: {e}", org.name);
            return Leased::Lost;
        }
        // A run that failed otherwise (the server ended a session stalled
        // mid-transaction, say) may have lost its lease meanwhile too.
        Err(e) if guard.is_lost() => {
            let fenced = guard.check().expect_err("lost");
            tracing::warn!(org = %org.name, "lost the lease of org {}: {fenced} (the run had stopped on: {e})", org.name);
            return Leased::Lost;
        }
        Err(e) => {
            health.record(false);
            metrics::counter!(m::RUNS, "outcome" => m::RUN_FAILED).increment(1);
            let refused = matches!(&e, RunError::Client(c) if c.kind() == compliance_client::ErrorKind::Refused);
            if first && refused {
                // Free at once: the worker stops, and others stop on it too.
                (Duration::ZERO, Leased::Refused(e))
            } else {
                tracing::error!(org = %org.name, error = %e, "run failed; the next run retries from the same watermark");
                (next_in, Leased::Released)
            }
        }
    };
    if let Err(e) = guard.release(next_in) {
        // It expires by itself within the lease time.
        tracing::warn!(org = %org.name, error = %e, "could not release the lease");
    }
    leased
}

fn is_fenced(e: &RunError) -> bool {
    let store = match e {
        RunError::Store(e) => Some(e),
        RunError::Audit(compliance_audit::AuditError::Store(e)) => Some(e),
        _ => None,
    };
    matches!(store, Some(StoreError::Fenced { .. }))
}
