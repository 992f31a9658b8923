//! Shared test fixtures: one conversation, its details and its transcript,
//! and the rules that fire in it.

use super::wire::*;
use super::{CategoryDef, Definitions, Inner, SpeechConfig};
use compliance_api::Severity;
use compliance_client::ApiClient;
use serde_json::json;
use std::sync::atomic::AtomicBool;
use tokio::sync::OnceCell;

pub(super) const TOPIC: &str = "11111111-1111-4111-8111-111111111111";
pub(super) const DISCLOSURE: &str = "22222222-2222-4222-8222-222222222222";
pub(super) const CATEGORY: &str = "33333333-3333-4333-8333-333333333333";

pub(super) fn inner() -> Inner {
    let endpoints = compliance_client::Endpoints {
        api: compliance_client::BaseUrl::parse("http://127.0.0.1:9").unwrap(),
        login: compliance_client::BaseUrl::parse("http://127.0.0.1:9").unwrap(),
    };
    let credentials = compliance_client::Credentials {
        client_id: "x".into(),
        client_secret: "y".to_string().into(),
    };
    let client = ApiClient::new(compliance_client::TransportConfig::new(
        endpoints,
        credentials,
    ))
    .unwrap();
    Inner {
        client,
        config: SpeechConfig::default(),
        rules: [
            (TOPIC.to_string(), Severity::High),
            (CATEGORY.to_string(), Severity::Critical),
        ]
        .into_iter()
        .collect(),
        agents: None,
        definitions: OnceCell::new(),
        multi_get: AtomicBool::new(true),
    }
}

pub(super) fn definitions() -> Definitions {
    Definitions {
        categories: [(
            CATEGORY.to_string(),
            CategoryDef {
                name: Some("Disclosure not read".into()),
                topics: vec![(DISCLOSURE.to_string(), true)],
            },
        )]
        .into_iter()
        .collect(),
        topics: [TOPIC.to_string()].into_iter().collect(),
        topic_names: [
            (TOPIC.to_string(), "Card read back".to_string()),
            (DISCLOSURE.to_string(), "Recording disclosure".to_string()),
        ]
        .into_iter()
        .collect(),
    }
}

pub(super) fn detail() -> AnalyticsConversation {
    serde_json::from_value(json!({
        "conversationId": "c1", "conversationStart": "2023-10-01T10:00:00.000Z",
        "participants": [
            {"participantId": "p1", "purpose": "customer", "sessions": [{"sessionId": "s-cust", "mediaType": "voice"}]},
            {"participantId": "p2", "purpose": "agent", "userId": "agent-1", "sessions": [
                {"sessionId": "s-agent", "mediaType": "voice", "recording": true,
                 "segments": [{"segmentType": "interact", "queueId": "queue-1"}]}]}]
    }))
    .unwrap()
}

pub(super) fn transcript() -> TranscriptDocument {
    // 2023-10-01T10:00:05Z = 1696154405000 ms.
    serde_json::from_value(json!({
        "conversationId": "c1", "communicationId": "s-agent", "startTime": 1696154405000i64,
        "transcripts": [{"transcriptId": "t1", "phrases": [
            {"phraseIndex": 0, "participantPurpose": "external", "text": "hello", "startTimeMs": 1696154406000i64, "duration": {"milliseconds": 1000}},
            {"phraseIndex": 1, "participantPurpose": "internal", "text": "your card is four one one one", "startTimeMs": 1696154410000i64, "duration": {"milliseconds": 3000}}],
          "analytics": {"topics": [{"participant": "internal", "topicId": TOPIC, "topicName": "Card read back",
              "topicPhrase": "your card is", "transcriptPhrase": "your card is four one one one",
              "confidence": 87, "startTimeMs": 1696154410000i64, "duration": {"milliseconds": 3000}}]}}]
    }))
    .unwrap()
}
