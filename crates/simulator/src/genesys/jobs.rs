//! Transcript aggregates (spec §2.3): `POST …/aggregates/query` answers at
//! once; `POST …/aggregates/jobs` answers 202 `{jobId}`, and the job goes
//! QUEUED → PENDING → FULFILLED (or FAILED, or EXPIRED, or CANCELLED by
//! `DELETE`) as it is polled; its results page by an opaque `cursor`, absent
//! on the last page, and only while it is FULFILLED (otherwise 400 naming
//! the state).
//!
//! The body is read by hand, naming each field at fault. A conversation is
//! counted only when the interval covers it wholly: one that straddles an
//! edge of the interval is in neither window (as the real service does).

use super::catalogue::{CATEGORIES, TOPICS};
use super::org::{Conversation, Org};
use super::permissions::STA_AGGREGATES;
use super::Params;
use crate::access::Need;
use crate::respond::{bad_request, json_body, missing, CorrelationId, Refused};
use crate::server::Shared;
use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use compliance_api::Timestamp;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

/// Jobs kept; the oldest are forgotten first (404 afterwards).
const JOBS_KEPT: usize = 1_000;
/// Result rows per page of a job when neither the body nor the request says
/// (the real default and cap are UNCONFIRMED; these are the simulator's).
pub const DEFAULT_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 1_000;
/// How long a job's results are kept after it completes (`expirationDate`).
const RETENTION_HOURS: i64 = 24;

const GROUP_BY: [&str; 5] = [
    "conversationId",
    "topicId",
    "userId",
    "queueId",
    "mediaType",
];
const FILTER_DIMENSIONS: [&str; 7] = [
    "conversationId",
    "topicId",
    "categoryId",
    "userId",
    "queueId",
    "mediaType",
    "resultsBy",
];
const METRICS: [&str; 2] = ["nTopicCommunications", "nSpeechTextAnalyzedConversations"];

/// A refusal: the field and the message.
type Refusal = (String, String);

fn refuse(field: &str, message: String) -> Refusal {
    (field.to_string(), message)
}

/// A parsed `TranscriptAggregationQuery` (with `pageSize` when a job).
#[derive(Debug, Clone)]
pub(crate) struct AggregationQuery {
    start: Timestamp,
    end: Timestamp,
    group_by: Vec<String>,
    filter: Option<Filter>,
    metrics: Vec<String>,
    page_size: Option<u32>,
}

#[derive(Debug, Clone)]
struct Filter {
    or: bool,
    predicates: Vec<(String, String)>,
    clauses: Vec<Filter>,
}

fn strings(v: &Value, field: &str, allowed: &[&str]) -> Result<Vec<String>, Refusal> {
    let list = v
        .as_array()
        .ok_or_else(|| refuse(field, format!("{field} must be a list of strings.")))?;
    list.iter()
        .map(|x| match x.as_str() {
            Some(s) if allowed.contains(&s) => Ok(s.to_string()),
            _ => Err(refuse(
                field,
                format!(
                    "{field} holds {x}; the simulator serves: {}.",
                    allowed.join(", ")
                ),
            )),
        })
        .collect()
}

fn parse_filter(v: &Value, field: &str, depth: u8) -> Result<Filter, Refusal> {
    let o = v
        .as_object()
        .ok_or_else(|| refuse(field, format!("{field} must be an object.")))?;
    if let Some(k) = o
        .keys()
        .find(|k| !["type", "predicates", "clauses"].contains(&k.as_str()))
    {
        return Err(refuse(
            &format!("{field}.{k}"),
            format!("{field}.{k} is not a field of a filter; allowed: type, predicates, clauses."),
        ));
    }
    let or = match o.get("type").and_then(Value::as_str) {
        Some("and") => false,
        Some("or") => true,
        _ => {
            return Err(refuse(
                &format!("{field}.type"),
                format!("{field}.type must be \"and\" or \"or\"."),
            ))
        }
    };
    let mut predicates = Vec::new();
    for (i, p) in o
        .get("predicates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{field}.predicates[{i}]");
        let dimension = p
            .get("dimension")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !FILTER_DIMENSIONS.contains(&dimension) {
            return Err(refuse(
                &format!("{at}.dimension"),
                format!(
                    "{at}.dimension is `{dimension}`; the simulator filters on: {}.",
                    FILTER_DIMENSIONS.join(", ")
                ),
            ));
        }
        if let Some(op) = p
            .get("operator")
            .and_then(Value::as_str)
            .filter(|&op| op != "matches")
        {
            return Err(refuse(
                &format!("{at}.operator"),
                format!("{at}.operator is `{op}`; the simulator serves `matches` only."),
            ));
        }
        let value = p.get("value").and_then(Value::as_str).ok_or_else(|| {
            refuse(
                &format!("{at}.value"),
                format!("{at}.value is required (a string)."),
            )
        })?;
        if dimension == "resultsBy" && !["communication", "conversation"].contains(&value) {
            return Err(refuse(
                &format!("{at}.value"),
                format!("{at}.value is `{value}`; resultsBy is communication or conversation."),
            ));
        }
        if dimension.ends_with("Id") && !compliance_api::CanonicalUuid::is_canonical(value) {
            return Err(refuse(
                &format!("{at}.value"),
                format!("{at}.value `{value}` is not a UUID ({dimension})."),
            ));
        }
        predicates.push((dimension.to_string(), value.to_string()));
    }
    let mut clauses = Vec::new();
    for (i, c) in o
        .get("clauses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if depth >= 2 {
            return Err(refuse(
                field,
                format!("{field} nests clauses deeper than two levels."),
            ));
        }
        clauses.push(parse_filter(
            c,
            &format!("{field}.clauses[{i}]"),
            depth + 1,
        )?);
    }
    Ok(Filter {
        or,
        predicates,
        clauses,
    })
}

impl AggregationQuery {
    pub(crate) fn parse(body: &[u8], job: bool) -> Result<AggregationQuery, Refusal> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| refuse("body", format!("The body is not JSON: {e}.")))?;
        let o = v
            .as_object()
            .ok_or_else(|| refuse("body", "The body must be a JSON object.".into()))?;
        let mut known = vec![
            "interval",
            "groupBy",
            "filter",
            "metrics",
            "timeZone",
            "granularity",
            "flattenMultivaluedDimensions",
            "alternateTimeDimension",
        ];
        if job {
            known.push("pageSize");
        }
        if let Some(k) = o.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(refuse(
                k,
                format!(
                    "{k} is not a field of this query; allowed: {}.",
                    known.join(", ")
                ),
            ));
        }
        let interval = o.get("interval").and_then(Value::as_str).ok_or_else(|| refuse("interval", "interval is required: START/END in ISO-8601, such as 2023-10-01T00:00:00.000Z/2023-10-02T00:00:00.000Z.".into()))?;
        let (start, end) = interval
            .split_once('/')
            .and_then(|(a, b)| Some((a.parse::<Timestamp>().ok()?, b.parse::<Timestamp>().ok()?)))
            .filter(|(a, b)| a < b)
            .ok_or_else(|| refuse("interval", format!("interval `{interval}` is not START/END with START before END, both UTC timestamps ending in Z.")))?;
        if let Some(g) = o.get("granularity") {
            return Err(refuse(
                "granularity",
                format!(
                    "granularity {g} is not simulated; leave it out (one bucket: the interval)."
                ),
            ));
        }
        if let Some(tz) = o
            .get("timeZone")
            .filter(|tz| !matches!(tz.as_str(), Some("UTC" | "Etc/UTC")))
        {
            return Err(refuse(
                "timeZone",
                format!("timeZone {tz} is not simulated; allowed: UTC."),
            ));
        }
        let metrics = match o.get("metrics") {
            Some(m) => strings(m, "metrics", &METRICS)?,
            None => Vec::new(),
        };
        if metrics.is_empty() {
            return Err(refuse(
                "metrics",
                format!(
                    "metrics is required and not empty; the simulator serves: {}.",
                    METRICS.join(", ")
                ),
            ));
        }
        let group_by = match o.get("groupBy") {
            Some(g) => strings(g, "groupBy", &GROUP_BY)?,
            None => Vec::new(),
        };
        let filter = o
            .get("filter")
            .map(|f| parse_filter(f, "filter", 0))
            .transpose()?;
        let page_size = match o.get("pageSize") {
            None => None,
            Some(n) => Some(
                n.as_u64()
                    .filter(|n| (1..=MAX_PAGE_SIZE as u64).contains(n))
                    .ok_or_else(|| {
                        refuse(
                            "pageSize",
                            format!(
                                "pageSize is {n}; allowed: an integer from 1 to {MAX_PAGE_SIZE}."
                            ),
                        )
                    })? as u32,
            ),
        };
        Ok(AggregationQuery {
            start,
            end,
            group_by,
            filter,
            metrics,
            page_size,
        })
    }
}

/// One row the aggregates count: a conversation, and the topic spotted (None
/// for an analysed conversation in which no topic was spotted).
struct Record<'a> {
    c: &'a Conversation,
    topic: Option<usize>,
}

impl Record<'_> {
    fn dimension(&self, name: &str) -> Option<String> {
        Some(match name {
            "conversationId" => self.c.id.to_string(),
            "topicId" => TOPICS[self.topic?].id.to_string(),
            "userId" => self.c.agent_id.to_string(),
            "queueId" => self.c.queue_id.to_string(),
            "mediaType" => "voice".to_string(),
            _ => return None,
        })
    }
    fn matches(&self, (dimension, value): &(String, String)) -> bool {
        match dimension.as_str() {
            "categoryId" => self.c.categories.iter().any(|&k| CATEGORIES[k].id == value),
            "resultsBy" => true,
            d => self
                .dimension(d)
                .is_some_and(|v| v.eq_ignore_ascii_case(value)),
        }
    }
}

impl Filter {
    fn matches(&self, r: &Record) -> bool {
        let mut each = self
            .predicates
            .iter()
            .map(|p| r.matches(p))
            .chain(self.clauses.iter().map(|c| c.matches(r)));
        if self.or {
            each.any(|m| m)
        } else {
            each.all(|m| m)
        }
    }
}

/// Per group: the conversations with a topic spotted, and all analysed ones.
type Counted = (BTreeSet<uuid::Uuid>, BTreeSet<uuid::Uuid>);

/// The result rows of `q` over `org`: `TranscriptAggregateDataContainer`s in group order.
pub(crate) fn aggregate(org: &Org, q: &AggregationQuery) -> Vec<Value> {
    // Conversations wholly inside the interval, analysed by the program.
    let first = org.conversations.partition_point(|c| c.start < q.start);
    let records = org.conversations[first..]
        .iter()
        .take_while(|c| c.start < q.end)
        .filter(|c| c.covered && c.end <= q.end)
        .flat_map(|c| {
            let topics: Vec<Option<usize>> = if c.detections.is_empty() {
                vec![None]
            } else {
                c.detections.iter().map(|&(t, _)| Some(t)).collect()
            };
            topics.into_iter().map(move |topic| Record { c, topic })
        })
        .filter(|r| q.filter.as_ref().is_none_or(|f| f.matches(r)));
    let mut groups: BTreeMap<Vec<Option<String>>, Counted> = BTreeMap::new();
    for r in records {
        let key = q.group_by.iter().map(|d| r.dimension(d)).collect();
        let (topical, analysed) = groups.entry(key).or_default();
        if r.topic.is_some() {
            topical.insert(r.c.id);
        }
        analysed.insert(r.c.id);
    }
    let interval = format!("{}/{}", q.start, q.end);
    groups
        .into_iter()
        .filter_map(|(key, (topical, analysed))| {
            let metrics: Vec<Value> = q
                .metrics
                .iter()
                .map(|m| {
                    (
                        m,
                        if m == "nTopicCommunications" {
                            topical.len()
                        } else {
                            analysed.len()
                        },
                    )
                })
                .filter(|&(_, n)| n > 0)
                .map(|(m, n)| json!({"metric": m, "stats": {"count": n}}))
                .collect();
            if metrics.is_empty() {
                return None;
            }
            let group: Map<String, Value> = q
                .group_by
                .iter()
                .zip(key)
                .filter_map(|(d, v)| Some((d.clone(), Value::from(v?))))
                .collect();
            Some(json!({"group": group, "data": [{"interval": interval, "metrics": metrics}]}))
        })
        .collect()
}

async fn read_query(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
    correlation: &str,
    job: bool,
) -> Result<(usize, AggregationQuery), Refused> {
    let client = shared.authorize(headers, correlation, Need::All(&[STA_AGGREGATES]))?;
    let body = json_body(headers, body, correlation).await?;
    let query = AggregationQuery::parse(&body, job)
        .map_err(|(field, message)| bad_request(&field, &message, correlation))?;
    shared.api_latency().await;
    Ok((client, query))
}

/// `POST /api/v2/analytics/transcripts/aggregates/query`.
pub(crate) async fn query(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let (_, q) = read_query(&shared, &headers, body, &correlation, false).await?;
    Ok(Json(json!({"results": aggregate(&shared.org, &q)})).into_response())
}

/// How a job ends, decided when it is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Fulfil,
    Fail,
    /// Fulfilled, then expired after its first page of results.
    Expire,
}

#[derive(Debug)]
pub(crate) struct Job {
    owner: usize,
    submitted: Timestamp,
    completed: Option<Timestamp>,
    polls: u32,
    fate: Fate,
    cancelled: bool,
    pages_served: u32,
    page_size: u32,
    results: Arc<Vec<Value>>,
}

/// The jobs submitted, by id, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    by_id: HashMap<String, Job>,
    order: VecDeque<String>,
}

impl Job {
    fn expiration(&self) -> Timestamp {
        let from = self.completed.unwrap_or(self.submitted);
        Timestamp::from_datetime(from.as_datetime() + chrono::Duration::hours(RETENTION_HOURS))
    }

    /// The state as of now (polling advances it: see [`crate::SimConfig::job_polls`]).
    fn state(&self, polls_to_finish: u32) -> &'static str {
        if self.cancelled {
            "CANCELLED"
        } else if self.polls <= polls_to_finish {
            if self.polls <= polls_to_finish.div_ceil(2) {
                "QUEUED"
            } else {
                "PENDING"
            }
        } else if self.fate == Fate::Fail {
            "FAILED"
        } else if (self.fate == Fate::Expire && self.pages_served > 0)
            || Timestamp::now() > self.expiration()
        {
            "EXPIRED"
        } else {
            "FULFILLED"
        }
    }
}

/// `POST /api/v2/analytics/transcripts/aggregates/jobs`.
pub(crate) async fn submit(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    let (owner, q) = read_query(&shared, &headers, body, &correlation, true).await?;
    let faults = shared.faults();
    let fate = if shared.roll(faults.job_failures) {
        shared.count_fault(|s| s.jobs_failed += 1);
        Fate::Fail
    } else if shared.roll(faults.job_expiries) {
        shared.count_fault(|s| s.jobs_expired += 1);
        Fate::Expire
    } else {
        Fate::Fulfil
    };
    let job = Job {
        owner,
        submitted: Timestamp::now(),
        completed: None,
        polls: 0,
        fate,
        cancelled: false,
        pages_served: 0,
        page_size: q.page_size.unwrap_or(DEFAULT_PAGE_SIZE),
        results: Arc::new(aggregate(&shared.org, &q)),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let mut jobs = shared.jobs.lock().expect("jobs lock");
    if jobs.order.len() == JOBS_KEPT {
        if let Some(old) = jobs.order.pop_front() {
            jobs.by_id.remove(&old);
        }
    }
    jobs.order.push_back(id.clone());
    jobs.by_id.insert(id.clone(), job);
    Ok((StatusCode::ACCEPTED, Json(json!({"jobId": id}))).into_response())
}

/// Runs `f` on `client`'s job `id`, or answers 404 (unknown, forgotten, or another client's).
fn with_job<T>(
    shared: &Shared,
    client: usize,
    correlation: &str,
    id: &str,
    f: impl FnOnce(&mut Job) -> T,
) -> Result<T, Refused> {
    let mut jobs = shared.jobs.lock().expect("jobs lock");
    match jobs.by_id.get_mut(id).filter(|j| j.owner == client) {
        Some(job) => Ok(f(job)),
        None => Err(missing(&format!("Job {id}"), correlation)),
    }
}

/// `GET …/aggregates/jobs/{jobId}`: `AsyncQueryStatus`; each poll moves a job on.
pub(crate) async fn status(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refused> {
    let polls_to_finish = shared.job_polls;
    let client = shared.authorize(&headers, &correlation, Need::All(&[STA_AGGREGATES]))?;
    let answer = with_job(&shared, client, &correlation, &id, |job| {
        job.polls = job.polls.saturating_add(1);
        let state = job.state(polls_to_finish);
        if job.completed.is_none() && !matches!(state, "QUEUED" | "PENDING") {
            job.completed = Some(Timestamp::now());
        }
        let mut body = json!({
            "state": state,
            "submissionDate": job.submitted,
            "expirationDate": job.expiration(),
        });
        if let Some(done) = job.completed {
            body["completionDate"] = json!(done);
        }
        if state == "FAILED" {
            body["errorMessage"] =
                "The query failed to execute (simulated failure); submit it again.".into();
        }
        body
    });
    Ok(Json(answer?).into_response())
}

/// `DELETE …/aggregates/jobs/{jobId}`: 204, and the job is CANCELLED.
pub(crate) async fn cancel(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refused> {
    let client = shared.authorize(&headers, &correlation, Need::All(&[STA_AGGREGATES]))?;
    with_job(&shared, client, &correlation, &id, |job| {
        job.cancelled = true
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An opaque cursor: the job and the offset of the next row.
fn cursor(job: &str, offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{job}:{offset}"))
}

/// `GET …/aggregates/jobs/{jobId}/results?cursor=&pageSize=`.
pub(crate) async fn results(
    State(shared): State<Arc<Shared>>,
    Extension(CorrelationId(correlation)): Extension<CorrelationId>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refused> {
    let client = shared.authorize(&headers, &correlation, Need::All(&[STA_AGGREGATES]))?;
    let params = Params::parse(raw.as_deref());
    let offset = match params.one("cursor") {
        None => 0,
        Some(c) => {
            let decoded = URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            match decoded.as_deref().and_then(|d| d.split_once(':')).filter(|(j, _)| *j == id).and_then(|(_, n)| n.parse::<usize>().ok()) {
                Some(n) => n,
                None => return Err(bad_request("cursor", &format!("cursor `{c}` was not issued for job {id}; use the cursor of the previous page."), &correlation)),
            }
        }
    };
    let asked = match params.one("pageSize") {
        None => None,
        Some(_) => {
            Some(params.number("pageSize", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, &correlation)?)
        }
    };
    let polls_to_finish = shared.job_polls;
    let page = with_job(&shared, client, &correlation, &id, |job| {
        let state = job.state(polls_to_finish);
        if state != "FULFILLED" {
            return Err(state);
        }
        let size = asked.unwrap_or(job.page_size) as usize;
        job.pages_served += 1;
        Ok((job.results.clone(), size))
    });
    let (results, size) = page?.map_err(|state| {
        bad_request(
            "jobId",
            &format!("Job {id} is {state}; results are served only while it is FULFILLED."),
            &correlation,
        )
    })?;
    shared.api_latency().await;
    let page: Vec<&Value> = results.iter().skip(offset).take(size).collect();
    let mut body = json!({ "results": page });
    if offset + size < results.len() {
        body["cursor"] = cursor(&id, offset + size).into();
    }
    Ok(Json(body).into_response())
}
