//! One test per kind of tampering: `verify_dir` names the first bad record.

mod common;

use common::{lines, open_log, record, store, write_lines};
use compliance_audit::{
    anchor_key, extraction_file_name, verify_dir, verify_dir_against, AfterAnchor, Anchor,
    AuditError, AuditLog, ChainEntry, ChainError, Recovery, TamperKind, Tampering, LOG_FILE,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A temporary directory with an audit dir of five records, and the anchor
/// its state store holds.
struct Trail {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    anchor: Anchor,
}

fn trail() -> Trail {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let mut log = open_log(tmp.path(), &store, None);
    for n in 1..=5 {
        log.append(&record(n)).unwrap();
    }
    let dir = log.dir().to_path_buf();
    let anchor = store.anchor(&anchor_key(&dir).unwrap()).unwrap().unwrap();
    Trail {
        _tmp: tmp,
        dir,
        anchor,
    }
}

fn tampering(dir: &Path, anchor: Option<&Anchor>) -> Tampering {
    match verify_dir(dir, anchor) {
        Err(ChainError::Tampered { tampering, .. }) => tampering,
        other => panic!("expected tampering, got {other:?}"),
    }
}

fn id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Appends a forged record `n`, correctly linked to the log's last line, with
/// its extraction file: what the chain alone cannot tell from a real append.
fn append_forged(dir: &Path, n: u64) {
    let mut l = lines(dir);
    let last: ChainEntry = serde_json::from_str(l.last().unwrap()).unwrap();
    let mut forged = record(n);
    forged.total_violations = 0;
    let forged = serde_json::to_value(&forged).unwrap();
    let entry = ChainEntry::new(last.seq + 1, &last.hash, forged.clone());
    l.push(entry.to_line());
    write_lines(dir, &l);
    let file = dir.join(extraction_file_name(&id(n)));
    std::fs::write(file, serde_json::to_vec_pretty(&forged).unwrap()).unwrap();
}

#[test]
fn an_intact_trail_verifies_with_and_without_its_anchor() {
    let t = trail();
    let report = verify_dir(&t.dir, Some(&t.anchor)).unwrap();
    assert_eq!(report.records, 5);
    assert_eq!(report.head, Some(t.anchor.clone()));
    assert_eq!(report.anchor, Some(t.anchor.clone()));
    assert_eq!(t.anchor.seq, 5);
    let report = verify_dir(&t.dir, None).unwrap();
    assert_eq!(report.anchor, None);
}

#[test]
fn a_modified_field_names_the_record() {
    let t = trail();
    let mut l = lines(&t.dir);
    assert!(l[2].contains("\"total_violations\":99"));
    l[2] = l[2].replace("\"total_violations\":99", "\"total_violations\":9");
    write_lines(&t.dir, &l);
    let found = tampering(&t.dir, None);
    assert_eq!(found.kind, TamperKind::Modified);
    assert_eq!((found.seq, found.line), (Some(3), Some(3)));
    assert_eq!(found.extraction_id, Some(id(3)));
}

#[test]
fn a_modified_record_with_a_recomputed_hash_is_named() {
    let t = trail();
    let mut l = lines(&t.dir);
    let mut entry: ChainEntry = serde_json::from_str(&l[1]).unwrap();
    entry.record["total_violations"] = Value::from(0);
    l[1] = ChainEntry::new(entry.seq, &entry.prev_hash, entry.record).to_line();
    write_lines(&t.dir, &l);
    let found = tampering(&t.dir, None);
    assert_eq!(found.kind, TamperKind::Modified);
    assert_eq!((found.seq, found.line), (Some(2), Some(2)));
}

#[test]
fn a_deleted_record_is_named() {
    let t = trail();
    let mut l = lines(&t.dir);
    l.remove(2);
    write_lines(&t.dir, &l);
    let found = tampering(&t.dir, Some(&t.anchor));
    assert_eq!(found.kind, TamperKind::Deleted);
    assert_eq!((found.seq, found.line), (Some(3), Some(3)));
    assert!(found.to_string().contains("record seq 3"), "{found}");
}

#[test]
fn an_inserted_record_is_named() {
    let t = trail();
    // A copy of record 2 pushed in after record 4.
    let mut l = lines(&t.dir);
    l.insert(4, l[1].clone());
    write_lines(&t.dir, &l);
    let found = tampering(&t.dir, None);
    assert_eq!(found.kind, TamperKind::Inserted);
    assert_eq!(found.line, Some(5));
}

#[test]
fn an_inserted_record_that_imitates_the_next_link_is_named() {
    let t = trail();
    let mut l = lines(&t.dir);
    let second: ChainEntry = serde_json::from_str(&l[1]).unwrap();
    let mut forged = record(99);
    forged.total_violations = 0;
    let forged = ChainEntry::new(3, &second.hash, serde_json::to_value(&forged).unwrap());
    l.insert(2, forged.to_line());
    write_lines(&t.dir, &l);
    let found = tampering(&t.dir, None);
    assert_eq!(found.kind, TamperKind::Inserted);
    assert_eq!(found.line, Some(3));
    assert_eq!(found.extraction_id, Some(id(99)));
}

#[test]
fn reordered_records_are_named() {
    let t = trail();
    let mut l = lines(&t.dir);
    l.swap(1, 2);
    write_lines(&t.dir, &l);
    let found = tampering(&t.dir, None);
    assert_eq!(found.kind, TamperKind::Reordered);
    assert_eq!((found.seq, found.line), (Some(3), Some(2)));
}

#[test]
fn truncation_of_the_newest_records_is_caught_by_the_anchor_only() {
    let t = trail();
    let mut l = lines(&t.dir);
    l.truncate(3);
    write_lines(&t.dir, &l);
    // The extraction files of the cut records remain; cut them too, as a
    // careful forger would, so that only the anchor can tell.
    for n in 4..=5 {
        std::fs::remove_file(t.dir.join(format!("extraction_{}.json", id(n)))).unwrap();
    }
    let report = verify_dir(&t.dir, None).unwrap();
    assert_eq!((report.records, report.anchor), (3, None));
    let found = tampering(&t.dir, Some(&t.anchor));
    assert_eq!(found.kind, TamperKind::Truncated);
    assert_eq!(found.seq, Some(4));
    // The store refuses to append to it.
    let tmp_store = t.dir.parent().unwrap().to_path_buf();
    let err = AuditLog::open(&t.dir, store(&tmp_store), None).unwrap_err();
    assert!(matches!(err, AuditError::Tampered { .. }), "{err}");
}

#[test]
fn a_record_appended_after_the_anchored_head_is_named_and_never_adopted() {
    let t = trail();
    append_forged(&t.dir, 6);
    // The chain alone, and an anchor that may lag (a webhook), accept it.
    assert_eq!(verify_dir(&t.dir, None).unwrap().records, 6);
    verify_dir_against(&t.dir, &t.anchor, &AfterAnchor::Any).unwrap();
    // The store's anchor is the head: the forgery is named.
    let found = tampering(&t.dir, Some(&t.anchor));
    assert_eq!(found.kind, TamperKind::Inserted);
    assert_eq!((found.seq, found.line), (Some(6), Some(6)));
    assert_eq!(found.extraction_id, Some(id(6)));
    assert!(
        found.to_string().contains("after the anchored head seq 5"),
        "{found}"
    );

    // The next extraction refuses the log and leaves the anchor where it was.
    let state = store(t.dir.parent().unwrap());
    let err = AuditLog::open(&t.dir, state.clone(), None).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::NotAnchored {
                anchored: 5,
                head: 6,
                ..
            }
        ),
        "{err}"
    );
    // What happened, with the store it names; the advice (which command, which
    // flags) is the binary's.
    let message = err.to_string();
    for part in [
        "anchored (seq 5) to seq 6",
        "not adopted",
        "the state store",
        "state.db",
        "nothing more is appended",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    let key = anchor_key(&t.dir).unwrap();
    assert_eq!(state.anchor(&key).unwrap(), Some(t.anchor.clone()));
    assert_eq!(tampering(&t.dir, Some(&t.anchor)).seq, Some(6));
}

#[test]
fn the_one_append_in_flight_is_not_an_insertion_but_a_record_after_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let state = store(tmp.path());
    let mut log = open_log(tmp.path(), &state, None);
    log.append(&record(1)).unwrap();
    log.append(&record(2)).unwrap();
    log.append_then_crash(&record(3)).unwrap();
    let dir = log.dir().to_path_buf();
    drop(log);
    let key = anchor_key(&dir).unwrap();
    let anchor = state.anchor(&key).unwrap().unwrap();
    let in_flight = AfterAnchor::InFlight(state.pending_append(&key).unwrap().unwrap().anchor);
    assert_eq!(anchor.seq, 2);
    // A crash may come before its extraction file is written.
    std::fs::remove_file(dir.join(extraction_file_name(&id(3)))).unwrap();
    let report = verify_dir_against(&dir, &anchor, &in_flight).unwrap();
    assert_eq!((report.records, report.in_flight), (3, Some(3)));
    assert_eq!(tampering(&dir, Some(&anchor)).seq, Some(3));

    append_forged(&dir, 4);
    let found = match verify_dir_against(&dir, &anchor, &in_flight) {
        Err(ChainError::Tampered { tampering, .. }) => tampering,
        other => panic!("expected tampering, got {other:?}"),
    };
    assert_eq!(found.kind, TamperKind::Inserted);
    assert_eq!((found.seq, found.line), (Some(4), Some(4)));
    assert!(
        found
            .to_string()
            .contains("after the append in flight (seq 3)"),
        "{found}"
    );
    // Refused without touching the store: the append stays in flight.
    let err = AuditLog::open(&dir, state.clone(), None).unwrap_err();
    assert!(matches!(err, AuditError::NotAnchored { .. }), "{err}");
    assert_eq!(state.pending_append(&key).unwrap().unwrap().anchor.seq, 3);

    // Without the forgery, opening completes the append in flight.
    let mut l = lines(&dir);
    l.pop();
    write_lines(&dir, &l);
    std::fs::remove_file(dir.join(extraction_file_name(&id(4)))).unwrap();
    let log = open_log(tmp.path(), &state, None);
    assert_eq!(log.recovered(), [Recovery::Completed { seq: 3 }]);
    let anchor = state.anchor(&key).unwrap().unwrap();
    assert_eq!(verify_dir(&dir, Some(&anchor)).unwrap().records, 3);
}

#[test]
fn a_first_append_in_flight_does_not_let_a_record_after_it_be_adopted() {
    let tmp = tempfile::tempdir().unwrap();
    let state = store(tmp.path());
    let mut log = open_log(tmp.path(), &state, None);
    log.append_then_crash(&record(1)).unwrap();
    let dir = log.dir().to_path_buf();
    drop(log);
    append_forged(&dir, 2);
    let err = AuditLog::open(&dir, state.clone(), None).unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::NotAnchored {
                anchored: 0,
                head: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(state.anchor(&anchor_key(&dir).unwrap()).unwrap(), None);
}

#[test]
fn a_rewritten_chain_is_caught_by_the_anchor() {
    let t = trail();
    let l = lines(&t.dir);
    let mut prev = compliance_audit::GENESIS_HASH.to_owned();
    let mut rewritten = Vec::new();
    for line in &l {
        let mut entry: ChainEntry = serde_json::from_str(line).unwrap();
        if entry.seq == 2 {
            entry.record["total_violations"] = Value::from(0);
        }
        let entry = ChainEntry::new(entry.seq, &prev, entry.record);
        prev = entry.hash.clone();
        rewritten.push(entry.to_line());
    }
    write_lines(&t.dir, &rewritten);
    // Consistent in itself, apart from extraction file 2.
    let found = tampering(&t.dir, None);
    assert_eq!(found.kind, TamperKind::ExtractionMismatch);
    let found = tampering(&t.dir, Some(&t.anchor));
    assert_eq!(found.kind, TamperKind::AnchorMismatch);
    assert_eq!(found.seq, Some(5));
}

#[test]
fn an_edited_missing_or_extra_extraction_file_is_named() {
    let t = trail();
    let file = t.dir.join(format!("extraction_{}.json", id(4)));
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("\"pages\": 3", "\"pages\": 2")).unwrap();
    let found = tampering(&t.dir, Some(&t.anchor));
    assert_eq!(found.kind, TamperKind::ExtractionMismatch);
    assert_eq!(
        (found.seq, found.extraction_id.clone()),
        (Some(4), Some(id(4)))
    );

    std::fs::remove_file(&file).unwrap();
    let found = tampering(&t.dir, Some(&t.anchor));
    assert_eq!(found.kind, TamperKind::ExtractionMissing);
    assert_eq!(found.seq, Some(4));

    std::fs::write(&file, text).unwrap();
    verify_dir(&t.dir, Some(&t.anchor)).unwrap();
    std::fs::write(t.dir.join(format!("extraction_{}.json", id(7))), "{}").unwrap();
    let found = tampering(&t.dir, Some(&t.anchor));
    assert_eq!(found.kind, TamperKind::ExtractionUnlisted);
}

#[test]
fn a_missing_directory_is_unreadable_not_tampered() {
    let tmp = tempfile::tempdir().unwrap();
    let err = verify_dir(&tmp.path().join("nope"), None).unwrap_err();
    assert!(matches!(err, ChainError::Unreadable { .. }));
    assert!(err.to_string().contains("nope"), "{err}");
}

#[cfg(unix)]
#[test]
fn files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let t = trail();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&t.dir), 0o700);
    assert_eq!(mode(&t.dir.join(LOG_FILE)), 0o600);
    for entry in std::fs::read_dir(&t.dir).unwrap() {
        assert_eq!(mode(&entry.unwrap().path()), 0o600);
    }
}

#[test]
fn a_half_written_last_line_is_cut_on_open_and_the_chain_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let mut log = open_log(tmp.path(), &store, None);
    log.append(&record(1)).unwrap();
    let dir = log.dir().to_path_buf();
    drop(log);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(LOG_FILE))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"hash\":\"12").unwrap();
    let found = tampering(&dir, None);
    assert_eq!((found.kind, found.line), (TamperKind::Malformed, Some(2)));

    let mut log = open_log(tmp.path(), &store, None);
    assert_eq!(log.append(&record(2)).unwrap().seq, 2);
    let anchor = store.anchor(&anchor_key(&dir).unwrap()).unwrap();
    assert_eq!(verify_dir(&dir, anchor.as_ref()).unwrap().records, 2);
}

#[test]
fn a_log_changed_by_another_writer_is_not_appended_to() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let mut first = open_log(tmp.path(), &store, None);
    let mut second = open_log(tmp.path(), &store, None);
    first.append(&record(1)).unwrap();
    let err = second.append(&record(2)).unwrap_err();
    assert!(matches!(err, AuditError::ChangedUnderfoot { .. }), "{err}");
    verify_dir(first.dir(), None).unwrap();
}

#[test]
fn an_extraction_is_appended_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let mut log = open_log(tmp.path(), &store, None);
    log.append(&record(1)).unwrap();
    let mut again = record(1);
    again.total_violations = 0;
    let err = log.append(&again).unwrap_err();
    assert!(matches!(err, AuditError::Duplicate { .. }), "{err}");
    assert!(err.to_string().contains(&id(1)), "{err}");
    assert_eq!(log.append(&record(2)).unwrap().seq, 2);
    verify_dir(log.dir(), None).unwrap();
}
