//! What is the PostgreSQL store's own: its schema version, its errors (never
//! with the password), concurrent processes, and calls from async code.
//! Each test has a database of its own on the test server.

use compliance_store::testing::TestDatabase;
use compliance_store::{Anchor, AppendIntent, NewWebhook, StateLocation, StateStore, StoreError};

fn location(url: &str) -> StateLocation {
    StateLocation::parse(url).unwrap()
}

/// `url` with its password replaced by `password`.
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').unwrap();
    let user = userinfo.split(':').next().unwrap();
    format!("{scheme}://{user}:{password}@{host}")
}

fn password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    userinfo.split_once(':').map(|(_, p)| p.to_owned())
}

fn assert_no_secret(text: &str, secret: &str) {
    assert!(!text.contains(secret), "the password is in: {text}");
}

#[test]
fn a_newer_schema_is_refused_naming_the_database_without_its_password() {
    let Some(db) = TestDatabase::create("a_newer_schema_is_refused") else {
        return;
    };
    drop(location(db.url()).open().unwrap());
    // Opening again migrates nothing twice.
    drop(location(db.url()).open().unwrap());
    db.execute("UPDATE genesys_compliance_schema SET version = 99");
    let err = location(db.url()).open().err().unwrap();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("schema version 99"), "{text}");
    if let Some(secret) = password(db.url()) {
        assert_no_secret(&text, &secret);
    }
}

#[test]
fn a_wrong_password_is_refused_without_showing_it() {
    let Some(db) = TestDatabase::create("a_wrong_password_is_refused") else {
        return;
    };
    let wrong = "wrong-pa55word-Zq7";
    let err = location(&with_password(db.url(), wrong))
        .open()
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            StoreError::Postgres {
                action: "connecting",
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains("password authentication failed"), "{text}");
    assert_no_secret(&text, wrong);
    assert_no_secret(&format!("{err:?}"), wrong);
}

#[test]
fn a_server_that_is_not_there_is_unreachable_without_the_password() {
    // A loopback port that nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let secret = "s3cret-Kx9";
    let url = format!("postgres://gc:{secret}@127.0.0.1:{port}/state");
    let err = location(&url).open().err().unwrap();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Unreachable { .. }), "{text}");
    assert!(
        text.contains(&format!("postgres://gc@127.0.0.1:{port}/state")),
        "{text}"
    );
    assert_no_secret(&text, secret);
    assert_no_secret(&format!("{err:?}"), secret);
}

#[test]
fn an_append_finished_by_two_processes_at_once_is_anchored_and_queued_once() {
    let Some(db) = TestDatabase::create("an_append_finished_twice") else {
        return;
    };
    let stores: Vec<_> = (0..4).map(|_| location(db.url()).open().unwrap()).collect();
    for round in 1..=20u64 {
        stores[0]
            .begin_append(&AppendIntent {
                audit_dir: "org-a".into(),
                anchor: Anchor {
                    seq: round,
                    hash: format!("{round:064x}"),
                },
                webhook: Some(NewWebhook {
                    webhook_id: format!("msg_{round}"),
                    endpoint: "http://127.0.0.1:9/hook".into(),
                    body: b"{}".to_vec(),
                }),
            })
            .unwrap();
        let finished: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = stores
                .iter()
                .map(|store| s.spawn(move || store.finish_append("org-a", round).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(finished.iter().filter(|f| **f).count(), 1, "{finished:?}");
        assert_eq!(stores[1].anchor("org-a").unwrap().unwrap().seq, round);
    }
    assert_eq!(stores[2].outbox_depth().unwrap(), 20);
}

#[test]
fn the_store_is_usable_from_async_code_of_either_runtime_flavour() {
    let Some(db) = TestDatabase::create("usable_from_async_code") else {
        return;
    };
    let store = location(db.url()).open().unwrap();
    let work = |store: std::sync::Arc<dyn StateStore>| async move {
        store
            .set_anchor(
                "d",
                &Anchor {
                    seq: 3,
                    hash: "h".into(),
                },
            )
            .unwrap();
        store.anchor("d").unwrap().unwrap().seq
    };
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(current.block_on(work(store.clone())), 3);
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        multi.block_on(async { tokio::spawn(work(store.clone())).await.unwrap() }),
        3
    );
    // Dropped inside async code, the store ends its runtime without panicking.
    multi.block_on(async move { drop(store) });
}
