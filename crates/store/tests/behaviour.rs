//! The behaviour every state store shares, one test body run against each
//! store: SQLite in a temporary file, PostgreSQL in a database of its own on
//! the test server (`compliance_store::testing`).

use compliance_store::testing::TestDatabase;
use compliance_store::{Anchor, AppendIntent, NewWebhook, SeenId, StateLocation, StateStore};
use std::collections::HashSet;
use std::sync::Arc;

/// A store under test: where it is, and what keeps it there until the end.
struct Subject {
    location: StateLocation,
    _keep: Box<dyn std::any::Any>,
}

impl Subject {
    /// Opens the store (again: what was committed must still be there).
    fn open(&self) -> Arc<dyn StateStore> {
        self.location.open().unwrap()
    }
}

fn sqlite() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    Subject {
        location: StateLocation::File(dir.path().join("state.db")),
        _keep: Box::new(dir),
    }
}

fn postgres(test: &str) -> Option<Subject> {
    let db = TestDatabase::create(test)?;
    Some(Subject {
        location: StateLocation::parse(db.url()).unwrap(),
        _keep: Box::new(db),
    })
}

/// Runs each test body named against both stores.
macro_rules! against_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::sqlite());
            }
            #[test]
            fn postgres() {
                if let Some(subject) = super::postgres(stringify!($name)) {
                    super::$name(subject);
                }
            }
        }
    )*};
}

against_both!(
    finishing_an_append_moves_the_anchor_and_queues_once,
    the_outbox_keeps_order_attempts_and_delivery,
    endpoints_are_disabled_and_enabled,
    progress_and_seen_ids_are_saved_together_and_cleared_together,
);

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

fn finishing_an_append_moves_the_anchor_and_queues_once(subject: Subject) {
    let store = subject.open();
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

fn the_outbox_keeps_order_attempts_and_delivery(subject: Subject) {
    let store = subject.open();
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

fn endpoints_are_disabled_and_enabled(subject: Subject) {
    let store = subject.open();
    store.disable_endpoint("https://x/h", "410 Gone").unwrap();
    drop(store);
    // Durable across reopening.
    let store = subject.open();
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

fn progress_and_seen_ids_are_saved_together_and_cleared_together(subject: Subject) {
    let store = subject.open();
    assert_eq!(store.load_progress("x").unwrap(), None);
    store
        .save_progress("x", r#"{"window":1}"#, &[seen("a", 10), seen("b", 20)])
        .unwrap();
    store
        .save_progress("x", r#"{"window":2}"#, &[seen("b", 20)])
        .unwrap();
    drop(store);

    let store = subject.open();
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

/// A state file whose directory is missing is a clear error naming the
/// file and what to check, not SQLite's.
#[test]
fn a_state_file_in_a_missing_directory_says_which_and_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("state.db");
    let Err(err) = compliance_store::SqliteStore::open(&path) else {
        panic!("{} was opened", path.display());
    };
    let said = err.to_string();
    assert!(said.contains(&path.display().to_string()), "{said}");
    assert!(said.contains("check that its directory exists"), "{said}");
}
