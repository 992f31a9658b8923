//! The extractor against the simulator over real loopback sockets.

use compliance_api::{Filters, PageSize, Severity};
use compliance_client::{
    Credentials, Endpoints, Error, ExtractorConfig, Query, Resume, RetryCause, RetryPolicy,
    TransportConfig, ViolationExtractor, Window,
};
use compliance_simulator::{
    Faults, SimClient, SimConfig, Simulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
};
use std::collections::HashSet;
use std::time::Duration;

async fn start(config: SimConfig) -> Simulator {
    Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the simulator starts")
}

/// An extractor for the simulator, with small retry delays.
fn extractor_for(
    sim: &Simulator,
    id: &str,
    secret: &str,
    tune: impl FnOnce(&mut ExtractorConfig),
) -> ViolationExtractor {
    let base = compliance_client::BaseUrl::parse(&sim.base_url()).unwrap();
    let mut transport = TransportConfig::new(
        Endpoints {
            api: base.clone(),
            login: base,
        },
        Credentials {
            client_id: id.into(),
            client_secret: secret.to_string().into(),
        },
    );
    transport.retry = RetryPolicy {
        max_attempts: 12,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(60),
    };
    transport.rate_limit_per_minute = 0;
    let mut config = ExtractorConfig::new(transport);
    tune(&mut config);
    ViolationExtractor::new(config).unwrap()
}

fn demo(sim: &Simulator, tune: impl FnOnce(&mut ExtractorConfig)) -> ViolationExtractor {
    extractor_for(sim, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, tune)
}

fn day_query(page_size: u32) -> Query {
    Query {
        window: Window::new(
            "2023-10-01T00:00:00Z".parse().unwrap(),
            "2023-10-02T00:00:00Z".parse().unwrap(),
        )
        .unwrap(),
        filters: Filters::default(),
        page_size: PageSize::new(page_size as u64).unwrap(),
    }
}

/// Every id the extraction passed on, in output order.
async fn ids(extractor: &ViolationExtractor, query: &Query) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut batches = extractor.extract(query).await?;
    while let Some(batch) = batches.next().await.transpose()? {
        out.extend(batch.violations.into_iter().map(|v| v.id));
    }
    Ok(out)
}

/// The dataset's ids in serving order (detectedAt, then id).
fn expected(sim: &Simulator) -> Vec<String> {
    sim.dataset()
        .violations
        .iter()
        .map(|v| v.id.clone())
        .collect()
}

#[tokio::test]
async fn a_healthy_run_yields_every_violation_once_in_order() {
    let sim = start(SimConfig {
        violations: 3_000,
        rate_limit_per_minute: 0,
        ..SimConfig::default()
    })
    .await;
    let extractor = demo(&sim, |c| c.concurrency = 4);
    let got = ids(&extractor, &day_query(100)).await.unwrap();
    assert_eq!(got, expected(&sim));
    let s = extractor.stats().snapshot();
    assert_eq!(s.violations, 3_000);
    assert!(
        s.windows_planned > 1,
        "a 30-page day is split for concurrency: {s:?}"
    );
    assert_eq!(s.windows_done, s.windows_planned);
    assert_eq!(s.token_renewals, 1);
    assert_eq!(s.retries_total(), 0);
    assert_eq!(sim.stats().tokens_issued, 1);

    // The same data gives the same order again.
    let again = ids(&demo(&sim, |c| c.concurrency = 7), &day_query(100))
        .await
        .unwrap();
    assert_eq!(again, got);
}

#[tokio::test]
async fn every_fault_at_once_still_yields_every_violation_exactly_once() {
    let sim = start(SimConfig {
        violations: 4_000,
        rate_limit_per_minute: 0,
        // Much shorter than the run (4 to 10 s in debug builds).
        token_lifetime: Duration::from_secs(1),
        latency: Duration::from_millis(2),
        faults: Faults {
            rate_limit_bursts: 0.05,
            server_errors: 0.08,
            resets: 0.05,
            slow: 0.03,
            slow_delay: Duration::from_millis(400),
            duplicates: 0.3,
            late_arrivals: 0.1,
            late_max: Duration::from_secs(900),
            short_pages: 0.1,
            malformed: 0.02,
            // The job and transcript-URL faults concern the real Genesys endpoints only.
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;
    let extractor = demo(&sim, |c| {
        c.concurrency = 6;
        c.transport.request_timeout = Duration::from_millis(200);
        // 429 bursts say Retry-After: 1; keep the test short but obey it.
    });
    let (mut got, mut rejected) = (Vec::new(), Vec::new());
    let mut batches = extractor.extract(&day_query(50)).await.unwrap();
    while let Some(batch) = batches.next().await.transpose().unwrap() {
        got.extend(batch.violations.into_iter().map(|v| v.id));
        rejected.extend(batch.rejects.into_iter().map(|r| r.raw["id"].clone()));
    }
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "no violation twice");
    let dataset = sim.dataset();
    let (broken, usable): (Vec<_>, Vec<_>) = dataset
        .violations
        .iter()
        .partition(|v| v.served_without.is_some());
    let usable: Vec<String> = usable.iter().map(|v| v.id.clone()).collect();
    assert_eq!(got, usable, "every usable violation, in order");
    // Each broken record once when its id tells (a repeat without an id
    // cannot be told from another broken record).
    let with_id: Vec<&str> = rejected.iter().filter_map(|id| id.as_str()).collect();
    let broken_with_id: Vec<&str> = broken
        .iter()
        .filter(|v| v.served_without != Some("id"))
        .map(|v| v.id.as_str())
        .collect();
    assert_eq!(
        with_id, broken_with_id,
        "each broken record, once, in order"
    );
    assert!(rejected.len() >= broken.len(), "none dropped silently");

    let s = extractor.stats().snapshot();
    let faults = sim.stats().faults;
    assert!(
        faults.server_errors > 0 && faults.resets > 0 && faults.duplicates > 0,
        "{faults:?}"
    );
    assert!(s.retries_of(RetryCause::ServerError) > 0, "{s:?}");
    assert!(s.retries_of(RetryCause::Connection) > 0, "{s:?}");
    assert!(s.retries_of(RetryCause::Timeout) > 0, "{s:?}");
    assert!(s.retries_of(RetryCause::RateLimited) > 0, "{s:?}");
    assert!(s.duplicates_dropped > 0, "{s:?}");
    assert_eq!(s.rate_limited_received, sim.stats().status(429));
    assert!(s.token_renewals >= 2, "tokens expired mid-run: {s:?}");
}

#[tokio::test]
async fn tokens_shorter_than_the_run_are_renewed_one_at_a_time() {
    let sim = start(SimConfig {
        violations: 8_000,
        rate_limit_per_minute: 0,
        token_lifetime: Duration::from_secs(1),
        latency: Duration::from_millis(60),
        ..SimConfig::default()
    })
    .await;
    // Eight windows at once all see the token go stale together.
    let extractor = demo(&sim, |c| c.concurrency = 8);
    let started = std::time::Instant::now();
    let got = ids(&extractor, &day_query(20)).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(got, expected(&sim));
    assert!(
        elapsed > Duration::from_secs(2),
        "the run outlives a token: {elapsed:?}"
    );
    let s = extractor.stats().snapshot();
    let issued = sim.stats().tokens_issued;
    assert_eq!(s.token_renewals, issued);
    // Renewed at 80% of the lifetime, never a stampede of concurrent windows.
    let most = (elapsed.as_secs_f64() / 0.8).ceil() as u64 + 1;
    assert!(
        issued >= 2 && issued <= most,
        "{issued} tokens in {elapsed:?}"
    );
    assert_eq!(
        sim.stats().status(401),
        0,
        "renewed before expiry, never refused"
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_as_credentials() {
    let sim = start(SimConfig {
        violations: 10,
        ..SimConfig::default()
    })
    .await;
    let err = ids(
        &extractor_for(&sim, DEMO_CLIENT_ID, "wrong", |_| {}),
        &day_query(10),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::CredentialsRefused { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("client id and secret") && !text.contains("wrong"),
        "{text}"
    );
    assert!(err.correlation_id().is_some());
    assert_eq!(sim.stats().query_requests, 0);
}

#[tokio::test]
async fn a_client_without_the_permission_is_told_which_one() {
    let sim = start(SimConfig {
        violations: 10,
        clients: vec![SimClient::without_permission("reader", "pw")],
        ..SimConfig::default()
    })
    .await;
    let err = ids(&extractor_for(&sim, "reader", "pw", |_| {}), &day_query(10))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
    assert!(
        err.to_string().contains("agentassist:compliance:read"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_stays_down_ends_in_unavailable_after_the_last_attempt() {
    let sim = start(SimConfig {
        violations: 10,
        rate_limit_per_minute: 0,
        ..SimConfig::default()
    })
    .await;
    let extractor = demo(&sim, |c| c.transport.retry.max_attempts = 4);
    // Get the token first, then break every request.
    let plan = extractor.plan(&day_query(10)).await.unwrap();
    sim.set_faults(Faults {
        server_errors: 1.0,
        ..Faults::default()
    });
    let mut batches = extractor.fetch(plan, Resume::default());
    let err = batches.next().await.unwrap().unwrap_err();
    match &err {
        Error::Unavailable {
            attempts,
            last,
            correlation_id,
            ..
        } => {
            assert_eq!(*attempts, 4);
            assert!(last.starts_with("HTTP 50"), "{last}");
            assert!(correlation_id.is_some());
        }
        other => panic!("{other}"),
    }
    assert!(
        batches.next().await.is_none(),
        "the stream ends after an error"
    );
    assert_eq!(
        extractor
            .stats()
            .snapshot()
            .retries_of(RetryCause::ServerError),
        3
    );
}

#[tokio::test]
async fn filters_reach_the_server() {
    let sim = start(SimConfig {
        violations: 1_000,
        rate_limit_per_minute: 0,
        ..SimConfig::default()
    })
    .await;
    let mut query = day_query(200);
    query.filters.severity = Some(vec![Severity::High, Severity::Critical]);
    let got = ids(&demo(&sim, |_| {}), &query).await.unwrap();
    let want: Vec<String> = sim
        .dataset()
        .violations
        .iter()
        .filter(|v| v.severity >= Severity::High)
        .map(|v| v.id.clone())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_plan_resumes_from_a_batch_cursor() {
    let sim = start(SimConfig {
        violations: 1_000,
        rate_limit_per_minute: 0,
        ..SimConfig::default()
    })
    .await;
    let extractor = demo(&sim, |c| c.pages_per_window = 100);
    let plan = extractor.plan(&day_query(100)).await.unwrap();
    assert_eq!(plan.windows.len(), 1);
    // Take three pages, then "crash".
    let mut first = Vec::new();
    let mut batches = extractor.fetch(plan.clone(), Resume::default());
    let mut resume = Resume::default();
    for _ in 0..3 {
        let b = batches.next().await.unwrap().unwrap();
        first.extend(b.violations.iter().map(|v| v.id.clone()));
        resume = Resume {
            window: b.window,
            cursor: b.next_cursor.clone(),
        };
    }
    drop(batches);
    let mut rest = Vec::new();
    let mut batches = extractor.fetch(plan, resume);
    while let Some(b) = batches.next().await.transpose().unwrap() {
        rest.extend(b.violations.into_iter().map(|v| v.id));
    }
    first.extend(rest);
    assert_eq!(first, expected(&sim));
}

#[tokio::test]
async fn a_window_that_outgrows_the_paging_limit_is_split_not_refused() {
    // Planned when it held 10 violations; by the time it is fetched it holds
    // 100,010, more than one query pages through.
    let sim = start(SimConfig {
        violations: 10,
        rate_limit_per_minute: 0,
        ..SimConfig::default()
    })
    .await;
    let extractor = demo(&sim, |c| c.concurrency = 4);
    let query = day_query(1000);
    let plan = extractor.plan(&query).await.unwrap();
    assert_eq!(plan.windows.len(), 1);
    let more = compliance_simulator::generate(
        7,
        100_000,
        query.window.start,
        query.window.end,
        (0.0, Duration::ZERO),
    );
    sim.add_violations(more.violations);
    let mut got = Vec::new();
    let mut batches = extractor.fetch(plan, Resume::default());
    while let Some(b) = batches.next().await.transpose().unwrap() {
        assert_eq!(b.window, 0);
        got.extend(b.violations.into_iter().map(|v| v.id));
    }
    assert_eq!(got.len(), 100_010);
    assert!(got == expected(&sim), "every violation once, in order");
    assert!(extractor.stats().snapshot().window_splits >= 1);
}

#[tokio::test]
async fn an_interval_longer_than_31_days_is_split_not_refused() {
    let sim = start(SimConfig {
        violations: 500,
        rate_limit_per_minute: 0,
        ..SimConfig::default()
    })
    .await;
    let query = Query {
        window: Window::new(
            "2023-09-01T00:00:00Z".parse().unwrap(),
            "2023-11-30T00:00:00Z".parse().unwrap(),
        )
        .unwrap(),
        ..day_query(100)
    };
    let extractor = demo(&sim, |_| {});
    let plan = extractor.plan(&query).await.unwrap();
    assert!(plan.windows.len() >= 3, "{plan:?}");
    let got = ids(&extractor, &query).await.unwrap();
    assert_eq!(got, expected(&sim));
    assert_eq!(sim.stats().status(400), 0, "no query broke a constraint");
}

/// Sections 2 to 4 from the client's side, checked by the server: the token
/// request is a form, queries are JSON, and each request carries the
/// client's own `ININ-Correlation-Id`, which the server echoes and the
/// client reports with its errors.
#[tokio::test]
async fn the_client_sends_the_contract_headers_and_its_correlation_id_is_echoed() {
    let sim = start(SimConfig {
        violations: 500,
        rate_limit_per_minute: 0,
        clients: vec![
            SimClient::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            SimClient::without_permission("reader", "pw"),
        ],
        ..SimConfig::default()
    })
    .await;
    let got = ids(&demo(&sim, |_| {}), &day_query(100)).await.unwrap();
    assert_eq!(got, expected(&sim));
    let requests = sim.requests();
    let token_path = "/oauth/token";
    let query_path = "/api/v2/agentassist/compliance/violations/query";
    assert_eq!(requests.iter().filter(|r| r.path == token_path).count(), 1);
    assert!(requests.iter().filter(|r| r.path == query_path).count() > 5);
    let mut sent = HashSet::new();
    for r in &requests {
        let content_type = r.content_type.as_deref();
        if r.path == token_path {
            assert_eq!(content_type, Some("application/x-www-form-urlencoded"));
        } else {
            assert_eq!(r.path, query_path);
            assert_eq!(content_type, Some("application/json"));
        }
        let ours = r
            .client_correlation_id
            .as_deref()
            .expect("the client sends its own id");
        assert!(uuid::Uuid::parse_str(ours).is_ok(), "{ours}");
        assert!(
            sent.insert(ours.to_string()),
            "a fresh id per request: {ours}"
        );
        assert_eq!(r.correlation_id.as_deref(), Some(ours), "echoed");
        assert_eq!(r.status, Some(200));
    }
    // An error names the id both ends logged.
    let err = ids(&extractor_for(&sim, "reader", "pw", |_| {}), &day_query(10))
        .await
        .unwrap_err();
    let refused = sim.requests().pop().unwrap();
    assert_eq!(refused.status, Some(403));
    assert_eq!(
        err.correlation_id(),
        refused.client_correlation_id.as_deref(),
        "{err}"
    );
}

/// "A page may hold fewer violations than the size even when more pages
/// follow": short and empty pages mid-query, with duplicates across page
/// boundaries (also after an empty page), still give every violation once.
#[tokio::test]
async fn short_pages_mid_query_still_yield_every_violation_once_in_order() {
    let sim = start(SimConfig {
        violations: 5_000,
        rate_limit_per_minute: 0,
        faults: Faults {
            short_pages: 0.5,
            duplicates: 0.3,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;
    let extractor = demo(&sim, |c| c.concurrency = 4);
    let got = ids(&extractor, &day_query(10)).await.unwrap();
    assert_eq!(got, expected(&sim), "every violation once, in order");
    let faults = sim.stats().faults;
    assert!(faults.short_pages > 100, "{faults:?}");
    let s = extractor.stats().snapshot();
    assert!(
        s.duplicates_dropped > 0 && s.duplicates_dropped <= faults.duplicates,
        "{s:?}"
    );
    assert!(s.pages > 5_000 / 10, "short pages mean more pages: {s:?}");
}

/// A server without `total` (legacy pages) lets the client find out only by
/// `pagination.limit.exceeded` that a window holds too much: it splits what
/// remains and goes on, passing each violation on once, in order, and counts
/// no duplicate that the server did not send.
#[tokio::test]
async fn pagination_limit_exceeded_splits_the_window_without_false_duplicates() {
    let sim = start(SimConfig {
        violations: 5_000,
        rate_limit_per_minute: 0,
        legacy_pages: true,
        // The contract's 100,000, lowered to keep the test fast.
        max_results_per_query: 1_000,
        ..SimConfig::default()
    })
    .await;
    let extractor = demo(&sim, |c| c.concurrency = 4);
    let plan = extractor.plan(&day_query(100)).await.unwrap();
    assert_eq!(plan.windows.len(), 1, "no total, nothing to plan by");
    let got = ids(&extractor, &day_query(100)).await.unwrap();
    assert_eq!(got, expected(&sim), "every violation once, in order");
    let s = extractor.stats().snapshot();
    // Each split starts two queries, each reading at most 1,000: 5,000 take
    // at least two splits (the data's spread decides how many more).
    assert!(s.window_splits >= 2, "{s:?}");
    assert_eq!(
        sim.stats().status(400),
        s.window_splits,
        "one refusal per split"
    );
    assert_eq!(s.duplicates_dropped, 0, "{s:?}");
    assert_eq!(s.violations, 5_000);
}

/// The longest lifetime the contract allows (48 hours) is cached for the
/// whole run: one token for many queries.
#[tokio::test]
async fn a_48_hour_token_serves_the_whole_run() {
    let sim = start(SimConfig {
        violations: 1_000,
        rate_limit_per_minute: 0,
        token_lifetime: Duration::from_secs(172_800),
        ..SimConfig::default()
    })
    .await;
    let extractor = demo(&sim, |c| c.concurrency = 4);
    for _ in 0..2 {
        let got = ids(&extractor, &day_query(50)).await.unwrap();
        assert_eq!(got, expected(&sim));
    }
    assert_eq!(sim.stats().tokens_issued, 1);
    assert_eq!(extractor.stats().snapshot().token_renewals, 1);
}

/// A token revoked mid-run (contract §5, 401): the client gets a new token
/// once and retries, even with windows in flight concurrently.
#[tokio::test]
async fn a_revoked_token_is_replaced_once_and_the_request_retried() {
    let sim = start(SimConfig {
        violations: 1_000,
        rate_limit_per_minute: 0,
        ..SimConfig::default()
    })
    .await;
    let extractor = demo(&sim, |c| c.concurrency = 4);
    assert_eq!(
        ids(&extractor, &day_query(50)).await.unwrap(),
        expected(&sim)
    );
    // The cached token would serve the next run; revoke it first.
    assert_eq!(sim.revoke_tokens(), 1);
    assert_eq!(
        ids(&extractor, &day_query(50)).await.unwrap(),
        expected(&sim)
    );
    let served = sim.stats();
    assert!(served.status(401) >= 1, "{served:?}");
    assert_eq!(served.tokens_issued, 2, "one new token, not one per window");
    let s = extractor.stats().snapshot();
    assert_eq!(s.token_renewals, 2);
    assert_eq!(s.retries_of(RetryCause::TokenExpired), served.status(401));
}

/// Log lines written while a test runs, at debug level and above.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary from now on. A global subscriber, not a
/// thread-local one: with tests running in parallel, a thread-local one can
/// miss events whose callsites other threads registered at the same moment.
fn captured_logs() -> Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
    .clone()
}

/// Violations without evidence are named in one warning per run (count and
/// a few ids), not one per page; every id is still logged at debug level.
#[tokio::test]
async fn violations_without_evidence_get_one_warning_per_run() {
    let logs = captured_logs();
    let sim = start(SimConfig {
        // Its own seed: other tests' lines (the log is shared) name other ids.
        seed: 0x5eed_e71d,
        violations: 3_000,
        rate_limit_per_minute: 0,
        ..SimConfig::default()
    })
    .await;
    let extractor = demo(&sim, |_| {});
    let got = ids(&extractor, &day_query(100)).await.unwrap();
    assert_eq!(got.len(), 3_000);
    let missing: Vec<String> = sim
        .dataset()
        .violations
        .iter()
        // No evidence, or none with a value: nothing to check for PII.
        .filter(|v| v.evidence.iter().flatten().all(|e| e.value.is_empty()))
        .map(|v| v.id.clone())
        .collect();
    assert!(missing.len() > 50, "{}", missing.len());
    assert_eq!(
        extractor.stats().snapshot().missing_evidence,
        missing.len() as u64
    );
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let ours = |l: &&str| missing.iter().any(|id| l.contains(id.as_str()));
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("without evidence"))
        .filter(ours)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let warning = warnings[0];
    assert!(warning.contains(&format!("{} violations without evidence", missing.len())));
    let named = missing
        .iter()
        .filter(|id| warning.contains(id.as_str()))
        .count();
    assert_eq!(named, 3, "the first few ids: {warning}");
    assert!(
        warning.contains(&missing[0])
            && warning.contains(&format!("and {} more", missing.len() - 3))
    );
    let debug: String = text
        .lines()
        .filter(|l| l.contains("DEBUG") && l.contains("without evidence"))
        .collect();
    assert!(missing.iter().all(|id| debug.contains(id.as_str())));
}
