//! Continuous extraction: `serve` runs an extraction on a schedule, each
//! covering `[watermark - lookback, now - lag)` (`lag` is 0 unless the user
//! asks for one: interface.md's `[watermark - lookback, now)`), drops violations it output
//! before (their ids are in the state store), writes hourly files, and
//! appends one audit record per run, empty runs included. A run that stops
//! before its record leaves the counts of the pages it committed in the
//! state store, and the next record includes them: every violation output is
//! counted in exactly one record.
//!
//! Exactly once across kills: after each page the output is synced, then the
//! page's ids and the output position are committed in one transaction (the
//! position is also recorded before the first page is written). A restart,
//! or the next run after a failed one, cuts the output back to the committed
//! position and re-reads from
//! the watermark, which moves only when a run completes; what was committed
//! is recognised as seen and dropped.

use crate::audit::{append_and_deliver, audit_record, AuditTarget};
use crate::health::Health;
use crate::lease::LeaseGuard;
use crate::metrics as m;
use crate::nats::{NatsSink, NatsStream};
use crate::output::{FileSink, HourlySink, OutputTarget, Position, RecordSink};
use crate::run::{
    drop_ids, extract, load_state, save_state, Checkpoint, Progress, Rejects, RunError,
};
use compliance_api::{Filters, PageSize, Timestamp};
use compliance_audit::AuditLog;
use compliance_client::{Batch, Plan, Query, Resume, StatsSnapshot, Window};
use compliance_sources::Source;
use compliance_store::{SeenId, StateStore};
use compliance_verify::Verifier;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `serve`'s settings, already valid.
pub struct ServeConfig {
    pub filters: Filters,
    pub page_size: PageSize,
    /// Where the first run starts when the state store holds no watermark.
    pub since: Option<Timestamp>,
    pub every: Duration,
    pub lookback: Duration,
    /// How far behind now a run ends; zero by default. A non-zero lag only
    /// delays the newest violations by a run: late arrivals are the
    /// look-back's job.
    pub lag: Duration,
    /// Directory of the hourly files, or `None` for standard output (where a
    /// restart cannot take back uncommitted lines: files are exactly-once,
    /// standard output at-least-once for the page a kill interrupted).
    pub out_dir: Option<PathBuf>,
    /// How often the output files rotate.
    pub rotation: crate::output::Rotation,
    /// A JetStream stream to publish to instead of files (`out_dir` then
    /// holds only the rejects file). Each page is acknowledged by the stream
    /// before its ids are committed; the stream drops a page sent again.
    pub stream: Option<NatsStream>,
    pub store: Arc<dyn StateStore>,
    pub audit: AuditTarget,
    /// How long ids are remembered beyond the look-back.
    pub retention_margin: Duration,
}

/// What the state store keeps for `serve` between runs and restarts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ServeState {
    /// End of the last completed run's window.
    watermark: Option<Timestamp>,
    /// Up to where the output files are committed. Recorded before a run
    /// writes anything, so that even what the first page wrote before its
    /// commit failed is cut back.
    output: Position,
    rejects: u64,
    /// Counts of the pages committed since the last audit record, by runs
    /// that were stopped, killed or failed before writing theirs: the next
    /// record includes them, so every violation output is in exactly one.
    #[serde(default)]
    unaudited: Progress,
    /// The extraction id of the record that will include `unaudited`. If the
    /// audit log holds it already, a crash came between the append and the
    /// state's update, and `unaudited` is counted already.
    #[serde(default)]
    record_id: Option<uuid::Uuid>,
}

/// The state key: one `serve` state per output directory, or per stream.
fn state_key(out_dir: Option<&std::path::Path>, stream: Option<&NatsStream>) -> String {
    if let Some(stream) = stream {
        return format!("serve:{stream} {}", stream.stream_name());
    }
    match out_dir {
        None => "serve:-".to_string(),
        Some(dir) => {
            let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            format!("serve:{}", absolute.display())
        }
    }
}

/// What one run did.
#[derive(Debug)]
pub struct ServeRun {
    pub interval: Option<Window>,
    pub progress: Progress,
    pub audit_seq: Option<u64>,
    pub delivered: bool,
}

/// Why `serve` stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no watermark in the state store yet, and no start given for the first run")]
    NoStart,
    #[error("the first run failed: {0}")]
    FirstRun(#[source] RunError),
}

/// The service: call [`Service::run`] until the stop future completes.
pub struct Service {
    /// Where violations come from.
    pub source: Box<dyn Source>,
    pub verifier: Verifier,
    pub config: ServeConfig,
    pub health: Arc<Health>,
}

impl Service {
    /// Runs at once, then every `every` after the previous run started (at
    /// once if it overran), until `stop` completes; the current page is then
    /// finished or abandoned and what was output is committed. A first run
    /// refused by the server (credentials, permission) ends the service.
    pub async fn run(&self, stop: impl Future<Output = ()> + Clone) -> Result<(), ServeError> {
        let key = state_key(self.config.out_dir.as_deref(), self.config.stream.as_ref());
        let state = self.load(&key).map_err(ServeError::FirstRun)?;
        if state.watermark.is_none() && self.config.since.is_none() {
            return Err(ServeError::NoStart);
        }
        // Opened once: opening checks the whole chain, which grows with every run.
        let mut log = self.config.audit.open().map_err(ServeError::FirstRun)?;
        let mut first = true;
        let mut last_stats = self.source.stats().snapshot();
        loop {
            let started = Instant::now();
            let outcome = self.run_once(&key, &mut log, stop.clone()).await;
            let stats = self.source.stats().snapshot();
            record_transport(&last_stats, &stats);
            last_stats = stats;
            m::set_outbox_depth(self.config.store.as_ref());
            metrics::histogram!(m::EXTRACTION_DURATION).record(started.elapsed().as_secs_f64());
            match outcome {
                Ok(run) => {
                    self.health.record(true);
                    metrics::counter!(m::RUNS, "outcome" => m::RUN_SUCCEEDED).increment(1);
                    metrics::gauge!(m::LAST_SUCCESS)
                        .set(Timestamp::now().unix_millis() as f64 / 1000.0);
                    metrics::gauge!(m::ACCURACY_RATE).set(run.progress.tally.accuracy_rate());
                    tracing::info!(
                        interval = %run.interval.map(|w| w.to_string()).unwrap_or_else(|| "empty".into()),
                        new = run.progress.tally.violations,
                        duplicates_dropped = run.progress.duplicates_dropped,
                        audit_seq = run.audit_seq,
                        webhook_delivered = run.delivered,
                        "run complete"
                    );
                }
                Err(RunError::Interrupted) => {
                    tracing::info!("stopping: output and state committed");
                    return Ok(());
                }
                Err(e) => {
                    self.health.record(false);
                    metrics::counter!(m::RUNS, "outcome" => m::RUN_FAILED).increment(1);
                    let refused = matches!(&e, RunError::Client(c) if c.kind() == compliance_client::ErrorKind::Refused);
                    if first && refused {
                        return Err(ServeError::FirstRun(e));
                    }
                    tracing::error!(error = %e, "run failed; the next run retries from the same watermark");
                }
            }
            first = false;
            let next = started + self.config.every;
            tokio::select! {
                _ = tokio::time::sleep_until(next.into()) => {}
                _ = stop.clone() => {
                    tracing::info!("stopping between runs");
                    return Ok(());
                }
            }
        }
    }

    /// Whether a run under `key` has somewhere to start: a watermark in
    /// `store`, or the configured start.
    pub(crate) fn can_start(&self, store: &dyn StateStore, key: &str) -> Result<bool, RunError> {
        let state: ServeState = load_state(store, key)?.unwrap_or_default();
        Ok(state.watermark.is_some() || self.config.since.is_some())
    }

    fn load(&self, key: &str) -> Result<ServeState, RunError> {
        Ok(load_state(self.config.store.as_ref(), key)?.unwrap_or_default())
    }

    /// One run: `[watermark - lookback, now - lag)`.
    pub async fn run_once(
        &self,
        key: &str,
        log: &mut AuditLog,
        stop: impl Future<Output = ()>,
    ) -> Result<ServeRun, RunError> {
        let held = Held {
            store: &self.config.store,
            audit: &self.config.audit,
            lease: None,
        };
        self.run_once_in(held, key, log, stop).await
    }

    /// One run, committing through `held`'s store and audit target, and,
    /// under a lease, checking it before each page is written and before
    /// the audit record is appended (a worker that lost it writes nothing).
    pub(crate) async fn run_once_in(
        &self,
        held: Held<'_>,
        key: &str,
        log: &mut AuditLog,
        stop: impl Future<Output = ()>,
    ) -> Result<ServeRun, RunError> {
        let started = Instant::now();
        let c = &self.config;
        let store = held.store;
        let mut state: ServeState = load_state(store.as_ref(), key)?.unwrap_or_default();
        let from = state.watermark.or(c.since).expect("checked at start");
        let start = minus(from, c.lookback);
        let end = minus(Timestamp::now(), c.lag);
        let interval = Window::new(start, end);
        futures::pin_mut!(stop);
        // An empty interval (since in the future) still gets its audit record.
        let plan = match interval {
            Some(window) => {
                let query = Query {
                    window,
                    filters: c.filters.clone(),
                    page_size: c.page_size,
                };
                // Planning may wait out retries: a stop must not wait for it.
                tokio::select! {
                    biased;
                    _ = stop.as_mut() => return Err(RunError::Interrupted),
                    plan = self.source.plan(&query) => Some(plan?),
                }
            }
            None => None,
        };
        if let Some(id) = state.record_id {
            if held.audit.holds(id) {
                state.unaudited = Progress::default();
                state.record_id = None;
            }
        }
        let record_id = *state.record_id.get_or_insert_with(uuid::Uuid::new_v4);
        let mut progress = state.unaudited.clone();
        if let Some(plan) = &plan {
            let mut sink: Box<dyn RecordSink> = match (&c.stream, &c.out_dir) {
                (Some(stream), _) => Box::new(NatsSink::new(stream.clone(), 0)),
                (None, Some(dir)) => {
                    // Under a lease, a worker that lost it may hold the files
                    // open, or open them later: they are detached, and this
                    // worker writes only into files it finds or makes.
                    let sink = if held.lease.is_some() {
                        crate::takeover::detach_output(dir, &state.output)?;
                        HourlySink::open_leased(dir, c.rotation, Some(&state.output))?
                    } else {
                        HourlySink::open(dir, c.rotation, Some(&state.output))?
                    };
                    if state.output.file.is_none() {
                        state.output = sink.position()?;
                        save_state(store.as_ref(), key, &state, &[])?;
                    }
                    Box::new(sink)
                }
                (None, None) => Box::new(FileSink::open(&OutputTarget::Stdout, 0)?),
            };
            let rejects_path = match &c.out_dir {
                Some(dir) => dir.join("rejects.jsonl"),
                None => OutputTarget::Stdout.rejects_path(),
            };
            let mut rejects = Rejects::new(rejects_path, state.rejects);
            let mut checkpoint = ServeCheckpoint {
                store: store.clone(),
                key: key.to_string(),
                state: state.clone(),
                lease: held.lease,
            };
            progress = extract(
                self.source.as_ref(),
                plan.clone(),
                Resume::default(),
                &self.verifier,
                sink.as_mut(),
                &mut rejects,
                &mut checkpoint,
                progress,
                stop,
            )
            .await?;
            state = checkpoint.state;
        }
        let plan = plan.unwrap_or_else(|| empty_plan(from, c));
        let record = audit_record(
            record_id,
            &plan,
            &progress,
            started.elapsed(),
            self.source.kind(),
        );
        if let Some(lease) = held.lease {
            lease.check()?;
        }
        let (appended, delivery) = append_and_deliver(held.audit, log, &record).await?;
        if let Some(w) = interval {
            state.watermark = Some(w.end);
        }
        state.unaudited = Progress::default();
        state.record_id = None;
        save_state(store.as_ref(), key, &state, &[])?;
        if let Some(watermark) = state.watermark {
            let forget_before = minus(minus(watermark, c.lookback), c.retention_margin);
            store.prune_seen(key, forget_before.unix_millis())?;
        }
        Ok(ServeRun {
            interval,
            progress,
            audit_seq: appended.map(|a| a.seq),
            delivered: delivery.is_some_and(|d| d.is_complete()),
        })
    }
}

/// The plan of a run whose interval is empty: one zero-length window at `at`.
fn empty_plan(at: Timestamp, c: &ServeConfig) -> Plan {
    let window = Window::new(minus(at, Duration::from_millis(1)), at).expect("1 ms window");
    Plan {
        query: Query {
            window,
            filters: c.filters.clone(),
            page_size: c.page_size,
        },
        windows: Vec::new(),
    }
}

fn minus(t: Timestamp, d: Duration) -> Timestamp {
    let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    Timestamp::from_datetime(t.as_datetime() - d)
}

/// Where a run commits: the store and audit target, and the lease it runs
/// under, if a worker holds one.
#[derive(Clone, Copy)]
pub(crate) struct Held<'a> {
    pub(crate) store: &'a Arc<dyn StateStore>,
    pub(crate) audit: &'a AuditTarget,
    pub(crate) lease: Option<&'a LeaseGuard>,
}

/// Drops ids output before; commits each page's ids with the output position.
struct ServeCheckpoint<'a> {
    store: Arc<dyn StateStore>,
    key: String,
    state: ServeState,
    lease: Option<&'a LeaseGuard>,
}

impl Checkpoint for ServeCheckpoint<'_> {
    fn filter_seen(&mut self, batch: &mut Batch) -> Result<u64, RunError> {
        // Called before the batch is written: a worker that lost its lease
        // must not write to the output another worker now owns.
        if let Some(lease) = self.lease {
            lease.check()?;
        }
        let ids: Vec<&str> = batch.violations.iter().map(|v| v.id.as_str()).collect();
        let seen: HashSet<String> = self.store.seen_among(&self.key, &ids)?;
        Ok(drop_ids(batch, &seen))
    }

    fn committed(
        &mut self,
        batch: &Batch,
        output: &Position,
        rejects: u64,
        progress: &Progress,
    ) -> Result<(), RunError> {
        if output.file.is_some() {
            self.state.output = output.clone();
        }
        self.state.rejects = rejects;
        self.state.unaudited = progress.clone();
        let seen: Vec<SeenId> = batch
            .violations
            .iter()
            .map(|v| SeenId {
                id: v.id.clone(),
                detected_at_ms: v.detected_at.unix_millis(),
            })
            .collect();
        save_state(self.store.as_ref(), &self.key, &self.state, &seen)
    }
}

/// Adds what the transport did since `before` to the counters.
pub(crate) fn record_transport(before: &StatsSnapshot, after: &StatsSnapshot) {
    for cause in compliance_client::RetryCause::ALL {
        let n = after.retries_of(cause) - before.retries_of(cause);
        if n > 0 {
            metrics::counter!(m::RETRIES, "cause" => cause.as_str()).increment(n);
        }
    }
    metrics::counter!(m::RATE_LIMITED)
        .increment(after.rate_limited_received - before.rate_limited_received);
    metrics::counter!(m::TOKEN_RENEWALS).increment(after.token_renewals - before.token_renewals);
}
