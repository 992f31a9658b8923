//! Quality evaluations (spec §3): the search (a date range of at most three
//! months required, criteria ANDed, `values` ORed, `pageSize`/`pageNumber`
//! paging: a page shorter than `pageSize` is the last), one evaluation with
//! its form, and a form. An evaluation is visible from its first submission
//! (days after the call, by the simulator's clock); a rescored one shows its
//! latest answers with `rescore: true` and later `submittedDate`,
//! `changedDate` and `revisionCreatedDate`; a retracted one has status
//! `RETRACTED`.

use super::catalogue::{Form, Question, QuestionKind, FORMS, TOPICS};
use super::org::{Evaluation, Org};
use super::permissions::*;
use super::{paths, uuid_param, Params};
use crate::access::Need;
use crate::respond::{bad_request, json_body, missing, CorrelationId, Refused};
use crate::server::Shared;
use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Months;
use compliance_api::Timestamp;
use serde_json::{json, Value};
use std::sync::Arc;

/// Search results per page when the body does not say, and the most it may
/// ask for (the real cap is not documented; this is the simulator's).
pub const DEFAULT_PAGE_SIZE: u64 = 25;
pub const MAX_PAGE_SIZE: u64 = 100;
const DATE_FIELDS: [&str; 4] = [
    "conversationDate",
    "createdDate",
    "submittedDate",
    "releaseDate",
];
const EXACT_FIELDS: [&str; 9] = [
    "evaluationId",
    "conversationId",
    "formId",
    "contextId",
    "agentId",
    "evaluatorId",
    "queueId",
    "evaluationStatus",
    "failedKillQuestion",
];
const SCORE_FIELDS: [&str; 2] = ["totalScore", "totalCriticalScore"];

/// An evaluation as of one instant: the version in force and its dates.
struct Seen<'a> {
    e: &'a Evaluation,
    org: &'a Org,
    version: usize,
}

impl Seen<'_> {
    fn current(&self) -> &super::org::Version {
        &self.e.versions[self.version]
    }
    /// The last submission (a retraction is not one).
    fn submitted(&self) -> Timestamp {
        self.e.versions[..=self.version]
            .iter()
            .rev()
            .find(|v| !v.retracted)
            .map_or(self.e.versions[0].at, |v| v.at)
    }
    fn status(&self) -> &'static str {
        if self.current().retracted {
            "RETRACTED"
        } else {
            "FINISHED"
        }
    }
    fn rescored(&self) -> bool {
        self.e.versions[1..=self.version]
            .iter()
            .any(|v| !v.retracted)
    }
    fn answers(&self) -> impl Iterator<Item = (&'static Question, bool)> + '_ {
        self.e
            .form()
            .questions()
            .map(|(_, q)| q)
            .zip(self.current().passed.iter().copied())
    }
    /// Percentage of the questions `counted` answered "yes" (100 with none).
    fn score(&self, counted: impl Fn(&Question) -> bool) -> f64 {
        let (mut yes, mut all) = (0.0, 0.0);
        for (_, passed) in self.answers().filter(|(q, _)| counted(q)) {
            all += 1.0;
            yes += f64::from(u8::from(passed));
        }
        if all == 0.0 {
            100.0
        } else {
            (yes / all * 10_000.0).round() / 100.0
        }
    }
    fn field(&self, name: &str) -> Option<String> {
        let c = &self.org.conversations[self.e.conversation];
        Some(match name {
            "evaluationId" => self.e.id.to_string(),
            "conversationId" => c.id.to_string(),
            "formId" => self.e.form().id.to_string(),
            "contextId" => self.e.form().context_id.to_string(),
            "agentId" => c.agent_id.to_string(),
            "evaluatorId" => self.e.evaluator_id.to_string(),
            "queueId" => c.queue_id.to_string(),
            "evaluationStatus" => self.status().to_string(),
            "failedKillQuestion" => self
                .answers()
                .any(|(q, p)| q.kind == QuestionKind::Kill && !p)
                .to_string(),
            "conversationDate" => c.start.to_string(),
            "createdDate" => self.e.created.to_string(),
            "submittedDate" | "releaseDate" => self.submitted().to_string(),
            "totalScore" => self.score(|_| true).to_string(),
            "totalCriticalScore" => self.score(|q| q.kind == QuestionKind::Critical).to_string(),
            _ => return None,
        })
    }
}

/// One criterion of the search body, parsed.
enum Criterion {
    Dates {
        field: String,
        start: Timestamp,
        end: Timestamp,
    },
    Exact {
        field: String,
        values: Vec<String>,
    },
    Compare {
        field: String,
        op: String,
        bound: f64,
    },
}

struct Search {
    criteria: Vec<(Criterion, bool)>,
    page_size: u64,
    page_number: u64,
    sort_by: String,
    descending: bool,
}

type Refusal = (String, String);

fn parse_search(body: &[u8]) -> Result<Search, Refusal> {
    let r = |f: &str, m: String| (f.to_string(), m);
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| r("body", format!("The body is not JSON: {e}.")))?;
    let query = v.get("query").and_then(Value::as_array).ok_or_else(|| {
        r(
            "query",
            "query is required: a list of criteria with a DATE_RANGE.".into(),
        )
    })?;
    let mut criteria = Vec::new();
    for (i, c) in query.iter().enumerate() {
        let at = format!("query[{i}]");
        let kind = c.get("type").and_then(Value::as_str).unwrap_or_default();
        let field = c
            .get("field")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let negated = match c.get("operator").and_then(Value::as_str) {
            None | Some("AND") => false,
            Some("NOT") => true,
            Some(op) => {
                return Err(r(
                    &format!("{at}.operator"),
                    format!("{at}.operator is `{op}`; allowed: AND, NOT."),
                ))
            }
        };
        let criterion = match kind {
            "DATE_RANGE" if DATE_FIELDS.contains(&field.as_str()) => {
                let date = |k: &str| c.get(k).and_then(Value::as_str).and_then(|s| s.parse::<Timestamp>().ok());
                let (Some(start), Some(end)) = (date("startValue"), date("endValue")) else {
                    return Err(r(&format!("{at}.startValue"), format!("{at} needs startValue and endValue as yyyy-MM-ddTHH:mm:ss.SSSZ.")));
                };
                let limit = start.as_datetime().checked_add_months(Months::new(3));
                if end <= start || limit.is_none_or(|l| end.as_datetime() > l) {
                    return Err(r(&format!("{at}.endValue"), format!("{at} spans {start} to {end}; the time range must be forward and at most 3 months.")));
                }
                Criterion::Dates { field, start, end }
            }
            "EXACT" if EXACT_FIELDS.contains(&field.as_str()) => {
                let mut values: Vec<String> = c.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect();
                values.extend(c.get("value").and_then(Value::as_str).map(str::to_string));
                if values.is_empty() {
                    return Err(r(&format!("{at}.value"), format!("{at} needs value or values.")));
                }
                Criterion::Exact { field, values }
            }
            "GREATER_THAN" | "GREATER_THAN_EQUAL_TO" | "LESS_THAN" | "LESS_THAN_EQUAL_TO" if SCORE_FIELDS.contains(&field.as_str()) => {
                let bound = c.get("value").and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok())).ok_or_else(|| r(&format!("{at}.value"), format!("{at}.value must be a number.")))?;
                Criterion::Compare { field, op: kind.to_string(), bound }
            }
            _ => return Err(r(&format!("{at}.field"), format!("{at} is {kind} on `{field}`; the simulator serves DATE_RANGE on {}, EXACT on {}, and comparisons on {}.", DATE_FIELDS.join("/"), EXACT_FIELDS.join("/"), SCORE_FIELDS.join("/")))),
        };
        criteria.push((criterion, negated));
    }
    if !criteria
        .iter()
        .any(|(c, negated)| matches!(c, Criterion::Dates { .. }) && !negated)
    {
        return Err(r(
            "query",
            format!(
                "A time range is required: a DATE_RANGE criterion on one of {} (at most 3 months).",
                DATE_FIELDS.join(", ")
            ),
        ));
    }
    let number = |k: &str, default: u64, max: u64| match v.get(k) {
        None => Ok(default),
        Some(n) => n.as_u64().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
            r(
                k,
                format!("{k} is {n}; allowed: an integer from 1 to {max}."),
            )
        }),
    };
    let sort_by = v
        .get("sortBy")
        .and_then(Value::as_str)
        .unwrap_or("conversationDate")
        .to_string();
    if !DATE_FIELDS.contains(&sort_by.as_str()) {
        return Err(r(
            "sortBy",
            format!(
                "sortBy is `{sort_by}`; allowed: {}.",
                DATE_FIELDS.join(", ")
            ),
        ));
    }
    let descending = match v.get("sortOrder").and_then(Value::as_str) {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(o) => {
            return Err(r(
                "sortOrder",
                format!("sortOrder is `{o}`; allowed: ASC, DESC."),
            ))
        }
    };
    Ok(Search {
        criteria,
        page_size: number("pageSize", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?,
        page_number: number("pageNumber", 1, u64::MAX)?,
        sort_by,
        descending,
    })
}

fn matches(seen: &Seen, c: &Criterion) -> bool {
    match c {
        Criterion::Dates { field, start, end } => seen
            .field(field)
            .and_then(|v| v.parse::<Timestamp>().ok())
            .is_some_and(|t| *start <= t && t < *end),
        Criterion::Exact { field, values } => seen
            .field(field)
            .is_some_and(|v| values.iter().any(|x| x.eq_ignore_ascii_case(&v))),
        Criterion::Compare { field, op, bound } => {
            let Some(v) = seen.field(field).and_then(|v| v.parse::<f64>().ok()) else {
                return false;
            };
            match op.as_str() {
                "GREATER_THAN" => v > *bound,
                "GREATER_THAN_EQUAL_TO" => v >= *bound,
                "LESS_THAN" => v < *bound,
                _ => v <= *bound,
            }
        }
    }
}

fn user(id: uuid::Uuid) -> Value {
    json!({"id": id, "selfUri": format!("/api/v2/users/{id}")})
}

/// `EvaluationScoringSet` of the version in force.
fn answers_json(seen: &Seen) -> Value {
    let c = &seen.org.conversations[seen.e.conversation];
    let phrases = c.phrases();
    let quote = |topic: usize| {
        c.detections
            .iter()
            .find(|(t, _)| *t == topic)
            .map(|&(_, i)| &phrases[i as usize])
    };
    let groups: Vec<Value> = seen.e.form().groups.iter().map(|g| {
        let scores: Vec<Value> = g.questions.iter().map(|q| {
            let passed = seen.answers().find(|(a, _)| a.id == q.id).is_some_and(|(_, p)| p);
            let mut s = json!({"questionId": q.id, "answerId": if passed { q.yes } else { q.no }, "score": u8::from(passed), "markedNA": false, "systemMarkedNA": false});
            if q.kind == QuestionKind::Kill {
                s["failedKillQuestion"] = (!passed).into();
            }
            if !passed {
                s["comments"] = format!("Answered no: {}", q.text).into();
            }
            // The AI scorer explains fatal questions, quoting the transcript when a topic was spotted.
            if q.kind == QuestionKind::Kill {
                let topic = match q.fails_when { super::catalogue::FailsWhen::Missing(t) => Some(t), super::catalogue::FailsWhen::Said(ts) => ts.first().copied(), super::catalogue::FailsWhen::Chance => None };
                let explanation = match topic.and_then(quote) {
                    Some(p) => format!("The agent said: \"{}\"", p.text),
                    None => "No matching phrase was found in the transcript.".to_string(),
                };
                s["aiAnswer"] = json!({"answerId": if passed { q.yes } else { q.no }, "explanation": explanation, "markedNotApplicable": false});
            }
            s
        }).collect();
        let yes = scores.iter().filter(|s| s["score"] == 1).count();
        json!({"questionGroupId": g.id, "totalScore": yes, "maxTotalScore": g.questions.len(), "markedNA": false, "questionScores": scores})
    }).collect();
    let topics: Vec<Value> = c.detections.iter().map(|&(t, i)| {
        let p = &phrases[i as usize];
        json!({"id": TOPICS[t].id, "name": TOPICS[t].name, "topicPhrase": TOPICS[t].phrase, "transcriptPhrase": p.text, "confidence": 87,
               "startTimeMilliseconds": p.start_ms, "duration": {"totalMilliseconds": p.duration_ms},
               "offset": {"wordCount": 0, "characterCount": 0}, "recordingLocation": p.start_ms - c.start.unix_millis()})
    }).collect();
    let failed_kill = seen
        .answers()
        .any(|(q, p)| q.kind == QuestionKind::Kill && !p);
    json!({
        "totalScore": seen.score(|_| true),
        "totalCriticalScore": seen.score(|q| q.kind == QuestionKind::Critical),
        "totalNonCriticalScore": seen.score(|q| q.kind != QuestionKind::Critical),
        "anyFailedKillQuestions": failed_kill,
        "comments": if failed_kill { "Fatal question failed." } else { "" },
        "questionGroupScores": groups,
        "transcriptTopics": topics,
    })
}

fn form_json(f: &Form) -> Value {
    let groups: Vec<Value> = f.groups.iter().map(|g| json!({
        "id": g.id, "name": g.name, "type": "questionGroup", "naEnabled": false, "weight": 1.0, "manualWeight": false,
        "questions": g.questions.iter().map(|q| json!({
            "id": q.id, "contextId": q.id, "text": q.text, "type": "multipleChoiceQuestion", "naEnabled": false, "commentsRequired": false,
            "answerOptions": [{"id": q.yes, "text": "Yes", "value": 1}, {"id": q.no, "text": "No", "value": 0}],
            "isKill": q.kind == QuestionKind::Kill, "isCritical": q.kind == QuestionKind::Critical,
        })).collect::<Vec<_>>(),
    })).collect();
    json!({"id": f.id, "name": f.name, "modifiedDate": "2023-09-01T08:00:00.000Z", "published": true, "contextId": f.context_id,
           "questionGroups": groups, "weightMode": "SCORING", "selfUri": paths::FORM.replace("{form_id}", f.id)})
}

/// `Evaluation` fields shared by the search item and the single evaluation.
fn evaluation_json(seen: &Seen, full_form: bool) -> Value {
    let c = &seen.org.conversations[seen.e.conversation];
    let form = seen.e.form();
    let mut v = json!({
        "id": seen.e.id,
        "name": form.name,
        "conversation": {"id": c.id, "selfUri": format!("/api/v2/conversations/{}", c.id)},
        "evaluationForm": if full_form { form_json(form) } else { json!({"id": form.id, "contextId": form.context_id, "published": true, "selfUri": paths::FORM.replace("{form_id}", form.id)}) },
        "evaluator": user(seen.e.evaluator_id),
        "agent": user(c.agent_id),
        "status": seen.status(),
        "answers": answers_json(seen),
        "agentHasRead": false,
        "releaseDate": seen.submitted(),
        "assignedDate": seen.e.created,
        "createdDate": seen.e.created,
        "changedDate": seen.current().at,
        "submittedDate": seen.submitted(),
        "queue": {"id": c.queue_id, "selfUri": format!("/api/v2/routing/queues/{}", c.queue_id)},
        "mediaType": ["CALL"],
        "divisionIds": [seen.org.division_id],
        "rescore": seen.rescored(),
        "conversationDate": c.start,
        "conversationEndDate": c.end,
        "neverRelease": false,
        "evaluationSource": {"type": "User"},
        "selfUri": format!("/api/v2/quality/conversations/{}/evaluations/{}", c.id, seen.e.id),
    });
    if seen.rescored() {
        v["revisionCreatedDate"] = json!(seen.current().at);
    }
    v
}

/// `POST /api/v2/quality/evaluations/search`.
pub(crate) async fn search(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    shared.authorize(&headers, &correlation, Need::All(&[EVALUATION_SEARCH]))?;
    let body = json_body(&headers, body, &correlation).await?;
    let search = parse_search(&body)
        .map_err(|(field, message)| bad_request(&field, &message, &correlation))?;
    shared.api_latency().await;
    let now = shared.now();
    let org = &shared.org;
    let mut found: Vec<Seen> = org
        .evaluations
        .iter()
        .filter_map(|e| e.at(now).map(|(version, _)| Seen { e, org, version }))
        .filter(|s| {
            search
                .criteria
                .iter()
                .all(|(c, negated)| matches(s, c) != *negated)
        })
        .collect();
    found.sort_by_cached_key(|s| (s.field(&search.sort_by), s.e.id));
    if search.descending {
        found.reverse();
    }
    let from = (search.page_number - 1).saturating_mul(search.page_size) as usize;
    let results: Vec<Value> = found
        .iter()
        .skip(from)
        .take(search.page_size as usize)
        .map(|s| evaluation_json(s, false))
        .collect();
    Ok(Json(
        json!({"pageSize": search.page_size, "pageNumber": search.page_number, "results": results}),
    )
    .into_response())
}

/// `GET /api/v2/quality/conversations/{conversationId}/evaluations/{evaluationId}`.
pub(crate) async fn evaluation(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    Path((conversation_id, evaluation_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refused> {
    let need = Need::Any(&[EVALUATION_VIEW, EVALUATION_ASSIGN, EVALUATION_RELEASE]);
    shared.authorize(&headers, &correlation, need)?;
    shared.api_latency().await;
    let (cid, eid) = (
        uuid_param("conversationId", &conversation_id, &correlation)?,
        uuid_param("evaluationId", &evaluation_id, &correlation)?,
    );
    let org = &shared.org;
    let seen = org
        .evaluation(eid)
        .filter(|e| org.conversations[e.conversation].id == cid)
        .and_then(|e| {
            e.at(shared.now())
                .map(|(version, _)| Seen { e, org, version })
        });
    let Some(seen) = seen else {
        return Err(missing(
            &format!("Evaluation {evaluation_id} of conversation {conversation_id}"),
            &correlation,
        ));
    };
    let expand = Params::parse(raw.as_deref());
    let full_form = expand.all("expand").iter().any(|x| x == "evaluationForm");
    Ok(Json(evaluation_json(&seen, full_form)).into_response())
}

/// `GET /api/v2/quality/forms/evaluations/{formId}`.
pub(crate) async fn form(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refused> {
    shared.authorize(&headers, &correlation, Need::All(&[FORM_VIEW]))?;
    shared.api_latency().await;
    uuid_param("formId", &id, &correlation)?;
    let f = FORMS.iter().find(|f| f.id == id);
    let f = f.ok_or_else(|| missing(&format!("Evaluation form {id}"), &correlation))?;
    Ok(Json(form_json(f)).into_response())
}
