//! Section 3, "200 response": order, page size, cursors, total, repeated and
//! late violations, and the 100,000-result cap.

use crate::harness::*;
use compliance_simulator::{generate, SimConfig};
use serde_json::{json, Value};
use std::time::Duration;

fn ids(pages: &[Value]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p["violations"].as_array().unwrap())
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn cursor_paging_returns_every_violation_exactly_once_in_order() {
    let s = start(small(1_234)).await;
    let token = s.token().await;
    let pages = s.all_pages(&token, day_query(100)).await;
    assert_eq!(pages.len(), 13);
    let served: Vec<&Value> = pages
        .iter()
        .flat_map(|p| p["violations"].as_array().unwrap())
        .collect();
    let expected: Vec<Value> = s
        .sim
        .dataset()
        .violations
        .iter()
        .map(|v| v.json())
        .collect();
    assert_eq!(served.len(), expected.len());
    for (got, want) in served.iter().zip(&expected) {
        assert_eq!(*got, want);
    }
    for page in &pages {
        assert_eq!(page["pageSize"], 100);
        assert_eq!(page["total"], 1_234);
    }
    assert_eq!(
        pages.last().unwrap()["violations"]
            .as_array()
            .unwrap()
            .len(),
        34
    );
}

#[tokio::test]
async fn violations_are_ordered_by_detected_at_then_id() {
    let s = start(small(200)).await;
    // Violations sharing one detectedAt, added out of order: the id breaks the tie.
    let twin = s.sim.dataset().violations[50].clone();
    let mut extra = Vec::new();
    for id in [
        "ffffffff-0000-4000-8000-000000000000",
        "00000000-0000-4000-8000-000000000000",
        "88888888-0000-4000-8000-000000000000",
    ] {
        let mut v = twin.clone();
        v.id = id.to_string();
        extra.push(v);
    }
    s.sim.add_violations(extra);
    let token = s.token().await;
    let pages = s.all_pages(&token, day_query(7)).await;
    let served: Vec<(String, String)> = pages
        .iter()
        .flat_map(|p| p["violations"].as_array().unwrap())
        .map(|v| {
            (
                v["detectedAt"].as_str().unwrap().to_string(),
                v["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(served.len(), 203);
    let mut sorted = served.clone();
    sorted.sort();
    assert_eq!(served, sorted);
    let tied: Vec<&str> = served
        .iter()
        .filter(|(at, _)| *at == twin.detected_at.to_string())
        .map(|(_, id)| id.as_str())
        .collect();
    assert_eq!(tied.len(), 4);
    assert_eq!(tied[0], "00000000-0000-4000-8000-000000000000");
    assert_eq!(tied[3], "ffffffff-0000-4000-8000-000000000000");
}

#[tokio::test]
async fn page_size_echoes_the_size_and_next_page_cursor_is_always_present() {
    let s = start(small(25)).await;
    let token = s.token().await;
    for size in [1u64, 10, 25, 1000] {
        let pages = s.all_pages(&token, day_query(size)).await;
        assert_eq!(pages.len(), 25usize.div_ceil(size as usize));
        for (i, page) in pages.iter().enumerate() {
            assert_eq!(page["pageSize"], size);
            let object = page.as_object().unwrap();
            assert!(
                object.contains_key("nextPageCursor"),
                "key present on every page"
            );
            assert_eq!(object["nextPageCursor"].is_null(), i == pages.len() - 1);
        }
        assert_eq!(ids(&pages).len(), 25);
    }
    // An empty result is one last page.
    let q = json!({"time_interval": {"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"}, "size": 10});
    let page: Value = s.query(&token, &q).await.json().await.unwrap();
    assert_eq!(
        page,
        json!({"violations": [], "pageSize": 10, "nextPageCursor": null, "total": 0})
    );
}

#[tokio::test]
async fn total_is_the_count_when_the_first_page_was_served() {
    let s = start(small(40)).await;
    let token = s.token().await;
    let first: Value = s.query(&token, &day_query(10)).await.json().await.unwrap();
    assert_eq!(first["total"], 40);
    // Data arrives while the query is paged: later pages keep the first count.
    let mut late = s.sim.dataset().violations[39].clone();
    late.id = "ffffffff-ffff-4fff-bfff-ffffffffffff".into();
    s.sim.add_violations([late]);
    let mut q = day_query(10);
    q["cursor"] = first["nextPageCursor"].clone();
    let rest = s.all_pages(&token, q).await;
    assert!(rest.iter().all(|p| p["total"] == 40));
    // Keyset paging still serves the newcomer once, after its place in the order.
    assert_eq!(ids(&rest).len(), 31);
    let fresh: Value = s.query(&token, &day_query(10)).await.json().await.unwrap();
    assert_eq!(fresh["total"], 41);
}

#[tokio::test]
async fn a_late_violation_appears_in_an_extracted_window_after_its_detected_at() {
    let now = chrono::Utc::now();
    let at = |ms: i64| {
        compliance_api::Timestamp::from_datetime(now + chrono::Duration::milliseconds(ms))
    };
    let config = SimConfig {
        violations: 300,
        start: at(-500),
        end: at(0),
        faults: compliance_simulator::Faults {
            late_arrivals: 0.5,
            late_max: Duration::from_secs(2),
            ..Default::default()
        },
        ..SimConfig::default()
    };
    let s = start(config).await;
    let data = s.sim.dataset();
    let late = data
        .violations
        .iter()
        .filter(|v| v.visible_at > v.detected_at)
        .count();
    assert!(late > 100, "about half arrive late: {late}");
    let token = s.token().await;
    let q = json!({"time_interval": {"start": at(-60_000), "end": at(60_000)}, "size": 1000});
    let before = ids(&s.all_pages(&token, q.clone()).await);
    let visible_then = compliance_api::Timestamp::now();
    assert!(before.len() < 300);
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    let after = ids(&s.all_pages(&token, q).await);
    assert_eq!(after.len(), 300);
    // Everything served before is still there; the newcomers are the late ones.
    assert!(before.iter().all(|id| after.contains(id)));
    for v in &data.violations {
        if !before.contains(&v.id) {
            assert!(v.visible_at > v.detected_at);
            assert!(
                v.visible_at.as_datetime()
                    >= visible_then.as_datetime() - chrono::Duration::seconds(1)
            );
        }
    }
}

#[tokio::test]
async fn one_query_pages_through_at_most_100000_violations() {
    let s = start(small(100_400)).await;
    let token = s.token().await;
    let mut q = day_query(999);
    let mut served = 0u64;
    let refusal = loop {
        let r = s.query(&token, &q).await;
        if r.status() != 200 {
            break r;
        }
        let page: Value = r.json().await.unwrap();
        assert_eq!(page["total"], 100_400);
        let n = page["violations"].as_array().unwrap().len() as u64;
        served += n;
        // The page that would cross the cap is cut short at it.
        assert!(
            n == 999 || (served == 100_000 && n == 100),
            "{n} after {served}"
        );
        q["cursor"] = page["nextPageCursor"].clone();
        assert!(q["cursor"].is_string());
    };
    assert_eq!(served, 100_000);
    let body = api_error(refusal, 400, "pagination.limit.exceeded").await;
    assert!(body["message"].as_str().unwrap().contains("split"));
    // A narrower interval of the same data pages through to the end.
    let data = s.sim.dataset();
    let mid = data.violations[50_000].detected_at;
    let half =
        json!({"time_interval": {"start": mid, "end": "2023-10-02T00:00:00Z"}, "size": 1000});
    let expected = data
        .violations
        .iter()
        .filter(|v| v.detected_at >= mid)
        .count();
    assert_eq!(ids(&s.all_pages(&token, half).await).len(), expected);
}

#[test]
fn the_same_seed_gives_the_same_data() {
    let start = "2023-10-01T00:00:00Z".parse().unwrap();
    let end = "2023-10-02T00:00:00Z".parse().unwrap();
    let a = generate(7, 500, start, end, (0.1, Duration::from_secs(900)));
    let b = generate(7, 500, start, end, (0.1, Duration::from_secs(900)));
    let c = generate(8, 500, start, end, (0.1, Duration::from_secs(900)));
    assert_eq!(a, b);
    assert_ne!(a.violations[0].id, c.violations[0].id);
}

#[tokio::test]
async fn the_contract_example_query_is_served() {
    let s = start(small(300)).await;
    let token = s.token().await;
    let literal = r#"{
      "time_interval": {"start": "2023-10-01T00:00:00.000Z", "end": "2023-10-02T00:00:00.000Z"},
      "filters": {
        "severity": ["HIGH", "CRITICAL"],
        "policy_ids": ["3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10"],
        "agent_ids": null
      },
      "size": 500,
      "cursor": null
    }"#;
    let r = s.query_raw(&token, literal).await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    // No violation of the simulated organisation has that policy.
    assert_eq!(
        page,
        json!({"violations": [], "pageSize": 500, "nextPageCursor": null, "total": 0})
    );
}

/// Section 3, "The Violation object", as served over HTTP.
#[tokio::test]
async fn served_violations_keep_the_violation_object_contract() {
    let s = start(small(3_000)).await;
    let token = s.token().await;
    let pages = s.all_pages(&token, day_query(1000)).await;
    let served: Vec<&Value> = pages
        .iter()
        .flat_map(|p| p["violations"].as_array().unwrap())
        .collect();
    assert_eq!(served.len(), 3_000);
    let count = |f: &dyn Fn(&Value) -> bool| served.iter().filter(|v| f(v)).count();
    // Always present.
    for v in &served {
        assert!(compliance_api::CanonicalUuid::is_canonical(
            v["id"].as_str().unwrap()
        ));
        assert!(!v["ruleId"].as_str().unwrap().is_empty());
        assert!(["LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&v["severity"].as_str().unwrap()));
        v["detectedAt"]
            .as_str()
            .unwrap()
            .parse::<compliance_api::Timestamp>()
            .unwrap();
        serde_json::from_value::<compliance_api::Violation>((*v).clone()).unwrap();
    }
    // ruleId is not always a UUID.
    assert!(count(&|v| v["ruleId"] == "rule-uuid-001") > 0);
    assert!(
        count(&|v| compliance_api::CanonicalUuid::is_canonical(v["ruleId"].as_str().unwrap())) > 0
    );
    // Usually present, sometimes missing, sometimes null.
    for key in [
        "conversationId",
        "agentId",
        "policyId",
        "segmentReference",
        "evidence",
    ] {
        assert!(count(&|v| v[key].is_null()) > 0, "{key} missing or null");
        assert!(
            count(&|v| v.get(key) == Some(&Value::Null)) > 0,
            "{key} null"
        );
        assert!(count(&|v| v.get(key).is_none()) > 0, "{key} absent");
        assert!(
            count(&|v| !v[key].is_null()) > served.len() / 2,
            "{key} usually present"
        );
    }
    let items: Vec<&Value> = served
        .iter()
        .flat_map(|v| v["evidence"].as_array().into_iter().flatten())
        .collect();
    for kind in ["TRANSCRIPT", "SCREEN", "METADATA"] {
        assert!(items.iter().any(|e| e["type"] == kind), "{kind}");
    }
    assert!(items.iter().any(|e| e["value"] == ""), "possibly empty");
    assert!(
        items
            .iter()
            .any(|e| !e["value"].as_str().unwrap().is_ascii()),
        "any language"
    );
    // Fields the contract does not know.
    let known = [
        "id",
        "conversationId",
        "communicationId",
        "agentId",
        "queueId",
        "policyId",
        "ruleId",
        "ruleName",
        "severity",
        "detectedAt",
        "segmentReference",
        "confidence",
        "evidence",
    ];
    assert!(
        count(&|v| v
            .as_object()
            .unwrap()
            .keys()
            .any(|k| !known.contains(&k.as_str())))
            > 0
    );
}

/// "Clients written against older servers treat an absent one as null" and
/// "`total` may be absent": a legacy mode lets clients test both.
#[tokio::test]
async fn legacy_pages_leave_out_total_and_the_last_cursor() {
    let s = start(SimConfig {
        legacy_pages: true,
        ..small(25)
    })
    .await;
    let token = s.token().await;
    let mut q = day_query(10);
    let mut served = 0;
    for page_no in 0..3 {
        let page: Value = s.query(&token, &q).await.json().await.unwrap();
        let page = page.as_object().unwrap().clone();
        assert!(!page.contains_key("total"));
        served += page["violations"].as_array().unwrap().len();
        match page.get("nextPageCursor") {
            Some(cursor) => {
                assert!(cursor.is_string() && page_no < 2);
                q["cursor"] = cursor.clone();
            }
            None => assert_eq!(page_no, 2),
        }
    }
    assert_eq!(served, 25);
}

/// Many queries with random intervals, filters and sizes: each, paged to the
/// end, returns exactly the matching violations, in order, once each.
#[tokio::test]
async fn random_queries_page_to_exactly_the_matching_violations() {
    use rand::{Rng, SeedableRng};
    let s = start(SimConfig {
        rate_limit_per_minute: 0,
        ..small(400)
    })
    .await;
    let token = s.token().await;
    let data = s.sim.dataset();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut checked = 0;
    for _ in 0..25 {
        let (mut a, mut b) = (rng.gen_range(0..400), rng.gen_range(0..400));
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        let (start, end) = (
            data.violations[a].detected_at,
            data.violations[b].detected_at,
        );
        if start == end {
            continue;
        }
        let severities: Vec<&str> = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
            .into_iter()
            .filter(|_| rng.gen_bool(0.6))
            .collect();
        let agents: Vec<String> = data
            .agents
            .iter()
            .filter(|_| rng.gen_bool(0.3))
            .map(|u| u.to_string())
            .collect();
        let mut filters = serde_json::Map::new();
        if !severities.is_empty() {
            filters.insert("severity".into(), json!(severities));
        }
        if !agents.is_empty() && rng.gen_bool(0.5) {
            filters.insert("agent_ids".into(), json!(agents));
        }
        let size = rng.gen_range(1..60);
        let q = json!({"time_interval": {"start": start, "end": end}, "filters": filters, "size": size});
        let expected: Vec<&str> = data
            .violations
            .iter()
            .filter(|v| v.detected_at >= start && v.detected_at < end)
            .filter(|v| severities.is_empty() || severities.contains(&v.severity.as_str()))
            .filter(|v| {
                !filters.contains_key("agent_ids")
                    || v.agent_id
                        .is_some_and(|id| agents.contains(&id.to_string()))
            })
            .map(|v| v.id.as_str())
            .collect();
        let pages = s.all_pages(&token, q.clone()).await;
        assert_eq!(ids(&pages), expected, "{q}");
        assert!(pages.iter().all(|p| p["total"] == expected.len()));
        assert_eq!(pages.len(), expected.len().div_ceil(size).max(1), "{q}");
        checked += expected.len();
    }
    assert!(checked > 1_000, "the queries matched something: {checked}");
}

/// Section 3, "The Violation object", key by key on the raw JSON served over
/// HTTP: a misspelt or undocumented key fails, every contract key appears
/// (the usually-present ones in most records), with the contract's JSON types.
#[tokio::test]
async fn served_violation_keys_are_the_contract_keys_or_documented_extras() {
    use compliance_simulator::{EXTRA_EVIDENCE_FIELDS, EXTRA_VIOLATION_FIELDS};
    use std::collections::HashMap;
    const ALWAYS: [&str; 4] = ["id", "ruleId", "severity", "detectedAt"];
    const OTHERS: [&str; 9] = [
        "conversationId",
        "communicationId",
        "agentId",
        "queueId",
        "policyId",
        "ruleName",
        "segmentReference",
        "confidence",
        "evidence",
    ];
    const UUIDS: [&str; 6] = [
        "id",
        "conversationId",
        "communicationId",
        "agentId",
        "queueId",
        "policyId",
    ];
    const EVIDENCE: [&str; 5] = ["type", "participant", "value", "startMs", "endMs"];

    let s = start(small(3_000)).await;
    let token = s.token().await;
    let pages = s.all_pages(&token, day_query(1000)).await;
    let served: Vec<&serde_json::Map<String, Value>> = pages
        .iter()
        .flat_map(|p| p["violations"].as_array().unwrap())
        .map(|v| v.as_object().expect("a violation is a JSON object"))
        .collect();
    assert_eq!(served.len(), 3_000);

    // Non-null occurrences of each key, violations and evidence items apart.
    let mut present: HashMap<&str, usize> = HashMap::new();
    let mut items = 0;
    for v in &served {
        for (key, value) in v.iter() {
            let key = key.as_str();
            let known = ALWAYS.contains(&key)
                || OTHERS.contains(&key)
                || EXTRA_VIOLATION_FIELDS.contains(&key);
            assert!(known, "undocumented violation key {key:?} in {v:?}");
            if value.is_null() {
                assert!(!ALWAYS.contains(&key), "{key} is always present: {v:?}");
                continue;
            }
            *present.entry(key).or_default() += 1;
            match key {
                k if UUIDS.contains(&k) => assert!(
                    value
                        .as_str()
                        .is_some_and(compliance_api::CanonicalUuid::is_canonical),
                    "{k} is a UUID string: {value}"
                ),
                "ruleId" | "ruleName" | "severity" | "detectedAt" | "segmentReference" => {
                    assert!(value.is_string(), "{key} is a string: {value}")
                }
                "confidence" => assert!(
                    value.as_f64().is_some_and(|c| (0.0..=1.0).contains(&c)),
                    "confidence is a number from 0 to 1: {value}"
                ),
                "evidence" => {
                    for item in value.as_array().expect("evidence is an array") {
                        items += 1;
                        let item = item.as_object().expect("an evidence item is an object");
                        for (k, field) in item.iter() {
                            let k = k.as_str();
                            let known = EVIDENCE.contains(&k) || EXTRA_EVIDENCE_FIELDS.contains(&k);
                            assert!(known, "undocumented evidence key {k:?} in {item:?}");
                            *present.entry(k).or_default() += 1;
                            match k {
                                "type" | "participant" | "value" => {
                                    assert!(field.is_string(), "{k} is a string: {field}")
                                }
                                "startMs" | "endMs" => {
                                    assert!(field.is_i64(), "{k} is an integer: {field}")
                                }
                                _ => {}
                            }
                        }
                        for k in ["type", "value"] {
                            assert!(item.contains_key(k), "{k} in every item: {item:?}");
                        }
                        assert_eq!(item.contains_key("startMs"), item.contains_key("endMs"));
                        if let (Some(a), Some(b)) = (item.get("startMs"), item.get("endMs")) {
                            assert!(a.as_i64() <= b.as_i64(), "{item:?}");
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let n = served.len();
    for key in ALWAYS {
        assert_eq!(present.get(key), Some(&n), "{key} in every violation");
    }
    for key in OTHERS {
        let k = present.get(key).copied().unwrap_or(0);
        assert!(k * 10 > n * 8, "{key} in most violations: {k} of {n}");
    }
    for key in EVIDENCE {
        let k = present.get(key).copied().unwrap_or(0);
        assert!(
            k * 2 > items,
            "{key} in most evidence items: {k} of {items}"
        );
    }
    // The documented extras are really served (the lists are not stale).
    for key in EXTRA_VIOLATION_FIELDS.iter().chain(&EXTRA_EVIDENCE_FIELDS) {
        assert!(present.get(key).is_some_and(|&k| k > 0), "{key} served");
    }
}

/// "A page may hold fewer violations than the size even when more pages
/// follow": with the short-pages fault, pages are short (some empty) in the
/// middle of a query, and paging to the end still gives each violation once.
#[tokio::test]
async fn short_pages_hold_fewer_than_the_size_while_more_pages_follow() {
    let s = start(SimConfig {
        rate_limit_per_minute: 0,
        faults: compliance_simulator::Faults {
            short_pages: 0.5,
            ..Default::default()
        },
        ..small(500)
    })
    .await;
    let token = s.token().await;
    let pages = s.all_pages(&token, day_query(10)).await;
    let (last, middle) = pages.split_last().unwrap();
    assert!(last["nextPageCursor"].is_null());
    let short = middle
        .iter()
        .filter(|p| p["violations"].as_array().unwrap().len() < 10)
        .count();
    let empty = middle
        .iter()
        .filter(|p| p["violations"].as_array().unwrap().is_empty())
        .count();
    assert!(short > 10 && empty > 0, "{short} short, {empty} empty");
    assert!(pages
        .iter()
        .all(|p| p["pageSize"] == 10 && p["total"] == 500));
    let expected: Vec<String> = s
        .sim
        .dataset()
        .violations
        .iter()
        .map(|v| v.id.clone())
        .collect();
    assert_eq!(ids(&pages), expected);
    assert_eq!(s.sim.stats().faults.short_pages as usize, short);
}

/// The 100,000 cap is a setting only so that tests can reach it quickly.
#[tokio::test]
async fn a_lowered_cap_refuses_paging_past_it() {
    let s = start(SimConfig {
        max_results_per_query: 250,
        ..small(400)
    })
    .await;
    let token = s.token().await;
    let mut q = day_query(100);
    let mut served = Vec::new();
    let refusal = loop {
        let r = s.query(&token, &q).await;
        if r.status() != 200 {
            break r;
        }
        let page: Value = r.json().await.unwrap();
        served.push(page["violations"].as_array().unwrap().len());
        q["cursor"] = page["nextPageCursor"].clone();
    };
    assert_eq!(served, [100, 100, 50]);
    let body = api_error(refusal, 400, "pagination.limit.exceeded").await;
    assert!(body["message"].as_str().unwrap().contains("250"), "{body}");
}
