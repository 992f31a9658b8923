//! Shared by the sources' tests: a simulator on a loopback port, a source
//! opened against it, and a whole extraction collected.

#![allow(dead_code)]

use compliance_api::{Filters, Violation};
use compliance_client::{
    BaseUrl, Credentials, Endpoints, Error, ExtractorConfig, Plan, Query, Resume, RetryPolicy,
    TransportConfig, Window,
};
use compliance_simulator::{SimConfig, Simulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use compliance_sources::{Source, SourceKind};
use compliance_verify::RuleMatrix;
use std::time::Duration;

/// The repository's rules file for a source: the simulator's catalogue ids.
pub fn rules(kind: SourceKind) -> RuleMatrix {
    let path = format!(
        "{}/../../deploy/rules.{}.example.toml",
        env!("CARGO_MANIFEST_DIR"),
        kind.name()
    );
    RuleMatrix::from_path(std::path::Path::new(&path)).unwrap()
}

pub async fn start(config: SimConfig) -> Simulator {
    Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub fn transport(sim: &Simulator, id: &str, secret: &str) -> TransportConfig {
    let base = BaseUrl::parse(&sim.base_url()).unwrap();
    let mut t = TransportConfig::new(
        Endpoints {
            api: base.clone(),
            login: base,
        },
        Credentials {
            client_id: id.into(),
            client_secret: secret.to_string().into(),
        },
    );
    t.rate_limit_per_minute = 0;
    t.retry = RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(20),
    };
    t
}

pub fn open(sim: &Simulator, kind: SourceKind) -> Box<dyn Source> {
    open_as(sim, kind, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
}

pub fn open_as(sim: &Simulator, kind: SourceKind, id: &str, secret: &str) -> Box<dyn Source> {
    let config = ExtractorConfig::new(transport(sim, id, secret));
    compliance_sources::open(kind, config, &rules(kind), &Filters::default()).unwrap()
}

pub fn window(start: &str, end: &str) -> Window {
    Window::new(start.parse().unwrap(), end.parse().unwrap()).unwrap()
}

pub fn query(w: Window) -> Query {
    Query {
        window: w,
        filters: Filters::default(),
        page_size: Default::default(),
    }
}

/// Every violation of a plan from `resume` on, with the batches' resume points.
pub async fn collect(
    source: &dyn Source,
    plan: Plan,
    resume: Resume,
) -> Result<(Vec<Violation>, Vec<Resume>), Error> {
    let mut batches = source.fetch(plan, resume);
    let (mut all, mut points) = (Vec::new(), Vec::new());
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        points.push(if batch.window_done {
            Resume {
                window: batch.window + 1,
                cursor: None,
            }
        } else {
            Resume {
                window: batch.window,
                cursor: batch.next_cursor.clone(),
            }
        });
        all.extend(batch.violations);
    }
    Ok((all, points))
}

pub async fn extract(source: &dyn Source, w: Window) -> Result<Vec<Violation>, Error> {
    let plan = source.plan(&query(w)).await?;
    Ok(collect(source, plan, Resume::default()).await?.0)
}
