//! Mapping to violations: a topic rule gives one per detection, a category
//! rule one per conversation.

use super::wire::*;
use super::{Definitions, Fired, Inner, NAME};
use crate::ids;
use compliance_api::{Evidence, Severity, Timestamp, Violation};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

impl Inner {
    /// The violations of one conversation.
    pub(super) fn build(
        &self,
        defs: &Definitions,
        cid: &str,
        fired: &Fired,
        detail: Option<&AnalyticsConversation>,
        transcripts: &[(String, TranscriptDocument)],
    ) -> Vec<Violation> {
        let context = Context::new(cid, detail, transcripts);
        let mut out = Vec::new();
        for topic in &fired.topics {
            let severity = self.rules[topic];
            for hit in context.detections(|t| t == topic) {
                let mut v = context.violation(
                    ids::derive(
                        NAME,
                        &[
                            cid,
                            &hit.communication,
                            topic,
                            &hit.transcript,
                            &hit.phrase_key,
                        ],
                    ),
                    topic,
                    defs.topic_names.get(topic).cloned(),
                    severity,
                    hit.at.unwrap_or(context.start),
                );
                v.communication_id = Some(hit.communication.clone());
                v.segment_reference = Some(hit.reference.clone());
                v.confidence = hit.confidence;
                v.evidence = Some(vec![hit.evidence.clone()]);
                out.push(v);
            }
        }
        for category in &fired.categories {
            let def = &defs.categories[category];
            let severity = self.rules[category];
            let wanted: BTreeSet<&str> = def
                .topics
                .iter()
                .filter(|(_, inverted)| !inverted)
                .map(|(t, _)| t.as_str())
                .collect();
            let hits = context.detections(|t| wanted.contains(t));
            let mut evidence: Vec<Evidence> = hits.iter().map(|h| h.evidence.clone()).collect();
            let name = def.name.clone().unwrap_or_else(|| category.clone());
            for (topic, _) in def.topics.iter().filter(|(_, inverted)| *inverted) {
                let topic_name = defs
                    .topic_names
                    .get(topic)
                    .map_or(topic.as_str(), String::as_str);
                evidence.push(Evidence {
                    kind: Evidence::METADATA.into(),
                    participant: None,
                    value: Some(format!(
                        "category \"{name}\" matched: topic \"{topic_name}\" ({topic}) was not detected"
                    )),
                    start_ms: None,
                    end_ms: None,
                    extra: Map::new(),
                });
            }
            let first = hits.first();
            let mut v = context.violation(
                ids::derive(NAME, &[cid, category]),
                category,
                Some(name),
                severity,
                first.and_then(|h| h.at).unwrap_or(context.start),
            );
            v.communication_id = first
                .map(|h| h.communication.clone())
                .or_else(|| transcripts.first().map(|(c, _)| c.clone()));
            v.segment_reference =
                Some(first.map_or_else(|| format!("conversation/{cid}"), |h| h.reference.clone()));
            v.evidence = Some(evidence);
            out.push(v);
        }
        out
    }
}

/// A detection of a topic, ready to become evidence.
#[derive(Debug, Clone)]
struct Hit {
    communication: String,
    transcript: String,
    /// The phrase index, or `t<startTimeMs>` when no phrase holds it.
    phrase_key: String,
    reference: String,
    at: Option<Timestamp>,
    confidence: Option<f64>,
    evidence: Evidence,
}

/// What one conversation's details and transcripts say.
struct Context<'a> {
    cid: &'a str,
    agent: Option<String>,
    queue: Option<String>,
    start: Timestamp,
    transcripts: &'a [(String, TranscriptDocument)],
}

impl<'a> Context<'a> {
    fn new(
        cid: &'a str,
        detail: Option<&AnalyticsConversation>,
        transcripts: &'a [(String, TranscriptDocument)],
    ) -> Context<'a> {
        let agent_participant = detail.and_then(|d| {
            d.participants
                .iter()
                .find(|p| p.purpose.as_deref() == Some("agent") && p.user_id.is_some())
        });
        let from_transcript = |f: fn(&TranscriptParticipant) -> Option<&String>| {
            transcripts
                .iter()
                .flat_map(|(_, d)| &d.participants)
                .filter(|p| matches!(p.participant_purpose.as_deref(), Some("internal" | "agent")))
                .find_map(|p| f(p).cloned())
        };
        let agent = agent_participant
            .and_then(|p| p.user_id.clone())
            .or_else(|| from_transcript(|p| p.user_id.as_ref()));
        let queue = detail
            .into_iter()
            .flat_map(|d| &d.participants)
            .flat_map(|p| &p.sessions)
            .flat_map(|s| &s.segments)
            .find_map(|s| s.queue_id.clone())
            .or_else(|| from_transcript(|p| p.queue_id.as_ref()));
        let start = detail
            .and_then(|d| d.conversation_start.as_deref()?.parse().ok())
            .or_else(|| {
                let ms = transcripts
                    .iter()
                    .find_map(|(_, d)| d.conversation_start_time.or(d.start_time))?;
                epoch_ms(ms)
            })
            .unwrap_or_else(Timestamp::now);
        Context {
            cid,
            agent,
            queue,
            start,
            transcripts,
        }
    }

    fn violation(
        &self,
        id: String,
        rule: &str,
        rule_name: Option<String>,
        severity: Severity,
        detected_at: Timestamp,
    ) -> Violation {
        let mut extra = Map::new();
        extra.insert("source".into(), Value::from(NAME));
        Violation {
            id,
            conversation_id: Some(self.cid.to_string()),
            communication_id: None,
            agent_id: self.agent.clone(),
            queue_id: self.queue.clone(),
            policy_id: None,
            rule_id: rule.to_string(),
            rule_name,
            severity,
            detected_at,
            segment_reference: None,
            confidence: None,
            evidence: None,
            extra,
        }
    }

    /// Every detection of a topic `wanted` accepts, in transcript order.
    fn detections(&self, wanted: impl Fn(&str) -> bool) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (communication, doc) in self.transcripts {
            let origin = doc.start_time.or(doc.conversation_start_time);
            for t in &doc.transcripts {
                let Some(analytics) = &t.analytics else {
                    continue;
                };
                for d in analytics.topics.iter().filter(|d| wanted(&d.topic_id)) {
                    let phrase = d.start_time_ms.and_then(|at| phrase_at(&t.phrases, at));
                    let phrase_key = match (phrase, d.start_time_ms) {
                        (Some(i), _) => i.to_string(),
                        (None, Some(at)) => format!("t{at}"),
                        (None, None) => "unknown".into(),
                    };
                    let duration = duration_ms(&d.duration);
                    let start_ms = match (d.start_time_ms, origin) {
                        (Some(at), Some(o)) => Some(at - o),
                        _ => None,
                    };
                    let value = d
                        .transcript_phrase
                        .clone()
                        .or_else(|| d.topic_phrase.clone());
                    let mut extra = Map::new();
                    if let Some(p) = &d.topic_phrase {
                        extra.insert("topicPhrase".into(), Value::from(p.clone()));
                    }
                    extra.insert("topicId".into(), Value::from(d.topic_id.clone()));
                    hits.push(Hit {
                        communication: communication.clone(),
                        transcript: t.transcript_id.clone(),
                        reference: format!(
                            "conversation/{}/communication/{communication}/transcript/{}/phrase/{phrase_key}",
                            self.cid, t.transcript_id
                        ),
                        phrase_key,
                        at: d.start_time_ms.and_then(epoch_ms),
                        confidence: d.confidence.map(|c| if c > 1.0 { c / 100.0 } else { c }),
                        evidence: Evidence {
                            kind: Evidence::TRANSCRIPT.into(),
                            participant: d.participant.as_deref().map(participant),
                            value,
                            start_ms,
                            end_ms: start_ms.zip(duration).map(|(s, d)| s + d),
                            extra,
                        },
                    });
                }
            }
        }
        hits
    }
}

/// The index of the phrase that holds `at` (epoch ms).
fn phrase_at(phrases: &[Phrase], at: i64) -> Option<i64> {
    phrases.iter().enumerate().find_map(|(i, p)| {
        let start = p.start_time_ms?;
        let end = start + duration_ms(&p.duration).unwrap_or(0);
        (start <= at && (at < end || at == start)).then(|| p.phrase_index.unwrap_or(i as i64))
    })
}

/// A transcript participant purpose as the evidence names it.
fn participant(purpose: &str) -> String {
    match purpose.to_ascii_lowercase().as_str() {
        "internal" | "agent" => "AGENT".into(),
        "external" | "customer" => "CUSTOMER".into(),
        other => other.to_ascii_uppercase(),
    }
}

fn epoch_ms(ms: i64) -> Option<Timestamp> {
    chrono::DateTime::from_timestamp_millis(ms).map(Timestamp::from_datetime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speech::fixtures::*;

    #[test]
    fn a_topic_detection_and_a_category_with_a_missing_topic_become_violations() {
        let inner = inner();
        let fired = Fired {
            categories: [CATEGORY.to_string()].into_iter().collect(),
            topics: [TOPIC.to_string()].into_iter().collect(),
        };
        let transcripts = vec![("s-agent".to_string(), transcript())];
        let v = inner.build(&definitions(), "c1", &fired, Some(&detail()), &transcripts);
        assert_eq!(v.len(), 2);
        let topic = &v[0];
        assert_eq!(
            topic.id,
            ids::derive(NAME, &["c1", "s-agent", TOPIC, "t1", "1"])
        );
        assert_eq!(topic.rule_id, TOPIC);
        assert_eq!(topic.rule_name.as_deref(), Some("Card read back"));
        assert_eq!(topic.severity, Severity::High);
        assert_eq!(topic.detected_at.to_string(), "2023-10-01T10:00:10.000Z");
        assert_eq!(topic.agent_id.as_deref(), Some("agent-1"));
        assert_eq!(topic.queue_id.as_deref(), Some("queue-1"));
        assert_eq!(topic.communication_id.as_deref(), Some("s-agent"));
        assert_eq!(
            topic.segment_reference.as_deref(),
            Some("conversation/c1/communication/s-agent/transcript/t1/phrase/1")
        );
        assert_eq!(topic.confidence, Some(0.87));
        assert_eq!(topic.extra["source"], "speech-analytics");
        let e = &topic.evidence.as_ref().unwrap()[0];
        assert_eq!(e.kind, "TRANSCRIPT");
        assert_eq!(e.participant.as_deref(), Some("AGENT"));
        assert_eq!(e.value.as_deref(), Some("your card is four one one one"));
        assert_eq!((e.start_ms, e.end_ms), (Some(5000), Some(8000)));

        let category = &v[1];
        assert_eq!(category.id, ids::derive(NAME, &["c1", CATEGORY]));
        assert_eq!(category.severity, Severity::Critical);
        // Nothing was said for it: it happened at the conversation's start.
        assert_eq!(category.detected_at.to_string(), "2023-10-01T10:00:00.000Z");
        assert_eq!(
            category.segment_reference.as_deref(),
            Some("conversation/c1")
        );
        let e = category.evidence.as_ref().unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, "METADATA");
        assert_eq!(
            e[0].value.as_deref(),
            Some(&*format!(
                "category \"Disclosure not read\" matched: topic \"Recording disclosure\" ({DISCLOSURE}) was not detected"
            ))
        );
        // The same inputs give the same records (ids included).
        assert_eq!(
            v,
            inner.build(&definitions(), "c1", &fired, Some(&detail()), &transcripts)
        );
    }
}
