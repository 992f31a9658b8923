//! Figures for docs/benchmarks.md (simulator section): how fast the dataset is made and
//! rendered, what it costs in memory, and how fast pages are served over
//! loopback HTTP. Run with
//! `cargo bench -p compliance-simulator --bench simulator` (release build).

mod common;
use common::rss_mib;
use compliance_simulator::{generate, Generator, SimConfig, Simulator};
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

const N: usize = 1_000_000;

/// Counts bytes written, to measure rendered size without keeping it.
struct Counter(u64);
impl Write for Counter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {
    let config = SimConfig::default();
    let late = (0.0, Duration::ZERO);

    // 1. Streaming generation and rendering (what --dump-jsonl does).
    let before = rss_mib();
    let t = Instant::now();
    let mut out = Counter(0);
    for v in Generator::new(42, N, config.start, config.end, late) {
        serde_json::to_writer(&mut out, &v).unwrap();
        out.write_all(b"\n").unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "stream: {N} violations generated and rendered as JSONL in {secs:.2} s \
         ({:.0}/s, {:.1} MB, {:.0} bytes/violation), RSS +{:.0} MiB",
        N as f64 / secs,
        out.0 as f64 / 1e6,
        out.0 as f64 / N as f64,
        rss_mib() - before
    );

    // 2. Holding the whole dataset, as the server does.
    let before = rss_mib();
    let t = Instant::now();
    let data = generate(42, N, config.start, config.end, late);
    let secs = t.elapsed().as_secs_f64();
    let held = rss_mib() - before;
    println!(
        "generate: {N} violations held in {secs:.2} s ({:.0}/s), RSS +{held:.0} MiB ({:.0} bytes/violation)",
        N as f64 / secs,
        held * 1024.0 * 1024.0 / N as f64
    );
    let t = Instant::now();
    let mut out = Counter(0);
    for v in &data.violations {
        serde_json::to_writer(&mut out, v).unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "render: {N} held violations to JSON in {secs:.2} s ({:.0} MB/s)",
        out.0 as f64 / 1e6 / secs
    );
    drop(data);

    // 3. Paging over loopback HTTP, one client, size 1000, no limit, no faults.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let n = 200_000;
        let config = SimConfig {
            violations: n,
            rate_limit_per_minute: 0,
            ..SimConfig::default()
        };
        let sim = Simulator::start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let http = reqwest::Client::new();
        let base = sim.base_url();
        let token: Value = http
            .post(format!("{base}/oauth/token"))
            .basic_auth("demo-client", Some("demo-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap().to_string();
        let t = Instant::now();
        let (mut pages, mut served, mut bytes) = (0u64, 0u64, 0u64);
        // Four six-hour windows: each stays under the 100,000 cap.
        for hours in [(0, 6), (6, 12), (12, 18), (18, 24)] {
            let at = |h: i64| {
                compliance_api::Timestamp::from_datetime(
                    sim_start() + chrono::Duration::hours(h),
                )
            };
            let mut query = json!({
                "time_interval": {"start": at(hours.0), "end": at(hours.1)},
                "size": 1000,
            });
            loop {
                let body = http
                    .post(format!("{base}/api/v2/agentassist/compliance/violations/query"))
                    .bearer_auth(&token)
                    .json(&query)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                bytes += body.len() as u64;
                let page: Value = serde_json::from_slice(&body).unwrap();
                pages += 1;
                served += page["violations"].as_array().unwrap().len() as u64;
                if page["nextPageCursor"].is_null() {
                    break;
                }
                query["cursor"] = page["nextPageCursor"].clone();
            }
        }
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(served, n as u64);
        println!(
            "serve: {served} violations in {pages} pages of 1000 over loopback in {secs:.2} s \
             ({:.0} pages/s, {:.0} violations/s, {:.0} MB/s, {:.1} ms/page; client parses every page)",
            pages as f64 / secs,
            served as f64 / secs,
            bytes as f64 / 1e6 / secs,
            secs * 1000.0 / pages as f64
        );
        sim.shutdown().await;
    });
}

fn sim_start() -> chrono::DateTime<chrono::Utc> {
    SimConfig::default().start.as_datetime()
}
