//! The `evaluations` source: failed fatal and critical questions of quality
//! evaluations (spec genesys-real-apis.md §3, §8).
//!
//! Per window (at most 90 days: the search allows 3 months), evaluations
//! submitted in the window are found with `POST /api/v2/quality/evaluations/search`:
//! those with a failed fatal (kill) question, those whose critical score is
//! below 100, and those retracted. Each is then read with
//! `GET /api/v2/quality/conversations/{cid}/evaluations/{eid}`, and its form
//! with `GET /api/v2/quality/forms/evaluations/{formId}` (once per run per form
//! id: a published form version has its own id). A failed fatal question is a
//! `CRITICAL` violation, a failed critical question (answered below the best
//! answer, not N/A) a `HIGH` one.
//!
//! Versions. An evaluation can be rescored or retracted after it was
//! extracted. Each violation carries `violationKey` (a UUID v5 of evaluation
//! and question: the same for every version) and `evaluationVersion` (the
//! evaluation's `changedDate`, else `submittedDate`); its `id` is a UUID v5 of
//! both, so a new version is a new record that `serve` and reruns do not take
//! for one already written. Of the records sharing a `violationKey`, the one
//! with the latest `evaluationVersion` is the current one and replaces the
//! others; one with `"retracted": true` withdraws the violation. (`docs/sources.md`.)

pub mod wire;

use crate::ids;
use crate::rules::SourceRules;
use crate::walk::{self, Discover};
use crate::{SetupError, SourceKind};
use compliance_api::{Evidence, Filters, Severity, Timestamp, Violation};
use compliance_client::{Access, ApiClient, Error, Window};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;
use wire::*;

const NAME: &str = "evaluations";

const SEARCH: Access = Access {
    permission: "quality:evaluation:searchAny",
    source: NAME,
};
const VIEW: Access = Access {
    permission: "quality:evaluation:view",
    source: NAME,
};
const FORMS: Access = Access {
    permission: "quality:evaluationForm:view",
    source: NAME,
};

/// The permissions the source's OAuth client needs (spec §3, §6).
pub const PERMISSIONS: &[&str] = &[SEARCH.permission, VIEW.permission, FORMS.permission];

const SEARCH_PATH: &str = "/api/v2/quality/evaluations/search";
/// Pages of one search, at most (bounded loop).
const MAX_SEARCH_PAGES: u32 = 10_000;

/// Tuning; the defaults suit the API's documented caps.
#[derive(Debug, Clone)]
pub struct EvaluationsConfig {
    /// Windows are at most this long (the search allows 3 months).
    pub max_window: chrono::Duration,
    /// Evaluations per batch.
    pub evaluations_per_batch: usize,
    /// Evaluations read at once.
    pub concurrency: usize,
    /// Results per search page.
    pub page_size: u32,
    /// The configured rate limit (the live one replaces it when lower).
    pub rate_limit_per_minute: u32,
}

impl Default for EvaluationsConfig {
    fn default() -> Self {
        EvaluationsConfig {
            max_window: chrono::Duration::days(90),
            evaluations_per_batch: 25,
            concurrency: 8,
            page_size: 100,
            rate_limit_per_minute: 300,
        }
    }
}

/// The `evaluations` source.
#[derive(Clone)]
pub struct Evaluations {
    inner: Arc<Inner>,
}

struct Inner {
    client: ApiClient,
    config: EvaluationsConfig,
    severities: Option<Vec<Severity>>,
    /// Severities the rules file sets for questions (else fatal/critical decide).
    overrides: HashMap<String, Severity>,
    agents: Option<BTreeSet<String>>,
    /// Forms by id, read once per run.
    forms: Mutex<HashMap<String, Arc<OnceCell<Arc<Form>>>>>,
}

impl Evaluations {
    /// A source filtered by the query's filters. Severity comes from the
    /// question (fatal: CRITICAL, critical: HIGH) unless the rule for it in
    /// `rules` sets one; a policy filter is refused.
    pub fn new(
        client: ApiClient,
        rules: &SourceRules,
        filters: &Filters,
        config: EvaluationsConfig,
    ) -> Result<Evaluations, SetupError> {
        if filters.policy_ids.is_some() {
            return Err(SetupError::Unsupported {
                setting: "--policy-id",
                source_name: NAME,
                why: "evaluations have forms, not policies; the form's context id is the violation's policyId, but it cannot be searched for",
            });
        }
        Ok(Evaluations {
            inner: Arc::new(Inner {
                client,
                config,
                severities: filters.severity.clone(),
                overrides: rules
                    .iter()
                    .filter_map(|r| Some((r.id.to_string(), r.severity?)))
                    .collect(),
                agents: filters
                    .agent_ids
                    .as_ref()
                    .map(|ids| ids.iter().map(|a| a.to_string()).collect()),
                forms: Mutex::new(HashMap::new()),
            }),
        })
    }
}

walk::derived_source!(Evaluations, SourceKind::Evaluations);

impl Discover for Inner {
    /// The evaluation's conversation id.
    type Found = String;

    fn discover(&self, window: Window) -> BoxFuture<'_, Result<Vec<(String, String)>, Error>> {
        Box::pin(async move {
            let range = || {
                Criterion::date_range(
                    "submittedDate",
                    search_date(window.start),
                    search_date(window.end),
                )
            };
            let searches = [
                vec![Criterion::exact("failedKillQuestion", "true"), range()],
                vec![Criterion::less_than("totalCriticalScore", "100"), range()],
                vec![Criterion::exact("evaluationStatus", "RETRACTED"), range()],
            ];
            let mut found: BTreeMap<String, String> = BTreeMap::new();
            for query in searches {
                for item in self.search(query).await? {
                    if let Some(cid) = item.conversation.and_then(|c| c.id) {
                        found.insert(item.id, cid);
                    }
                }
            }
            Ok(found.into_iter().collect())
        })
    }

    fn violations<'a>(
        &'a self,
        chunk: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Vec<Violation>, Error>> {
        Box::pin(async move {
            let work: Vec<BoxFuture<'_, Result<Vec<Violation>, Error>>> = chunk
                .iter()
                .map(|(eid, cid)| {
                    let fut: BoxFuture<'_, _> = Box::pin(self.evaluation(cid, eid));
                    fut
                })
                .collect();
            let all: Vec<Vec<Violation>> = stream::iter(work)
                .buffered(self.config.concurrency.max(1))
                .try_collect()
                .await?;
            Ok(all.into_iter().flatten().collect())
        })
    }

    fn per_batch(&self) -> usize {
        self.config.evaluations_per_batch
    }

    fn client(&self) -> &ApiClient {
        &self.client
    }
    fn max_window(&self) -> chrono::Duration {
        self.config.max_window
    }
    fn names(&self) -> (&'static str, &'static [&'static str]) {
        (NAME, &["platform.api", "quality"])
    }
    fn configured_rate(&self) -> u32 {
        self.config.rate_limit_per_minute
    }
}

/// A search's date: `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`.
fn search_date(t: Timestamp) -> String {
    t.as_datetime().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Inner {
    /// Every result of one search, page by page (a short page is the last).
    async fn search(&self, query: Vec<Criterion>) -> Result<Vec<SearchItem>, Error> {
        let mut all = Vec::new();
        for page_number in 1..=MAX_SEARCH_PAGES {
            let request = SearchRequest {
                query: query.clone(),
                page_size: self.config.page_size,
                page_number,
                sort_by: "submittedDate",
                sort_order: "ASC",
            };
            let page: SearchResponse = self.client.post(SEARCH_PATH, &request, SEARCH).await?;
            let n = page.results.len();
            all.extend(page.results);
            if n < self.config.page_size as usize {
                return Ok(all);
            }
        }
        Err(Error::Internal(format!(
            "the evaluation search went past {MAX_SEARCH_PAGES} pages"
        )))
    }

    /// A form, read once per run.
    async fn form(&self, id: &str) -> Result<Arc<Form>, Error> {
        let cell = self
            .forms
            .lock()
            .expect("forms lock")
            .entry(id.to_string())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let path = format!("/api/v2/quality/forms/evaluations/{id}");
            let form: Form = self.client.get(&path, &[], FORMS).await?;
            Ok(Arc::new(form))
        })
        .await
        .cloned()
    }

    /// The violations of one evaluation.
    async fn evaluation(&self, cid: &str, eid: &str) -> Result<Vec<Violation>, Error> {
        let path = format!("/api/v2/quality/conversations/{cid}/evaluations/{eid}");
        let evaluation: EvaluationResponse = match self.client.get(&path, &[], VIEW).await {
            Ok(e) => e,
            // Deleted between the search and now: nothing to report.
            Err(Error::Rejected { status: 404, .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let Some(form_id) = evaluation
            .evaluation_form
            .as_ref()
            .and_then(|f| f.id.clone())
        else {
            return Ok(Vec::new());
        };
        let form = self.form(&form_id).await?;
        let mut out = violations(&evaluation, &form);
        for v in &mut out {
            if let Some(s) = self.overrides.get(&v.rule_id) {
                v.severity = *s;
            }
        }
        if let Some(set) = &self.severities {
            out.retain(|v| set.contains(&v.severity));
        }
        if let Some(agents) = &self.agents {
            out.retain(|v| v.agent_id.as_ref().is_some_and(|a| agents.contains(a)));
        }
        Ok(out)
    }
}

/// The violations of an evaluation scored on `form`: one per failed fatal
/// or critical question.
fn violations(e: &EvaluationResponse, form: &Form) -> Vec<Violation> {
    let questions: HashMap<&str, &Question> = form
        .question_groups
        .iter()
        .flat_map(|g| &g.questions)
        .map(|q| (q.id.as_str(), q))
        .collect();
    let Some(answers) = &e.answers else {
        return Vec::new();
    };
    let retracted = e.status.as_deref() == Some("RETRACTED");
    let version = e
        .changed_date
        .clone()
        .or_else(|| e.submitted_date.clone())
        .unwrap_or_else(|| "unversioned".into());
    let detected_at = [&e.submitted_date, &e.changed_date, &e.conversation_date]
        .into_iter()
        .find_map(|d| d.as_deref()?.parse::<Timestamp>().ok())
        .unwrap_or_else(Timestamp::now);
    let mut out = Vec::new();
    for group in &answers.question_group_scores {
        for score in &group.question_scores {
            let Some(question) = questions.get(score.question_id.as_str()) else {
                continue;
            };
            let Some(severity) = failure(question, score) else {
                continue;
            };
            let qid = &score.question_id;
            let group_id = group.question_group_id.as_deref().unwrap_or("unknown");
            let mut extra = Map::new();
            extra.insert("source".into(), Value::from(NAME));
            extra.insert("evaluationId".into(), Value::from(e.id.clone()));
            extra.insert("evaluationVersion".into(), Value::from(version.clone()));
            extra.insert(
                "violationKey".into(),
                Value::from(ids::derive(NAME, &[&e.id, qid])),
            );
            extra.insert("retracted".into(), Value::from(retracted));
            extra.insert("formId".into(), Value::from(form.id.clone()));
            out.push(Violation {
                id: ids::derive(NAME, &[&e.id, qid, &version]),
                conversation_id: e.conversation.as_ref().and_then(|c| c.id.clone()),
                communication_id: None,
                agent_id: e.agent.as_ref().and_then(|a| a.id.clone()),
                queue_id: e.queue.as_ref().and_then(|q| q.id.clone()),
                policy_id: form.context_id.clone(),
                rule_id: qid.clone(),
                rule_name: question.text.clone(),
                severity,
                detected_at,
                segment_reference: Some(format!(
                    "evaluation/{}/questionGroup/{group_id}/question/{qid}",
                    e.id
                )),
                confidence: None,
                evidence: Some(evidence(question, score, answers, retracted)),
                extra,
            });
        }
    }
    out
}

/// `CRITICAL` for a failed fatal question, `HIGH` for a failed critical one.
fn failure(question: &Question, score: &QuestionScore) -> Option<Severity> {
    if score.marked_na == Some(true) {
        return None;
    }
    let best = question
        .answer_options
        .iter()
        .filter_map(|o| o.value)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let below_best = match (score.score, best) {
        (Some(s), Some(b)) => s < b,
        _ => false,
    };
    if question.is_kill == Some(true) && (score.failed_kill_question == Some(true) || below_best) {
        Some(Severity::Critical)
    } else if question.is_critical == Some(true) && below_best {
        Some(Severity::High)
    } else {
        None
    }
}

fn metadata(value: String) -> Evidence {
    Evidence {
        kind: Evidence::METADATA.into(),
        participant: None,
        value: Some(value),
        start_ms: None,
        end_ms: None,
        extra: Map::new(),
    }
}

/// The answer, comments, AI explanation and transcript topics.
fn evidence(
    question: &Question,
    score: &QuestionScore,
    answers: &ScoringSet,
    retracted: bool,
) -> Vec<Evidence> {
    let mut out = Vec::new();
    let answer = score
        .answer_id
        .as_deref()
        .and_then(|a| question.answer_options.iter().find(|o| o.id == a))
        .and_then(|o| o.text.clone())
        .unwrap_or_else(|| "(no answer)".into());
    let text = question.text.as_deref().unwrap_or(&question.id);
    out.push(metadata(format!(
        "question \"{text}\" answered \"{answer}\""
    )));
    if let Some(c) = score.comments.as_ref().filter(|c| !c.is_empty()) {
        out.push(metadata(format!("evaluator comment: {c}")));
    }
    if let Some(x) = score
        .ai_answer
        .as_ref()
        .and_then(|a| a.explanation.as_ref())
        .filter(|x| !x.is_empty())
    {
        out.push(metadata(format!("AI scoring explanation: {x}")));
    }
    if let Some(c) = answers.comments.as_ref().filter(|c| !c.is_empty()) {
        out.push(metadata(format!("evaluation comment: {c}")));
    }
    for t in &answers.transcript_topics {
        let mut extra = Map::new();
        if let Some(name) = &t.name {
            extra.insert("topicName".into(), Value::from(name.clone()));
        }
        let start = t.start_time_milliseconds;
        let duration = crate::speech::wire::duration_ms(&t.duration);
        out.push(Evidence {
            kind: Evidence::TRANSCRIPT.into(),
            participant: None,
            value: t
                .transcript_phrase
                .clone()
                .or_else(|| t.topic_phrase.clone()),
            start_ms: start,
            end_ms: start.zip(duration).map(|(s, d)| s + d),
            extra,
        });
    }
    if retracted {
        out.push(metadata(
            "the evaluation was retracted: this violation no longer stands".into(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form() -> Form {
        serde_json::from_value(json!({"id": "f1", "contextId": "ctx", "questionGroups": [{"id": "g", "questions": [
            {"id": "kill", "text": "Disclosure read?", "isKill": true, "isCritical": false,
             "answerOptions": [{"id": "y", "text": "Yes", "value": 1}, {"id": "n", "text": "No", "value": 0}]},
            {"id": "crit", "text": "Identity verified?", "isKill": false, "isCritical": true,
             "answerOptions": [{"id": "y2", "text": "Yes", "value": 10}, {"id": "p2", "text": "Partly", "value": 5}]},
            {"id": "plain", "text": "Polite?", "answerOptions": [{"id": "y3", "text": "Yes", "value": 1}, {"id": "n3", "text": "No", "value": 0}]}
        ]}]}))
        .unwrap()
    }

    fn evaluation(
        status: &str,
        changed: &str,
        kill_answer: &str,
        kill_score: f64,
    ) -> EvaluationResponse {
        serde_json::from_value(json!({
            "id": "e1", "conversation": {"id": "c1"}, "evaluationForm": {"id": "f1"}, "agent": {"id": "a1"},
            "status": status, "submittedDate": "2023-10-03T10:00:00.000Z", "changedDate": changed,
            "answers": {"comments": "", "questionGroupScores": [{"questionGroupId": "g", "questionScores": [
                {"questionId": "kill", "answerId": kill_answer, "score": kill_score, "failedKillQuestion": kill_score < 1.0,
                 "aiAnswer": {"explanation": "no disclosure in the first minute"}},
                {"questionId": "crit", "answerId": "p2", "score": 5, "comments": "only the name"},
                {"questionId": "plain", "answerId": "n3", "score": 0}]}],
              "transcriptTopics": [{"name": "Disclosure", "transcriptPhrase": "we are a debt collector",
                  "startTimeMilliseconds": 4000, "duration": {"totalMilliseconds": 1500}}]}
        }))
        .unwrap()
    }

    #[test]
    fn fatal_is_critical_critical_is_high_and_others_are_not_violations() {
        let v = violations(
            &evaluation("FINISHED", "2023-10-03T10:00:00.000Z", "n", 0.0),
            &form(),
        );
        let got: Vec<(&str, Severity)> =
            v.iter().map(|v| (v.rule_id.as_str(), v.severity)).collect();
        assert_eq!(
            got,
            [("kill", Severity::Critical), ("crit", Severity::High)]
        );
        let kill = &v[0];
        assert_eq!(
            kill.segment_reference.as_deref(),
            Some("evaluation/e1/questionGroup/g/question/kill")
        );
        assert_eq!(kill.agent_id.as_deref(), Some("a1"));
        assert_eq!(kill.policy_id.as_deref(), Some("ctx"));
        let values: Vec<&str> = kill
            .evidence
            .as_ref()
            .unwrap()
            .iter()
            .filter_map(|e| e.value.as_deref())
            .collect();
        assert_eq!(
            values,
            [
                "question \"Disclosure read?\" answered \"No\"",
                "AI scoring explanation: no disclosure in the first minute",
                "we are a debt collector"
            ]
        );
        let transcript = &kill.evidence.as_ref().unwrap()[2];
        assert_eq!(
            (transcript.start_ms, transcript.end_ms),
            (Some(4000), Some(5500))
        );
    }

    #[test]
    fn a_rescore_is_a_new_record_of_the_same_key_and_a_retraction_withdraws_it() {
        let first = violations(
            &evaluation("FINISHED", "2023-10-03T10:00:00.000Z", "n", 0.0),
            &form(),
        );
        let rescored = violations(
            &evaluation("FINISHED", "2023-10-05T08:00:00.000Z", "n", 0.0),
            &form(),
        );
        assert_ne!(first[0].id, rescored[0].id);
        assert_eq!(
            first[0].extra["violationKey"],
            rescored[0].extra["violationKey"]
        );
        assert_eq!(
            rescored[0].extra["evaluationVersion"],
            "2023-10-05T08:00:00.000Z"
        );
        // Rescored to a passing answer: the fatal question no longer fails.
        let passed = violations(
            &evaluation("FINISHED", "2023-10-06T08:00:00.000Z", "y", 1.0),
            &form(),
        );
        assert_eq!(
            passed
                .iter()
                .map(|v| v.rule_id.as_str())
                .collect::<Vec<_>>(),
            ["crit"]
        );
        let retracted = violations(
            &evaluation("RETRACTED", "2023-10-07T08:00:00.000Z", "n", 0.0),
            &form(),
        );
        assert_eq!(retracted[0].extra["retracted"], true);
        assert_eq!(
            retracted[0].extra["violationKey"],
            first[0].extra["violationKey"]
        );
        assert!(retracted[0]
            .evidence
            .as_ref()
            .unwrap()
            .last()
            .unwrap()
            .value
            .as_deref()
            .unwrap()
            .contains("retracted"));
    }

    #[test]
    fn search_dates_have_milliseconds_and_z() {
        let t: Timestamp = "2023-10-01T00:00:00Z".parse().unwrap();
        assert_eq!(search_date(t), "2023-10-01T00:00:00.000Z");
    }
}
