use super::schema::MIGRATIONS;
use super::*;

fn intent(dir: &str, seq: u64, webhook: bool) -> AppendIntent {
    AppendIntent {
        audit_dir: dir.into(),
        anchor: Anchor {
            seq,
            hash: format!("{seq:064x}"),
        },
        webhook: webhook.then(|| NewWebhook {
            webhook_id: format!("msg_{seq}"),
            endpoint: "http://127.0.0.1:9/hook".into(),
            body: format!("{{\"seq\":{seq}}}").into_bytes(),
        }),
    }
}

#[test]
fn the_file_is_private_and_the_schema_current() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(StateStore::file(&store), Some(path.as_path()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let version: i64 = store
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    let mode: String = store
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(store);
    // Reopening runs no migration twice.
    SqliteStore::open(&path).unwrap();
}

#[test]
fn a_missing_file_is_refused_by_open_existing_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.db");
    let err = SqliteStore::open_existing(&path).unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }));
    assert!(err.to_string().contains("nope.db"), "{err}");
    assert!(!path.exists());
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(SqliteStore::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
}

#[test]
fn a_file_that_is_not_a_database_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "this is not sqlite, just some text that is long enough",
    )
    .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("notes.txt"), "{err}");
}

#[test]
fn a_held_write_lock_is_reported_as_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    store
        .conn()
        .busy_timeout(Duration::from_millis(10))
        .unwrap();
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = store
        .set_anchor(
            "d",
            &Anchor {
                seq: 1,
                hash: "h".into(),
            },
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("locked by another process"));
}

#[test]
fn finishing_an_append_moves_the_anchor_and_queues_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("s.db")).unwrap();
    assert_eq!(store.anchor("a").unwrap(), None);
    store.begin_append(&intent("a", 1, true)).unwrap();
    assert_eq!(
        store.pending_append("a").unwrap(),
        Some(intent("a", 1, true))
    );
    // The anchor moves only when the append is finished.
    assert_eq!(store.anchor("a").unwrap(), None);
    assert!(!store.finish_append("a", 2).unwrap());
    assert!(store.finish_append("a", 1).unwrap());
    assert_eq!(
        store.anchor("a").unwrap(),
        Some(intent("a", 1, true).anchor)
    );
    assert_eq!(store.pending_append("a").unwrap(), None);
    assert!(!store.finish_append("a", 1).unwrap());
    assert_eq!(store.outbox_depth().unwrap(), 1);

    // The same webhook id again (a replayed reconcile) queues nothing new.
    store.begin_append(&intent("a", 1, true)).unwrap();
    assert!(store.finish_append("a", 1).unwrap());
    assert_eq!(store.outbox_depth().unwrap(), 1);

    // Without a webhook only the anchor moves; other dirs are separate.
    store.begin_append(&intent("b", 7, false)).unwrap();
    assert!(store.finish_append("b", 7).unwrap());
    assert_eq!(store.anchor("b").unwrap().unwrap().seq, 7);
    assert_eq!(store.anchor("a").unwrap().unwrap().seq, 1);
    assert_eq!(store.outbox_depth().unwrap(), 1);

    store.begin_append(&intent("a", 2, true)).unwrap();
    store.abandon_append("a").unwrap();
    assert_eq!(store.pending_append("a").unwrap(), None);
    assert_eq!(store.anchor("a").unwrap().unwrap().seq, 1);
}

#[test]
fn the_outbox_keeps_order_attempts_and_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("s.db")).unwrap();
    for seq in 1..=3 {
        store.begin_append(&intent("a", seq, true)).unwrap();
        store.finish_append("a", seq).unwrap();
    }
    let endpoint = "http://127.0.0.1:9/hook";
    let ids: Vec<_> = store
        .pending_webhooks(endpoint)
        .unwrap()
        .into_iter()
        .map(|e| e.webhook_id)
        .collect();
    assert_eq!(ids, ["msg_1", "msg_2", "msg_3"]);
    assert!(store
        .pending_webhooks("http://elsewhere")
        .unwrap()
        .is_empty());

    store
        .record_failure("msg_1", Some(503), "503 Service Unavailable", Some(42))
        .unwrap();
    let e = store.webhook("msg_1").unwrap().unwrap();
    assert_eq!(
        (e.attempts, e.last_status, e.next_attempt_at_ms),
        (1, Some(503), Some(42))
    );
    assert_eq!(e.body, b"{\"seq\":1}");
    store.mark_delivered("msg_1", 204).unwrap();
    let e = store.webhook("msg_1").unwrap().unwrap();
    assert_eq!(e.attempts, 2);
    assert!(e.delivered_at_ms.is_some() && e.last_error.is_none());
    assert_eq!(store.outbox_depth().unwrap(), 2);
    assert_eq!(
        store.pending_webhooks(endpoint).unwrap()[0].webhook_id,
        "msg_2"
    );
}

#[test]
fn endpoints_are_disabled_and_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = SqliteStore::open(&path).unwrap();
    store.disable_endpoint("https://x/h", "410 Gone").unwrap();
    drop(store);
    // Durable across reopening.
    let store = SqliteStore::open(&path).unwrap();
    let d = store.disabled_endpoint("https://x/h").unwrap().unwrap();
    assert_eq!(d.reason, "410 Gone");
    assert_eq!(store.disabled_endpoint("https://y/h").unwrap(), None);
    store.enable_endpoint("https://x/h").unwrap();
    assert_eq!(store.disabled_endpoint("https://x/h").unwrap(), None);
}

fn seen(id: &str, at: i64) -> SeenId {
    SeenId {
        id: id.into(),
        detected_at_ms: at,
    }
}

#[test]
fn progress_and_seen_ids_are_saved_together_and_cleared_together() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.load_progress("x").unwrap(), None);
    store
        .save_progress("x", r#"{"window":1}"#, &[seen("a", 10), seen("b", 20)])
        .unwrap();
    store
        .save_progress("x", r#"{"window":2}"#, &[seen("b", 20)])
        .unwrap();
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.load_progress("x").unwrap().unwrap(),
        r#"{"window":2}"#
    );
    let found = store.seen_among("x", &["a", "b", "c"]).unwrap();
    assert_eq!(found, HashSet::from(["a".to_string(), "b".to_string()]));
    assert!(store.seen_among("other", &["a"]).unwrap().is_empty());

    assert_eq!(store.prune_seen("x", 15).unwrap(), 1);
    assert_eq!(store.seen_among("x", &["a", "b"]).unwrap().len(), 1);

    store.clear_progress("x").unwrap();
    assert_eq!(store.load_progress("x").unwrap(), None);
    assert!(store.seen_among("x", &["b"]).unwrap().is_empty());
}
