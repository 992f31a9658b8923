//! Benchmark: the extractor against a sequential pager (one page after
//! another, as the design document's Python does), in one run, on the
//! simulator with per-page latency and a rate limit.
//!
//! ```sh
//! cargo run --release -p compliance-client --example bench_extract -- \
//!     [--violations 100000] [--latency-ms 40] [--limit 6000] [--page-size 500] \
//!     [--concurrency 8] [--pages-per-window 4] [--buffered-pages 4]
//! ```
//! Prints both times, the ratio, and the 429s each received.

use compliance_api::{Page, TokenResponse, QUERY_PATH, TOKEN_PATH};
use compliance_client::{
    BaseUrl, Credentials, Endpoints, ExtractorConfig, Query, TransportConfig, ViolationExtractor,
    Window,
};
use compliance_simulator::{SimClient, SimConfig, Simulator};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a whole number"))
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let violations = arg("--violations", 100_000) as usize;
    let latency = Duration::from_millis(arg("--latency-ms", 40));
    let limit = arg("--limit", 6_000) as u32;
    let page_size = arg("--page-size", 500);
    // One OAuth client each, so that neither eats the other's rate budget.
    let sim = Simulator::start(
        SimConfig {
            violations,
            latency,
            rate_limit_per_minute: limit,
            clients: vec![SimClient::new("seq", "s"), SimClient::new("ext", "s")],
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse()?,
    )
    .await?;
    let base = sim.base_url();
    println!(
        "simulator: {violations} violations, {} ms per page, {limit} requests/minute, page size {page_size}",
        latency.as_millis()
    );

    let started = Instant::now();
    let (seq_count, seq_429) = sequential(&base, page_size).await?;
    let seq = started.elapsed();
    println!(
        "sequential pager: {seq_count} violations in {:.2} s, 429s received {seq_429}",
        seq.as_secs_f64()
    );

    let url = BaseUrl::parse(&base)?;
    let mut transport = TransportConfig::new(
        Endpoints {
            api: url.clone(),
            login: url,
        },
        Credentials {
            client_id: "ext".into(),
            client_secret: "s".to_string().into(),
        },
    );
    transport.rate_limit_per_minute = limit;
    let mut config = ExtractorConfig::new(transport);
    config.concurrency = arg("--concurrency", config.concurrency as u64) as usize;
    config.pages_per_window = arg("--pages-per-window", config.pages_per_window as u64) as u32;
    config.buffered_pages = arg("--buffered-pages", config.buffered_pages as u64) as usize;
    let extractor = ViolationExtractor::new(config)?;
    let query = Query {
        window: Window::new(
            "2023-10-01T00:00:00Z".parse()?,
            "2023-10-02T00:00:00Z".parse()?,
        )
        .expect("a day"),
        filters: Default::default(),
        page_size: compliance_api::PageSize::new(page_size)?,
    };
    let started = Instant::now();
    let mut batches = extractor.extract(&query).await?;
    let mut count = 0;
    while let Some(batch) = batches.next().await.transpose()? {
        count += batch.violations.len();
    }
    let ext = started.elapsed();
    let s = extractor.stats().snapshot();
    println!(
        "extractor: {count} violations in {:.2} s ({} windows, {} requests), 429s received {}, \
         page latency p50 {:.0} ms p99 {:.0} ms",
        ext.as_secs_f64(),
        s.windows_planned,
        s.requests,
        s.rate_limited_received,
        s.latency_p50.as_secs_f64() * 1e3,
        s.latency_p99.as_secs_f64() * 1e3,
    );
    println!("speed-up: {:.1}x", seq.as_secs_f64() / ext.as_secs_f64());
    assert_eq!(count, seq_count, "both read every violation");
    Ok(())
}

/// Page after page with the cursor, nothing concurrent; waits out 429s.
async fn sequential(
    base: &str,
    page_size: u64,
) -> Result<(usize, u32), Box<dyn std::error::Error>> {
    let http = reqwest::Client::new();
    let token: TokenResponse = http
        .post(format!("{base}{TOKEN_PATH}"))
        .basic_auth("seq", Some("s"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await?
        .json()
        .await?;
    let (mut cursor, mut count, mut throttled) = (None::<String>, 0, 0);
    loop {
        let body = json!({
            "time_interval": {"start": "2023-10-01T00:00:00Z", "end": "2023-10-02T00:00:00Z"},
            "filters": {}, "size": page_size, "cursor": cursor,
        });
        let response = http
            .post(format!("{base}{QUERY_PATH}"))
            .bearer_auth(&token.access_token)
            .json(&body)
            .send()
            .await?;
        if response.status() == 429 {
            throttled += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let page: Page<Value> = response.error_for_status()?.json().await?;
        count += page.violations.len();
        cursor = page.next_page_cursor;
        if cursor.is_none() {
            return Ok((count, throttled));
        }
    }
}
