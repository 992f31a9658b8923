//! Wire types of the quality endpoints this source reads, named as the SDK
//! models name them (spec genesys-real-apis.md §3). Fields the source does
//! not use are ignored; every optional field may be absent.

// Fields are named as the SDK models name them; their meaning is documented there.
#![allow(missing_docs)]

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `EvaluationSearchRequestDto`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    pub query: Vec<Criterion>,
    pub page_size: u32,
    pub page_number: u32,
    pub sort_by: &'static str,
    pub sort_order: &'static str,
}

/// `EvaluationSearchCriteriaDto`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Criterion {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub field: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_value: Option<String>,
}

impl Criterion {
    /// `field` equals `value`.
    pub fn exact(field: &'static str, value: &str) -> Criterion {
        Criterion {
            kind: "EXACT",
            field,
            value: Some(value.into()),
            start_value: None,
            end_value: None,
        }
    }
    /// `field` below `value`.
    pub fn less_than(field: &'static str, value: &str) -> Criterion {
        Criterion {
            kind: "LESS_THAN",
            field,
            ..Criterion::exact(field, value)
        }
    }
    /// `field` within `[start, end]`, dates as `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`.
    pub fn date_range(field: &'static str, start: String, end: String) -> Criterion {
        Criterion {
            kind: "DATE_RANGE",
            field,
            value: None,
            start_value: Some(start),
            end_value: Some(end),
        }
    }
}

/// `EvaluationSearchResponse`.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchResponse {
    #[serde(default)]
    pub results: Vec<SearchItem>,
}

/// `EvaluationSearchItemResponse`: what finding the evaluation again needs.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchItem {
    pub id: String,
    #[serde(default)]
    pub conversation: Option<Reference>,
}

/// An `{id}` reference (conversation, user, queue, form).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reference {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// `EvaluationResponse`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationResponse {
    pub id: String,
    #[serde(default)]
    pub conversation: Option<Reference>,
    #[serde(default)]
    pub evaluation_form: Option<Reference>,
    #[serde(default)]
    pub agent: Option<Reference>,
    #[serde(default)]
    pub queue: Option<Reference>,
    /// `PENDING`, `INPROGRESS`, `FINISHED`, `INREVIEW`, `RETRACTED`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub answers: Option<ScoringSet>,
    #[serde(default)]
    pub submitted_date: Option<String>,
    #[serde(default)]
    pub changed_date: Option<String>,
    #[serde(default)]
    pub conversation_date: Option<String>,
    #[serde(default)]
    pub rescore: Option<bool>,
}

/// `EvaluationScoringSet`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoringSet {
    #[serde(default)]
    pub comments: Option<String>,
    #[serde(default)]
    pub question_group_scores: Vec<QuestionGroupScore>,
    #[serde(default)]
    pub transcript_topics: Vec<TranscriptTopic>,
}

/// `EvaluationQuestionGroupScore`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionGroupScore {
    #[serde(default)]
    pub question_group_id: Option<String>,
    #[serde(default)]
    pub question_scores: Vec<QuestionScore>,
}

/// `EvaluationQuestionScore`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionScore {
    pub question_id: String,
    #[serde(default)]
    pub answer_id: Option<String>,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default, rename = "markedNA")]
    pub marked_na: Option<bool>,
    #[serde(default)]
    pub failed_kill_question: Option<bool>,
    #[serde(default)]
    pub comments: Option<String>,
    #[serde(default)]
    pub ai_answer: Option<AiAnswer>,
}

/// `AiAnswer`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AiAnswer {
    #[serde(default)]
    pub explanation: Option<String>,
}

/// `TranscriptTopic`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptTopic {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub topic_phrase: Option<String>,
    #[serde(default)]
    pub transcript_phrase: Option<String>,
    #[serde(default)]
    pub start_time_milliseconds: Option<i64>,
    #[serde(default)]
    pub duration: Option<Value>,
}

/// `EvaluationFormResponse`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Form {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub context_id: Option<String>,
    #[serde(default)]
    pub question_groups: Vec<QuestionGroup>,
}

/// `EvaluationQuestionGroup`.
#[derive(Debug, Clone, Deserialize)]
pub struct QuestionGroup {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub questions: Vec<Question>,
}

/// `EvaluationQuestion`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    pub id: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub answer_options: Vec<AnswerOption>,
    #[serde(default)]
    pub is_kill: Option<bool>,
    #[serde(default)]
    pub is_critical: Option<bool>,
}

/// `AnswerOption`.
#[derive(Debug, Clone, Deserialize)]
pub struct AnswerOption {
    pub id: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub value: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_search_request_is_written_as_the_sdk_names_it() {
        let r = SearchRequest {
            query: vec![
                Criterion::exact("failedKillQuestion", "true"),
                Criterion::date_range(
                    "submittedDate",
                    "2023-10-01T00:00:00.000Z".into(),
                    "2023-10-02T00:00:00.000Z".into(),
                ),
            ],
            page_size: 100,
            page_number: 1,
            sort_by: "submittedDate",
            sort_order: "ASC",
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"query": [
                {"type": "EXACT", "field": "failedKillQuestion", "value": "true"},
                {"type": "DATE_RANGE", "field": "submittedDate",
                 "startValue": "2023-10-01T00:00:00.000Z", "endValue": "2023-10-02T00:00:00.000Z"}],
             "pageSize": 100, "pageNumber": 1, "sortBy": "submittedDate", "sortOrder": "ASC"})
        );
    }

    #[test]
    fn an_evaluation_with_its_scores_parses() {
        let e: EvaluationResponse = serde_json::from_value(json!({
            "id": "e", "conversation": {"id": "c"}, "evaluationForm": {"id": "f", "name": "Collections"},
            "agent": {"id": "a"}, "queue": {"id": "q"}, "status": "FINISHED", "rescore": true,
            "submittedDate": "2023-10-03T10:00:00.000Z", "changedDate": "2023-10-04T10:00:00.000Z",
            "answers": {"totalScore": 40, "totalCriticalScore": 0, "anyFailedKillQuestions": true,
                "comments": "see Q2",
                "questionGroupScores": [{"questionGroupId": "g", "totalScore": 1,
                    "questionScores": [{"questionId": "q2", "answerId": "no", "score": 0, "markedNA": false,
                        "failedKillQuestion": true, "comments": "skipped",
                        "aiAnswer": {"answerId": "no", "explanation": "not read", "failureType": null}}]}],
                "transcriptTopics": [{"id": "t", "name": "Disclosure", "topicPhrase": "p", "transcriptPhrase": "tp",
                    "confidence": 80, "startTimeMilliseconds": 1000, "duration": {"totalMilliseconds": 500},
                    "offset": {"wordCount": 1, "characterCount": 2}, "recordingLocation": 1000}]}
        }))
        .unwrap();
        let a = e.answers.unwrap();
        let q = &a.question_group_scores[0].question_scores[0];
        assert_eq!(q.failed_kill_question, Some(true));
        assert_eq!(q.marked_na, Some(false));
        assert_eq!(
            q.ai_answer.as_ref().unwrap().explanation.as_deref(),
            Some("not read")
        );
        assert_eq!(a.transcript_topics[0].start_time_milliseconds, Some(1000));
        let f: Form = serde_json::from_value(json!({"id": "f", "contextId": "ctx", "questionGroups": [
            {"id": "g", "name": "G", "weight": 1, "questions": [{"id": "q2", "contextId": "qc", "text": "Read the disclosure?",
                "type": "multipleChoiceQuestion", "isKill": true, "isCritical": false,
                "answerOptions": [{"id": "yes", "text": "Yes", "value": 1}, {"id": "no", "text": "No", "value": 0}]}]}]}))
        .unwrap();
        assert_eq!(f.question_groups[0].questions[0].is_kill, Some(true));
        assert_eq!(
            f.question_groups[0].questions[0].answer_options[1].value,
            Some(0.0)
        );
    }
}
