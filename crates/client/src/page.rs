//! Reading a 200 page: typed in one pass when every record is a usable
//! violation (the common case), record by record otherwise, so that one bad
//! record is rejected with its reason instead of sinking the page.

use compliance_api::{Page, Violation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A record of a page that is not a usable violation, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    /// The record as received.
    pub raw: Value,
    /// Why it is not usable, such as `missing ruleId, detectedAt`.
    pub reason: String,
}

/// A page whose records are sorted into violations and rejects.
#[derive(Debug)]
pub(crate) struct ReceivedPage {
    pub records: Vec<Result<Violation, Rejected>>,
    pub next_page_cursor: Option<String>,
    pub total: Option<u64>,
}

/// Decodes a 200 body; an error means the body is not a page at all.
pub(crate) fn decode(bytes: &[u8]) -> Result<ReceivedPage, serde_json::Error> {
    if let Ok(page) = serde_json::from_slice::<Page<Violation>>(bytes) {
        return Ok(ReceivedPage {
            records: page.violations.into_iter().map(Ok).collect(),
            next_page_cursor: page.next_page_cursor,
            total: page.total,
        });
    }
    let page = serde_json::from_slice::<Page<Value>>(bytes)?;
    Ok(ReceivedPage {
        records: page
            .violations
            .into_iter()
            .map(|raw| parse(&raw).map_err(|reason| Rejected { raw, reason }))
            .collect(),
        next_page_cursor: page.next_page_cursor,
        total: page.total,
    })
}

/// A violation, or why the record is not one.
fn parse(raw: &Value) -> Result<Violation, String> {
    let Some(object) = raw.as_object() else {
        return Err("not a JSON object".into());
    };
    let missing: Vec<&str> = ["id", "ruleId", "severity", "detectedAt"]
        .into_iter()
        .filter(|k| object.get(*k).is_none_or(Value::is_null))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing {}", missing.join(", ")));
    }
    Violation::deserialize(raw).map_err(|e| format!("malformed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_without_required_fields_are_named() {
        let ok = json!({"id": "a", "ruleId": "r", "severity": "LOW",
                        "detectedAt": "2023-10-01T00:00:00Z", "newField": 1});
        assert_eq!(parse(&ok).unwrap().extra["newField"], 1);
        let reason = parse(&json!({"id": "a", "ruleId": null, "severity": "LOW"})).unwrap_err();
        assert_eq!(reason, "missing ruleId, detectedAt");
        let reason = parse(&json!({"id": "a", "ruleId": "r", "severity": "SEVERE",
                                   "detectedAt": "2023-10-01T00:00:00Z"}))
        .unwrap_err();
        assert!(
            reason.starts_with("malformed:") && reason.contains("SEVERE"),
            "{reason}"
        );
        assert_eq!(parse(&json!([1])).unwrap_err(), "not a JSON object");
    }

    #[test]
    fn one_bad_record_does_not_sink_the_page() {
        let body = json!({"violations": [
            {"id": "a", "ruleId": "r", "severity": "LOW", "detectedAt": "2023-10-01T00:00:00Z"},
            {"id": "b", "severity": "LOW", "detectedAt": "2023-10-01T00:00:00Z"}
        ], "pageSize": 2, "nextPageCursor": "c", "total": 9});
        let page = decode(body.to_string().as_bytes()).unwrap();
        assert_eq!(page.records.len(), 2);
        assert_eq!(page.records[0].as_ref().unwrap().id, "a");
        assert_eq!(
            page.records[1].as_ref().unwrap_err().reason,
            "missing ruleId"
        );
        assert_eq!(
            (page.next_page_cursor.as_deref(), page.total),
            (Some("c"), Some(9))
        );
        assert!(decode(b"<html>").is_err());
        assert!(decode(br#"{"violations": []}"#).is_err());
    }
}

/// Fuzz target `page`: the page parser against serde's reading of the same
/// bytes. A body is a page exactly when it is JSON of the page's shape; each
/// record is a violation exactly when the typed parse takes it, and the same
/// one; a reject keeps the record as received and says why.
#[cfg(test)]
mod fuzz {
    use super::*;

    /// Keys and values of this parser, beside any JSON's tokens.
    const TOKENS: &[&str] = &[
        "\"violations\":",
        "\"pageSize\":",
        "\"nextPageCursor\":",
        "\"total\":",
        "\"id\":\"a\"",
        "\"ruleId\":",
        "\"severity\":\"LOW\"",
        "\"detectedAt\":\"2023-10-01T00:00:00Z\"",
        "\"evidence\":",
    ];

    #[test]
    fn fuzz_page() {
        let tokens = [compliance_fuzz::JSON, TOKENS].concat();
        compliance_fuzz::fuzz("page", &tokens, |bytes| {
            let raw = serde_json::from_slice::<Page<Value>>(bytes);
            let page = match (decode(bytes), raw) {
                (Ok(page), Ok(raw)) => (page, raw),
                (Err(_), Err(_)) => return,
                (a, b) => panic!(
                    "decode and serde disagree on {:?}: {a:?} / {b:?}",
                    String::from_utf8_lossy(bytes)
                ),
            };
            let (page, raw) = page;
            assert_eq!(page.next_page_cursor, raw.next_page_cursor);
            assert_eq!(page.total, raw.total);
            assert_eq!(page.records.len(), raw.violations.len());
            for (record, value) in page.records.iter().zip(&raw.violations) {
                let typed = Violation::deserialize(value);
                match (record, typed) {
                    (Ok(v), Ok(t)) => assert_eq!(v, &t),
                    (Err(rejected), Err(_)) => {
                        assert_eq!(&rejected.raw, value);
                        assert!(!rejected.reason.is_empty());
                    }
                    (r, t) => panic!("record {value} read as {r:?}, typed {t:?}"),
                }
            }
        });
    }
}
