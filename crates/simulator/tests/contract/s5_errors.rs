//! Section 5: the error body and each status of the table. (400 is covered
//! field by field in `s3_constraints`, 429 in `s6_rate_limits`, 5xx in `faults`.)

use crate::harness::*;
use compliance_simulator::SimClient;
use serde_json::Value;

#[tokio::test]
async fn the_error_body_has_message_code_status_context_id_details_and_errors() {
    let s = start(small(5)).await;
    let token = s.token().await;
    let mut q = day_query(5);
    q["size"] = 0.into();
    let r = s.query(&token, &q).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: Value = r.json().await.unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "message",
        "code",
        "status",
        "contextId",
        "details",
        "errors",
    ] {
        assert!(keys.contains(&key), "{key} in {body}");
    }
    assert!(!body["message"].as_str().unwrap().is_empty());
    assert_eq!(body["details"][0]["errorCode"], "invalid.value");
    assert_eq!(body["details"][0]["fieldName"], "size");
    assert_eq!(body["errors"], serde_json::json!([]));
    // It parses as the shared wire type too.
    let typed: compliance_api::ApiError = serde_json::from_value(body).unwrap();
    assert_eq!(typed.status, Some(400));
}

#[tokio::test]
async fn a_missing_unknown_or_malformed_token_gets_401_bad_credentials() {
    let s = start(small(5)).await;
    let no_token = s
        .http
        .post(s.url(QUERY))
        .json(&day_query(5))
        .send()
        .await
        .unwrap();
    api_error(no_token, 401, "bad.credentials").await;
    api_error(
        s.query("not-a-token", &day_query(5)).await,
        401,
        "bad.credentials",
    )
    .await;
    let basic = s
        .http
        .post(s.url(QUERY))
        .basic_auth("demo-client", Some("demo-secret"))
        .json(&day_query(5))
        .send()
        .await
        .unwrap();
    api_error(basic, 401, "bad.credentials").await;
}

/// The 401 row's "revoked": a revoked token is refused like an unknown one,
/// other tokens are unaffected, and the same grant gives a new one.
#[tokio::test]
async fn a_revoked_token_gets_401_bad_credentials_and_the_same_grant_a_new_one() {
    let s = start(small(5)).await;
    let (a, b) = (s.token().await, s.token().await);
    assert!(s.sim.revoke_token(&a));
    assert!(!s.sim.revoke_token(&a), "already revoked");
    let r = s.query(&a, &day_query(5)).await;
    let id = r.headers()["ININ-Correlation-Id"]
        .to_str()
        .unwrap()
        .to_string();
    let refused = api_error(r, 401, "bad.credentials").await;
    assert_eq!(refused["contextId"], id.as_str(), "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("revoked"));
    assert_eq!(s.query(&b, &day_query(5)).await.status(), 200);

    assert_eq!(s.sim.revoke_tokens(), 1, "only b was still valid");
    api_error(s.query(&b, &day_query(5)).await, 401, "bad.credentials").await;
    let fresh = s.token().await;
    assert_eq!(s.query(&fresh, &day_query(5)).await.status(), 200);
}

#[tokio::test]
async fn a_client_without_the_permission_gets_tokens_but_403_missing_permissions() {
    let mut config = small(5);
    config
        .clients
        .push(SimClient::without_permission("no-perm", "secret"));
    let s = start(config).await;
    let token = s.token_for("no-perm", "secret").await;
    let body = api_error(
        s.query(&token, &day_query(5)).await,
        403,
        "missing.permissions",
    )
    .await;
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("agentassist:compliance:read"));
    // The permitted client is unaffected.
    let ok = s.token().await;
    assert_eq!(s.query(&ok, &day_query(5)).await.status(), 200);
}

/// Section 3's header `Content-Type: application/json`: a query sent as
/// anything else is refused with 415, in the error format, before its body
/// is read; parameters such as `charset` are fine.
#[tokio::test]
async fn a_query_that_is_not_sent_as_json_gets_415() {
    let s = start(small(5)).await;
    let token = s.token().await;
    let body = day_query(5).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
    ] {
        let mut request = s
            .http
            .post(s.url(QUERY))
            .bearer_auth(&token)
            .header("ININ-Correlation-Id", "ct-check")
            .body(body.clone());
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        let r = request.send().await.unwrap();
        let refused = api_error(r, 415, "unsupported.media.type").await;
        assert_eq!(refused["contextId"], "ct-check", "{refused}");
        let message = refused["message"].as_str().unwrap();
        assert!(
            message.contains(content_type.unwrap_or("none"))
                && message.contains("application/json"),
            "{message}"
        );
    }
    for ok in ["application/json", "Application/JSON; charset=utf-8"] {
        let r = s
            .http
            .post(s.url(QUERY))
            .bearer_auth(&token)
            .header("Content-Type", ok)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{ok}");
    }
    // The token comes first: without one, the answer is still 401.
    let r = s
        .http
        .post(s.url(QUERY))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    api_error(r, 401, "bad.credentials").await;
}
