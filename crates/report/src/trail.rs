//! The audit section's facts: the trail's check (the one `audit verify`
//! runs), every extraction's record, and each record's webhook.

use crate::{ReportError, Window};
use compliance_api::{TimeInterval, Timestamp};
use compliance_audit::{
    check_trail, webhook_id_for, Anchor, ChainEntry, ChainError, Tampering, TrailAnchors, LOG_FILE,
};
use compliance_store::StateStore;
use serde::Deserialize;
use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;

/// Extraction rows the page lists (the newest); totals cover them all.
pub const MAX_ROWS: usize = 400;

/// The trail's state, as `audit verify` finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Intact. `anchored` lists each anchor the head matched, with its source;
    /// empty means the cut of the newest records could not be ruled out.
    Intact {
        records: u64,
        head: Option<Anchor>,
        anchored: Vec<(String, Anchor)>,
        notes: Vec<String>,
    },
    /// Not intact: the first bad record.
    Broken(Tampering),
}

/// What one extraction's audit record says (the fields the page shows;
/// others are ignored, so records of newer versions still read).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RecordFields {
    pub timestamp: Timestamp,
    pub extraction_id: String,
    pub payload_hash: String,
    pub total_violations: u64,
    pub accuracy_rate: f64,
    pub pii_exposures_detected: u64,
    pub false_positives_filtered: u64,
    #[serde(default)]
    pub interval: Option<TimeInterval>,
    #[serde(default)]
    pub violations_fetched: Option<u64>,
    #[serde(default)]
    pub duplicates_dropped: u64,
}

/// Where a record's webhook stands in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Webhook {
    /// No state store was given, or it queued nothing for this record (no
    /// webhook configured).
    Unknown,
    Delivered {
        at_ms: i64,
        attempts: u32,
    },
    /// Still queued; `last` is the last attempt's HTTP status, if it got one.
    Queued {
        attempts: u32,
        last: Option<String>,
    },
}

/// One row of the extraction table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub seq: u64,
    pub hash: String,
    pub fields: RecordFields,
    pub webhook: Webhook,
}

/// Sums over the audit records in the window: what the output should equal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums {
    pub extractions: u64,
    pub validated: u64,
    pub fetched: u64,
    pub false_positives: u64,
    pub pii: u64,
    pub duplicates_dropped: u64,
    pub delivered: u64,
    pub queued: u64,
}

/// The audit section.
#[derive(Debug, Clone, PartialEq)]
pub struct Trail {
    pub dir: String,
    pub verdict: Verdict,
    /// The newest [`MAX_ROWS`] records in the window, oldest first.
    pub rows: Vec<Row>,
    pub sums: Sums,
    /// Webhooks still queued in the state store, for every endpoint.
    pub outbox_depth: Option<u64>,
    /// Lines of the log that could not be read as records (only when broken).
    pub unreadable_lines: u64,
}

/// Checks `dir` as `audit verify` does and reads its records (those whose
/// interval overlaps `window`) with their webhooks' state from `store`.
pub fn read_trail(
    dir: &Path,
    store: Option<(&dyn StateStore, String)>,
    window: &Window,
) -> Result<Trail, ReportError> {
    let anchors = TrailAnchors {
        expect_head: None,
        store: store.as_ref().map(|(s, name)| (*s, name.clone())),
        key: None,
    };
    let verdict = match check_trail(dir, &anchors) {
        Ok(check) => Verdict::Intact {
            records: check.report.records,
            head: check.report.head.clone(),
            anchored: check.anchored.clone(),
            notes: check.notes.clone(),
        },
        Err(ChainError::Tampered { tampering, .. }) => Verdict::Broken(tampering),
        Err(e) => return Err(ReportError::Audit(e)),
    };
    let log = match std::fs::File::open(dir.join(LOG_FILE)) {
        Ok(file) => Box::new(std::io::BufReader::new(file)) as Box<dyn BufRead>,
        // No log yet: the check above passed it as empty.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Box::new(std::io::empty()),
        Err(cause) => {
            return Err(ReportError::Audit(ChainError::Unreadable {
                path: dir.join(LOG_FILE),
                cause,
            }))
        }
    };
    let mut rows = VecDeque::new();
    let mut sums = Sums::default();
    let mut unreadable_lines = 0;
    for line in log.lines() {
        let line = line.map_err(|cause| {
            ReportError::Audit(ChainError::Unreadable {
                path: dir.join(LOG_FILE),
                cause,
            })
        })?;
        let parsed = serde_json::from_str::<ChainEntry>(&line)
            .ok()
            .and_then(|entry| {
                let fields = RecordFields::deserialize(&entry.record).ok()?;
                Some((entry, fields))
            });
        let Some((entry, fields)) = parsed else {
            unreadable_lines += 1;
            continue;
        };
        let in_window = match &fields.interval {
            Some(i) => window.overlaps(i.start, i.end),
            None => window.contains(fields.timestamp),
        };
        if !in_window {
            continue;
        }
        let webhook = match &store {
            Some((store, _)) => webhook_state(*store, entry.seq, &entry.hash)?,
            None => Webhook::Unknown,
        };
        sums.extractions += 1;
        sums.validated += fields.total_violations;
        sums.fetched += fields
            .violations_fetched
            .unwrap_or(fields.total_violations + fields.false_positives_filtered);
        sums.false_positives += fields.false_positives_filtered;
        sums.pii += fields.pii_exposures_detected;
        sums.duplicates_dropped += fields.duplicates_dropped;
        match webhook {
            Webhook::Delivered { .. } => sums.delivered += 1,
            Webhook::Queued { .. } => sums.queued += 1,
            Webhook::Unknown => {}
        }
        rows.push_back(Row {
            seq: entry.seq,
            hash: entry.hash,
            fields,
            webhook,
        });
        if rows.len() > MAX_ROWS {
            rows.pop_front();
        }
    }
    let outbox_depth = match &store {
        Some((store, _)) => Some(store.outbox_depth().map_err(ReportError::Store)?),
        None => None,
    };
    Ok(Trail {
        dir: dir.display().to_string(),
        verdict,
        rows: rows.into(),
        sums,
        outbox_depth,
        unreadable_lines,
    })
}

fn webhook_state(store: &dyn StateStore, seq: u64, hash: &str) -> Result<Webhook, ReportError> {
    let id = webhook_id_for(&Anchor {
        seq,
        hash: hash.to_owned(),
    });
    Ok(match store.webhook(&id).map_err(ReportError::Store)? {
        None => Webhook::Unknown,
        Some(entry) => match entry.delivered_at_ms {
            Some(at_ms) => Webhook::Delivered {
                at_ms,
                attempts: entry.attempts,
            },
            None => Webhook::Queued {
                attempts: entry.attempts,
                // The status only: an error text may name the endpoint's URL.
                last: entry.last_status.map(|s| format!("HTTP {s}")),
            },
        },
    })
}
