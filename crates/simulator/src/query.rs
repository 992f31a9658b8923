//! The query endpoint's own wire handling: the body is read as plain JSON and
//! every constraint of the contract is checked here by hand, naming the
//! field, so that a field name wrong on the client cannot hide behind the
//! same mistake in shared types.

use crate::dataset::{Dataset, SimViolation};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use compliance_api::{
    codes, CanonicalUuid, Severity, Timestamp, MAX_IDS_PER_FILTER, MAX_SPAN_DAYS,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::hash::{DefaultHasher, Hash, Hasher};

/// Why a query is refused with 400: the error code and the offending fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub code: &'static str,
    pub message: String,
    /// `(errorCode, fieldName)` per broken constraint.
    pub details: Vec<(&'static str, String)>,
}

impl Refusal {
    fn bad(details: Vec<(&'static str, String)>) -> Self {
        let fields: Vec<&str> = details.iter().map(|(_, f)| f.as_str()).collect();
        Refusal {
            code: codes::BAD_REQUEST,
            message: format!("The request is invalid: check {}.", fields.join(", ")),
            details,
        }
    }
    fn cursor(message: &str) -> Self {
        Refusal {
            code: codes::INVALID_CURSOR,
            message: message.to_string(),
            details: vec![("invalid.cursor", "cursor".to_string())],
        }
    }
}

/// A query that keeps every constraint.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    pub start: Timestamp,
    pub end: Timestamp,
    /// Sorted and deduplicated, so that the same set in another order is the same query.
    pub severity: Option<Vec<Severity>>,
    pub policy_ids: Option<Vec<uuid::Uuid>>,
    pub agent_ids: Option<Vec<uuid::Uuid>>,
    pub size: u32,
    pub cursor: Option<Cursor>,
}

/// Where the previous page of a query ended. Opaque to clients (base64 of JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// Fingerprint of the query (interval, filters, size) that issued it.
    #[serde(rename = "q")]
    pub fingerprint: u64,
    /// The last violation served: its `detectedAt` and `id`.
    #[serde(rename = "t")]
    pub at: Timestamp,
    #[serde(rename = "i")]
    pub id: String,
    /// How many results the query has served so far.
    #[serde(rename = "n")]
    pub served: u64,
    /// `total` as counted when the first page was served.
    #[serde(rename = "c")]
    pub total: u64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a cursor serialises"))
    }
    fn decode(s: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

const KEYS: [&str; 4] = ["time_interval", "filters", "size", "cursor"];
const INTERVAL_KEYS: [&str; 2] = ["start", "end"];
const FILTER_KEYS: [&str; 3] = ["severity", "policy_ids", "agent_ids"];

/// Parses a query body, checking every constraint of the contract.
pub(crate) fn parse(body: &[u8]) -> Result<Query, Refusal> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Refusal {
        code: codes::BAD_REQUEST,
        message: format!("The request body is not valid JSON ({e}); send the query object."),
        details: vec![("invalid.json", "body".into())],
    })?;
    let Value::Object(body) = value else {
        return Err(Refusal::bad(vec![("invalid.value", "body".into())]));
    };
    let mut errors = Vec::new();
    unknown_keys(&body, &KEYS, "", &mut errors);

    let (start, end) = interval(body.get("time_interval"), &mut errors);
    let (severity, policy_ids, agent_ids) = filters(body.get("filters"), &mut errors);
    let size = match body.get("size") {
        Some(v) => match v.as_u64() {
            Some(n @ 1..=1000) => Some(n as u32),
            _ => {
                errors.push(("invalid.value", "size".into()));
                None
            }
        },
        None => {
            errors.push(("missing.value", "size".into()));
            None
        }
    };
    let cursor = match body.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(("invalid.value", "cursor".into()));
            None
        }
    };
    let (Some(start), Some(end), Some(size), true) = (start, end, size, errors.is_empty()) else {
        return Err(Refusal::bad(errors));
    };
    let mut query = Query {
        start,
        end,
        severity,
        policy_ids,
        agent_ids,
        size,
        cursor: None,
    };
    if let Some(raw) = cursor {
        let cursor = Cursor::decode(&raw)
            .ok_or_else(|| Refusal::cursor("The cursor is not one this server issued."))?;
        if cursor.fingerprint != query.fingerprint() {
            return Err(Refusal::cursor(
                "The cursor belongs to a query with another interval, filters or size; \
                 send the same query with it, or start again without a cursor.",
            ));
        }
        query.cursor = Some(cursor);
    }
    Ok(query)
}

fn unknown_keys(
    object: &Map<String, Value>,
    known: &[&str],
    prefix: &str,
    errors: &mut Vec<(&'static str, String)>,
) {
    for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.push(("unknown.field", format!("{prefix}{key}")));
    }
}

fn interval(
    value: Option<&Value>,
    errors: &mut Vec<(&'static str, String)>,
) -> (Option<Timestamp>, Option<Timestamp>) {
    let Some(value) = value else {
        errors.push(("missing.value", "time_interval".into()));
        return (None, None);
    };
    let Value::Object(object) = value else {
        errors.push(("invalid.value", "time_interval".into()));
        return (None, None);
    };
    unknown_keys(object, &INTERVAL_KEYS, "time_interval.", errors);
    let mut timestamp = |key: &str| {
        let field = format!("time_interval.{key}");
        match object.get(key) {
            None | Some(Value::Null) => {
                errors.push(("missing.value", field));
                None
            }
            Some(Value::String(s)) => match s.parse::<Timestamp>() {
                Ok(t) => Some(t),
                Err(_) => {
                    errors.push(("invalid.value", field));
                    None
                }
            },
            Some(_) => {
                errors.push(("invalid.value", field));
                None
            }
        }
    };
    let (start, end) = (timestamp("start"), timestamp("end"));
    if let (Some(s), Some(e)) = (start, end) {
        if s >= e {
            errors.push(("invalid.value", "time_interval.end".into()));
        } else if e.as_datetime() - s.as_datetime() > chrono::Duration::days(MAX_SPAN_DAYS) {
            errors.push(("interval.too.long", "time_interval".into()));
        }
    }
    (start, end)
}

type FilterLists = (
    Option<Vec<Severity>>,
    Option<Vec<uuid::Uuid>>,
    Option<Vec<uuid::Uuid>>,
);

fn filters(value: Option<&Value>, errors: &mut Vec<(&'static str, String)>) -> FilterLists {
    let object = match value {
        None | Some(Value::Null) => return (None, None, None),
        Some(Value::Object(object)) => object,
        Some(_) => {
            errors.push(("invalid.value", "filters".into()));
            return (None, None, None);
        }
    };
    unknown_keys(object, &FILTER_KEYS, "filters.", errors);
    let severity = list(object, "severity", errors, |s| {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    });
    let uuid = |s: &str| s.parse::<CanonicalUuid>().ok().map(|u| u.get());
    let policy_ids = list(object, "policy_ids", errors, uuid);
    let agent_ids = list(object, "agent_ids", errors, uuid);
    (severity, policy_ids, agent_ids)
}

/// A filter list: absent or null means no filter; empty, over-long, or holding
/// a value that does not parse is refused.
fn list<T: Ord>(
    object: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<(&'static str, String)>,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<Vec<T>> {
    let field = format!("filters.{key}");
    let items = match object.get(key) {
        None | Some(Value::Null) => return None,
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(("invalid.value", field));
            return None;
        }
    };
    if items.is_empty() {
        errors.push(("empty.list", field));
        return None;
    }
    if key != "severity" && items.len() > MAX_IDS_PER_FILTER {
        errors.push(("too.many.values", field));
        return None;
    }
    let parsed: Option<Vec<T>> = items.iter().map(|v| v.as_str().and_then(&parse)).collect();
    match parsed {
        Some(mut values) => {
            values.sort();
            values.dedup();
            Some(values)
        }
        None => {
            errors.push(("invalid.value", field));
            None
        }
    }
}

impl Query {
    /// Identifies the query a cursor belongs to: interval, filters and size.
    pub fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        (self.start, self.end, &self.severity, self.size).hash(&mut h);
        (&self.policy_ids, &self.agent_ids).hash(&mut h);
        h.finish()
    }

    fn matches(&self, v: &SimViolation) -> bool {
        fn within<T: Ord>(filter: &Option<Vec<T>>, value: Option<&T>) -> bool {
            match filter {
                None => true,
                Some(allowed) => value.is_some_and(|v| allowed.binary_search(v).is_ok()),
            }
        }
        within(&self.severity, Some(&v.severity))
            && within(&self.policy_ids, v.policy_id.as_ref())
            && within(&self.agent_ids, v.agent_id.as_ref())
    }
}

/// One page to serve.
#[derive(Debug)]
pub(crate) struct PageOut<'a> {
    pub violations: Vec<&'a SimViolation>,
    pub next: Option<Cursor>,
    pub total: u64,
}

/// How the server shapes the page it serves beyond what the query asks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Serving {
    /// Begin the page with the previous page's last violation (the duplicates fault).
    pub repeat_last: bool,
    /// Serve at most this many violations even when more follow (the short-pages fault).
    pub short: Option<usize>,
    /// How many violations one query may page through.
    pub cap: u64,
}

/// Serves the page `query` asks for, as of `now`.
pub(crate) fn page<'a>(
    dataset: &'a Dataset,
    query: &Query,
    now: Timestamp,
    serving: Serving,
) -> Result<PageOut<'a>, Refusal> {
    let Serving {
        repeat_last,
        short,
        cap,
    } = serving;
    let (from, served) = match &query.cursor {
        Some(c) => {
            let at = dataset.position(c.at, &c.id);
            let is_last = dataset.violations.get(at).is_some_and(|v| v.id == c.id);
            (if is_last && !repeat_last { at + 1 } else { at }, c.served)
        }
        None => (dataset.position(query.start, ""), 0),
    };
    if served >= cap {
        return Err(Refusal {
            code: codes::PAGINATION_LIMIT_EXCEEDED,
            message: format!(
                "One query can page through at most {cap} violations; \
                 split the interval into smaller ones."
            ),
            details: vec![("pagination.limit.exceeded", "cursor".into())],
        });
    }
    let limit = (query.size as u64).min(cap - served) as usize;
    let limit = short.map_or(limit, |s| s.min(limit));
    let mut matching = dataset.violations[from..]
        .iter()
        .take_while(|v| v.detected_at < query.end)
        .filter(|v| v.visible_at <= now && query.matches(v));
    let violations: Vec<&SimViolation> = matching.by_ref().take(limit).collect();
    let more = matching.next().is_some();
    let total = match &query.cursor {
        Some(c) => c.total,
        None => {
            let first = dataset.position(query.start, "");
            dataset.violations[first..]
                .iter()
                .take_while(|v| v.detected_at < query.end)
                .filter(|v| v.visible_at <= now && query.matches(v))
                .count() as u64
        }
    };
    // The next page starts after this page's last violation; after an empty
    // (short) page, where this one started.
    let (at, id) = match (violations.last(), &query.cursor) {
        (Some(last), _) => (last.detected_at, last.id.clone()),
        (None, Some(c)) => (c.at, c.id.clone()),
        (None, None) => (query.start, String::new()),
    };
    let next = more.then(|| Cursor {
        fingerprint: query.fingerprint(),
        at,
        id,
        served: served + violations.len() as u64,
        total,
    });
    Ok(PageOut {
        violations,
        next,
        total,
    })
}

/// Fuzz target `sim_query`: whatever the body, the parser answers; what it
/// accepts keeps every constraint of the contract, what it refuses names
/// the fields and carries the contract's code.
#[cfg(test)]
mod fuzz {
    use super::*;

    /// Keys and values of this parser, beside any JSON's tokens.
    const TOKENS: &[&str] = &[
        "1000",
        "1001",
        "\"time_interval\":",
        "\"start\":",
        "\"end\":",
        "\"filters\":",
        "\"severity\":",
        "\"policy_ids\":",
        "\"agent_ids\":",
        "\"size\":",
        "\"cursor\":",
        "\"HIGH\"",
        "\"2023-10-01T00:00:00Z\"",
        "\"2023-11-01T00:00:00.5Z\"",
        "\"3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10\"",
        "\"eyJ9\"",
        "-",
        "1e3",
    ];

    #[test]
    fn fuzz_sim_query() {
        let tokens = [compliance_fuzz::JSON, TOKENS].concat();
        compliance_fuzz::fuzz("sim_query", &tokens, |body| match parse(body) {
            Ok(q) => {
                assert!(q.start < q.end, "{q:?}");
                let span = q.end.as_datetime() - q.start.as_datetime();
                assert!(span <= chrono::Duration::days(MAX_SPAN_DAYS), "{q:?}");
                assert!((1..=1000).contains(&q.size), "{q:?}");
                for ids in [&q.policy_ids, &q.agent_ids].into_iter().flatten() {
                    assert!(!ids.is_empty() && ids.len() <= MAX_IDS_PER_FILTER, "{q:?}");
                }
                assert!(q.severity.as_ref().is_none_or(|s| !s.is_empty()), "{q:?}");
                let value: Value = serde_json::from_slice(body).expect("accepted, so JSON");
                assert!(value.is_object());
            }
            Err(refusal) => {
                assert!(
                    [codes::BAD_REQUEST, codes::INVALID_CURSOR].contains(&refusal.code),
                    "{refusal:?}"
                );
                assert!(
                    !refusal.details.is_empty() && !refusal.message.is_empty(),
                    "{refusal:?}"
                );
            }
        });
    }
}
