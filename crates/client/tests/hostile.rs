//! The extractor against a scripted server that misbehaves in the ways the
//! simulator does not: bad 200 bodies, malformed records, 400/413, 401 twice.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use compliance_api::{Filters, PageSize};
use compliance_client::{
    BaseUrl, Batch, Credentials, Endpoints, Error, ExtractorConfig, Query, Resume, RetryCause,
    RetryPolicy, TransportConfig, ViolationExtractor, Window,
};
use serde_json::json;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted answer: status, extra headers, body.
type Reply = (u16, Vec<(&'static str, String)>, String);

#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    queries: Mutex<u32>,
    tokens: Mutex<u32>,
}

async fn token(State(s): State<Arc<Script>>) -> (StatusCode, String) {
    *s.tokens.lock().unwrap() += 1;
    let body = json!({"access_token": "t", "token_type": "bearer", "expires_in": 3600});
    (StatusCode::OK, body.to_string())
}

async fn query(State(s): State<Arc<Script>>) -> (StatusCode, HeaderMap, String) {
    *s.queries.lock().unwrap() += 1;
    let (status, headers, body) = s.replies.lock().unwrap().pop_front().unwrap_or((
        200,
        vec![],
        json!({"violations": [], "pageSize": 10, "nextPageCursor": null}).to_string(),
    ));
    let mut map = HeaderMap::new();
    map.insert("ININ-Correlation-Id", "corr-42".parse().unwrap());
    for (k, v) in headers {
        map.insert(k, v.parse().unwrap());
    }
    (StatusCode::from_u16(status).unwrap(), map, body)
}

/// Serves `replies` to queries on a loopback port until the test ends.
async fn serve(replies: Vec<Reply>) -> (Arc<Script>, ViolationExtractor) {
    let script = Arc::new(Script {
        replies: Mutex::new(replies.into()),
        ..Script::default()
    });
    let app = Router::new()
        .route("/oauth/token", post(token))
        .route(compliance_api::QUERY_PATH, post(query))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = BaseUrl::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut transport = TransportConfig::new(
        Endpoints {
            api: base.clone(),
            login: base,
        },
        Credentials {
            client_id: "c".into(),
            client_secret: "s".to_string().into(),
        },
    );
    transport.rate_limit_per_minute = 0;
    transport.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(10),
    };
    let extractor = ViolationExtractor::new(ExtractorConfig::new(transport)).unwrap();
    (script, extractor)
}

fn plan() -> compliance_client::Plan {
    compliance_client::Plan {
        query: Query {
            window: window(),
            filters: Filters::default(),
            page_size: PageSize::new(10).unwrap(),
        },
        windows: vec![window()],
    }
}

fn window() -> Window {
    Window::new(
        "2023-10-01T00:00:00Z".parse().unwrap(),
        "2023-10-02T00:00:00Z".parse().unwrap(),
    )
    .unwrap()
}

async fn fetch_all(extractor: &ViolationExtractor) -> Result<Vec<Batch>, Error> {
    let mut out = Vec::new();
    let mut batches = extractor.fetch(plan(), Resume::default());
    while let Some(b) = batches.next().await {
        out.push(b?);
    }
    Ok(out)
}

fn violation(id: &str, at: &str) -> serde_json::Value {
    json!({"id": id, "ruleId": "r", "severity": "HIGH", "detectedAt": at,
           "evidence": [{"type": "TRANSCRIPT", "value": "x"}]})
}

fn page(violations: Vec<serde_json::Value>, cursor: Option<&str>) -> Reply {
    let body = json!({"violations": violations, "pageSize": 10, "nextPageCursor": cursor});
    (200, vec![], body.to_string())
}

#[tokio::test]
async fn bad_bodies_are_retried_like_server_errors() {
    let (script, extractor) = serve(vec![
        (200, vec![], "<html>gateway</html>".into()),
        (200, vec![], json!({"violations": []}).to_string()),
        page(vec![violation("a", "2023-10-01T01:00:00Z")], None),
    ])
    .await;
    let batches = fetch_all(&extractor).await.unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].violations[0].id, "a");
    assert_eq!(*script.queries.lock().unwrap(), 3);
    let s = extractor.stats().snapshot();
    assert_eq!(s.retries_of(RetryCause::BadBody), 2);
}

#[tokio::test]
async fn a_body_that_stays_bad_fails_naming_what_is_wrong() {
    let lacking = json!({"violations": []}).to_string();
    let (_, extractor) = serve(vec![(200, vec![], lacking); 4]).await;
    let err = fetch_all(&extractor).await.unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { attempts: 4, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("pageSize") && text.contains("corr-42"),
        "{text}"
    );
}

#[tokio::test]
async fn records_lacking_required_fields_are_rejected_with_the_reason() {
    let (_, extractor) = serve(vec![page(
        vec![
            violation("a", "2023-10-01T01:00:00Z"),
            json!({"id": "b", "severity": "LOW", "detectedAt": "2023-10-01T02:00:00Z"}),
            json!({"id": "c", "ruleId": "r", "severity": "LOW", "detectedAt": "2023-10-01T03:00:00Z"}),
            json!({"ruleId": "r", "severity": "LOW", "detectedAt": "2023-10-01T04:00:00Z", "evidence": null}),
        ],
        None,
    )])
    .await;
    let batches = fetch_all(&extractor).await.unwrap();
    let ids: Vec<&str> = batches[0]
        .violations
        .iter()
        .map(|v| v.id.as_str())
        .collect();
    assert_eq!(ids, ["a", "c"]);
    let reasons: Vec<&str> = batches[0]
        .rejects
        .iter()
        .map(|r| r.reason.as_str())
        .collect();
    assert_eq!(reasons, ["missing ruleId", "missing id"]);
    assert_eq!(batches[0].rejects[0].raw["id"], "b");
    let s = extractor.stats().snapshot();
    assert_eq!((s.violations, s.rejects, s.missing_evidence), (2, 2, 1));
}

#[tokio::test]
async fn duplicates_across_consecutive_pages_are_dropped() {
    let (_, extractor) = serve(vec![
        page(
            vec![
                violation("a", "2023-10-01T01:00:00Z"),
                violation("b", "2023-10-01T02:00:00Z"),
            ],
            Some("p2"),
        ),
        page(
            vec![
                violation("b", "2023-10-01T02:00:00Z"),
                violation("c", "2023-10-01T03:00:00Z"),
            ],
            None,
        ),
    ])
    .await;
    let batches = fetch_all(&extractor).await.unwrap();
    let ids: Vec<String> = batches
        .iter()
        .flat_map(|b| b.violations.iter().map(|v| v.id.clone()))
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(batches[1].duplicates_dropped, 1);
    assert_eq!(batches[0].next_cursor.as_deref(), Some("p2"));
    assert!(batches[1].window_done);
}

#[tokio::test]
async fn bad_requests_and_oversized_bodies_are_never_retried() {
    for (status, code) in [(400, "bad.request"), (413, "request.too.large")] {
        let body = json!({"message": "no", "code": code, "status": status,
                          "details": [{"errorCode": "invalid.value", "fieldName": "size"}]});
        let (script, extractor) = serve(vec![(status, vec![], body.to_string())]).await;
        let err = fetch_all(&extractor).await.unwrap_err();
        match &err {
            Error::Rejected {
                status: s,
                field,
                code: c,
                ..
            } => {
                assert_eq!(
                    (*s, c.as_str(), field.as_deref()),
                    (status, code, Some("size"))
                );
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("field `size`"), "{err}");
        assert_eq!(
            *script.queries.lock().unwrap(),
            1,
            "{status} is not retried"
        );
    }
}

#[tokio::test]
async fn a_401_gets_one_new_token_and_one_retry_then_fails() {
    let unauthorized = (401, vec![], json!({"code": "bad.credentials"}).to_string());
    let (script, extractor) = serve(vec![
        unauthorized.clone(),
        page(vec![violation("a", "2023-10-01T01:00:00Z")], None),
    ])
    .await;
    assert_eq!(fetch_all(&extractor).await.unwrap().len(), 1);
    assert_eq!(*script.tokens.lock().unwrap(), 2);

    let (script, extractor) = serve(vec![unauthorized.clone(), unauthorized]).await;
    let err = fetch_all(&extractor).await.unwrap_err();
    assert!(matches!(err, Error::TokenRefused { .. }), "{err}");
    assert_eq!(*script.queries.lock().unwrap(), 2);
    assert_eq!(*script.tokens.lock().unwrap(), 2);
}

#[tokio::test]
async fn retry_after_is_obeyed() {
    let (_, extractor) = serve(vec![
        (429, vec![("Retry-After", "1".into())], "{}".into()),
        page(vec![violation("a", "2023-10-01T01:00:00Z")], None),
    ])
    .await;
    let started = std::time::Instant::now();
    fetch_all(&extractor).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    let s = extractor.stats().snapshot();
    assert_eq!(
        (
            s.rate_limited_received,
            s.retries_of(RetryCause::RateLimited)
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn a_token_that_expires_again_after_other_retries_is_renewed_again() {
    let unauthorized = (401, vec![], json!({"code": "bad.credentials"}).to_string());
    let (script, extractor) = serve(vec![
        unauthorized.clone(),
        (503, vec![], String::new()),
        unauthorized,
        page(vec![violation("a", "2023-10-01T01:00:00Z")], None),
    ])
    .await;
    assert_eq!(fetch_all(&extractor).await.unwrap().len(), 1);
    assert_eq!(*script.tokens.lock().unwrap(), 3);
}
