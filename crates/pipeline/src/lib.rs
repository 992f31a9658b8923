//! The extraction pipeline: extracted violations → verification → output,
//! audit record → hash-chained log → webhook outbox; checkpointed so that a
//! killed run continues where it stopped.
//!
//! Rooms: `run` (one extraction: verify, write, checkpoint), `audit` (the
//! record, its append and the webhook delivery), `job` (`extract` as a job
//! that survives a kill), `serve` (scheduled runs), `output` (files and their
//! durability), `nats` (the JetStream stream sink), `health` and `metrics`
//! (`serve`'s operator endpoints), `crash` (the crash tests' abort points),
//! `workers` and `lease` (several `serve` workers over several orgs, under
//! leases in PostgreSQL).

mod audit;
mod crash;
mod health;
mod job;
mod late;
mod lease;
mod metrics;
pub mod nats;
mod output;
mod run;
mod serve;
mod takeover;
mod workers;

pub use audit::{AuditTarget, Webhook};
pub use health::{serve as serve_endpoints, Health};
pub use job::{ExtractJob, JobReport};
pub use late::{sweep_log_line, warn_late_pii, write_swept};
pub use lease::LeaseGuard;
pub use metrics::install as install_metrics;
/// What `/metrics` renders from, as [`install_metrics`] returns it.
pub use metrics_exporter_prometheus::PrometheusHandle as MetricsHandle;
pub use output::{FileSink, JsonlFile, OutputError, OutputTarget, Rotation};
pub use run::{Progress, RunError};
pub use serve::{ServeConfig, ServeError, ServeRun, Service};
pub use workers::{run_workers, OrgRefused, OrgService, WorkerConfig};
