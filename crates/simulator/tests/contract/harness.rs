//! Starting a simulator and talking to it.

use compliance_simulator::{SimConfig, Simulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

pub const QUERY: &str = "/api/v2/agentassist/compliance/violations/query";
pub const TOKEN: &str = "/oauth/token";

/// A simulator with `config`, and an HTTP client for it.
pub struct Sim {
    pub sim: Simulator,
    pub http: Client,
}

pub async fn start(config: SimConfig) -> Sim {
    let sim = Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the simulator starts");
    let http = Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    Sim { sim, http }
}

/// A small default dataset, quick to generate in debug builds.
pub fn small(violations: usize) -> SimConfig {
    SimConfig {
        violations,
        ..SimConfig::default()
    }
}

/// The contract's example query (without the filters), for the default window.
pub fn day_query(size: u64) -> Value {
    json!({
        "time_interval": {"start": "2023-10-01T00:00:00.000Z", "end": "2023-10-02T00:00:00.000Z"},
        "filters": {},
        "size": size,
        "cursor": null
    })
}

impl Sim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    /// A token for the demo client, got with the Basic header.
    pub async fn token(&self) -> String {
        self.token_for(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await
    }

    pub async fn token_for(&self, id: &str, secret: &str) -> String {
        let r = self
            .http
            .post(self.url(TOKEN))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Posts `body` to the query endpoint with `token`.
    pub async fn query(&self, token: &str, body: &Value) -> Response {
        self.http
            .post(self.url(QUERY))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Posts `body` to the query endpoint with `token`, sending the client's
    /// own `ININ-Correlation-Id`.
    pub async fn query_with_id(&self, token: &str, correlation_id: &str, body: &Value) -> Response {
        self.http
            .post(self.url(QUERY))
            .bearer_auth(token)
            .header("ININ-Correlation-Id", correlation_id)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Posts raw bytes to the query endpoint.
    pub async fn query_raw(&self, token: &str, body: impl Into<reqwest::Body>) -> Response {
        self.http
            .post(self.url(QUERY))
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Pages through `query` to the end; returns every page's body.
    pub async fn all_pages(&self, token: &str, mut query: Value) -> Vec<Value> {
        let mut pages = Vec::new();
        loop {
            let r = self.query(token, &query).await;
            assert_eq!(r.status(), StatusCode::OK);
            let page: Value = r.json().await.unwrap();
            let next = page["nextPageCursor"].clone();
            pages.push(page);
            if next.is_null() {
                return pages;
            }
            query["cursor"] = next;
        }
    }
}

/// Asserts a 400-class API error with `code`, and returns its body.
pub async fn api_error(r: Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status().as_u16(), status);
    let body: Value = r.json().await.expect("an API error body is JSON");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    body
}

/// The `fieldName`s of an error body's details.
pub fn fields(body: &Value) -> Vec<String> {
    body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["fieldName"].as_str().unwrap().to_string())
        .collect()
}

impl Sim {
    /// `GET path` with `token`.
    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with `token` and a JSON `body`.
    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

/// The `transcripturl` path of a conversation's (agent) communication.
pub fn transcript_url_path(c: &compliance_simulator::Conversation) -> String {
    format!(
        "/api/v2/speechandtextanalytics/conversations/{}/communications/{}/transcripturl",
        c.id, c.communication_id
    )
}

impl Sim {
    /// A fresh pre-signed transcript URL for `c`.
    pub async fn transcript_url(
        &self,
        token: &str,
        c: &compliance_simulator::Conversation,
    ) -> String {
        let r = self.get(token, &transcript_url_path(c)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        v["url"].as_str().unwrap().to_string()
    }
}

/// A small organisation: few violations, `conversations` conversations on 2023-10-01.
pub fn org(conversations: usize) -> SimConfig {
    SimConfig {
        violations: 10,
        conversations,
        ..SimConfig::default()
    }
}
