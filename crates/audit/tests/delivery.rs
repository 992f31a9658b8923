//! Webhook delivery through the durable outbox, against a real receiver on loopback.

mod common;

use common::{open_log, record, secret, store};
use compliance_audit::{
    anchor_key, verify_dir, Deliverer, Recovery, RetryPolicy, WebhookEndpoint, WebhookSecret,
};
use compliance_receiver::{ReceivedWebhook, WebhookReceiver};
use compliance_store::{SqliteStore, StateStore};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Tiny delays so that the tests stay quick.
fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(5),
    }
}

fn deliverer(store: &Arc<dyn StateStore>, url: &str, secret: WebhookSecret) -> Deliverer {
    Deliverer::new(
        store.clone(),
        WebhookEndpoint::parse(url).unwrap(),
        Some(secret),
    )
    .unwrap()
    .with_retry(quick())
}

/// A loopback address nobody listens on (for now).
fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn body(r: &ReceivedWebhook) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn records_queued_while_the_receiver_is_down_arrive_once_each_when_it_is_up() {
    let tmp = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let url = format!("http://{addr}/webhook");

    // Run 1: the receiver is down.
    let store1 = store(tmp.path());
    let mut log = open_log(tmp.path(), &store1, Some(&url));
    let mut ids: Vec<String> = (1..=3)
        .map(|n| log.append(&record(n)).unwrap().webhook_id.unwrap())
        .collect();
    let report = deliverer(&store1, &url, secret())
        .deliver_pending()
        .await
        .unwrap();
    assert!(!report.is_complete());
    assert_eq!((report.delivered.len(), report.still_queued), (0, 3));
    assert!(report.last_error.is_some());
    let first = store1.webhook(&ids[0]).unwrap().unwrap();
    assert_eq!(first.attempts, 3, "retried within the run");
    assert!(first.last_error.is_some() && first.delivered_at_ms.is_none());
    drop((log, store1));

    // Run 2: a new process (store and log reopened), the receiver is up.
    let receiver = WebhookReceiver::bind(addr, Some(secret())).await.unwrap();
    let store2 = store(tmp.path());
    assert_eq!(store2.outbox_depth().unwrap(), 3, "the queue survived");
    let mut log = open_log(tmp.path(), &store2, Some(&url));
    ids.push(log.append(&record(4)).unwrap().webhook_id.unwrap());
    let report = deliverer(&store2, &url, secret())
        .deliver_pending()
        .await
        .unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(
        report.delivered, ids,
        "earlier runs' records first, in order"
    );

    // A third run has nothing left to send.
    let report = deliverer(&store2, &url, secret())
        .deliver_pending()
        .await
        .unwrap();
    assert!(report.delivered.is_empty() && report.is_complete());

    let requests = receiver.requests();
    assert_eq!(requests.len(), 4);
    assert!(requests.iter().all(|r| r.verified), "{requests:?}");
    assert!(receiver.acceptances().values().all(|&n| n == 1));
    let messages = receiver.messages();
    let got: Vec<_> = messages.iter().map(|m| m.webhook_id.clone()).collect();
    assert_eq!(got, ids);
    for (n, m) in messages.iter().enumerate() {
        let b = body(m);
        let seq = n as u64 + 1;
        assert_eq!(b["chain"]["seq"], seq);
        assert_eq!(b["total_violations"], 96 + seq);
        assert_eq!(b["extraction_id"], record(seq).extraction_id.to_string());
    }
    // The last webhook carries the head the store anchors.
    let dir = log.dir();
    let anchor = store2.anchor(&anchor_key(dir).unwrap()).unwrap().unwrap();
    assert_eq!(body(&messages[3])["chain"]["hash"], anchor.hash.as_str());
    verify_dir(dir, Some(&anchor)).unwrap();
}

#[tokio::test]
async fn every_retry_carries_the_same_id_and_a_valid_fresh_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start(Some(secret())).await.unwrap();
    let store = store(tmp.path());
    let mut log = open_log(tmp.path(), &store, Some(&receiver.url()));
    let id = log.append(&record(1)).unwrap().webhook_id.unwrap();

    receiver.respond_with(Some(503));
    let report = deliverer(&store, &receiver.url(), secret())
        .deliver_pending()
        .await
        .unwrap();
    assert_eq!(report.still_queued, 1);
    assert_eq!(
        report.last_error.as_deref(),
        Some("503 Service Unavailable")
    );
    receiver.respond_with(None);
    let report = deliverer(&store, &receiver.url(), secret())
        .deliver_pending()
        .await
        .unwrap();
    assert_eq!(report.delivered, vec![id.clone()]);

    let requests = receiver.requests();
    assert_eq!(requests.len(), 4);
    assert!(requests.iter().all(|r| r.webhook_id == id && r.verified));
    assert!(requests.windows(2).all(|w| w[0].body == w[1].body));
    assert_eq!(store.webhook(&id).unwrap().unwrap().attempts, 4);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_receiver_and_stays_queued() {
    let tmp = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start(Some(secret())).await.unwrap();
    let store = store(tmp.path());
    let mut log = open_log(tmp.path(), &store, Some(&receiver.url()));
    log.append(&record(1)).unwrap();
    let other = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let report = deliverer(&store, &receiver.url(), other)
        .deliver_pending()
        .await
        .unwrap();
    assert_eq!(report.still_queued, 1);
    assert!(receiver.messages().is_empty());
    let r = &receiver.requests()[0];
    assert_eq!((r.verified, r.status), (false, 401));
}

#[tokio::test]
async fn gone_disables_the_endpoint_until_it_is_enabled_again() {
    let tmp = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start(Some(secret())).await.unwrap();
    let store = store(tmp.path());
    let mut log = open_log(tmp.path(), &store, Some(&receiver.url()));
    log.append(&record(1)).unwrap();
    log.append(&record(2)).unwrap();

    receiver.respond_with(Some(410));
    // The caller's command is quoted, given this store's file.
    fn enable(endpoint: &str, state: Option<&Path>) -> String {
        format!("enable {endpoint} in {}", state.unwrap().display())
    }
    let report = deliverer(&store, &receiver.url(), secret())
        .with_enable_command(enable)
        .deliver_pending()
        .await
        .unwrap();
    let disabled = report.disabled.clone().expect("disabled");
    assert!(disabled.reason.contains("410"), "{disabled:?}");
    // It names the command that enables the endpoint again, with this store.
    let command = enable(&receiver.url(), Some(&tmp.path().join("state.db")));
    assert!(
        disabled
            .reason
            .contains(&format!("`{command}` enables it again")),
        "{disabled:?}"
    );
    assert_eq!(report.still_queued, 2);
    assert_eq!(receiver.requests().len(), 1, "no retry after 410");

    // Next run: nothing is sent, and it says so.
    receiver.respond_with(None);
    let report = deliverer(&store, &receiver.url(), secret())
        .deliver_pending()
        .await
        .unwrap();
    assert!(report.disabled.is_some() && !report.is_complete());
    assert_eq!(receiver.requests().len(), 1);

    store.enable_endpoint(&receiver.url()).unwrap();
    let report = deliverer(&store, &receiver.url(), secret())
        .deliver_pending()
        .await
        .unwrap();
    assert!(report.is_complete());
    assert_eq!(receiver.messages().len(), 2);
}

const CHILD_DIR: &str = "COMPLIANCE_AUDIT_CRASH_CHILD_DIR";
const CHILD_URL: &str = "COMPLIANCE_AUDIT_CRASH_CHILD_URL";

/// Not a test of its own: the body of the child process that
/// `a_record_appended_by_a_killed_process_is_delivered_on_restart` starts.
/// It appends record 1, then appends record 2 up to the point just before
/// the store queues it, and dies.
#[test]
fn crash_child_entry_point() {
    let (Ok(dir), Ok(url)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_URL)) else {
        return;
    };
    let dir = Path::new(&dir);
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(dir.join("state.db")).unwrap());
    let mut log = open_log(dir, &store, Some(&url));
    log.append(&record(1)).unwrap();
    log.append_then_crash(&record(2)).unwrap();
    std::process::abort();
}

#[tokio::test]
async fn a_record_appended_by_a_killed_process_is_delivered_on_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start(Some(secret())).await.unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child_entry_point", "--test-threads=1"])
        .env(CHILD_DIR, tmp.path())
        .env(CHILD_URL, receiver.url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child must die mid-append");

    // What the crash left: record 2 in the log, in flight in the store, not queued.
    let store = store(tmp.path());
    let key = anchor_key(&tmp.path().join("audit")).unwrap();
    assert_eq!(store.outbox_depth().unwrap(), 1);
    assert_eq!(store.anchor(&key).unwrap().unwrap().seq, 1);
    assert_eq!(store.pending_append(&key).unwrap().unwrap().anchor.seq, 2);
    // Worst case: the extraction file had not been written either.
    let second = tmp
        .path()
        .join("audit")
        .join(format!("extraction_{}.json", record(2).extraction_id));
    std::fs::remove_file(&second).unwrap();

    let log = open_log(tmp.path(), &store, Some(&receiver.url()));
    assert_eq!(log.recovered(), [Recovery::Completed { seq: 2 }]);
    assert!(second.exists());
    assert_eq!(store.outbox_depth().unwrap(), 2);
    let report = deliverer(&store, &receiver.url(), secret())
        .deliver_pending()
        .await
        .unwrap();
    assert!(report.is_complete());
    assert_eq!(report.delivered.len(), 2);
    let seqs: Vec<_> = receiver
        .messages()
        .iter()
        .map(|m| body(m)["chain"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2]);
    assert!(receiver.acceptances().values().all(|&n| n == 1));
    // Reopening again changes nothing.
    let again = open_log(tmp.path(), &store, Some(&receiver.url()));
    assert!(again.recovered().is_empty());
    assert_eq!(store.outbox_depth().unwrap(), 0);
    let anchor = store.anchor(&key).unwrap();
    assert_eq!(verify_dir(log.dir(), anchor.as_ref()).unwrap().records, 2);
}

#[tokio::test]
async fn a_crash_before_the_log_was_written_is_forgotten() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let mut log = open_log(tmp.path(), &store, Some("http://127.0.0.1:9/h"));
    log.append(&record(1)).unwrap();
    let key = log.anchor_key().to_owned();
    // The intent of an append whose line never reached the disk.
    let mut intent = store.pending_append(&key).unwrap();
    assert!(intent.is_none());
    intent = Some(compliance_store::AppendIntent {
        audit_dir: key.clone(),
        anchor: compliance_store::Anchor {
            seq: 2,
            hash: "f".repeat(64),
        },
        webhook: None,
    });
    store.begin_append(intent.as_ref().unwrap()).unwrap();
    drop(log);
    let log = open_log(tmp.path(), &store, Some("http://127.0.0.1:9/h"));
    assert_eq!(log.recovered(), [Recovery::Abandoned { seq: 2 }]);
    assert_eq!(log.head().unwrap().seq, 1);
    assert_eq!(store.outbox_depth().unwrap(), 1);
}

#[tokio::test]
async fn a_new_state_file_adopts_an_existing_log_without_resending_it() {
    let tmp = tempfile::tempdir().unwrap();
    let first = store(tmp.path());
    let mut log = open_log(tmp.path(), &first, None);
    log.append(&record(1)).unwrap();
    log.append(&record(2)).unwrap();
    let other: Arc<dyn StateStore> =
        Arc::new(SqliteStore::open(tmp.path().join("other.db")).unwrap());
    let log = open_log(tmp.path(), &other, Some("http://127.0.0.1:9/h"));
    assert_eq!(log.recovered(), [Recovery::Adopted { to: 2 }]);
    assert_eq!(other.outbox_depth().unwrap(), 0);
    assert_eq!(other.anchor(log.anchor_key()).unwrap().unwrap().seq, 2);
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_and_the_record_stays_queued() {
    let tmp = tempfile::tempdir().unwrap();
    // Accepts connections (through the backlog) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhook", silent.local_addr().unwrap());
    let store = store(tmp.path());
    let mut log = open_log(tmp.path(), &store, Some(&url));
    let id = log.append(&record(1)).unwrap().webhook_id.unwrap();
    let deliverer = Deliverer::new(
        store.clone(),
        WebhookEndpoint::parse(&url).unwrap(),
        Some(secret()),
    )
    .unwrap()
    .with_retry(RetryPolicy {
        max_attempts: 2,
        ..quick()
    })
    .with_timeout(Duration::from_millis(200))
    .unwrap();
    let started = std::time::Instant::now();
    let report = deliverer.deliver_pending().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(report.still_queued, 1);
    let error = report.last_error.unwrap();
    assert!(
        error.contains("timed out") || error.contains("timeout"),
        "{error}"
    );
    assert!(!error.contains(&url), "the URL may carry a token: {error}");
    assert_eq!(store.webhook(&id).unwrap().unwrap().attempts, 2);
    drop(silent);
}

#[tokio::test]
async fn the_receiver_listens_on_loopback_only_and_stops_when_dropped() {
    let err = WebhookReceiver::bind("0.0.0.0:0".parse().unwrap(), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err}");
    let receiver = WebhookReceiver::start(None).await.unwrap();
    let addr = receiver.addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    drop(receiver);
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
}

/// A receiver that answers POSTs with `302 Found` to a page that answers
/// 200: the record was not delivered (only a 2xx to the POST is), so it stays
/// queued, and the redirect is never followed.
#[tokio::test]
async fn a_redirect_is_not_a_delivery_and_is_not_followed() {
    use axum::routing::{get, post};
    let followed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = followed.clone();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(|| async { (axum::http::StatusCode::FOUND, [("location", "/ok")]) }),
        )
        .route(
            "/ok",
            get(move || async move {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                "ok"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let tmp = tempfile::tempdir().unwrap();
    let store = store(tmp.path());
    let mut log = open_log(tmp.path(), &store, Some(&url));
    log.append(&record(1)).unwrap();
    let report = deliverer(&store, &url, secret())
        .deliver_pending()
        .await
        .unwrap();
    server.abort();
    assert!(report.delivered.is_empty(), "{report:?}");
    assert_eq!(report.still_queued, 1);
    assert!(
        report
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("302"),
        "{report:?}"
    );
    assert_eq!(followed.load(std::sync::atomic::Ordering::SeqCst), 0);
}
