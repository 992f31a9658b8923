//! The real speech-analytics endpoints (genesys-real-apis.md §2, §6, §7, §9)
//! over loopback HTTP: shapes field by field, the job lifecycle, paging and
//! page-size caps, transcript URLs, permissions and the 429 body.

use crate::harness::*;
use compliance_simulator::catalogue::{CATEGORIES, TOPICS};
use compliance_simulator::{Faults, SimClient, SimConfig};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const JOBS: &str = "/api/v2/analytics/transcripts/aggregates/jobs";
const DAY: &str = "2023-10-01T00:00:00.000Z/2023-10-02T00:00:00.000Z";

fn by_topic(page_size: u64) -> Value {
    json!({
        "interval": DAY,
        "groupBy": ["conversationId", "topicId"],
        "metrics": ["nTopicCommunications"],
        "filter": {"type": "and", "predicates": [{"dimension": "resultsBy", "value": "communication"}]},
        "pageSize": page_size,
    })
}

async fn submit(s: &Sim, token: &str, body: &Value) -> String {
    let r = s.post(token, JOBS, body).await;
    assert_eq!(r.status(), 202, "a job is accepted");
    let v: Value = r.json().await.unwrap();
    v["jobId"].as_str().unwrap().to_string()
}

async fn state(s: &Sim, token: &str, job: &str) -> Value {
    let r = s.get(token, &format!("{JOBS}/{job}")).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Every result row of a fulfilled job, following cursors to the end.
async fn all_rows(s: &Sim, token: &str, job: &str) -> (Vec<Value>, usize) {
    let (mut rows, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("{JOBS}/{job}/results?cursor={c}"),
            None => format!("{JOBS}/{job}/results"),
        };
        let r = s.get(token, &path).await;
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        pages += 1;
        rows.extend(page["results"].as_array().unwrap().iter().cloned());
        match page.get("cursor") {
            Some(c) => cursor = Some(c.as_str().unwrap().to_string()),
            None => return (rows, pages),
        }
        assert!(pages < 1_000, "bounded");
    }
}

#[tokio::test]
async fn a_job_goes_queued_pending_fulfilled_and_serves_results_only_then_by_cursor() {
    let s = start(org(300)).await;
    let token = s.token().await;
    let job = submit(&s, &token, &by_topic(50)).await;
    // Results before FULFILLED are refused, naming the state.
    let early = api_error(
        s.get(&token, &format!("{JOBS}/{job}/results")).await,
        400,
        "bad.request",
    )
    .await;
    assert!(
        early["message"].as_str().unwrap().contains("QUEUED"),
        "{early}"
    );
    let first = state(&s, &token, &job).await;
    assert_eq!(first["state"], "QUEUED");
    assert!(first["submissionDate"].is_string() && first["expirationDate"].is_string());
    assert!(first.get("completionDate").is_none());
    assert_eq!(state(&s, &token, &job).await["state"], "PENDING");
    let done = state(&s, &token, &job).await;
    assert_eq!(done["state"], "FULFILLED");
    assert!(done["completionDate"].is_string());
    let (rows, pages) = all_rows(&s, &token, &job).await;
    // Rows: TranscriptAggregateDataContainer {group, data[{interval, metrics[{metric, stats{count}}]}]}.
    let mut got = BTreeSet::new();
    for row in &rows {
        assert_eq!(row["data"][0]["interval"], DAY);
        assert_eq!(
            row["data"][0]["metrics"][0]["metric"],
            "nTopicCommunications"
        );
        assert_eq!(row["data"][0]["metrics"][0]["stats"]["count"], 1);
        let g = &row["group"];
        assert!(
            got.insert((
                g["conversationId"].as_str().unwrap().to_string(),
                g["topicId"].as_str().unwrap().to_string()
            )),
            "each row once"
        );
    }
    // Ground truth: the spotted topics of conversations wholly inside the day.
    let o = s.sim.org();
    let end: compliance_api::Timestamp = "2023-10-02T00:00:00Z".parse().unwrap();
    let expected: BTreeSet<(String, String)> = o
        .conversations
        .iter()
        .filter(|c| c.end <= end)
        .flat_map(|c| {
            c.detections
                .iter()
                .map(move |&(t, _)| (c.id.to_string(), TOPICS[t].id.to_string()))
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(pages, expected.len().div_ceil(50));
    // Cancelled: 204, then CANCELLED and no results.
    let r = s
        .http
        .delete(s.url(&format!("{JOBS}/{job}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(state(&s, &token, &job).await["state"], "CANCELLED");
    api_error(
        s.get(&token, &format!("{JOBS}/{job}/results")).await,
        400,
        "bad.request",
    )
    .await;
}

#[tokio::test]
async fn a_conversation_straddling_the_interval_edge_is_in_neither_window() {
    let s = start(org(400)).await;
    let token = s.token().await;
    let o = s.sim.org();
    let c = o
        .conversations
        .iter()
        .find(|c| c.covered && c.start.unix_millis() + 20_000 < c.end.unix_millis())
        .unwrap();
    let mid = compliance_api::Timestamp::from_datetime(
        c.start.as_datetime() + chrono::Duration::seconds(10),
    );
    let query = |interval: String| {
        json!({"interval": interval, "groupBy": ["conversationId"], "metrics": ["nTopicCommunications"],
        "filter": {"type": "and", "predicates": [{"dimension": "conversationId", "value": c.id.to_string()}]}})
    };
    for interval in [
        format!("2023-10-01T00:00:00.000Z/{mid}"),
        format!("{mid}/2023-10-03T00:00:00.000Z"),
    ] {
        let r = s
            .post(
                &token,
                "/api/v2/analytics/transcripts/aggregates/query",
                &query(interval),
            )
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["results"], json!([]), "partly covered: left out");
    }
    let r = s
        .post(
            &token,
            "/api/v2/analytics/transcripts/aggregates/query",
            &query("2023-10-01T00:00:00.000Z/2023-10-03T00:00:00.000Z".into()),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["results"][0]["group"]["conversationId"], c.id.to_string());
}

#[tokio::test]
async fn a_category_filter_finds_exactly_the_conversations_where_it_fired() {
    let s = start(org(300)).await;
    let token = s.token().await;
    let inverted = CATEGORIES[0];
    let body = json!({"interval": "2023-10-01T00:00:00.000Z/2023-10-03T00:00:00.000Z", "groupBy": ["conversationId"], "metrics": ["nSpeechTextAnalyzedConversations"],
        "filter": {"type": "or", "predicates": [{"dimension": "categoryId", "value": inverted.id}]}});
    let v: Value = s
        .post(
            &token,
            "/api/v2/analytics/transcripts/aggregates/query",
            &body,
        )
        .await
        .json()
        .await
        .unwrap();
    let got: BTreeSet<String> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["group"]["conversationId"].as_str().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = s
        .sim
        .org()
        .category_hits()
        .into_iter()
        .filter(|(_, k)| *k == inverted.id)
        .map(|(c, _)| c.to_string())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    // Per conversation, the categories endpoint agrees, criteria included.
    let cid = expected.iter().next().unwrap();
    let v: Value = s
        .get(
            &token,
            &format!("/api/v2/speechandtextanalytics/conversations/{cid}/categories"),
        )
        .await
        .json()
        .await
        .unwrap();
    let e = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == inverted.id)
        .unwrap();
    assert_eq!(e["criteria"]["type"], "Topic");
    assert_eq!(e["criteria"]["inverted"], true);
    assert_eq!(e["interactionType"], "Voice");
    for key in ["pageSize", "pageNumber", "total", "pageCount"] {
        assert!(v[key].is_number(), "{key} in {v}");
    }
}

#[tokio::test]
async fn bad_aggregate_queries_get_400_naming_the_field() {
    let s = start(org(10)).await;
    let token = s.token().await;
    let cases = [
        (json!({"metrics": ["nTopicCommunications"]}), "interval"),
        (
            json!({"interval": "2023-10-02T00:00:00Z/2023-10-01T00:00:00Z", "metrics": ["nTopicCommunications"]}),
            "interval",
        ),
        (json!({"interval": DAY}), "metrics"),
        (
            json!({"interval": DAY, "metrics": ["nTopicCommunications"], "groupBy": ["categoryId"]}),
            "groupBy",
        ),
        (
            json!({"interval": DAY, "metrics": ["nTopicCommunications"], "filter": {"type": "and", "predicates": [{"dimension": "topicId", "value": "not-a-uuid"}]}}),
            "filter.predicates[0].value",
        ),
        (
            json!({"interval": DAY, "metrics": ["nTopicCommunications"], "pageSize": 5}),
            "pageSize",
        ),
    ];
    for (body, field) in cases {
        let r = s
            .post(
                &token,
                "/api/v2/analytics/transcripts/aggregates/query",
                &body,
            )
            .await;
        let e = api_error(r, 400, "bad.request").await;
        assert_eq!(fields(&e), [field], "{body}");
    }
}

#[tokio::test]
async fn job_faults_fail_or_expire_a_job() {
    let s = start(SimConfig {
        job_polls: 0,
        ..org(100)
    })
    .await;
    let token = s.token().await;
    s.sim.set_faults(Faults {
        job_failures: 1.0,
        ..Faults::default()
    });
    let job = submit(&s, &token, &by_topic(10)).await;
    let v = state(&s, &token, &job).await;
    assert_eq!(v["state"], "FAILED");
    assert!(v["errorMessage"].is_string());
    s.sim.set_faults(Faults {
        job_expiries: 1.0,
        ..Faults::default()
    });
    let job = submit(&s, &token, &by_topic(10)).await;
    assert_eq!(state(&s, &token, &job).await["state"], "FULFILLED");
    assert_eq!(
        s.get(&token, &format!("{JOBS}/{job}/results"))
            .await
            .status(),
        200
    );
    assert_eq!(state(&s, &token, &job).await["state"], "EXPIRED");
    let e = api_error(
        s.get(&token, &format!("{JOBS}/{job}/results")).await,
        400,
        "bad.request",
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("EXPIRED"));
    let stats = s.sim.stats().faults;
    assert_eq!((stats.jobs_failed, stats.jobs_expired), (1, 1));
}

#[tokio::test]
async fn topics_and_categories_keep_their_page_size_caps_and_paging_styles() {
    let s = start(org(10)).await;
    let token = s.token().await;
    let e = api_error(
        s.get(&token, "/api/v2/speechandtextanalytics/topics?pageSize=501")
            .await,
        400,
        "bad.request",
    )
    .await;
    assert_eq!(fields(&e), ["pageSize"]);
    let e = api_error(
        s.get(
            &token,
            "/api/v2/speechandtextanalytics/categories?pageSize=26",
        )
        .await,
        400,
        "bad.request",
    )
    .await;
    assert_eq!(fields(&e), ["pageSize"]);
    let cid = s.sim.org().conversations[0].id;
    let e = api_error(
        s.get(
            &token,
            &format!("/api/v2/speechandtextanalytics/conversations/{cid}/categories?pageSize=51"),
        )
        .await,
        400,
        "bad.request",
    )
    .await;
    assert_eq!(fields(&e), ["pageSize"]);
    // Topics: follow nextUri (nextPage keys) to the end.
    let (mut seen, mut path) = (
        Vec::new(),
        "/api/v2/speechandtextanalytics/topics?pageSize=3".to_string(),
    );
    for _ in 0..10 {
        let v: Value = s.get(&token, &path).await.json().await.unwrap();
        assert_eq!(v["pageSize"], 3);
        assert_eq!(v["total"], TOPICS.len());
        for t in v["entities"].as_array().unwrap() {
            for key in [
                "id",
                "name",
                "description",
                "strictness",
                "tags",
                "dialect",
                "participants",
                "selfUri",
            ] {
                assert!(t.get(key).is_some(), "{key} in {t}");
            }
            seen.push(t["id"].as_str().unwrap().to_string());
        }
        match v.get("nextUri") {
            Some(next) => path = next.as_str().unwrap().to_string(),
            None => break,
        }
    }
    let all: Vec<String> = TOPICS.iter().map(|t| t.id.to_string()).collect();
    assert_eq!(seen, all);
    let t: Value = s
        .get(
            &token,
            &format!("/api/v2/speechandtextanalytics/topics/{}", TOPICS[1].id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["phrases"][0]["text"], TOPICS[1].phrase);
    assert_eq!(t["programs"][0]["name"], "Collections voice");
    // Categories: page numbers.
    let v: Value = s
        .get(
            &token,
            "/api/v2/speechandtextanalytics/categories?pageSize=4&pageNumber=2",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            v["pageNumber"].clone(),
            v["total"].clone(),
            v["pageCount"].clone()
        ),
        (json!(2), json!(CATEGORIES.len()), json!(2))
    );
    assert_eq!(
        v["entities"].as_array().unwrap().len(),
        CATEGORIES.len() - 4
    );
    assert!(v.get("nextUri").is_none() && v["previousUri"].is_string());
}

#[tokio::test]
async fn details_name_the_agent_its_session_and_queue_segments() {
    let s = start(org(20)).await;
    let token = s.token().await;
    let c = s.sim.org().conversations[3].clone();
    let v: Value = s
        .get(
            &token,
            &format!("/api/v2/analytics/conversations/{}/details", c.id),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["conversationId"], c.id.to_string());
    assert_eq!(v["conversationStart"], c.start.to_string());
    assert_eq!(v["conversationEnd"], c.end.to_string());
    let agent = v["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["purpose"] == "agent")
        .unwrap();
    assert_eq!(agent["userId"], c.agent_id.to_string());
    assert_eq!(
        agent["sessions"][0]["sessionId"],
        c.communication_id.to_string()
    );
    assert!(agent["sessions"][0]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g["queueId"] == c.queue_id.to_string()
            && g["segmentStart"].is_string()
            && g["segmentEnd"].is_string()));
    api_error(
        s.get(
            &token,
            &format!(
                "/api/v2/analytics/conversations/{}/details",
                uuid::Uuid::nil()
            ),
        )
        .await,
        404,
        "not.found",
    )
    .await;
}

#[tokio::test]
async fn a_transcript_url_is_pre_signed_refuses_authorization_and_expires() {
    let s = start(SimConfig {
        transcript_url_lifetime: Duration::from_millis(700),
        ..org(50)
    })
    .await;
    let token = s.token().await;
    let o = s.sim.org();
    let c = o
        .conversations
        .iter()
        .find(|c| c.covered && !c.detections.is_empty())
        .unwrap();
    let url = s.transcript_url(&token, c).await;
    assert!(
        url.starts_with(&s.sim.base_url()) && !url.contains("/api/v2/"),
        "{url}"
    );
    // A bearer token on the storage request is refused, S3-like.
    let r = s.http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("<Code>InvalidArgument</Code>"));
    let doc: Value = s.http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["conversationId"], c.id.to_string());
    assert_eq!(doc["communicationId"], c.communication_id.to_string());
    let t = &doc["transcripts"][0];
    let phrases = c.phrases();
    assert_eq!(t["phrases"].as_array().unwrap().len(), phrases.len());
    for (p, want) in t["phrases"].as_array().unwrap().iter().zip(&phrases) {
        assert_eq!(p["text"], want.text.as_str());
        assert_eq!(p["startTimeMs"], want.start_ms, "epoch ms");
        assert_eq!(
            p["participantPurpose"],
            if want.agent { "internal" } else { "external" }
        );
    }
    let topics = t["analytics"]["topics"].as_array().unwrap();
    assert_eq!(topics.len(), c.detections.len());
    for key in [
        "participant",
        "topicId",
        "topicName",
        "topicPhrase",
        "transcriptPhrase",
        "confidence",
        "startTimeMs",
        "duration",
    ] {
        assert!(topics[0].get(key).is_some(), "{key}");
    }
    assert_eq!(doc["participants"][0]["userId"], c.agent_id.to_string());
    tokio::time::sleep(Duration::from_millis(800)).await;
    let r = s.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403, "expired: ask transcripturl again");
    assert!(r.text().await.unwrap().contains("AccessDenied"));
    // Early expiry on demand.
    s.sim.set_faults(Faults {
        transcript_url_expiries: 1.0,
        ..Faults::default()
    });
    let url = s.transcript_url(&token, c).await;
    assert_eq!(s.http.get(&url).send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn topic_spotting_only_where_a_program_covers_the_queue() {
    let s = start(org(200)).await;
    let token = s.token().await;
    let o = s.sim.org();
    let c = o.conversations.iter().find(|c| !c.covered).unwrap();
    let v: Value = s
        .get(
            &token,
            &format!(
                "/api/v2/speechandtextanalytics/conversations/{}/categories",
                c.id
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["entities"], json!([]));
    let url = s.transcript_url(&token, c).await;
    let doc: Value = s.http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["transcripts"][0]["analytics"]["topics"], json!([]));
    assert!(
        !doc["transcripts"][0]["phrases"]
            .as_array()
            .unwrap()
            .is_empty(),
        "still transcribed"
    );
}

#[tokio::test]
async fn each_endpoint_checks_its_permissions_and_limits_need_none() {
    let mut config = org(20);
    config.clients.push(SimClient::lacking(
        "norec",
        "pw",
        ["recording:recording:view"],
    ));
    config
        .clients
        .push(SimClient::without_permission("none", "pw"));
    let s = start(config).await;
    let c = s.sim.org().conversations[0].clone();
    let norec = s.token_for("norec", "pw").await;
    let e = api_error(
        s.get(&norec, &transcript_url_path(&c)).await,
        403,
        "missing.permissions",
    )
    .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("recording:recording:view"),
        "{e}"
    );
    assert_eq!(
        s.get(&norec, "/api/v2/speechandtextanalytics/topics")
            .await
            .status(),
        200
    );
    let none = s.token_for("none", "pw").await;
    for (path, permission) in [
        (
            "/api/v2/speechandtextanalytics/topics".to_string(),
            "speechAndTextAnalytics:topic:view",
        ),
        (
            "/api/v2/speechandtextanalytics/categories".to_string(),
            "speechAndTextAnalytics:category:view",
        ),
        (
            format!(
                "/api/v2/speechandtextanalytics/conversations/{}/categories",
                c.id
            ),
            "speechAndTextAnalytics:data:view",
        ),
        (
            format!("/api/v2/analytics/conversations/{}/details", c.id),
            "analytics:conversationDetail:view",
        ),
    ] {
        let e = api_error(s.get(&none, &path).await, 403, "missing.permissions").await;
        assert!(
            e["message"].as_str().unwrap().contains(permission),
            "{path}: {e}"
        );
    }
    let e = api_error(
        s.post(&none, JOBS, &by_topic(5)).await,
        403,
        "missing.permissions",
    )
    .await;
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("analytics:speechAndTextAnalyticsAggregates:view"));
    let v: Value = s
        .get(
            &none,
            "/api/v2/organizations/limits/namespaces/platform.api",
        )
        .await
        .json()
        .await
        .unwrap();
    let limit = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "token.rate.per.minute")
        .unwrap();
    assert_eq!(
        (limit["namespace"].clone(), limit["value"].clone()),
        (json!("platform.api"), json!(300))
    );
}

#[tokio::test]
async fn the_real_429_body_and_retry_after_apply_to_the_real_endpoints() {
    let s = start(SimConfig {
        rate_limit_per_minute: 3,
        ..org(10)
    })
    .await;
    let token = s.token().await;
    for _ in 0..2 {
        assert_eq!(
            s.get(&token, "/api/v2/speechandtextanalytics/topics")
                .await
                .status(),
            200
        );
    }
    let r = s
        .get(&token, "/api/v2/speechandtextanalytics/categories")
        .await;
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let e = api_error(r, 429, "too.many.requests.retry.after").await;
    assert_eq!(
        e["message"],
        format!("Rate limit exceeded the maximum. Retry the request in [{wait}] seconds")
    );
    assert_eq!(
        (e["details"].clone(), e["errors"].clone()),
        (json!([]), json!([]))
    );
    assert!(e["contextId"].is_string());
    // Injected faults too.
    s.sim.set_faults(Faults {
        server_errors: 1.0,
        ..Faults::default()
    });
    let other = s
        .http
        .get(s.url("/api/v2/organizations/limits/namespaces/platform.api"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(other.status().is_server_error());
}
