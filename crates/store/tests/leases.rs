//! Leases of work units in the PostgreSQL store: acquiring, renewing,
//! releasing with a due time, taking over an expired lease, and fencing (a
//! handle whose token is no longer current commits nothing). Each test has a
//! database of its own on the test server.

use compliance_store::testing::TestDatabase;
use compliance_store::{
    Anchor, AppendIntent, PostgresStore, PostgresUrl, RateBudget, SeenId, StateStore, StoreError,
};
use std::sync::Arc;
use std::time::Duration;

const UNIT: &str = "org:acme";
const LONG: Duration = Duration::from_secs(60);
/// Nothing spent of the rate budget.
const NONE: RateBudget = RateBudget {
    next_due_in: Duration::ZERO,
    paused_for: Duration::ZERO,
};

fn open(db: &TestDatabase) -> PostgresStore {
    PostgresStore::open(&PostgresUrl::parse(db.url()).unwrap()).unwrap()
}

fn seen(id: &str) -> SeenId {
    SeenId {
        id: id.to_owned(),
        detected_at_ms: 1_700_000_000_000,
    }
}

#[test]
fn a_held_lease_is_refused_to_others_and_free_again_once_released() {
    let Some(db) = TestDatabase::create("a_held_lease_is_refused") else {
        return;
    };
    let (a, b) = (open(&db), open(&db));
    let first = a
        .acquire(UNIT, "worker-a", LONG)
        .unwrap()
        .expect("a new unit is free");
    assert_eq!(first.token, 1);
    assert_eq!(
        b.acquire(UNIT, "worker-b", LONG).unwrap(),
        None,
        "held by a"
    );
    assert!(a.renew(&first, LONG, NONE).unwrap());
    let row = b.lease_row(UNIT).unwrap().unwrap();
    assert_eq!(row.holder.as_deref(), Some("worker-a"));
    assert!(row.expires_in_ms > 50_000, "{row:?}");

    // Released and due at once: the next acquisition gets a new token.
    assert!(a.release(&first, Duration::ZERO, NONE).unwrap());
    let second = b
        .acquire(UNIT, "worker-b", LONG)
        .unwrap()
        .expect("released");
    assert_eq!(second.token, 2, "every acquisition increments the token");
    // Other units are independent.
    let other = a.acquire("org:globex", "worker-a", LONG).unwrap().unwrap();
    assert_eq!(other.token, 1);
}

/// Whether `got` is `want` less the time since it was written, within
/// `slack` for the statements' round trips.
fn about(got: Duration, want: Duration, elapsed: Duration) -> bool {
    let slack = Duration::from_millis(300);
    got <= want && got + elapsed + slack >= want
}

#[test]
fn the_rate_budget_left_with_a_lease_reaches_the_next_holder() {
    let Some(db) = TestDatabase::create("the_rate_budget_left_with_a_lease") else {
        return;
    };
    let (a, b) = (open(&db), open(&db));
    let first = a.acquire(UNIT, "worker-a", LONG).unwrap().unwrap();
    assert!(!first.taken_over, "a new unit");
    assert_eq!(first.budget, NONE, "a new unit has spent nothing");

    // Renewals keep what is spent; the release's budget is what counts.
    let spent = |due, paused| RateBudget {
        next_due_in: Duration::from_millis(due),
        paused_for: Duration::from_millis(paused),
    };
    assert!(a.renew(&first, LONG, spent(9_000, 9_000)).unwrap());
    let released = std::time::Instant::now();
    assert!(a.release(&first, Duration::ZERO, spent(4_000, 0)).unwrap());
    let second = b
        .acquire(UNIT, "worker-b", Duration::from_millis(300))
        .unwrap()
        .unwrap();
    assert!(!second.taken_over, "released, not taken over");
    let elapsed = released.elapsed();
    assert!(
        about(second.budget.next_due_in, Duration::from_secs(4), elapsed),
        "{second:?}"
    );
    assert_eq!(second.budget.paused_for, Duration::ZERO);

    // B dies after a renewal: the next holder takes over from it.
    assert!(b
        .renew(&second, Duration::from_millis(300), spent(3_000, 1_500))
        .unwrap());
    let renewed = std::time::Instant::now();
    std::thread::sleep(Duration::from_millis(400));
    let third = a.acquire(UNIT, "worker-a", LONG).unwrap().expect("expired");
    assert!(third.taken_over, "B held it when it expired");
    let elapsed = renewed.elapsed();
    assert!(
        about(third.budget.next_due_in, Duration::from_secs(3), elapsed),
        "{third:?}"
    );
    assert!(
        about(
            third.budget.paused_for,
            Duration::from_millis(1_500),
            elapsed
        ),
        "{third:?}"
    );
    // Time already past reads as nothing spent, never as negative.
    assert!(a.release(&third, Duration::ZERO, NONE).unwrap());
    let fourth = b.acquire(UNIT, "worker-b", LONG).unwrap().unwrap();
    assert_eq!((fourth.taken_over, fourth.budget), (false, NONE));
}

#[test]
fn a_released_unit_waits_until_its_next_run_is_due() {
    let Some(db) = TestDatabase::create("a_released_unit_waits") else {
        return;
    };
    let store = open(&db);
    let lease = store.acquire(UNIT, "w", LONG).unwrap().unwrap();
    assert!(store
        .release(&lease, Duration::from_millis(400), NONE)
        .unwrap());
    assert_eq!(
        store.acquire(UNIT, "w2", LONG).unwrap(),
        None,
        "not due yet"
    );
    let row = store.lease_row(UNIT).unwrap().unwrap();
    assert_eq!(row.holder, None);
    assert!(row.due_in_ms > 0, "{row:?}");
    std::thread::sleep(Duration::from_millis(500));
    let again = store.acquire(UNIT, "w2", LONG).unwrap().expect("due now");
    assert_eq!(again.token, 2);
    // A stale release changes nothing.
    assert!(!store.release(&lease, Duration::ZERO, NONE).unwrap());
    assert_eq!(
        store.lease_row(UNIT).unwrap().unwrap().holder.as_deref(),
        Some("w2")
    );
}

#[test]
fn an_expired_lease_is_taken_over_and_the_old_holder_is_fenced() {
    let Some(db) = TestDatabase::create("an_expired_lease_is_taken_over") else {
        return;
    };
    let (a, b) = (open(&db), open(&db));
    let old = a
        .acquire(UNIT, "worker-a", Duration::from_millis(300))
        .unwrap()
        .unwrap();
    let a_fenced: Arc<dyn StateStore> = Arc::new(a.fenced(&old));
    a_fenced
        .save_progress("serve:org:acme", "{\"page\":1}", &[seen("v1")])
        .unwrap();

    // Not before it expires...
    assert_eq!(b.acquire(UNIT, "worker-b", LONG).unwrap(), None);
    std::thread::sleep(Duration::from_millis(400));
    // ...then at once: a takeover.
    let new = b.acquire(UNIT, "worker-b", LONG).unwrap().expect("expired");
    assert_eq!(new.token, old.token + 1);
    assert!(
        !a.renew(&old, LONG, NONE).unwrap(),
        "the old holder cannot renew"
    );

    // Every write of the old holder is refused and rolled back whole.
    let err = a_fenced
        .save_progress("serve:org:acme", "{\"page\":2}", &[seen("v2")])
        .unwrap_err();
    match &err {
        StoreError::Fenced {
            unit,
            token,
            current,
        } => {
            assert_eq!(
                (unit.as_str(), *token, *current),
                (UNIT, old.token, Some(new.token))
            )
        }
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("taken over") && text.contains("nothing was committed"),
        "{text}"
    );
    assert_eq!(
        b.load_progress("serve:org:acme").unwrap().as_deref(),
        Some("{\"page\":1}")
    );
    let ids = b.seen_among("serve:org:acme", &["v1", "v2"]).unwrap();
    assert!(ids.contains("v1") && !ids.contains("v2"), "{ids:?}");

    let anchor = Anchor {
        seq: 1,
        hash: "a".repeat(64),
    };
    let intent = AppendIntent {
        audit_dir: UNIT.to_owned(),
        anchor: anchor.clone(),
        webhook: None,
    };
    assert!(matches!(
        a_fenced.begin_append(&intent),
        Err(StoreError::Fenced { .. })
    ));
    assert!(matches!(
        a_fenced.set_anchor(UNIT, &anchor),
        Err(StoreError::Fenced { .. })
    ));
    assert!(matches!(
        a_fenced.prune_seen("serve:org:acme", i64::MAX),
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(b.anchor(UNIT).unwrap(), None);
    assert_eq!(b.pending_append(UNIT).unwrap(), None);

    // The new holder's handle commits, the chain's append included.
    let b_fenced = b.fenced(&new);
    b_fenced.begin_append(&intent).unwrap();
    assert!(b_fenced.finish_append(UNIT, 1).unwrap());
    assert_eq!(b.anchor(UNIT).unwrap(), Some(anchor));
    b_fenced
        .save_progress("serve:org:acme", "{\"page\":2}", &[seen("v2")])
        .unwrap();
    assert_eq!(
        b.seen_among("serve:org:acme", &["v2"]).unwrap().len(),
        1,
        "committed once, by the holder"
    );
}

#[test]
fn of_workers_racing_for_a_free_unit_exactly_one_wins() {
    let Some(db) = TestDatabase::create("of_workers_racing_exactly_one_wins") else {
        return;
    };
    let url = PostgresUrl::parse(db.url()).unwrap();
    let stores: Vec<PostgresStore> = (0..6).map(|_| PostgresStore::open(&url).unwrap()).collect();
    let barrier = std::sync::Barrier::new(stores.len());
    let winners: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    store.acquire(UNIT, &format!("w{i}"), LONG).unwrap()
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(winners[0].token, 1);
}
