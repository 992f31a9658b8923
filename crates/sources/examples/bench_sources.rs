//! Benchmark: requests per violation of the `speech-analytics` source against
//! the naive plan (per conversation one details, one categories and one
//! transcript-URL call, no caching, no batching), on the simulator's real
//! endpoints, in one run.
//!
//! ```sh
//! cargo run --release -p compliance-sources --example bench_sources -- \
//!     [--conversations 10000] [--limit 0] [--plan both|source|naive]
//! ```
//! `--limit N` paces both plans at N requests per minute (the server enforces
//! it too); 0 runs unpaced and prints the time the pacer would need at the
//! default 300 per minute for each plan's requests (a floor: N requests at
//! 300/min cannot take less than N/300 minutes).

use compliance_api::Filters;
use compliance_client::{
    Access, ApiClient, BaseUrl, Credentials, Endpoints, ExtractorConfig, Presigned, Query, Resume,
    TransportConfig, Window,
};
use compliance_simulator::{SimConfig, Simulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use compliance_sources::SourceKind;
use compliance_verify::RuleMatrix;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Instant;

const DEFAULT_LIMIT: f64 = 300.0;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a whole number"))
        .unwrap_or(default)
}

fn transport(sim: &Simulator, limit: u32) -> TransportConfig {
    let base = BaseUrl::parse(&sim.base_url()).unwrap();
    let mut t = TransportConfig::new(
        Endpoints {
            api: base.clone(),
            login: base,
        },
        Credentials {
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: DEMO_CLIENT_SECRET.to_string().into(),
        },
    );
    t.rate_limit_per_minute = limit;
    t
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conversations = arg("--conversations", 10_000) as usize;
    let limit = arg("--limit", 0) as u32;
    let args: Vec<String> = std::env::args().collect();
    let plan_arg = args
        .iter()
        .position(|a| a == "--plan")
        .and_then(|i| args.get(i + 1))
        .map_or("both", String::as_str);
    let (run_source, run_naive) = match plan_arg {
        "both" => (true, true),
        "source" => (true, false),
        "naive" => (false, true),
        other => return Err(format!("--plan {other}: allowed both, source, naive").into()),
    };
    let sim = Simulator::start(
        SimConfig {
            conversations,
            rate_limit_per_minute: if limit == 0 { 10_000_000 } else { limit },
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse()?,
    )
    .await?;
    let rules_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/rules.speech-analytics.example.toml"
    );
    let rules = RuleMatrix::from_path(std::path::Path::new(rules_path))?;
    let window = Window::new(
        "2023-10-01T00:00:00Z".parse()?,
        "2023-10-02T00:00:00Z".parse()?,
    )
    .unwrap();

    // The source's plan.
    let started = Instant::now();
    let mut violations = 0u64;
    let mut found = BTreeSet::new();
    let mut ours = None;
    if run_source {
        let source = compliance_sources::open(
            SourceKind::SpeechAnalytics,
            ExtractorConfig::new(transport(&sim, limit)),
            &rules,
            &Filters::default(),
        )?;
        let query = Query {
            window,
            filters: Filters::default(),
            page_size: Default::default(),
        };
        let plan = source.plan(&query).await?;
        let mut batches = source.fetch(plan, Resume::default());
        while let Some(batch) = batches.next().await {
            for v in batch?.violations {
                found.insert(v.conversation_id.clone().unwrap_or_default());
                violations += 1;
            }
        }
        ours = Some((
            source.stats().snapshot().requests,
            source.stats().snapshot().downloads,
            started.elapsed(),
        ));
    }

    // The naive plan over the same conversations: discovery by one
    // synchronous aggregate query per category, then three calls each.
    let mut naive = None;
    if run_naive {
        let started = Instant::now();
        let client = ApiClient::new(transport(&sim, limit))?;
        let access = Access {
            permission: "any",
            source: "naive",
        };
        let mut naive_found = BTreeSet::new();
        for (id, rule) in rules.entries() {
            if rule.source.as_deref() != Some("speech-analytics") {
                continue;
            }
            let body = json!({
                "interval": format!("{}/{}", window.start, window.end),
                "groupBy": ["conversationId"],
                "filter": {"type": "or", "predicates": [
                    {"type": "dimension", "dimension": "categoryId", "operator": "matches", "value": id}]},
                "metrics": ["nTopicCommunications"],
            });
            let answer: Value = client
                .post(
                    "/api/v2/analytics/transcripts/aggregates/query",
                    &body,
                    access,
                )
                .await?;
            for r in answer["results"].as_array().into_iter().flatten() {
                if let Some(c) = r["group"]["conversationId"].as_str() {
                    naive_found.insert(c.to_string());
                }
            }
        }
        for cid in &naive_found {
            let details: Value = client
                .get(
                    &format!("/api/v2/analytics/conversations/{cid}/details"),
                    &[],
                    access,
                )
                .await?;
            let _: Value = client
                .get(
                    &format!("/api/v2/speechandtextanalytics/conversations/{cid}/categories"),
                    &[],
                    access,
                )
                .await?;
            let session = details["participants"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["purpose"] == "agent")
                .flat_map(|p| p["sessions"].as_array().into_iter().flatten())
                .find_map(|s| s["sessionId"].as_str())
                .unwrap_or_default()
                .to_string();
            let url: Value = client
            .get(
                &format!("/api/v2/speechandtextanalytics/conversations/{cid}/communications/{session}/transcripturl"),
                &[],
                access,
            )
            .await?;
            let _: Presigned<Value> = client
                .presigned(url["url"].as_str().unwrap_or_default(), "a transcript")
                .await?;
        }
        naive = Some((
            client.stats().snapshot().requests,
            client.stats().snapshot().downloads,
            started.elapsed(),
            naive_found.len(),
        ));
    }

    let per = |requests: u64| requests as f64 / violations.max(1) as f64;
    let minutes = |requests: u64| requests as f64 / DEFAULT_LIMIT;
    let floor = |requests: u64| {
        if limit == 0 {
            format!(
                "; at {DEFAULT_LIMIT}/min at least {:.1} min",
                minutes(requests)
            )
        } else {
            format!(" paced at {limit}/min")
        }
    };
    println!("conversations in the org: {conversations}");
    if let Some((requests, downloads, wall)) = ours {
        println!(
            "source: conversations with a rule that fired: {}; violations: {violations}",
            found.len()
        );
        println!(
            "source: {requests} API requests ({:.3} per violation), {downloads} transcript downloads, wall {:.1} s{}",
            per(requests),
            wall.as_secs_f64(),
            floor(requests)
        );
    }
    if let Some((requests, downloads, wall, conversations)) = naive {
        println!(
            "naive: {conversations} conversations, {requests} API requests ({:.3} per violation of the source's count), {downloads} transcript downloads, wall {:.1} s{}",
            per(requests),
            wall.as_secs_f64(),
            floor(requests)
        );
    }
    if let (Some(o), Some(n)) = (ours, naive) {
        println!(
            "source / naive requests: {:.3}",
            o.0 as f64 / n.0.max(1) as f64
        );
    }
    sim.shutdown().await;
    Ok(())
}
