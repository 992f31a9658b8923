//! The hash chain of `audit.jsonl` and its verification.
//!
//! Each line is the canonical JSON ([`crate::canonical_json`]) of
//! `{"hash":..,"prev_hash":..,"record":{..},"seq":N}` where `seq` counts from
//! 1, `prev_hash` is the previous line's `hash` ([`GENESIS_HASH`] for the
//! first) and `hash` is the SHA-256 (lowercase hex) of the canonical JSON of
//! `{"prev_hash":..,"record":{..},"seq":N}`.
//!
//! The chain alone shows that no record was altered, removed, added or moved
//! *inside* the log; whoever rewrites the whole chain, cuts its newest
//! records or appends correctly linked ones is caught by the anchor: the head
//! `(seq, hash)` kept outside the log, in the state store and in every webhook.

use crate::canonical::canonical_json;
use compliance_store::Anchor;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The chained log in an audit directory.
pub const LOG_FILE: &str = "audit.jsonl";

/// The file of one extraction's record in an audit directory.
pub fn extraction_file_name(extraction_id: &str) -> String {
    format!("extraction_{extraction_id}.json")
}

/// One line of `audit.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainEntry {
    pub seq: u64,
    pub prev_hash: String,
    pub hash: String,
    pub record: Value,
}

impl ChainEntry {
    /// The entry that follows `prev_hash` at `seq`, with its hash computed.
    pub fn new(seq: u64, prev_hash: &str, record: Value) -> Self {
        let hash = entry_hash(seq, prev_hash, &record);
        ChainEntry {
            seq,
            prev_hash: prev_hash.to_owned(),
            hash,
            record,
        }
    }

    /// The line as written to the log, without its newline.
    pub fn to_line(&self) -> String {
        canonical_json(&json!({
            "seq": self.seq, "prev_hash": self.prev_hash, "hash": self.hash, "record": self.record,
        }))
    }

    /// The record's `extraction_id`, if it has a string one.
    pub fn extraction_id(&self) -> Option<&str> {
        self.record.get("extraction_id").and_then(Value::as_str)
    }
}

/// The chain hash of a record at `seq` after `prev_hash` (see the module documentation).
pub fn entry_hash(seq: u64, prev_hash: &str, record: &Value) -> String {
    hash_of_canonical(seq, prev_hash, &canonical_json(record))
}

/// [`entry_hash`] from the record's canonical form, which the caller may
/// reuse. The members of `{"prev_hash","record","seq"}` are already in
/// canonical (sorted) order, so the record's text slots in as it is.
fn hash_of_canonical(seq: u64, prev_hash: &str, canonical_record: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"{\"prev_hash\":");
    hasher.update(canonical_json(&Value::from(prev_hash)).as_bytes());
    hasher.update(b",\"record\":");
    hasher.update(canonical_record.as_bytes());
    hasher.update(format!(",\"seq\":{seq}}}").as_bytes());
    hex::encode(hasher.finalize())
}

/// SHA-256 of a record's canonical form: compares a log line with an extraction file.
pub(crate) fn record_digest(record: &Value) -> [u8; 32] {
    Sha256::digest(canonical_json(record).as_bytes()).into()
}

/// What is wrong with an audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TamperKind {
    /// A line is not a chain entry at all (unparseable, or cut short).
    Malformed,
    /// A record's content no longer matches its hash, or its link.
    Modified,
    /// Records are missing from the middle or the start of the log.
    Deleted,
    /// A record that the chain does not hold was added.
    Inserted,
    /// Records are out of order.
    Reordered,
    /// The newest records are gone: the log ends before the anchored head.
    Truncated,
    /// The record at the anchored sequence number is not the anchored one:
    /// the chain was rewritten from there or earlier.
    AnchorMismatch,
    /// A record's `extraction_<id>.json` is missing.
    ExtractionMissing,
    /// A record's `extraction_<id>.json` differs from the logged record.
    ExtractionMismatch,
    /// An `extraction_<id>.json` exists that no record in the log lists.
    ExtractionUnlisted,
}

impl fmt::Display for TamperKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TamperKind::Malformed => "malformed",
            TamperKind::Modified => "modified",
            TamperKind::Deleted => "deleted",
            TamperKind::Inserted => "inserted",
            TamperKind::Reordered => "reordered",
            TamperKind::Truncated => "truncated",
            TamperKind::AnchorMismatch => "anchor mismatch",
            TamperKind::ExtractionMissing => "extraction file missing",
            TamperKind::ExtractionMismatch => "extraction file modified",
            TamperKind::ExtractionUnlisted => "extraction file not in the log",
        })
    }
}

/// The first problem found in an audit trail: its kind, the record (by
/// sequence number and extraction id, where known), the line of
/// `audit.jsonl` and a sentence saying what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tampering {
    pub kind: TamperKind,
    pub seq: Option<u64>,
    pub extraction_id: Option<String>,
    /// 1-based line of `audit.jsonl`, when the problem is on a line.
    pub line: Option<usize>,
    pub detail: String,
}

impl fmt::Display for Tampering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(seq) = self.seq {
            write!(f, ": record seq {seq}")?;
        }
        if let Some(id) = &self.extraction_id {
            write!(f, " (extraction {id})")?;
        }
        if let Some(line) = self.line {
            write!(f, " at {LOG_FILE} line {line}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// Why an audit directory did not verify.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(
        "cannot read the audit directory {path}: {cause}; give the directory that holds {LOG_FILE}"
    )]
    Unreadable {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("the audit trail in {dir} is not intact: {tampering}")]
    Tampered { dir: PathBuf, tampering: Tampering },
    /// The state store that anchors the chain could not be read.
    #[error(transparent)]
    Store(#[from] compliance_store::StoreError),
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Records in the log.
    pub records: u64,
    /// The log's head, `None` for an empty log.
    pub head: Option<Anchor>,
    /// The anchor the log was checked against; `None` means that truncation
    /// of the newest records could not be ruled out.
    pub anchor: Option<Anchor>,
    /// The sequence number of the newest record when it is the append in
    /// flight that the state store recorded ([`AfterAnchor::InFlight`]).
    pub in_flight: Option<u64>,
}

/// What one line of the log told, kept small so that long logs verify in
/// little memory.
#[derive(Debug)]
pub(crate) struct LineInfo {
    pub line: usize,
    pub parsed: Result<LineSummary, String>,
}

#[derive(Debug)]
pub(crate) struct LineSummary {
    pub seq: u64,
    pub prev_hash: String,
    pub hash: String,
    /// The hash matches the content.
    pub self_consistent: bool,
    pub extraction_id: Option<String>,
    pub record_digest: [u8; 32],
}

/// The log read line by line. `torn_tail` is the byte offset where a last
/// line without its newline starts (an append cut short by a crash).
#[derive(Debug, Default)]
pub(crate) struct ScannedLog {
    pub lines: Vec<LineInfo>,
    pub complete_len: u64,
    pub torn_tail: bool,
}

pub(crate) fn scan_log(path: &Path) -> std::io::Result<ScannedLog> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ScannedLog::default()),
        Err(e) => return Err(e),
    };
    let mut reader = BufReader::new(file);
    let mut scanned = ScannedLog::default();
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line += 1;
        if buf.last() != Some(&b'\n') {
            scanned.torn_tail = true;
            scanned.lines.push(LineInfo {
                line,
                parsed: Err("the last line is cut short (no newline at its end)".into()),
            });
            break;
        }
        scanned.complete_len += n as u64;
        scanned.lines.push(LineInfo {
            line,
            parsed: summarise(&buf),
        });
    }
    Ok(scanned)
}

fn summarise(bytes: &[u8]) -> Result<LineSummary, String> {
    let entry: ChainEntry = serde_json::from_slice(bytes)
        .map_err(|e| format!("the line is not a chain entry ({e})"))?;
    let canonical_record = canonical_json(&entry.record);
    Ok(LineSummary {
        self_consistent: hash_of_canonical(entry.seq, &entry.prev_hash, &canonical_record)
            == entry.hash,
        extraction_id: entry.extraction_id().map(str::to_owned),
        record_digest: Sha256::digest(canonical_record.as_bytes()).into(),
        seq: entry.seq,
        prev_hash: entry.prev_hash,
        hash: entry.hash,
    })
}

/// Checks the links of the chain. At the first line where it breaks, tells
/// which kind of change explains it (for `Deleted`, `seq` names the first
/// missing record and `line` the line where it should be).
pub(crate) fn check_chain(lines: &[LineInfo]) -> Result<(), Tampering> {
    let at = |i: usize, kind, detail: String| {
        let info = &lines[i];
        let (seq, extraction_id) = match &info.parsed {
            Ok(s) => (Some(s.seq), s.extraction_id.clone()),
            Err(_) => (None, None),
        };
        Tampering {
            kind,
            seq,
            extraction_id,
            line: Some(info.line),
            detail,
        }
    };
    let summary = |i: usize| lines.get(i).and_then(|l| l.parsed.as_ref().ok());
    let mut expected_seq = 1u64;
    let mut prev_hash = GENESIS_HASH.to_owned();
    // Hash of each accepted line, by seq, to find where an insertion began.
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for i in 0..lines.len() {
        let s = match &lines[i].parsed {
            Ok(s) => s,
            Err(why) => return Err(at(i, TamperKind::Malformed, why.clone())),
        };
        if !s.self_consistent {
            return Err(at(
                i,
                TamperKind::Modified,
                "its content no longer matches its hash".into(),
            ));
        }
        if s.seq == expected_seq && s.prev_hash == prev_hash {
            accepted.insert(s.hash.clone(), i);
            prev_hash = s.hash.clone();
            expected_seq += 1;
            continue;
        }
        // The chain breaks here. A line whose predecessor comes later was moved:
        if s.seq > expected_seq {
            let predecessor = lines[i + 1..]
                .iter()
                .find(|l| matches!(&l.parsed, Ok(t) if t.hash == s.prev_hash));
            if let Some(p) = predecessor {
                return Err(at(
                    i,
                    TamperKind::Reordered,
                    format!(
                        "the record it follows in the chain is at line {}, after it",
                        p.line
                    ),
                ));
            }
        }
        // A foreign line followed by the chain's continuation:
        if let Some(next) = summary(i + 1) {
            if next.seq == expected_seq && next.prev_hash == prev_hash {
                return Err(at(
                    i,
                    TamperKind::Inserted,
                    format!("the line does not belong to the chain, which continues with seq {expected_seq} on the next line"),
                ));
            }
        }
        if s.seq < expected_seq {
            // The chain resumes here after foreign lines that were accepted
            // because they imitated the next link: the first of them is the insertion.
            if let Some(&j) = accepted.get(&s.prev_hash) {
                if j + 1 < i {
                    return Err(at(
                        j + 1,
                        TamperKind::Inserted,
                        format!(
                            "the line does not belong to the chain: line {} continues from line {}",
                            lines[i].line, lines[j].line
                        ),
                    ));
                }
            } else if s.seq == 1 && s.prev_hash == GENESIS_HASH && i > 0 {
                return Err(at(
                    0,
                    TamperKind::Inserted,
                    format!(
                        "the line does not belong to the chain, which starts at line {}",
                        lines[i].line
                    ),
                ));
            }
            return Err(at(
                i,
                TamperKind::Inserted,
                format!(
                    "seq {} was already used; the chain expects seq {expected_seq} here",
                    s.seq
                ),
            ));
        }
        if s.seq > expected_seq {
            let later = lines[i + 1..]
                .iter()
                .find(|l| matches!(&l.parsed, Ok(t) if t.seq == expected_seq));
            return Err(match later {
                Some(l) => at(
                    i,
                    TamperKind::Reordered,
                    format!(
                        "the chain expects seq {expected_seq} here, which is at line {}",
                        l.line
                    ),
                ),
                None => Tampering {
                    seq: Some(expected_seq),
                    extraction_id: None,
                    ..at(
                        i,
                        TamperKind::Deleted,
                        if s.seq == expected_seq + 1 {
                            format!("record seq {expected_seq} before it is missing")
                        } else {
                            format!(
                                "records seq {expected_seq} to {} before it are missing",
                                s.seq - 1
                            )
                        },
                    )
                },
            });
        }
        // Right seq, wrong link: the record before it was replaced (with a
        // recomputed hash) or this record's link was edited.
        let culprit = if i > 0 { i - 1 } else { i };
        return Err(at(
            culprit,
            TamperKind::Modified,
            format!(
                "the record's hash is not the prev_hash that line {} holds: one of the two was altered",
                lines[i].line
            ),
        ));
    }
    Ok(())
}

/// How [`verify_dir_against`] judges records after the anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAnchor {
    /// The anchor is the head (the state store's anchor, the head an append
    /// returned): a record after it was inserted after the anchored head.
    Nothing,
    /// As `Nothing`, except for the append in flight that the state store
    /// recorded (seq anchor + 1, with this hash): an extraction interrupted or
    /// still running, which the next [`crate::AuditLog::open`] completes.
    InFlight(Anchor),
    /// Records after the anchor are expected: the anchor may lag behind the
    /// head, as the newest webhook received does while later ones are queued.
    Any,
}

/// Checks the log against an anchor kept outside it: the anchored record is
/// there, unchanged, and nothing follows it that `after` does not allow.
/// Returns the sequence number of an accepted append in flight.
pub(crate) fn check_anchor(
    lines: &[LineInfo],
    anchor: &Anchor,
    after: &AfterAnchor,
) -> Result<Option<u64>, Tampering> {
    let records = lines.len() as u64;
    if anchor.seq > records {
        let first = records + 1;
        return Err(Tampering {
            kind: TamperKind::Truncated,
            seq: Some(first),
            extraction_id: None,
            line: None,
            detail: format!(
                "the log ends at seq {records} but the anchored head is seq {} ({}): records seq {first} to {} were removed",
                anchor.seq, anchor.hash, anchor.seq
            ),
        });
    }
    let summary = |i: u64| {
        let info = &lines[i as usize];
        (info, info.parsed.as_ref().expect("checked by check_chain"))
    };
    if anchor.seq > 0 {
        let (info, s) = summary(anchor.seq - 1);
        if s.hash != anchor.hash {
            return Err(Tampering {
                kind: TamperKind::AnchorMismatch,
                seq: Some(anchor.seq),
                extraction_id: s.extraction_id.clone(),
                line: Some(info.line),
                detail: format!(
                    "its hash {} is not the anchored {}: the chain was rewritten at or before this record",
                    s.hash, anchor.hash
                ),
            });
        }
    }
    if records == anchor.seq || *after == AfterAnchor::Any {
        return Ok(None);
    }
    let inserted = |i: u64, detail: String| {
        let (info, s) = summary(i);
        Tampering {
            kind: TamperKind::Inserted,
            seq: Some(s.seq),
            extraction_id: s.extraction_id.clone(),
            line: Some(info.line),
            detail,
        }
    };
    // check_chain numbered the lines from 1, so the record after the anchor is at index anchor.seq.
    let (_, next) = summary(anchor.seq);
    let in_flight = match after {
        AfterAnchor::InFlight(intent) if intent.seq == next.seq && intent.hash == next.hash => {
            intent
        }
        AfterAnchor::InFlight(intent) => {
            return Err(inserted(
                anchor.seq,
                format!(
                    "it was inserted after the anchored head seq {} ({}), and it is not the append \
                     in flight (seq {}, hash {}): no writer of this chain appended it",
                    anchor.seq, anchor.hash, intent.seq, intent.hash
                ),
            ))
        }
        _ => {
            return Err(inserted(
                anchor.seq,
                format!(
                    "it was inserted after the anchored head seq {} ({}): no writer of this chain appended it",
                    anchor.seq, anchor.hash
                ),
            ))
        }
    };
    if records == in_flight.seq {
        return Ok(Some(in_flight.seq));
    }
    Err(inserted(
        in_flight.seq,
        format!(
            "it was inserted after the append in flight (seq {}) that follows the anchored head seq {} ({}): \
             no writer of this chain appended it",
            in_flight.seq, anchor.seq, anchor.hash
        ),
    ))
}

/// Checks that every record has its extraction file, equal to the logged
/// record, and that no other extraction file exists. The append in flight
/// (`in_flight`) may lack its file: a crash can come before it is written.
fn check_extraction_files(
    dir: &Path,
    lines: &[LineInfo],
    in_flight: Option<u64>,
) -> Result<(), ChainError> {
    let tampered = |tampering| ChainError::Tampered {
        dir: dir.to_path_buf(),
        tampering,
    };
    let mut listed = HashSet::new();
    for info in lines {
        let s = info.parsed.as_ref().expect("checked by check_chain");
        let Some(id) = &s.extraction_id else { continue };
        let name = extraction_file_name(id);
        let problem = |kind, detail| {
            tampered(Tampering {
                kind,
                seq: Some(s.seq),
                extraction_id: Some(id.clone()),
                line: Some(info.line),
                detail,
            })
        };
        let bytes = match std::fs::read(dir.join(&name)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && in_flight == Some(s.seq) => {
                continue
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(problem(
                    TamperKind::ExtractionMissing,
                    format!("{name} is missing"),
                ))
            }
            Err(cause) => {
                return Err(ChainError::Unreadable {
                    path: dir.join(&name),
                    cause,
                })
            }
        };
        let same = serde_json::from_slice::<Value>(&bytes)
            .is_ok_and(|v| record_digest(&v) == s.record_digest);
        if !same {
            return Err(problem(
                TamperKind::ExtractionMismatch,
                format!("{name} differs from the record in {LOG_FILE}"),
            ));
        }
        listed.insert(name);
    }
    let unreadable = |cause| ChainError::Unreadable {
        path: dir.to_path_buf(),
        cause,
    };
    let mut unlisted: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let name = entry
            .map_err(unreadable)?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.starts_with("extraction_") && name.ends_with(".json") && !listed.contains(&name) {
            unlisted.push(name);
        }
    }
    unlisted.sort();
    if let Some(name) = unlisted.into_iter().next() {
        return Err(tampered(Tampering {
            kind: TamperKind::ExtractionUnlisted,
            seq: None,
            extraction_id: None,
            line: None,
            detail: format!("{name} is not the record of any line of {LOG_FILE}"),
        }));
    }
    Ok(())
}

/// Verifies the audit directory `dir`: the chain of `audit.jsonl`, its head
/// against `anchor` when one is given, and the extraction files.
///
/// The anchor is taken as the head: a record after it is reported as
/// inserted ([`verify_dir_against`] allows for an append in flight or an
/// anchor that lags). Returns the first problem found, naming the record.
/// Without an anchor, the cut of the newest records cannot be detected:
/// [`ChainReport::anchor`] is then `None` and callers should say so.
pub fn verify_dir(dir: &Path, anchor: Option<&Anchor>) -> Result<ChainReport, ChainError> {
    verify(dir, anchor.map(|a| (a, &AfterAnchor::Nothing)))
}

/// [`verify_dir`] against `anchor`, judging records after it by `after`.
pub fn verify_dir_against(
    dir: &Path,
    anchor: &Anchor,
    after: &AfterAnchor,
) -> Result<ChainReport, ChainError> {
    verify(dir, Some((anchor, after)))
}

fn verify(dir: &Path, anchor: Option<(&Anchor, &AfterAnchor)>) -> Result<ChainReport, ChainError> {
    let meta = std::fs::metadata(dir).map_err(|cause| ChainError::Unreadable {
        path: dir.to_path_buf(),
        cause,
    })?;
    if !meta.is_dir() {
        return Err(ChainError::Unreadable {
            path: dir.to_path_buf(),
            cause: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a directory"),
        });
    }
    let scanned = scan_log(&dir.join(LOG_FILE)).map_err(|cause| ChainError::Unreadable {
        path: dir.join(LOG_FILE),
        cause,
    })?;
    let tampered = |tampering| ChainError::Tampered {
        dir: dir.to_path_buf(),
        tampering,
    };
    check_chain(&scanned.lines).map_err(tampered)?;
    let in_flight = match anchor {
        Some((anchor, after)) => check_anchor(&scanned.lines, anchor, after).map_err(tampered)?,
        None => None,
    };
    check_extraction_files(dir, &scanned.lines, in_flight)?;
    Ok(ChainReport {
        records: scanned.lines.len() as u64,
        head: head_of(&scanned.lines),
        anchor: anchor.map(|(a, _)| a.clone()),
        in_flight,
    })
}

pub(crate) fn head_of(lines: &[LineInfo]) -> Option<Anchor> {
    let s = lines.last()?.parsed.as_ref().ok()?;
    Some(Anchor {
        seq: s.seq,
        hash: s.hash.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_sha256_of_the_canonical_entry_without_its_hash() {
        let record = json!({"z": 1, "a": "x\"y", "n": 0.8});
        let prev = "ab".repeat(32);
        let canonical = canonical_json(&json!({"seq": 12, "prev_hash": prev, "record": record}));
        assert_eq!(
            canonical,
            format!(r#"{{"prev_hash":"{prev}","record":{{"a":"x\"y","n":0.8,"z":1}},"seq":12}}"#)
        );
        assert_eq!(
            entry_hash(12, &prev, &record),
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
    }
}
