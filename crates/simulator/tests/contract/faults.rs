//! Injected faults, each the trouble a client must survive (sections 3, 5, 6),
//! and a well-behaved server when none are asked for.

use crate::harness::*;
use compliance_simulator::{Faults, SimConfig};
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[tokio::test]
async fn with_no_faults_a_full_run_sees_only_200s() {
    let s = start(small(2_000)).await;
    let token = s.token().await;
    let pages = s.all_pages(&token, day_query(250)).await;
    assert_eq!(pages.len(), 8);
    let stats = s.sim.stats();
    assert_eq!(stats.faults, Default::default());
    assert_eq!(stats.responses.keys().copied().collect::<Vec<_>>(), [200]);
    assert_eq!((stats.token_requests, stats.query_requests), (1, 8));
}

#[tokio::test]
async fn resets_close_the_connection_with_no_response() {
    let s = start(small(10)).await;
    let token = s.token().await;
    s.sim.set_faults(Faults {
        resets: 1.0,
        ..Faults::default()
    });
    for _ in 0..3 {
        let err = s
            .http
            .post(s.url(QUERY))
            .bearer_auth(&token)
            .json(&day_query(5))
            .send()
            .await
            .expect_err("no response");
        assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    }
    let stats = s.sim.stats();
    assert_eq!(stats.faults.resets, 3);
    assert_eq!(
        stats.responses.values().sum::<u64>(),
        1,
        "only the token was answered"
    );
    // The server itself keeps serving.
    s.sim.set_faults(Faults::default());
    assert_eq!(s.query(&token, &day_query(5)).await.status(), 200);
}

#[tokio::test]
async fn server_errors_are_500_502_503_504_with_html_or_empty_bodies() {
    let s = start(small(10)).await;
    let token = s.token().await;
    s.sim.set_faults(Faults {
        server_errors: 1.0,
        ..Faults::default()
    });
    let (mut statuses, mut html, mut empty, mut retry_after) = (HashSet::new(), 0, 0, 0);
    for _ in 0..60 {
        let r = s.query(&token, &day_query(5)).await;
        let status = r.status().as_u16();
        assert!([500, 502, 503, 504].contains(&status));
        statuses.insert(status);
        if r.headers().contains_key("retry-after") {
            assert_eq!(status, 503);
            retry_after += 1;
        }
        let body = r.text().await.unwrap();
        if body.is_empty() {
            empty += 1;
        } else {
            assert!(body.starts_with("<html>"), "{body}");
            html += 1;
        }
    }
    assert_eq!(statuses.len(), 4);
    assert!(html > 0 && empty > 0 && retry_after > 0);
    assert_eq!(s.sim.stats().faults.server_errors, 60);
}

#[tokio::test]
async fn rate_limit_bursts_answer_429_with_retry_after_one_second() {
    let s = start(small(10)).await;
    let token = s.token().await;
    s.sim.set_faults(Faults {
        rate_limit_bursts: 1.0,
        ..Faults::default()
    });
    let r = s.query(&token, &day_query(5)).await;
    assert_eq!(r.headers()["retry-after"], "1");
    api_error(r, 429, "too.many.requests.retry.after").await;
    assert_eq!(s.sim.stats().faults.rate_limit_bursts, 1);
    // A burst is not the client's fault: its budget is untouched.
    assert_eq!(s.sim.stats().rate_limited, 0);
}

#[tokio::test]
async fn slow_responses_are_delayed_and_latency_is_added_to_every_query() {
    let config = SimConfig {
        latency: Duration::from_millis(150),
        ..small(10)
    };
    let s = start(config).await;
    let begun = Instant::now();
    let token = s.token().await;
    assert!(
        begun.elapsed() < Duration::from_millis(150),
        "latency is for the API only"
    );
    let begun = Instant::now();
    assert_eq!(s.query(&token, &day_query(5)).await.status(), 200);
    assert!(begun.elapsed() >= Duration::from_millis(150));
    s.sim.set_faults(Faults {
        slow: 1.0,
        slow_delay: Duration::from_millis(300),
        ..Faults::default()
    });
    let begun = Instant::now();
    assert_eq!(s.query(&token, &day_query(5)).await.status(), 200);
    assert!(begun.elapsed() >= Duration::from_millis(450));
    assert_eq!(s.sim.stats().faults.slow, 1);
}

#[tokio::test]
async fn duplicates_begin_a_page_with_the_last_violation_of_the_previous_one() {
    let s = start(small(100)).await;
    let token = s.token().await;
    s.sim.set_faults(Faults {
        duplicates: 1.0,
        ..Faults::default()
    });
    let pages = s.all_pages(&token, day_query(10)).await;
    for pair in pages.windows(2) {
        let last = pair[0]["violations"].as_array().unwrap().last().unwrap();
        assert_eq!(&pair[1]["violations"][0], last);
    }
    // Deduplicating by id gives every violation exactly once, in order.
    let mut seen = HashSet::new();
    let unique: Vec<&Value> = pages
        .iter()
        .flat_map(|p| p["violations"].as_array().unwrap())
        .filter(|v| seen.insert(v["id"].as_str().unwrap().to_string()))
        .collect();
    let expected: Vec<Value> = s
        .sim
        .dataset()
        .violations
        .iter()
        .map(|v| v.json())
        .collect();
    assert_eq!(unique.len(), 100);
    assert!(unique.iter().zip(&expected).all(|(a, b)| *a == b));
    assert!(s.sim.stats().faults.duplicates >= 9);
}

#[tokio::test]
async fn faults_apply_to_the_token_endpoint_too() {
    let s = start(small(10)).await;
    s.sim.set_faults(Faults {
        server_errors: 1.0,
        ..Faults::default()
    });
    let r = s
        .http
        .post(s.url(TOKEN))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_server_error());
}
