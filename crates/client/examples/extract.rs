//! Streams every violation of one day out of the built-in simulator, the way
//! another Rust program would use the library against Genesys Cloud.
//!
//! ```sh
//! cargo run -p compliance-client --example extract
//! ```

use compliance_client::{
    BaseUrl, Credentials, Endpoints, ExtractorConfig, Query, TransportConfig, ViolationExtractor,
    Window,
};
use compliance_simulator::{SimConfig, Simulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A simulator on a free loopback port stands in for Genesys Cloud here;
    // against the real service, use `Endpoints::for_region(&Region::parse("eu-west-1")?)`.
    let sim = Simulator::start(SimConfig::default(), "127.0.0.1:0".parse()?).await?;
    let base = BaseUrl::parse(&sim.base_url())?;
    let endpoints = Endpoints {
        api: base.clone(),
        login: base,
    };
    let credentials = Credentials {
        client_id: DEMO_CLIENT_ID.into(),
        client_secret: DEMO_CLIENT_SECRET.to_string().into(),
    };
    let extractor = ViolationExtractor::new(ExtractorConfig::new(TransportConfig::new(
        endpoints,
        credentials,
    )))?;

    let window = Window::new(
        "2023-10-01T00:00:00Z".parse()?,
        "2023-10-02T00:00:00Z".parse()?,
    )
    .ok_or("the end must be after the start")?;
    let query = Query {
        window,
        filters: Default::default(),
        page_size: Default::default(),
    };

    // Plan once (keep the plan to resume after a crash), then stream batches.
    let plan = extractor.plan(&query).await?;
    println!("{} windows planned", plan.windows.len());
    let mut batches = extractor.fetch(plan, Default::default());
    let mut high = 0;
    while let Some(batch) = batches.next().await.transpose()? {
        high += batch
            .violations
            .iter()
            .filter(|v| v.severity >= compliance_api::Severity::High)
            .count();
        for reject in &batch.rejects {
            eprintln!("rejected: {}", reject.reason);
        }
    }
    let s = extractor.stats().snapshot();
    println!(
        "{} violations ({} HIGH or CRITICAL) in {} pages; {} duplicates dropped; p95 page latency {:?}",
        s.violations, high, s.pages, s.duplicates_dropped, s.latency_p95
    );
    Ok(())
}
