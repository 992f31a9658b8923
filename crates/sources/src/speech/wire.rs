//! Wire types of the Speech & Text Analytics and analytics endpoints this
//! source reads, named as the SDK models name them (spec genesys-real-apis.md
//! §2). Fields the source does not use are ignored; every optional field may
//! be absent.

// Fields are named as the SDK models name them; their meaning is documented there.
#![allow(missing_docs)]

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `TranscriptAggregationQuery` / `TranscriptAsyncAggregationQuery` (the job
/// form adds `pageSize`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AggregationQuery {
    /// `start/end`, ISO-8601.
    pub interval: String,
    pub group_by: Vec<&'static str>,
    pub filter: QueryFilter,
    pub metrics: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
}

/// `TranscriptAggregateQueryFilter`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueryFilter {
    /// `and` or `or`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub predicates: Vec<Predicate>,
}

/// `TranscriptAggregateQueryPredicate`: (dimension) matches (value).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Predicate {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub dimension: &'static str,
    pub operator: &'static str,
    pub value: String,
}

impl Predicate {
    /// `dimension` matches `value`.
    pub fn matches(dimension: &'static str, value: String) -> Predicate {
        Predicate {
            kind: "dimension",
            dimension,
            operator: "matches",
            value,
        }
    }
}

/// `TranscriptAggregateQueryResponse` and `TranscriptAsyncAggregateQueryResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AggregateResponse {
    #[serde(default)]
    pub results: Vec<AggregateGroup>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `TranscriptAggregateDataContainer`: the group's dimension values.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AggregateGroup {
    #[serde(default)]
    pub group: BTreeMap<String, String>,
}

/// `TopicsEntityListing` / `CategoriesEntityListing`.
#[derive(Debug, Clone, Deserialize)]
pub struct Listing<T> {
    #[serde(default = "Vec::new")]
    pub entities: Vec<T>,
}

/// `ListedTopic`.
#[derive(Debug, Clone, Deserialize)]
pub struct ListedTopic {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// `StaCategory`.
#[derive(Debug, Clone, Deserialize)]
pub struct StaCategory {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub criteria: Option<Operand>,
}

/// `Operand` (PY `operand.py`): a term, a topic or a group of operands;
/// `inverted` applies a NOT.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operand {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub inverted: Option<bool>,
    #[serde(default)]
    pub topic_id: Option<String>,
    #[serde(default)]
    pub operands: Vec<Operand>,
}

impl Operand {
    /// Every topic the criteria name, with whether it counts inverted (an
    /// odd number of NOTs on its way down), in the order written.
    pub fn topics(&self) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        self.walk(false, &mut out);
        out
    }

    fn walk(&self, inverted_above: bool, out: &mut Vec<(String, bool)>) {
        let inverted = inverted_above ^ self.inverted.unwrap_or(false);
        if let Some(topic) = &self.topic_id {
            out.push((topic.clone(), inverted));
        }
        for o in &self.operands {
            o.walk(inverted, out);
        }
    }
}

/// `AnalyticsConversationMultiGetResponse`.
#[derive(Debug, Clone, Deserialize)]
pub struct ConversationsResponse {
    #[serde(default)]
    pub conversations: Vec<AnalyticsConversation>,
}

/// `AnalyticsConversation`: the fields a violation takes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsConversation {
    pub conversation_id: String,
    #[serde(default)]
    pub conversation_start: Option<String>,
    #[serde(default)]
    pub participants: Vec<AnalyticsParticipant>,
}

/// `AnalyticsParticipant`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsParticipant {
    #[serde(default)]
    pub participant_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
    #[serde(default)]
    pub sessions: Vec<AnalyticsSession>,
}

/// `AnalyticsSession`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsSession {
    pub session_id: String,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub recording: Option<bool>,
    #[serde(default)]
    pub segments: Vec<AnalyticsSegment>,
}

/// `AnalyticsConversationSegment`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsSegment {
    #[serde(default)]
    pub queue_id: Option<String>,
}

/// `TranscriptUrl`: a pre-signed URL.
#[derive(Debug, Clone, Deserialize)]
pub struct TranscriptUrl {
    pub url: String,
}

/// The transcript JSON behind a transcript URL (spec §2.2).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptDocument {
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub communication_id: Option<String>,
    /// Epoch milliseconds of the communication's start.
    #[serde(default)]
    pub start_time: Option<i64>,
    #[serde(default)]
    pub conversation_start_time: Option<i64>,
    #[serde(default)]
    pub transcripts: Vec<Transcript>,
    #[serde(default)]
    pub participants: Vec<TranscriptParticipant>,
}

/// One transcript of a communication.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transcript {
    pub transcript_id: String,
    #[serde(default)]
    pub phrases: Vec<Phrase>,
    #[serde(default)]
    pub analytics: Option<TranscriptAnalytics>,
}

/// A phrase of a transcript.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Phrase {
    #[serde(default)]
    pub phrase_index: Option<i64>,
    #[serde(default)]
    pub participant_purpose: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub start_time_ms: Option<i64>,
    #[serde(default)]
    pub duration: Option<Value>,
}

/// `analytics` of a transcript.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TranscriptAnalytics {
    #[serde(default)]
    pub topics: Vec<TopicDetection>,
}

/// A topic detected in a transcript: the phrase and where.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicDetection {
    #[serde(default)]
    pub participant: Option<String>,
    pub topic_id: String,
    #[serde(default)]
    pub topic_name: Option<String>,
    #[serde(default)]
    pub topic_phrase: Option<String>,
    #[serde(default)]
    pub transcript_phrase: Option<String>,
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub start_time_ms: Option<i64>,
    #[serde(default)]
    pub duration: Option<Value>,
}

/// A participant of the transcript.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptParticipant {
    #[serde(default)]
    pub participant_purpose: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub queue_id: Option<String>,
}

/// A `duration` in milliseconds: a number, or an object with
/// `milliseconds` or `totalMilliseconds` (the shape is not documented).
pub fn duration_ms(d: &Option<Value>) -> Option<i64> {
    match d.as_ref()? {
        Value::Number(n) => n.as_i64(),
        Value::Object(o) => ["milliseconds", "totalMilliseconds"]
            .iter()
            .find_map(|k| o.get(*k)?.as_i64()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_aggregation_query_is_written_as_the_sdk_names_it() {
        let q = AggregationQuery {
            interval: "2023-10-01T00:00:00.000Z/2023-10-02T00:00:00.000Z".into(),
            group_by: vec!["conversationId"],
            filter: QueryFilter {
                kind: "or",
                predicates: vec![Predicate::matches("categoryId", "c1".into())],
            },
            metrics: vec!["nTopicCommunications"],
            page_size: Some(100),
        };
        assert_eq!(
            serde_json::to_value(&q).unwrap(),
            json!({"interval": "2023-10-01T00:00:00.000Z/2023-10-02T00:00:00.000Z",
                   "groupBy": ["conversationId"],
                   "filter": {"type": "or", "predicates": [
                       {"type": "dimension", "dimension": "categoryId", "operator": "matches", "value": "c1"}]},
                   "metrics": ["nTopicCommunications"], "pageSize": 100})
        );
    }

    #[test]
    fn inverted_topics_are_found_through_groups() {
        let c: StaCategory = serde_json::from_value(json!({
            "id": "cat", "name": "Mini-Miranda not read", "interactionType": "Voice",
            "criteria": {"type": "OperandGroup", "operands": [
                {"type": "Topic", "topicId": "greeting"},
                {"type": "OperandGroup", "inverted": true, "operands": [
                    {"type": "Topic", "topicId": "disclosure"},
                    {"type": "Topic", "topicId": "double", "inverted": true}]}]}
        }))
        .unwrap();
        assert_eq!(
            c.criteria.unwrap().topics(),
            [
                ("greeting".to_string(), false),
                ("disclosure".to_string(), true),
                ("double".to_string(), false)
            ]
        );
    }

    #[test]
    fn the_transcript_document_of_the_spec_parses() {
        // The field list of spec §2.2, one of each.
        let d: TranscriptDocument = serde_json::from_value(json!({
            "organizationId": "o", "conversationId": "c", "communicationId": "m", "mediaType": "call",
            "conversationStartTime": 1696165445000i64, "startTime": 1696165446000i64, "duration": {"milliseconds": 60000},
            "transcripts": [{"transcriptId": "t", "language": "en-US", "programId": "p", "engineId": "e",
                "startTime": 1696165446000i64, "duration": {"milliseconds": 60000},
                "phrases": [{"phraseIndex": 0, "participantPurpose": "internal", "text": "hello",
                    "decoratedText": "hello", "stability": 1, "confidence": 0.9, "offset": {"wordCount": 0},
                    "startTimeMs": 1696165447000i64, "duration": {"milliseconds": 1500}, "words": [], "alternatives": [], "type": "phrase"}],
                "analytics": {"sentiment": [], "acoustic": [], "topics": [{"participant": "internal", "topicId": "tp",
                    "topicName": "Greeting", "topicPhrase": "hello", "transcriptPhrase": "hello", "confidence": 85,
                    "offset": {"wordCount": 0}, "startTimeMs": 1696165447000i64, "duration": {"milliseconds": 1500}, "type": "topic"}]}}],
            "participants": [{"participantPurpose": "internal", "userId": "u", "queueId": "q", "startTimeMs": 1, "endTimeMs": 2}],
            "uri": "x"
        }))
        .unwrap();
        let t = &d.transcripts[0];
        assert_eq!(t.phrases[0].phrase_index, Some(0));
        assert_eq!(duration_ms(&t.phrases[0].duration), Some(1500));
        let topic = &t.analytics.as_ref().unwrap().topics[0];
        assert_eq!(topic.topic_id, "tp");
        assert_eq!(duration_ms(&topic.duration), Some(1500));
        assert_eq!(duration_ms(&Some(json!(250))), Some(250));
        assert_eq!(d.participants[0].user_id.as_deref(), Some("u"));
    }
}
