//! Section 2: getting a token.

use crate::harness::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn basic_credentials_get_a_bearer_token_of_the_default_lifetime() {
    let s = start(small(10)).await;
    let r = s
        .http
        .post(s.url(TOKEN))
        .basic_auth("demo-client", Some("demo-secret"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert!(!body["access_token"].as_str().unwrap().is_empty());
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 86399);
    assert_eq!(s.sim.stats().tokens_issued, 1);
}

#[tokio::test]
async fn form_credentials_are_accepted_instead_of_basic_and_extra_fields_ignored() {
    let s = start(small(10)).await;
    let r = s
        .http
        .post(s.url(TOKEN))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
            ("scope", "anything"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
}

/// Posts to the token endpoint and expects an OAuth `invalid_client` error.
async fn oauth_refused(r: reqwest::Response, status: u16) {
    assert_eq!(r.status().as_u16(), status);
    assert!(r.headers().contains_key("ININ-Correlation-Id"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client", "{body}");
    assert!(body["description"].is_string());
    assert!(body["error_description"].is_string());
    assert!(body.get("access_token").is_none());
}

#[tokio::test]
async fn wrong_or_unknown_credentials_get_401_invalid_client() {
    let s = start(small(10)).await;
    for (id, secret) in [
        ("demo-client", "wrong"),
        ("someone-else", "demo-secret"),
        ("demo-client", ""),
    ] {
        let r = s
            .http
            .post(s.url(TOKEN))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        oauth_refused(r, 401).await;
        let r = s
            .http
            .post(s.url(TOKEN))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap();
        oauth_refused(r, 401).await;
    }
    assert_eq!(s.sim.stats().tokens_issued, 0);
}

#[tokio::test]
async fn malformed_token_requests_get_400_invalid_client() {
    let s = start(small(10)).await;
    let post = || s.http.post(s.url(TOKEN));
    // No credentials at all.
    oauth_refused(
        post()
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    // A Basic header that is not base64 of id:secret.
    let r = post()
        .header("Authorization", "Basic !!!not-base64")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    oauth_refused(r, 400).await;
    // Another grant, or none.
    for grant in [Some("password"), None] {
        let mut form = vec![
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
        ];
        form.extend(grant.map(|g| ("grant_type", g)));
        oauth_refused(post().form(&form).send().await.unwrap(), 400).await;
    }
}

#[tokio::test]
async fn expires_in_is_the_configured_lifetime_and_there_is_no_refresh_token() {
    let config = compliance_simulator::SimConfig {
        token_lifetime: std::time::Duration::from_secs(300),
        ..small(10)
    };
    let s = start(config).await;
    let r = s
        .http
        .post(s.url(TOKEN))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["expires_in"], 300);
    assert!(body.get("refresh_token").is_none());
}

#[tokio::test]
async fn an_expired_token_gets_401_and_the_same_grant_gives_a_new_one() {
    let config = compliance_simulator::SimConfig {
        token_lifetime: std::time::Duration::from_millis(600),
        ..small(10)
    };
    let s = start(config).await;
    let old = s.token().await;
    assert_eq!(s.query(&old, &day_query(5)).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let body = api_error(s.query(&old, &day_query(5)).await, 401, "bad.credentials").await;
    assert!(body["contextId"].is_string());
    let new = s.token().await;
    assert_ne!(new, old);
    assert_eq!(s.query(&new, &day_query(5)).await.status(), 200);
}

#[tokio::test]
async fn each_grant_issues_a_new_opaque_token_and_earlier_ones_stay_valid() {
    let s = start(small(10)).await;
    let a = s.token().await;
    let b = s.token().await;
    assert_ne!(a, b);
    assert!(a.len() >= 32);
    for t in [&a, &b] {
        assert_eq!(s.query(t, &day_query(5)).await.status(), 200);
    }
}

/// Section 2's header `Content-Type: application/x-www-form-urlencoded`: a
/// token request in another format is refused with 400 `invalid_client`,
/// even with good credentials.
#[tokio::test]
async fn a_token_request_that_is_not_a_form_is_refused() {
    let s = start(small(10)).await;
    let form = "grant_type=client_credentials";
    for (content_type, body) in [
        (None, form.to_string()),
        (
            Some("application/json"),
            r#"{"grant_type":"client_credentials"}"#.into(),
        ),
        (Some("text/plain"), form.to_string()),
    ] {
        let mut request = s
            .http
            .post(s.url(TOKEN))
            .basic_auth("demo-client", Some("demo-secret"))
            .body(body);
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 400, "{content_type:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("application/x-www-form-urlencoded"),
            "{body}"
        );
    }
    let r = s
        .http
        .post(s.url(TOKEN))
        .basic_auth("demo-client", Some("demo-secret"))
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.sim.stats().tokens_issued, 1);
}
