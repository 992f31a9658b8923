//! The audit record of one extraction.

use compliance_api::{Filters, TimeInterval, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use uuid::Uuid;

/// What one extraction did, as an auditor asks it: the design document's
/// fields first, then what was queried and what happened on the way.
///
/// A plain data struct that the pipeline fills; [`crate::AuditLog::append`]
/// writes it. Counts by category are `BTreeMap`s so that they serialise in a
/// stable order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the extraction finished (RFC 3339, UTC, `Z`).
    pub timestamp: Timestamp,
    /// Names the extraction, and its file `extraction_<extraction_id>.json`.
    pub extraction_id: Uuid,
    /// SHA-256 (lowercase hex) of the exact JSON bytes of the query payload:
    /// see [`payload_hash`].
    pub payload_hash: String,
    /// Validated violations (false positives excluded).
    pub total_violations: u64,
    /// Validated divided by all unique violations fetched, 0 when none: see
    /// [`accuracy_rate`].
    pub accuracy_rate: f64,
    /// Wall-clock duration of the extraction in milliseconds.
    pub latency_ms: f64,
    /// PII findings in evidence (each one redacted unless `--keep-pii`).
    pub pii_exposures_detected: u64,
    /// Violations judged false positives.
    pub false_positives_filtered: u64,
    /// The interval asked for, `[start, end)`.
    pub interval: TimeInterval,
    /// The windows the interval was split into, in query order.
    pub windows: Vec<TimeInterval>,
    /// The query's filters.
    pub filters: Filters,
    /// Pages fetched, over all windows.
    pub pages: u64,
    /// Unique violations fetched (validated plus false positives).
    pub violations_fetched: u64,
    /// Violations dropped because they had been seen already (repeated
    /// across pages, or re-read through `serve`'s look-back).
    pub duplicates_dropped: u64,
    /// Unique violations by severity (`LOW`, `MEDIUM`, ...).
    pub by_severity: BTreeMap<String, u64>,
    /// Unique violations by verdict status (`validated`, `false_positive`).
    pub by_status: BTreeMap<String, u64>,
    /// PII findings by type (`ssn`, `credit_card`, ...).
    pub by_pii_type: BTreeMap<String, u64>,
    /// Requests retried (429, 5xx, network), over the whole extraction.
    pub retries: u64,
    /// Where the violations came from (`agentassist`, `speech-analytics`,
    /// `evaluations`). Records written before sources existed lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// API requests the extraction sent (token requests included); with
    /// `violations_fetched`, the requests per violation. Records written
    /// before it existed lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_requests: Option<u64>,
    /// Card numbers the detectors missed and the last pass over the output
    /// redacted: 0 unless a detector has a gap. Records written before it
    /// existed lack it and read as 0 (the chain hashes the record as written).
    #[serde(default)]
    pub late_pii: u64,
    /// `genesys-compliance` version that wrote the record.
    pub program_version: String,
}

/// SHA-256 of `payload` as 64 lowercase hex digits: the record's
/// `payload_hash`, computed over the exact bytes sent as the query body.
pub fn payload_hash(payload: &[u8]) -> String {
    hex::encode(Sha256::digest(payload))
}

/// The record's `accuracy_rate`: `validated / unique`, and 0 when nothing
/// was fetched (never NaN).
pub fn accuracy_rate(validated: u64, unique: u64) -> f64 {
    if unique == 0 {
        0.0
    } else {
        validated as f64 / unique as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_hash_is_sha256_hex_of_the_exact_bytes() {
        assert_eq!(
            payload_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(payload_hash(b"{\"a\":1}"), payload_hash(b"{\"a\": 1}"));
    }

    #[test]
    fn the_record_carries_the_design_fields_in_their_wire_form() {
        let at = |s: &str| s.parse().unwrap();
        let interval = TimeInterval {
            start: at("2023-10-01T00:00:00Z"),
            end: at("2023-10-02T00:00:00Z"),
        };
        let record = AuditRecord {
            timestamp: at("2023-10-02T00:00:03.512Z"),
            extraction_id: "3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10".parse().unwrap(),
            payload_hash: payload_hash(b"{}"),
            total_violations: 120,
            accuracy_rate: 0.8,
            latency_ms: 5321.7,
            pii_exposures_detected: 14,
            false_positives_filtered: 30,
            interval,
            windows: vec![interval],
            filters: Filters::default(),
            pages: 1,
            violations_fetched: 150,
            duplicates_dropped: 0,
            by_severity: BTreeMap::from([("LOW".into(), 1), ("HIGH".into(), 2)]),
            by_status: BTreeMap::new(),
            by_pii_type: BTreeMap::new(),
            retries: 0,
            source: Some("speech-analytics".into()),
            api_requests: Some(180),
            late_pii: 0,
            program_version: "0.1.0".into(),
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["timestamp"], "2023-10-02T00:00:03.512Z");
        assert_eq!(
            json["extraction_id"],
            "3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10"
        );
        assert_eq!(json["total_violations"], 120);
        assert_eq!(json["accuracy_rate"], 0.8);
        assert_eq!(json["latency_ms"], 5321.7);
        assert_eq!(json["pii_exposures_detected"], 14);
        assert_eq!(json["false_positives_filtered"], 30);
        assert_eq!(json["interval"]["start"], "2023-10-01T00:00:00.000Z");
        let text = serde_json::to_string(&record).unwrap();
        assert!(
            text.contains(r#""by_severity":{"HIGH":2,"LOW":1}"#),
            "{text}"
        );
        let back: AuditRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back, record);
        assert_eq!(json["source"], "speech-analytics");
        assert_eq!(json["api_requests"], 180);
        // A record written before sources existed still reads.
        let mut old = json.clone();
        old.as_object_mut().unwrap().remove("source");
        old.as_object_mut().unwrap().remove("api_requests");
        let back: AuditRecord = serde_json::from_value(old).unwrap();
        assert_eq!((back.source, back.api_requests), (None, None));
        assert_eq!(json["late_pii"], 0);
        // A record written before `late_pii` existed still reads, as 0.
        let mut old = json.clone();
        old.as_object_mut().unwrap().remove("late_pii");
        let back: AuditRecord = serde_json::from_value(old).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn accuracy_rate_is_zero_when_nothing_was_fetched() {
        assert_eq!(accuracy_rate(0, 0), 0.0);
        assert_eq!(accuracy_rate(96, 120), 0.8);
    }
}
