//! `serve` over the `[[org]]` tables of the config file: one worker of
//! several sharing a PostgreSQL state store (docs/scale.md). Each org's run
//! is leased in the store; this process runs whichever orgs are due and free.

use super::report::Served;
use super::serve::{stop_signal, Args, Endpoints};
use super::{Outcome, Pipeline};
use crate::exit::{store_failure, Exit, Failure};
use crate::settings::{Layers, OrgSettings, Schedule, SinkSettings};
use compliance_api::OrgName;
use compliance_pipeline::nats::NatsStream;
use compliance_pipeline::{run_workers, Health, OrgService, WorkerConfig};
use compliance_store::{PostgresStore, StateLocation};
use futures::FutureExt;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(
    args: Args,
    layers: Layers<'_>,
    schedule: Schedule,
    sink: Option<SinkSettings>,
) -> Outcome {
    if args.schedule.out_dir.as_deref() == Some(std::path::Path::new("-")) {
        return Err(Failure::invalid(anyhow::anyhow!(
            "--out-dir -: the orgs' violations cannot share standard output; give a directory, \
             under which each org gets one of its name"
        )));
    }
    let orgs = layers
        .orgs(args.schedule.out_dir.as_deref())
        .map_err(Failure::invalid)?;
    let lease = layers
        .lease(args.lease.as_ref())
        .map_err(Failure::invalid)?;
    let url = match layers.audit(&args.audit).map_err(Failure::invalid)?.state {
        StateLocation::Postgres(url) => url,
        StateLocation::File(path) => {
            return Err(Failure::invalid(anyhow::anyhow!(
                "--state: the config file lists orgs ([[org]] tables), which several workers share \
                 through a PostgreSQL state store, but the state store is the SQLite file {}; give \
                 --state postgres://USER@HOST:PORT/DB, or serve one org per process without \
                 [[org]] tables",
                path.display()
            )))
        }
    };
    // Every org's settings are checked before any is used: a bad one exits
    // 2 naming the org, with nothing sent and no store opened.
    for org in &orgs {
        org.layers
            .connection(&args.connection_for_orgs())
            .map_err(Failure::invalid)?;
        org.layers
            .selection(&args.filters)
            .map_err(Failure::invalid)?;
    }

    // One stream for every org: the violation id is the message id, and
    // ids differ between orgs.
    let stream = sink.as_ref().map(super::connect_sink).transpose()?;
    let Endpoints {
        metrics,
        listener,
        bound,
        signals,
    } = Endpoints::open(schedule.listen).await?;

    let mut services = Vec::new();
    let mut reports = Vec::new();
    for org in orgs {
        let (service, report) = org_service(&args, org, &url, &schedule, stream.clone())?;
        services.push(service);
        reports.push(report);
    }
    let holder = holder_name();
    println!("listening on http://{bound}");
    tracing::info!(
        worker = %holder, orgs = services.len(), lease = ?lease,
        "serving /healthz, /metrics and /report/ORG on http://{bound}; taking the orgs' runs as they fall due"
    );
    let stop = stop_signal(signals).shared();
    let health = Arc::new(Health::default());
    let endpoints = tokio::spawn(compliance_pipeline::serve_endpoints(
        listener,
        health.clone(),
        metrics,
        super::report::org_router(reports),
        stop.clone(),
    ));
    let config = WorkerConfig {
        holder,
        lease,
        poll: (lease / 4).min(Duration::from_secs(1)),
    };
    let outcome = run_workers(services, config, health, stop).await;
    endpoints.abort();
    match outcome {
        Ok(()) => Ok(Exit::Done),
        // As a single org's serve: refused on the first run exits 3, here
        // naming the org whose settings to fix.
        Err(refused) => {
            let org = refused.org;
            let Failure { exit, error } = crate::exit::run_failure(refused.error);
            Err(Failure::new(exit, error.context(format!("org {org}"))))
        }
    }
}

/// One org's service, on a connection of its own to the store, and what its
/// report at `/report/ORG` is made from.
fn org_service(
    args: &Args,
    org: OrgSettings<'_>,
    url: &compliance_store::PostgresUrl,
    schedule: &Schedule,
    stream: Option<NatsStream>,
) -> Result<(OrgService, (OrgName, Served)), Failure> {
    let mut opened = None;
    let pipeline = Pipeline::with_store(
        &org.layers,
        &args.connection_for_orgs(),
        &args.filters,
        &args.audit,
        args.keep_pii,
        |_| {
            let store = Arc::new(PostgresStore::open(url).map_err(store_failure)?);
            opened = Some(store.clone());
            Ok(store)
        },
    )?;
    let store = opened.expect("opened by with_store");
    let report = Served {
        out_dir: Some(org.out_dir.clone()),
        audit_dir: org.audit_dir.clone(),
        store: store.clone(),
        state_name: url.shown().to_owned(),
        title: format!("Compliance report: {}", org.name),
    };
    let service = super::serve::service(
        pipeline,
        schedule,
        Some(org.out_dir),
        stream,
        org.audit_dir,
        Arc::new(Health::default()),
    );
    let service = OrgService {
        name: org.name.clone(),
        service,
        store,
    };
    Ok((service, (org.name, report)))
}

/// This worker's name in the lease rows: host and process id.
fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}
