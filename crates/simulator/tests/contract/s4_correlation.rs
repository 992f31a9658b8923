//! Section 4: every response carries `ININ-Correlation-Id`; a client's own
//! id is echoed, and error bodies carry it as `contextId`.

use crate::harness::*;
use compliance_simulator::{Faults, SimClient, SimConfig};
use serde_json::{json, Value};

const HEADER: &str = "ININ-Correlation-Id";

fn correlation(r: &reqwest::Response) -> String {
    r.headers()
        .get(HEADER)
        .unwrap_or_else(|| panic!("{} response without {HEADER}", r.status()))
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn every_response_carries_a_correlation_id_and_errors_repeat_it_as_context_id() {
    let mut config = small(20);
    config.rate_limit_per_minute = 12;
    config
        .clients
        .push(SimClient::without_permission("reader", "pw"));
    let s = start(config).await;
    let token = s.token().await;
    let reader = s.token_for("reader", "pw").await;
    let post = |path: &str| s.http.post(s.url(path));
    let responses = vec![
        post(TOKEN)
            .basic_auth("demo-client", Some("demo-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(), // 200
        post(TOKEN)
            .basic_auth("demo-client", Some("nope"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(), // 401
        post(TOKEN)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(), // 400
        s.query(&token, &day_query(5)).await,            // 200
        s.query(&token, &json!({"size": 0})).await,      // 400
        s.query("unknown-token", &day_query(5)).await,   // 401
        s.query(&reader, &day_query(5)).await,           // 403
        s.query_raw(&token, vec![b' '; 600_000]).await,  // 413
        s.http.get(s.url(QUERY)).send().await.unwrap(),  // 405
        post("/api/v2/elsewhere").send().await.unwrap(), // 404
    ];
    let mut statuses = Vec::new();
    for r in responses {
        let id = correlation(&r);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "a fresh UUID: {id}");
        let status = r.status().as_u16();
        statuses.push(status);
        if status >= 400 && r.url().path() == QUERY || status == 404 {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["contextId"], id.as_str(), "{status}: {body}");
        }
    }
    assert_eq!(statuses, [200, 401, 400, 200, 400, 401, 403, 413, 405, 404]);
    // Spend the budget (the 429s carry it too).
    let mut last = None;
    for _ in 0..8 {
        last = Some(s.query(&token, &day_query(1)).await);
    }
    let r = last.unwrap();
    assert_eq!(r.status(), 429);
    let id = correlation(&r);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["contextId"], id.as_str());
}

#[tokio::test]
async fn a_correlation_id_sent_by_the_client_is_echoed() {
    let s = start(small(5)).await;
    let token = s.token().await;
    let r = s.query_with_id(&token, "my-run-42", &day_query(5)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(correlation(&r), "my-run-42");
    let r = s.query_with_id(&token, "my-run-43", &json!({})).await;
    assert_eq!(correlation(&r), "my-run-43");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["contextId"], "my-run-43");
    let r = s
        .http
        .post(s.url(TOKEN))
        .header(HEADER, "my-run-44")
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(correlation(&r), "my-run-44");
}

/// A malformed body (not JSON, or JSON of the wrong shape) gets 400 in the
/// error format, with `contextId` equal to the response's header: the
/// client's own id when it sent one, a fresh one otherwise.
#[tokio::test]
async fn a_malformed_query_gets_400_whose_context_id_is_the_correlation_id() {
    let s = start(small(5)).await;
    let token = s.token().await;
    let malformed = [
        "not json",
        "{\"size\": 5",
        "[1, 2]",
        "\"query\"",
        "{\"size\": \"five\", \"time_interval\": []}",
    ];
    for (i, body) in malformed.into_iter().enumerate() {
        let r = s.query_raw(&token, body).await;
        let id = correlation(&r);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "a fresh UUID: {id}");
        let refusal = api_error(r, 400, "bad.request").await;
        assert_eq!(refusal["contextId"], id.as_str(), "{body:?}: {refusal}");

        let mine = format!("malformed-{i}");
        let r = s
            .http
            .post(s.url(QUERY))
            .bearer_auth(&token)
            .header(HEADER, &mine)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(correlation(&r), mine);
        let refusal = api_error(r, 400, "bad.request").await;
        assert_eq!(refusal["contextId"], mine.as_str(), "{body:?}: {refusal}");
    }
}

#[tokio::test]
async fn injected_5xx_responses_carry_it_too() {
    let s = start(SimConfig {
        violations: 5,
        ..SimConfig::default()
    })
    .await;
    let token = s.token().await;
    s.sim.set_faults(Faults {
        server_errors: 1.0,
        ..Faults::default()
    });
    for _ in 0..5 {
        let r = s.query(&token, &day_query(5)).await;
        assert!(r.status().is_server_error());
        correlation(&r);
    }
}

/// The simulator keeps what each request carried, so that client tests can
/// check the headers a client sends and the ids it was answered with.
#[tokio::test]
async fn each_request_is_recorded_with_its_headers_and_answer() {
    let s = start(small(5)).await;
    let token = s.token().await;
    let r = s.query_with_id(&token, "mine-1", &day_query(5)).await;
    assert_eq!(r.status(), 200);
    s.query(&token, &day_query(5)).await;
    let records = s.sim.requests();
    assert_eq!(records.len(), 3);
    let (token_request, mine, fresh) = (&records[0], &records[1], &records[2]);
    assert_eq!(token_request.path, TOKEN);
    assert_eq!(
        token_request.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(token_request.status, Some(200));
    assert_eq!((mine.method.as_str(), mine.path.as_str()), ("POST", QUERY));
    assert_eq!(mine.content_type.as_deref(), Some("application/json"));
    assert_eq!(mine.client_correlation_id.as_deref(), Some("mine-1"));
    assert_eq!(mine.correlation_id.as_deref(), Some("mine-1"));
    // Without one of its own, the client gets a fresh id.
    assert_eq!(fresh.client_correlation_id, None);
    assert!(uuid::Uuid::parse_str(fresh.correlation_id.as_deref().unwrap()).is_ok());
}
