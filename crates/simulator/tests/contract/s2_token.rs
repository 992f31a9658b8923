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
