//! The real quality endpoints (genesys-real-apis.md §3, §9): the search's
//! required range of at most three months, evaluations that arrive days late,
//! rescored and retracted ones, an evaluation with its form.

use crate::harness::*;
use compliance_api::Timestamp;
use compliance_simulator::catalogue::QuestionKind;
use serde_json::{json, Value};

const SEARCH: &str = "/api/v2/quality/evaluations/search";

fn range(start: &str, end: &str) -> Value {
    json!({"type": "DATE_RANGE", "field": "conversationDate", "startValue": start, "endValue": end})
}

#[tokio::test]
async fn the_search_needs_a_time_range_of_at_most_three_months() {
    let s = start(org(50)).await;
    let token = s.token().await;
    let e = api_error(
        s.post(
            &token,
            SEARCH,
            &json!({"query": [{"type": "EXACT", "field": "failedKillQuestion", "value": "true"}]}),
        )
        .await,
        400,
        "bad.request",
    )
    .await;
    assert_eq!(fields(&e), ["query"]);
    let e = api_error(
        s.post(
            &token,
            SEARCH,
            &json!({"query": [range("2023-10-01T00:00:00.000Z", "2024-01-01T00:00:01.000Z")]}),
        )
        .await,
        400,
        "bad.request",
    )
    .await;
    assert_eq!(fields(&e), ["query[0].endValue"]);
    let ok = s
        .post(
            &token,
            SEARCH,
            &json!({"query": [range("2023-10-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z")]}),
        )
        .await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn evaluations_appear_days_late_then_are_rescored_or_retracted() {
    let s = start(org(600)).await;
    let token = s.token().await;
    let o = s.sim.org();
    let search = |kill: bool| {
        let mut query = vec![range(
            "2023-10-01T00:00:00.000Z",
            "2023-10-03T00:00:00.000Z",
        )];
        if kill {
            query.push(json!({"type": "EXACT", "field": "failedKillQuestion", "value": "true"}));
        }
        json!({"query": query, "pageSize": 100})
    };
    let all_pages = |body: Value| {
        let s = &s;
        let token = &token;
        async move {
            let mut out = Vec::new();
            for n in 1..100 {
                let mut b = body.clone();
                b["pageNumber"] = n.into();
                let v: Value = s.post(token, SEARCH, &b).await.json().await.unwrap();
                let page = v["results"].as_array().unwrap().clone();
                let last = page.len() < 100;
                out.extend(page);
                if last {
                    break;
                }
            }
            out
        }
    };
    // The day of the calls: nothing evaluated yet.
    s.sim
        .set_clock(Some("2023-10-02T00:00:00Z".parse().unwrap()));
    assert!(all_pages(search(false)).await.is_empty());
    // Much later: every evaluation, fatal failures as the ground truth says.
    let later: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
    s.sim.set_clock(Some(later));
    assert_eq!(all_pages(search(false)).await.len(), o.evaluations.len());
    let failed_kill = all_pages(search(true)).await;
    let truth: std::collections::BTreeSet<String> = o
        .failed_questions(later)
        .into_iter()
        .filter(|f| f.2 == QuestionKind::Kill)
        .map(|f| f.0.to_string())
        .chain(
            o.retracted(later)
                .iter()
                .filter(|id| {
                    let e = o.evaluation(**id).unwrap();
                    e.form()
                        .questions()
                        .zip(&e.versions.last().unwrap().passed)
                        .any(|((_, q), p)| q.kind == QuestionKind::Kill && !p)
                })
                .map(|id| id.to_string()),
        )
        .collect();
    let got: std::collections::BTreeSet<String> = failed_kill
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, truth);
    // A rescored one: rescore true, a later submittedDate, and its answers changed.
    let id = o.rescored(later)[0];
    let e = o.evaluation(id).unwrap();
    let cid = o.conversations[e.conversation].id;
    let path =
        format!("/api/v2/quality/conversations/{cid}/evaluations/{id}?expand=evaluationForm");
    s.sim.set_clock(Some(e.versions[0].at));
    let before: Value = s.get(&token, &path).await.json().await.unwrap();
    assert_eq!(before["rescore"], false);
    s.sim.set_clock(Some(e.versions[1].at));
    let after: Value = s.get(&token, &path).await.json().await.unwrap();
    assert_eq!(after["rescore"], true);
    assert!(after["submittedDate"].as_str() > before["submittedDate"].as_str());
    assert_ne!(
        after["answers"]["questionGroupScores"],
        before["answers"]["questionGroupScores"]
    );
    assert!(
        after["evaluationForm"]["questionGroups"][0]["questions"][0]["answerOptions"].is_array()
    );
    // A retracted one says so.
    let id = o.retracted(later)[0];
    let e = o.evaluation(id).unwrap();
    let cid = o.conversations[e.conversation].id;
    s.sim.set_clock(Some(later));
    let v: Value = s
        .get(
            &token,
            &format!("/api/v2/quality/conversations/{cid}/evaluations/{id}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "RETRACTED");
    // The form on its own, with fatal and critical flags.
    let form: Value = s
        .get(
            &token,
            &format!("/api/v2/quality/forms/evaluations/{}", e.form().id),
        )
        .await
        .json()
        .await
        .unwrap();
    let questions: Vec<&Value> = form["questionGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["questions"].as_array().unwrap())
        .collect();
    assert!(
        questions.iter().any(|q| q["isKill"] == true)
            && questions.iter().any(|q| q["isCritical"] == true)
    );
}
