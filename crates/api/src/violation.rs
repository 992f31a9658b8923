use crate::{Severity, Timestamp};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// One compliance violation as the API returns it.
///
/// The four always-present fields are typed; the usually-present ones are
/// optional; fields this version does not know are kept in [`Violation::extra`]
/// and written back out, so records pass through unchanged. (A field sent as
/// `null` is written back as absent: the contract treats both alike.)
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// Unique id of the violation.
    pub id: String,
    /// The conversation it was detected in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The communication (call, chat, ...) within the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communication_id: Option<String>,
    /// The agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The queue the conversation came through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// The compliance policy the rule belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// The rule that fired.
    pub rule_id: String,
    /// The rule's name, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    /// How serious the violation is.
    pub severity: Severity,
    /// When it was detected; queries select and order by it.
    pub detected_at: Timestamp,
    /// Where in the conversation, such as `conversation/<id>/segment/4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_reference: Option<String>,
    /// The detector's confidence, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// What the detector saw; absent on some violations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<Evidence>>,
    /// Fields added by newer servers.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Violation {
    /// Whether any evidence item has a non-empty value. Without one there is
    /// nothing to check for PII, and the violation counts as missing evidence
    /// (its `evidence` absent, null, empty, or holding only empty values).
    pub fn has_evidence_value(&self) -> bool {
        self.evidence
            .iter()
            .flatten()
            .any(|e| e.value.as_deref().is_some_and(|v| !v.is_empty()))
    }
}

/// One piece of evidence of a violation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// `TRANSCRIPT`, `SCREEN` or `METADATA`; new types may appear.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who spoke or acted: `AGENT`, `CUSTOMER`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<String>,
    /// Free text in any language, possibly empty; speech-to-text output for transcripts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where it starts, in milliseconds from the start of the communication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<i64>,
    /// Where it ends, in milliseconds from the start of the communication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
    /// Fields added by newer servers.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Evidence {
    /// [`Evidence::kind`] of speech-to-text output.
    pub const TRANSCRIPT: &'static str = "TRANSCRIPT";
    /// [`Evidence::kind`] of text seen on the agent's screen.
    pub const SCREEN: &'static str = "SCREEN";
    /// [`Evidence::kind`] of conversation metadata.
    pub const METADATA: &'static str = "METADATA";
}

// Deserialize by hand: `#[serde(flatten)]` makes serde buffer every field of
// every violation before sorting them out, which made parsing the slowest
// part of `verify`. Behaviour is the derived one: same names, required
// fields, duplicate-field errors, and unknown fields kept in `extra`.

/// Field names of [`Violation`], or an unknown one kept in `extra`.
enum ViolationField {
    Id,
    ConversationId,
    CommunicationId,
    AgentId,
    QueueId,
    PolicyId,
    RuleId,
    RuleName,
    Severity,
    DetectedAt,
    SegmentReference,
    Confidence,
    Evidence,
    Other(String),
}

impl ViolationField {
    fn from_name(name: &str) -> Option<ViolationField> {
        Some(match name {
            "id" => ViolationField::Id,
            "conversationId" => ViolationField::ConversationId,
            "communicationId" => ViolationField::CommunicationId,
            "agentId" => ViolationField::AgentId,
            "queueId" => ViolationField::QueueId,
            "policyId" => ViolationField::PolicyId,
            "ruleId" => ViolationField::RuleId,
            "ruleName" => ViolationField::RuleName,
            "severity" => ViolationField::Severity,
            "detectedAt" => ViolationField::DetectedAt,
            "segmentReference" => ViolationField::SegmentReference,
            "confidence" => ViolationField::Confidence,
            "evidence" => ViolationField::Evidence,
            _ => return None,
        })
    }
}

/// Field names of [`Evidence`], or an unknown one kept in `extra`.
enum EvidenceField {
    Kind,
    Participant,
    Value,
    StartMs,
    EndMs,
    Other(String),
}

impl EvidenceField {
    fn from_name(name: &str) -> Option<EvidenceField> {
        Some(match name {
            "type" => EvidenceField::Kind,
            "participant" => EvidenceField::Participant,
            "value" => EvidenceField::Value,
            "startMs" => EvidenceField::StartMs,
            "endMs" => EvidenceField::EndMs,
            _ => return None,
        })
    }
}

/// Deserializes a field name without allocating for known names.
macro_rules! field_name {
    ($field:ident) => {
        impl<'de> Deserialize<'de> for $field {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Name;
                impl<'de> Visitor<'de> for Name {
                    type Value = $field;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$field, E> {
                        Ok($field::from_name(v).unwrap_or_else(|| $field::Other(v.to_owned())))
                    }
                    fn visit_string<E: de::Error>(self, v: String) -> Result<$field, E> {
                        Ok($field::from_name(&v).unwrap_or($field::Other(v)))
                    }
                }
                d.deserialize_identifier(Name)
            }
        }
    };
}
field_name!(ViolationField);
field_name!(EvidenceField);

/// Stores a field's value, refusing a second occurrence as derived code does.
fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

impl<'de> Deserialize<'de> for Violation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Violation;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a violation object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Violation, A::Error> {
                use ViolationField as F;
                let (mut id, mut rule_id, mut severity, mut detected_at) = (None, None, None, None);
                let (mut conversation_id, mut communication_id, mut agent_id, mut queue_id) =
                    (None, None, None, None);
                let (mut policy_id, mut rule_name, mut segment_reference) = (None, None, None);
                let (mut confidence, mut evidence) = (None, None);
                let mut extra = Map::new();
                while let Some(key) = map.next_key::<F>()? {
                    match key {
                        F::Id => once(&mut map, &mut id, "id")?,
                        F::ConversationId => {
                            once(&mut map, &mut conversation_id, "conversationId")?
                        }
                        F::CommunicationId => {
                            once(&mut map, &mut communication_id, "communicationId")?
                        }
                        F::AgentId => once(&mut map, &mut agent_id, "agentId")?,
                        F::QueueId => once(&mut map, &mut queue_id, "queueId")?,
                        F::PolicyId => once(&mut map, &mut policy_id, "policyId")?,
                        F::RuleId => once(&mut map, &mut rule_id, "ruleId")?,
                        F::RuleName => once(&mut map, &mut rule_name, "ruleName")?,
                        F::Severity => once(&mut map, &mut severity, "severity")?,
                        F::DetectedAt => once(&mut map, &mut detected_at, "detectedAt")?,
                        F::SegmentReference => {
                            once(&mut map, &mut segment_reference, "segmentReference")?
                        }
                        F::Confidence => once(&mut map, &mut confidence, "confidence")?,
                        F::Evidence => once(&mut map, &mut evidence, "evidence")?,
                        F::Other(name) => {
                            let value: Value = map.next_value()?;
                            // As with flatten, a later duplicate replaces an earlier one.
                            extra.insert(name, value);
                        }
                    }
                }
                Ok(Violation {
                    id: id.ok_or_else(|| de::Error::missing_field("id"))?,
                    conversation_id: conversation_id.flatten(),
                    communication_id: communication_id.flatten(),
                    agent_id: agent_id.flatten(),
                    queue_id: queue_id.flatten(),
                    policy_id: policy_id.flatten(),
                    rule_id: rule_id.ok_or_else(|| de::Error::missing_field("ruleId"))?,
                    rule_name: rule_name.flatten(),
                    severity: severity.ok_or_else(|| de::Error::missing_field("severity"))?,
                    detected_at: detected_at
                        .ok_or_else(|| de::Error::missing_field("detectedAt"))?,
                    segment_reference: segment_reference.flatten(),
                    confidence: confidence.flatten(),
                    evidence: evidence.flatten(),
                    extra,
                })
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Evidence {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Evidence;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an evidence object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Evidence, A::Error> {
                use EvidenceField as F;
                let (mut kind, mut participant, mut value) = (None, None, None);
                let (mut start_ms, mut end_ms) = (None, None);
                let mut extra = Map::new();
                while let Some(key) = map.next_key::<F>()? {
                    match key {
                        F::Kind => once(&mut map, &mut kind, "type")?,
                        F::Participant => once(&mut map, &mut participant, "participant")?,
                        F::Value => once(&mut map, &mut value, "value")?,
                        F::StartMs => once(&mut map, &mut start_ms, "startMs")?,
                        F::EndMs => once(&mut map, &mut end_ms, "endMs")?,
                        F::Other(name) => {
                            let v: Value = map.next_value()?;
                            extra.insert(name, v);
                        }
                    }
                }
                Ok(Evidence {
                    kind: kind.ok_or_else(|| de::Error::missing_field("type"))?,
                    participant: participant.flatten(),
                    value: value.flatten(),
                    start_ms: start_ms.flatten(),
                    end_ms: end_ms.flatten(),
                    extra,
                })
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Violation, String> {
        serde_json::from_str(&v.to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn required_fields_are_required() {
        let full = json!({"id": "a", "ruleId": "r", "severity": "LOW", "detectedAt": "2023-10-01T13:04:05.000Z"});
        assert!(parse(full.clone()).is_ok());
        for field in ["id", "ruleId", "severity", "detectedAt"] {
            let mut v = full.clone();
            v.as_object_mut().unwrap().remove(field);
            let e = parse(v).unwrap_err();
            assert!(e.contains(&format!("missing field `{field}`")), "{e}");
        }
        let e = parse(
            json!({"id": null, "ruleId": "r", "severity": "LOW", "detectedAt": "2023-10-01T13:04:05.000Z"}),
        );
        assert!(e.is_err());
    }

    #[test]
    fn duplicates_are_refused_and_nulls_are_absent() {
        let text = r#"{"id": "a", "id": "b", "ruleId": "r", "severity": "LOW", "detectedAt": "2023-10-01T13:04:05.000Z"}"#;
        let e = serde_json::from_str::<Violation>(text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("duplicate field `id`"), "{e}");
        let v = parse(json!({"id": "a", "ruleId": "r", "severity": "LOW", "detectedAt": "2023-10-01T13:04:05.000Z",
            "agentId": null, "evidence": [{"type": "SCREEN", "value": null, "x": 1}]}))
        .unwrap();
        assert_eq!(v.agent_id, None);
        let ev = &v.evidence.as_ref().unwrap()[0];
        assert_eq!(
            (ev.value.as_deref(), ev.extra.get("x")),
            (None, Some(&json!(1)))
        );
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({"id": "a", "ruleId": "r", "severity": "LOW", "detectedAt": "2023-10-01T13:04:05.000Z",
                   "evidence": [{"type": "SCREEN", "x": 1}]})
        );
        assert!(parse(json!({"id": "a", "ruleId": "r", "severity": "LOW", "detectedAt": "2023-10-01T13:04:05.000Z",
            "evidence": [{"value": "no type"}]})).unwrap_err().contains("missing field `type`"));
        assert!(parse(json!(["a", "r"])).is_err());
    }
}
