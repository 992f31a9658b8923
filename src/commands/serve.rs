//! `serve`: continuous extraction on a schedule, with `/healthz`, `/metrics`
//! and the HTML report of its output directory at `/report`.

use super::{Outcome, Pipeline};
use crate::exit::{Exit, Failure};
use crate::settings::{
    AuditArgs, ConnectionArgs, FilterArgs, Layers, Schedule, ScheduleArgs, SinkArgs,
    DEFAULT_AUDIT_DIR,
};
use compliance_pipeline::{AuditTarget, Health, ServeConfig, ServeError, Service};
use futures::FutureExt;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each run covers [watermark - lookback, now); the watermark is the end \
of the last completed run (--since before the first). --lag LAG ends runs at now - LAG instead: \
the newest violations then wait a run longer, and at a stop those of its last LAG wait for the \
next start. Violations recorded late are --lookback's job. Violations re-read through the look-back are \
recognised from the state store and dropped, so every violation is output exactly once, across \
restarts too. Each run appends one audit record; a run that is stopped, killed or fails before \
its record leaves what it output to the next run's record, so every violation output is counted in \
exactly one record. SIGTERM or Ctrl-C: the current page is finished or abandoned, state is committed, \
and the process exits 0 within 10 s; a second signal exits at once. With --sink \
nats://HOST[:PORT]/SUBJECT the violations are published to NATS JetStream instead of files \
(each with its id as Nats-Msg-Id; a page's ids are committed only once the stream has \
acknowledged it, and the stream drops a page sent again), --out-dir is optional and holds only \
the rejects file and the default audit directory (the working directory without it); a stream \
that stops acknowledging fails the run, which the next run retries. Besides /healthz and /metrics, \
GET /report on --listen serves the HTML report of --out-dir and its audit trail, made on each \
request (`?from=T&to=T` narrows it; a bad bound is a 400 naming it); with [[org]] tables, \
GET /report/ORG serves each org's.

Examples:
  genesys-compliance serve --since 2023-10-01T00:00:00Z --every 5m --lookback 15m \\
      --out-dir /var/lib/genesys-compliance/out --audit-dir /var/lib/genesys-compliance/audit \\
      --webhook-url https://grc.example.com/hooks/genesys --region eu-west-1
  genesys-compliance serve --config /etc/genesys-compliance/config.toml
  curl -s 127.0.0.1:9464/metrics | grep genesys_compliance_violations_total
  curl -s '127.0.0.1:9464/report?from=2023-10-01T00:00:00Z' > report.html   (see `report --help`)"
)]
pub struct Args {
    #[command(flatten)]
    pub schedule: ScheduleArgs,
    #[command(flatten)]
    pub audit: AuditArgs,
    /// Leave PII in evidence values as received (findings are still reported)
    #[arg(long)]
    pub keep_pii: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
    #[command(flatten)]
    pub sink: SinkArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// With [[org]] tables in the config file (several workers over a
    /// PostgreSQL store): how long an org's lease lasts unrenewed, so how
    /// soon another worker takes over the orgs of one that died, such as 30s
    /// [default: 30s]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub lease: Option<String>,
}

impl Args {
    /// The connection flags that apply to every org: the config file; the
    /// hosts, pacing and retries are each org's own (its [[org]] table over
    /// the file's top level).
    pub fn connection_for_orgs(&self) -> ConnectionArgs {
        ConnectionArgs {
            config: self.connection.config.clone(),
            ..ConnectionArgs::default()
        }
    }
}

/// How long a stop may take before the process exits anyway; everything
/// that matters is committed transactionally, so exiting is safe.
const STOP_GRACE: Duration = Duration::from_secs(9);

pub async fn run(args: Args) -> Outcome {
    let env = |name: &str| std::env::var(name).ok();
    let layers = Layers::load(args.connection.config.as_deref(), &env).map_err(Failure::invalid)?;
    let sink = layers.sink(&args.sink).map_err(Failure::invalid)?;
    let schedule = layers
        .schedule(&args.schedule, sink.is_some())
        .map_err(Failure::invalid)?;
    if layers.has_orgs() {
        return super::workers::run(args, layers, schedule, sink).await;
    }
    let pipeline = Pipeline::from_settings(
        &layers,
        &args.connection,
        &args.filters,
        &args.audit,
        args.keep_pii,
    )?;
    // The audit trail goes beside the output unless told otherwise.
    let state_file = pipeline.audit.state.clone();
    let audit_dir = pipeline
        .audit
        .audit_dir
        .clone()
        .unwrap_or_else(|| match &schedule.out_dir {
            Some(dir) => dir.join(DEFAULT_AUDIT_DIR),
            None => std::path::PathBuf::from(DEFAULT_AUDIT_DIR),
        });
    // Connected before anything is served or sent: a stream that cannot be
    // used stops the service at once (exit 4 unreachable, 2 misconfigured).
    let stream = sink.as_ref().map(super::connect_sink).transpose()?;
    let Endpoints {
        metrics,
        listener,
        bound,
        signals,
    } = Endpoints::open(schedule.listen).await?;
    // Scripts read the port from the first line, as with `simulate`; on
    // standard error when standard output carries the violations.
    if schedule.out_dir.is_some() || stream.is_some() {
        println!("listening on http://{bound}");
    } else {
        // A JSON event with --log-format json, like every line there.
        crate::report::note(&format!("listening on http://{bound}"));
    }
    tracing::info!("serving /healthz, /metrics and /report on http://{bound}");

    let stop = stop_signal(signals).shared();
    let health = Arc::new(Health::default());
    let report = super::report::router(super::report::Served {
        out_dir: schedule.out_dir.clone(),
        audit_dir: audit_dir.clone(),
        store: pipeline.store.clone(),
        state_name: state_file.to_string(),
        title: "Compliance report".into(),
    });
    let endpoints = tokio::spawn(compliance_pipeline::serve_endpoints(
        listener,
        health.clone(),
        metrics,
        report,
        stop.clone(),
    ));
    let service = service(
        pipeline,
        &schedule,
        schedule.out_dir.clone(),
        stream,
        audit_dir,
        health,
    );
    let outcome = service.run(stop).await;
    endpoints.abort();
    match outcome {
        Ok(()) => Ok(Exit::Done),
        Err(ServeError::NoStart) => Err(Failure::invalid(anyhow::anyhow!(
            "--since: required for the first run (the state store {} holds no watermark yet); \
             give where extraction starts, such as --since 2023-10-01T00:00:00Z",
            state_file
        ))),
        Err(ServeError::FirstRun(e)) => Err(crate::exit::run_failure(e)),
    }
}

/// Completes on the first SIGTERM or SIGINT; a second one exits at once, and
/// a stop that takes longer than [`STOP_GRACE`] exits as well. Listening
/// starts at once, not when the future is first polled.
pub(super) fn stop_signal(mut signals: Signals) -> impl std::future::Future<Output = ()> {
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        signals.next().await;
        tracing::info!("stop requested: finishing the current page and committing");
        let _ = tx.send(true);
        tokio::select! {
            _ = signals.next() => {
                tracing::warn!("second signal: exiting at once");
                std::process::exit(130);
            }
            _ = tokio::time::sleep(STOP_GRACE) => {
                tracing::warn!("still stopping after {STOP_GRACE:?}; exiting now (committed state is safe)");
                std::process::exit(0);
            }
        }
    });
    async move {
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

/// SIGTERM and SIGINT, registered once so that none is missed between two
/// (`simulate` uses it too).
pub(super) struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    pub(super) fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    pub(super) async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What a service opens before it prints its address: the metrics recorder,
/// the listener of `/healthz` and `/metrics`, and the stop signals.
pub(super) struct Endpoints {
    pub metrics: compliance_pipeline::MetricsHandle,
    pub listener: tokio::net::TcpListener,
    pub bound: std::net::SocketAddr,
    pub signals: Signals,
}

impl Endpoints {
    pub async fn open(listen: std::net::SocketAddr) -> Result<Endpoints, Failure> {
        let metrics = compliance_pipeline::install_metrics()
            .map_err(|e| Failure::new(Exit::Internal, anyhow::anyhow!(e)))?;
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            Failure::invalid(anyhow::anyhow!(
                "--listen {listen}: cannot listen there: {e}; give a free IP:PORT"
            ))
        })?;
        let bound = listener.local_addr().map_err(anyhow::Error::from)?;
        // Before the address is printed: a signal sent as soon as it is read
        // must stop the service cleanly, not kill it.
        let signals = Signals::new().map_err(|e| {
            Failure::new(
                Exit::Internal,
                anyhow::anyhow!("cannot listen for stop signals: {e}"),
            )
        })?;
        Ok(Endpoints {
            metrics,
            listener,
            bound,
            signals,
        })
    }
}

/// The service that runs `pipeline` on `schedule`: its violations to
/// `out_dir` or `stream`, its audit records to `audit_dir`. One org's, or
/// each org's of a worker.
pub(super) fn service(
    pipeline: Pipeline,
    schedule: &Schedule,
    out_dir: Option<std::path::PathBuf>,
    stream: Option<compliance_pipeline::nats::NatsStream>,
    audit_dir: std::path::PathBuf,
    health: Arc<Health>,
) -> Service {
    Service {
        source: pipeline.source,
        verifier: pipeline.verifier,
        config: ServeConfig {
            filters: pipeline.filters,
            page_size: pipeline.page_size,
            since: schedule.since,
            every: schedule.every,
            lookback: schedule.lookback,
            lag: schedule.lag,
            out_dir,
            rotation: schedule.rotate,
            stream,
            store: pipeline.store.clone(),
            audit: AuditTarget {
                dir: audit_dir,
                store: pipeline.store,
                webhook: pipeline.audit.webhook,
            },
            retention_margin: Duration::from_secs(3600),
        },
        health,
    }
}
