//! Section 3, "Constraints": a request that breaks any of them gets 400 in
//! the error format of section 5, `details[].fieldName` naming the field, and
//! nothing else happens.

use crate::harness::*;
use serde_json::{json, Value};

/// Sends `query` and asserts a 400 `bad.request` naming exactly `field`.
async fn refused(s: &Sim, token: &str, query: &Value, field: &str) {
    let body = api_error(s.query(token, query).await, 400, "bad.request").await;
    assert_eq!(fields(&body), [field], "query {query}: {body}");
}

async fn accepted(s: &Sim, token: &str, query: &Value) -> Value {
    let r = s.query(token, query).await;
    assert_eq!(r.status(), 200, "query {query}");
    r.json().await.unwrap()
}

fn with(mut query: Value, pointer: &str, value: Value) -> Value {
    *query.pointer_mut(pointer).unwrap() = value;
    query
}

#[tokio::test]
async fn timestamps_must_be_rfc3339_utc_with_z_and_up_to_nine_fractional_digits() {
    let s = start(small(50)).await;
    let token = s.token().await;
    for bad in [
        "2023-10-01T00:00:00+00:00",
        "2023-10-01T02:00:00+02:00",
        "2023-10-01T00:00:00",
        "2023-10-01 00:00:00Z",
        "2023-10-01T00:00:00.1234567890Z",
        "2023-10-01",
        "not a time",
    ] {
        let q = with(day_query(10), "/time_interval/start", json!(bad));
        refused(&s, &token, &q, "time_interval.start").await;
        let q = with(
            day_query(10),
            "/time_interval/end",
            json!(bad.replace("2023-10-01", "2023-10-02")),
        );
        refused(&s, &token, &q, "time_interval.end").await;
    }
    for field in ["start", "end"] {
        let q = with(
            day_query(10),
            &format!("/time_interval/{field}"),
            json!(1696118400),
        );
        refused(&s, &token, &q, &format!("time_interval.{field}")).await;
        let mut q = day_query(10);
        q["time_interval"].as_object_mut().unwrap().remove(field);
        refused(&s, &token, &q, &format!("time_interval.{field}")).await;
    }
    let mut q = day_query(10);
    q.as_object_mut().unwrap().remove("time_interval");
    refused(&s, &token, &q, "time_interval").await;
    // Fractional seconds are optional, up to nine digits.
    for good in [
        "2023-10-01T00:00:00Z",
        "2023-10-01T00:00:00.5Z",
        "2023-10-01T00:00:00.123456789Z",
    ] {
        let q = with(day_query(10), "/time_interval/start", json!(good));
        accepted(&s, &token, &q).await;
    }
}

#[tokio::test]
async fn start_must_be_before_end_and_the_span_at_most_31_days() {
    let s = start(small(50)).await;
    let token = s.token().await;
    let q = with(
        day_query(10),
        "/time_interval/end",
        json!("2023-10-01T00:00:00.000Z"),
    );
    refused(&s, &token, &q, "time_interval.end").await;
    let q = with(
        day_query(10),
        "/time_interval/end",
        json!("2023-09-30T00:00:00Z"),
    );
    refused(&s, &token, &q, "time_interval.end").await;
    let q = with(
        day_query(10),
        "/time_interval/end",
        json!("2023-11-01T00:00:00Z"),
    );
    accepted(&s, &token, &q).await; // exactly 31 days
    let q = with(
        day_query(10),
        "/time_interval/end",
        json!("2023-11-01T00:00:00.001Z"),
    );
    refused(&s, &token, &q, "time_interval").await;
}

#[tokio::test]
async fn the_interval_covers_start_inclusive_to_end_exclusive() {
    let s = start(small(300)).await;
    let token = s.token().await;
    let data = s.sim.dataset();
    let (a, b) = (&data.violations[100], &data.violations[200]);
    let q = json!({
        "time_interval": {"start": a.detected_at, "end": b.detected_at},
        "size": 1000,
    });
    let page = accepted(&s, &token, &q).await;
    let ids: Vec<&str> = page["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = data
        .violations
        .iter()
        .filter(|v| v.detected_at >= a.detected_at && v.detected_at < b.detected_at)
        .map(|v| v.id.as_str())
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(ids.first(), Some(&a.id.as_str()));
    assert!(!ids.contains(&b.id.as_str()));
}

#[tokio::test]
async fn filters_may_be_empty_absent_or_null_and_each_list_absent_or_null() {
    let s = start(small(50)).await;
    let token = s.token().await;
    let everything = accepted(&s, &token, &day_query(1000)).await;
    assert_eq!(everything["violations"].as_array().unwrap().len(), 50);
    let mut absent = day_query(1000);
    absent.as_object_mut().unwrap().remove("filters");
    let null = with(day_query(1000), "/filters", Value::Null);
    let lists_null = with(
        day_query(1000),
        "/filters",
        json!({"severity": null, "policy_ids": null, "agent_ids": null}),
    );
    let mut cursor_absent = day_query(1000);
    cursor_absent.as_object_mut().unwrap().remove("cursor");
    for q in [absent, null, lists_null, cursor_absent] {
        assert_eq!(accepted(&s, &token, &q).await, everything, "{q}");
    }
}

#[tokio::test]
async fn empty_lists_are_refused() {
    let s = start(small(10)).await;
    let token = s.token().await;
    for list in ["severity", "policy_ids", "agent_ids"] {
        let q = with(day_query(10), "/filters", json!({ list: [] }));
        refused(&s, &token, &q, &format!("filters.{list}")).await;
    }
}

#[tokio::test]
async fn severity_values_are_low_medium_high_critical() {
    let s = start(small(400)).await;
    let token = s.token().await;
    for bad in [
        json!(["SEVERE"]),
        json!(["high"]),
        json!(["HIGH", "URGENT"]),
        json!([3]),
        json!("HIGH"),
    ] {
        let q = with(day_query(10), "/filters", json!({ "severity": bad }));
        refused(&s, &token, &q, "filters.severity").await;
    }
    for severity in ["LOW", "MEDIUM", "HIGH", "CRITICAL"] {
        let q = with(
            day_query(1000),
            "/filters",
            json!({ "severity": [severity] }),
        );
        let page = accepted(&s, &token, &q).await;
        let served = page["violations"].as_array().unwrap();
        assert!(!served.is_empty(), "{severity}");
        assert!(served.iter().all(|v| v["severity"] == severity));
        let expected = s
            .sim
            .dataset()
            .violations
            .iter()
            .filter(|v| v.severity.as_str() == severity)
            .count();
        assert_eq!(served.len(), expected);
    }
}

#[tokio::test]
async fn policy_and_agent_ids_are_canonical_uuids_at_most_100_each() {
    let s = start(small(300)).await;
    let token = s.token().await;
    let data = s.sim.dataset();
    for (list, key, known) in [
        ("policy_ids", "policyId", data.policies[0]),
        ("agent_ids", "agentId", data.agents[0]),
    ] {
        let field = format!("filters.{list}");
        for bad in [
            "3f1f0e2a6c1b4a579d7e2b1a4c9e8f10",
            "{3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10}",
            "urn:uuid:3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10",
            "3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f1g",
            "",
        ] {
            let q = with(day_query(10), "/filters", json!({ list: [bad] }));
            refused(&s, &token, &q, &field).await;
        }
        let ids = |n: usize| -> Vec<String> {
            (0..n)
                .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
                .collect()
        };
        let q = with(day_query(10), "/filters", json!({ list: ids(101) }));
        refused(&s, &token, &q, &field).await;
        let q = with(day_query(10), "/filters", json!({ list: ids(100) }));
        accepted(&s, &token, &q).await;
        // The filter selects exactly the violations carrying that id, in either case of hex.
        let q = with(
            day_query(1000),
            "/filters",
            json!({ list: [known.to_string().to_uppercase()] }),
        );
        let page = accepted(&s, &token, &q).await;
        let served: Vec<&Value> = page["violations"].as_array().unwrap().iter().collect();
        assert!(!served.is_empty());
        assert!(served.iter().all(|v| v[key] == known.to_string()));
    }
}

#[tokio::test]
async fn filters_combine_and_a_violation_missing_the_field_does_not_match() {
    let s = start(small(500)).await;
    let token = s.token().await;
    let data = s.sim.dataset();
    let q = with(
        day_query(1000),
        "/filters",
        json!({"severity": ["HIGH", "CRITICAL"], "policy_ids": [data.policies[1], data.policies[2]]}),
    );
    let page = accepted(&s, &token, &q).await;
    let expected = data
        .violations
        .iter()
        .filter(|v| matches!(v.severity.as_str(), "HIGH" | "CRITICAL"))
        .filter(|v| v.policy_id == Some(data.policies[1]) || v.policy_id == Some(data.policies[2]))
        .count();
    assert_eq!(page["violations"].as_array().unwrap().len(), expected);
    assert_eq!(page["total"], expected);
}

#[tokio::test]
async fn size_is_an_integer_from_1_to_1000() {
    let s = start(small(10)).await;
    let token = s.token().await;
    for size in [
        json!(0),
        json!(1001),
        json!(-1),
        json!(1.5),
        json!("10"),
        json!(null),
    ] {
        refused(&s, &token, &with(day_query(1), "/size", size), "size").await;
    }
    let mut q = day_query(1);
    q.as_object_mut().unwrap().remove("size");
    refused(&s, &token, &q, "size").await;
    for size in [1, 1000] {
        accepted(&s, &token, &day_query(size)).await;
    }
}

#[tokio::test]
async fn keys_are_exactly_as_shown_so_a_misspelt_key_is_refused_not_ignored() {
    let s = start(small(10)).await;
    let token = s.token().await;
    let mut q = day_query(10);
    q["timeInterval"] = q["time_interval"].take();
    q.as_object_mut().unwrap().remove("time_interval");
    let body = api_error(s.query(&token, &q).await, 400, "bad.request").await;
    let mut named = fields(&body);
    named.sort();
    assert_eq!(named, ["timeInterval", "time_interval"]);
    let q = with(
        day_query(10),
        "/filters",
        json!({"policyIds": ["3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10"]}),
    );
    refused(&s, &token, &q, "filters.policyIds").await;
    let q = with(
        day_query(10),
        "/time_interval",
        json!({"start": "2023-10-01T00:00:00Z", "end": "2023-10-02T00:00:00Z", "zone": "UTC"}),
    );
    refused(&s, &token, &q, "time_interval.zone").await;
}

#[tokio::test]
async fn every_broken_constraint_is_named() {
    let s = start(small(10)).await;
    let token = s.token().await;
    let q = json!({
        "time_interval": {"start": "yesterday", "end": "2023-10-02T00:00:00Z"},
        "filters": {"severity": []},
        "size": 0
    });
    let body = api_error(s.query(&token, &q).await, 400, "bad.request").await;
    let mut named = fields(&body);
    named.sort();
    assert_eq!(named, ["filters.severity", "size", "time_interval.start"]);
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_refused() {
    let s = start(small(10)).await;
    let token = s.token().await;
    for body in ["", "{", "[]", "null", "\"query\""] {
        let r = s.query_raw(&token, body).await;
        let refusal = api_error(r, 400, "bad.request").await;
        assert_eq!(fields(&refusal), ["body"], "{body:?}");
    }
}

#[tokio::test]
async fn a_cursor_is_null_or_absent_first_then_exactly_the_previous_next_page_cursor() {
    let s = start(small(30)).await;
    let token = s.token().await;
    let first = accepted(&s, &token, &day_query(10)).await;
    let cursor = first["nextPageCursor"].as_str().unwrap().to_string();
    let second = accepted(&s, &token, &with(day_query(10), "/cursor", json!(cursor))).await;
    assert_ne!(first["violations"], second["violations"]);
    // A cursor this server never issued.
    for bad in [
        json!("not-a-cursor"),
        json!(""),
        json!(format!("{cursor}x")),
        json!(42),
    ] {
        let r = s
            .query(&token, &with(day_query(10), "/cursor", bad.clone()))
            .await;
        let code = if bad.is_string() {
            "invalid.cursor"
        } else {
            "bad.request"
        };
        let body = api_error(r, 400, code).await;
        assert_eq!(fields(&body), ["cursor"], "{bad}");
    }
}

#[tokio::test]
async fn a_cursor_used_with_another_interval_filters_or_size_is_invalid_cursor() {
    let s = start(small(30)).await;
    let token = s.token().await;
    let base = with(
        day_query(10),
        "/filters",
        json!({"severity": ["LOW", "HIGH", "MEDIUM", "CRITICAL"]}),
    );
    let first = accepted(&s, &token, &base).await;
    let cursor = first["nextPageCursor"].clone();
    assert!(cursor.is_string());
    let next = with(base.clone(), "/cursor", cursor.clone());
    for other in [
        with(next.clone(), "/size", json!(11)),
        with(
            next.clone(),
            "/time_interval/end",
            json!("2023-10-01T23:00:00Z"),
        ),
        with(
            next.clone(),
            "/time_interval/start",
            json!("2023-10-01T00:00:00.001Z"),
        ),
        with(next.clone(), "/filters", json!({"severity": ["LOW"]})),
        with(next.clone(), "/filters", json!({})),
    ] {
        let body = api_error(s.query(&token, &other).await, 400, "invalid.cursor").await;
        assert_eq!(fields(&body), ["cursor"]);
    }
    // The same query written differently is the same query.
    let same = with(
        next.clone(),
        "/filters",
        json!({"severity": ["CRITICAL", "HIGH", "MEDIUM", "LOW"], "agent_ids": null}),
    );
    let same = with(same, "/time_interval/start", json!("2023-10-01T00:00:00Z"));
    accepted(&s, &token, &same).await;
}

#[tokio::test]
async fn a_refused_request_changes_nothing() {
    let s = start(small(30)).await;
    let token = s.token().await;
    let first = accepted(&s, &token, &day_query(10)).await;
    let next = with(day_query(10), "/cursor", first["nextPageCursor"].clone());
    refused(&s, &token, &with(next.clone(), "/size", json!(0)), "size").await;
    // The cursor still leads to the same second page.
    let a = accepted(&s, &token, &next).await;
    let b = accepted(&s, &token, &next).await;
    assert_eq!(a, b);
    assert_eq!(a["violations"][0], s.sim.dataset().violations[10].json());
}

#[tokio::test]
async fn a_body_over_512000_bytes_gets_413_before_it_is_parsed() {
    let s = start(small(10)).await;
    let token = s.token().await;
    // Not even JSON: the size is checked first.
    let r = s.query_raw(&token, vec![b'x'; 512_001]).await;
    api_error(r, 413, "request.too.large").await;
    // Exactly at the limit it is parsed and served.
    let mut body = serde_json::to_vec(&day_query(1)).unwrap();
    body.resize(512_000, b' ');
    let r = s.query_raw(&token, body).await;
    assert_eq!(r.status(), 200);
}
