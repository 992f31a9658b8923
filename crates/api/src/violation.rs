use crate::{Severity, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One compliance violation as the API returns it.
///
/// The four always-present fields are typed; the usually-present ones are
/// optional; fields this version does not know are kept in [`Violation::extra`]
/// and written back out, so records pass through unchanged. (A field sent as
/// `null` is written back as absent: the contract treats both alike.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communication_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    pub rule_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    pub severity: Severity,
    pub detected_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<Evidence>>,
    /// Fields added by newer servers.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One piece of evidence of a violation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// `TRANSCRIPT`, `SCREEN` or `METADATA`; new types may appear.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<String>,
    /// Free text in any language, possibly empty; speech-to-text output for transcripts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Evidence {
    pub const TRANSCRIPT: &'static str = "TRANSCRIPT";
    pub const SCREEN: &'static str = "SCREEN";
    pub const METADATA: &'static str = "METADATA";
}
