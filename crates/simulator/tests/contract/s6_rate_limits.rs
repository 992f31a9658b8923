//! Section 6: each OAuth client gets N requests per minute over the API and
//! the token endpoint together (300 by default); past that, 429 with an
//! integer `Retry-After`.

use crate::harness::*;
use compliance_simulator::{SimClient, SimConfig};
use serde_json::Value;

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("an integer")
}

#[tokio::test]
async fn the_default_is_300_per_minute_over_token_and_api_together() {
    let s = start(small(5)).await;
    let token = s.token().await; // 1
    for i in 0..299 {
        let r = s.query(&token, &day_query(1)).await; // 2..=300
        assert_eq!(r.status(), 200, "request {}", i + 2);
    }
    let r = s.query(&token, &day_query(1)).await;
    assert_eq!(r.status(), 429);
    let wait = retry_after(&r);
    assert!((1..=60).contains(&wait), "{wait}");
    let body = api_error(r, 429, "too.many.requests.retry.after").await;
    assert!(body["contextId"].is_string());
    // The token endpoint is limited like the API.
    let r = s
        .http
        .post(s.url(TOKEN))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(retry_after(&r) >= 1);
    let stats = s.sim.stats();
    assert_eq!(stats.rate_limited, 2);
    assert_eq!(stats.status(200), 300);
}

#[tokio::test]
async fn the_limit_is_configurable_per_client_and_retry_after_says_when_the_minute_allows_more() {
    let mut config = SimConfig {
        rate_limit_per_minute: 5,
        ..small(5)
    };
    config.clients.push(SimClient::new("other", "pw"));
    let s = start(config).await;
    let token = s.token().await;
    for _ in 0..4 {
        assert_eq!(s.query(&token, &day_query(1)).await.status(), 200);
    }
    for _ in 0..3 {
        let r = s.query(&token, &day_query(1)).await;
        assert_eq!(r.status(), 429);
        // All five were admitted just now: the first slot frees in about a minute.
        let wait = retry_after(&r);
        assert!((59..=60).contains(&wait), "{wait}");
        let body: Value = r.json().await.unwrap();
        assert!(body["message"]
            .as_str()
            .unwrap()
            .contains(&wait.to_string()));
    }
    // Another client has its own budget.
    let other = s.token_for("other", "pw").await;
    assert_eq!(s.query(&other, &day_query(1)).await.status(), 200);
}

#[tokio::test]
async fn zero_means_unlimited() {
    let s = start(SimConfig {
        rate_limit_per_minute: 0,
        ..small(5)
    })
    .await;
    let token = s.token().await;
    for _ in 0..400 {
        assert_eq!(s.query(&token, &day_query(1)).await.status(), 200);
    }
    assert_eq!(s.sim.stats().rate_limited, 0);
}
