//! The connection to JetStream, usable from synchronous code on any thread
//! (the sink's `commit` is synchronous, like the state store's calls).
//!
//! async-nats runs its connection as a task on the runtime it was created
//! on. So the connection lives on a runtime this value owns, and each call
//! waits for its work there (see `compliance_store::blocking`). A publish
//! never waits on the caller's runtime, which may be the one it blocks.

use super::target::{Credentials, NatsTarget};
use super::NatsError;
use async_nats::jetstream::{self, message::PublishMessage, stream};
use async_nats::ConnectErrorKind;
use bytes::Bytes;
use compliance_retry::RetryPolicy;
use compliance_store::blocking::{wait, OwnRuntime};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// The duplicate window of a stream this program creates: a rerun within it
/// after a crash publishes nothing twice. A day covers a rerun by the next
/// daily cron, at the cost of the server remembering a day of ids.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// An existing stream whose window is shorter than this gets a warning.
const SHORT_WINDOW: Duration = Duration::from_secs(3600);

/// How one connect attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Connecting is retried briefly: a restarting server is waited for, one
/// that is not there is reported within seconds.
const CONNECT_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 4,
    base_delay: Duration::from_millis(250),
    max_delay: Duration::from_secs(2),
    max_elapsed: Duration::from_secs(6),
};

/// How long a publish (and its ack) and a JetStream API call may take.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// A batch's unacknowledged lines are sent again by this policy (the same
/// ids: the stream drops what it already holds), then the run stops.
const PUBLISH_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 6,
    base_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(4),
    max_elapsed: Duration::from_secs(20),
};

/// Acks awaited at once; more publishes wait for room.
const MAX_ACKS_IN_FLIGHT: usize = 4096;

/// How the stream is found.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamOptions {
    /// Create a stream for the subject (named after it, file storage,
    /// [`DUPLICATE_WINDOW`]) when none takes it, instead of refusing.
    pub create: bool,
}

/// One line to publish: its violation id (the `Nats-Msg-Id`) and the line.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub id: String,
    pub payload: Bytes,
}

/// What a batch's publish did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Published {
    /// Lines the stream acknowledged.
    pub acked: usize,
    /// Of those, lines it already held (same id within its window).
    pub duplicates: usize,
}

/// A connection to a NATS server and the JetStream stream that takes the
/// target's subject, checked (or created) at connect. Cheap to clone.
#[derive(Clone)]
pub struct NatsStream {
    inner: Arc<Inner>,
}

struct Inner {
    target: NatsTarget,
    stream: String,
    duplicate_window: Duration,
    context: jetstream::Context,
    handle: Handle,
    // Declared last: dropped after the context.
    _runtime: OwnRuntime,
}

impl std::fmt::Debug for NatsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NatsStream({} → {})",
            self.inner.target, self.inner.stream
        )
    }
}

impl PartialEq for NatsStream {
    /// The same output: the same server, subject and stream.
    fn eq(&self, other: &Self) -> bool {
        self.inner.target == other.inner.target && self.inner.stream == other.inner.stream
    }
}
impl Eq for NatsStream {}

impl std::fmt::Display for NatsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.target.fmt(f)
    }
}

impl NatsStream {
    /// Connects to the target's server (retrying briefly), checks that
    /// JetStream is there and that a stream takes the subject, or creates
    /// one when `options` say so. Nothing is published.
    pub fn connect(target: &NatsTarget, options: StreamOptions) -> Result<NatsStream, NatsError> {
        // Owned at once: dropped in the background on every way out.
        let runtime = OwnRuntime::start("nats-sink");
        let handle = runtime.handle();
        let opening = handle.spawn(open(target.clone(), options));
        let (context, stream, duplicate_window) =
            wait(opening).expect("the stream sink's connect task panicked")?;
        if duplicate_window < SHORT_WINDOW {
            tracing::warn!(
                stream = %stream,
                duplicate_window = ?duplicate_window,
                "the stream's duplicate window is short: a rerun later than that after a crash \
                 may publish the last page twice"
            );
        }
        tracing::info!(target = %target, stream = %stream, duplicate_window = ?duplicate_window, "publishing to JetStream");
        Ok(NatsStream {
            inner: Arc::new(Inner {
                target: target.clone(),
                stream,
                duplicate_window,
                context,
                handle,
                _runtime: runtime,
            }),
        })
    }

    /// The name of the stream that takes the subject.
    pub fn stream_name(&self) -> &str {
        &self.inner.stream
    }

    /// How long the stream remembers message ids.
    pub fn duplicate_window(&self) -> Duration {
        self.inner.duplicate_window
    }

    pub fn target(&self) -> &NatsTarget {
        &self.inner.target
    }

    /// Publishes `batch` and waits until the stream has acknowledged every
    /// line; unacknowledged lines are sent again by [`PUBLISH_RETRY`].
    pub(crate) fn publish(&self, batch: Vec<Outgoing>) -> Result<Published, NatsError> {
        let inner = self.inner.clone();
        let publishing = self.inner.handle.spawn(async move {
            publish_batch(&inner.context, &inner.target, &inner.stream, batch).await
        });
        wait(publishing).expect("the stream sink's publish task panicked")
    }
}

/// Connects, checks JetStream, finds (or creates) the stream.
async fn open(
    target: NatsTarget,
    options: StreamOptions,
) -> Result<(jetstream::Context, String, Duration), NatsError> {
    let client = connect(&target).await?;
    let context = jetstream::ContextBuilder::new()
        .timeout(ACK_TIMEOUT)
        .ack_timeout(ACK_TIMEOUT)
        .max_ack_inflight(MAX_ACKS_IN_FLIGHT)
        .backpressure_on_inflight(true)
        .build(client);
    let server = target.server();
    let subject = target.subject.as_str();
    let stream_failure = |detail: String| NatsError::Stream {
        target: target.to_string(),
        detail,
    };
    let name = match context.stream_by_subject(subject).await {
        Ok(name) => name,
        Err(e) if e.kind() == jetstream::context::GetStreamByNameErrorKind::NotFound => {
            let name = target.subject.stream_name();
            if !options.create {
                return Err(NatsError::NoStream {
                    server,
                    subject: subject.to_owned(),
                    suggested: name,
                });
            }
            context
                .create_stream(stream::Config {
                    name: name.clone(),
                    subjects: vec![subject.to_owned()],
                    duplicate_window: DUPLICATE_WINDOW,
                    storage: stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|e| stream_failure(format!("creating stream {name}: {e}")))?;
            tracing::info!(stream = %name, subject, duplicate_window = ?DUPLICATE_WINDOW, "created the JetStream stream");
            name
        }
        Err(e) if no_jetstream(&e) => {
            return Err(NatsError::NoJetStream {
                server,
                detail: e.to_string(),
            })
        }
        Err(e) => return Err(stream_failure(e.to_string())),
    };
    let stream = context
        .get_stream(&name)
        .await
        .map_err(|e| stream_failure(format!("reading stream {name}: {e}")))?;
    let window = stream.cached_info().config.duplicate_window;
    Ok((context, name, window))
}

/// Whether the JetStream API did not answer (no responders: JetStream is
/// off) or said it is not enabled.
fn no_jetstream(e: &jetstream::context::GetStreamByNameError) -> bool {
    use jetstream::context::{GetStreamByNameErrorKind as Kind, RequestError, RequestErrorKind};
    match e.kind() {
        Kind::JetStream(err) => matches!(
            err.error_code(),
            jetstream::ErrorCode::JETSTREAM_NOT_ENABLED
                | jetstream::ErrorCode::JETSTREAM_NOT_ENABLED_FOR_ACCOUNT
        ),
        Kind::Request => std::error::Error::source(e)
            .and_then(|s| s.downcast_ref::<RequestError>())
            .is_some_and(|r| r.kind() == RequestErrorKind::NoResponders),
        _ => false,
    }
}

/// Connects, retrying what may pass (a refused socket, a timeout) by
/// [`CONNECT_RETRY`]; refused credentials are not retried.
async fn connect(target: &NatsTarget) -> Result<async_nats::Client, NatsError> {
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut options = async_nats::ConnectOptions::new()
            .name("genesys-compliance")
            .connection_timeout(CONNECT_TIMEOUT)
            .request_timeout(Some(ACK_TIMEOUT));
        options = match &target.credentials {
            None => options,
            Some(credentials @ Credentials::UserPassword { .. }) => {
                let (user, password) = credentials.expose();
                options.user_and_password(user.to_owned(), password.unwrap_or("").to_owned())
            }
            Some(credentials @ Credentials::Token(_)) => {
                options.token(credentials.expose().0.to_owned())
            }
        };
        let e = match options.connect(target.server()).await {
            Ok(client) => return Ok(client),
            Err(e) => e,
        };
        let server = target.server();
        if matches!(
            e.kind(),
            ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication
        ) {
            return Err(NatsError::Refused {
                server,
                detail: e.kind().to_string(),
            });
        }
        match CONNECT_RETRY.next_wait(attempt, started.elapsed(), None) {
            Some(pause) => tokio::time::sleep(pause).await,
            None => {
                return Err(NatsError::Unreachable {
                    server,
                    attempts: attempt,
                    detail: e.to_string(),
                })
            }
        }
    }
}

/// Publishes every line of `batch`, sending again what was not acknowledged.
async fn publish_batch(
    context: &jetstream::Context,
    target: &NatsTarget,
    stream: &str,
    batch: Vec<Outgoing>,
) -> Result<Published, NatsError> {
    let total = batch.len();
    let started = Instant::now();
    let mut pending = batch;
    let mut published = Published::default();
    let mut attempt = 0;
    loop {
        attempt += 1;
        // A whole attempt is bounded too: while the server is away, even
        // handing a message to the client may wait.
        let bound = ACK_TIMEOUT * 2;
        let outcome = tokio::time::timeout(bound, publish_once(context, target, stream, &pending))
            .await
            .unwrap_or_else(|_| Attempt {
                acked: vec![false; pending.len()],
                duplicates: 0,
                error: Some(format!("no acknowledgement within {bound:?}")),
            });
        let acked = outcome.acked.iter().filter(|a| **a).count();
        published.acked += acked;
        published.duplicates += outcome.duplicates;
        let mut flags = outcome.acked.into_iter();
        pending.retain(|_| !flags.next().unwrap_or(false));
        let Some(detail) = outcome.error.filter(|_| !pending.is_empty()) else {
            return Ok(published);
        };
        match PUBLISH_RETRY.next_wait(attempt, started.elapsed(), None) {
            Some(pause) => {
                tracing::warn!(
                    target = %target,
                    unacknowledged = pending.len(),
                    of = total,
                    error = %detail,
                    retry_in = ?pause,
                    "the stream did not acknowledge every line; sending those again"
                );
                tokio::time::sleep(pause).await;
            }
            None => {
                return Err(NatsError::Unacknowledged {
                    target: target.to_string(),
                    published: published.acked,
                    total,
                    attempts: attempt,
                    elapsed: started.elapsed(),
                    detail,
                })
            }
        }
    }
}

/// One attempt: which lines were acknowledged, and the first error.
struct Attempt {
    acked: Vec<bool>,
    duplicates: usize,
    error: Option<String>,
}

/// Sends every line, then awaits all their acks together.
async fn publish_once(
    context: &jetstream::Context,
    target: &NatsTarget,
    stream: &str,
    lines: &[Outgoing],
) -> Attempt {
    let mut attempt = Attempt {
        acked: vec![false; lines.len()],
        duplicates: 0,
        error: None,
    };
    let mut acks = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let message = PublishMessage::build()
            .payload(line.payload.clone())
            .message_id(&line.id)
            .expected_stream(stream);
        match context
            .send_publish(target.subject.as_str().to_owned(), message)
            .await
        {
            Ok(ack) => acks.push((i, ack)),
            Err(e) => {
                // The connection is in trouble: the rest waits for the retry.
                attempt.error = Some(e.to_string());
                break;
            }
        }
    }
    let results = futures::future::join_all(
        acks.into_iter()
            .map(|(i, ack)| async move { (i, ack.await) }),
    )
    .await;
    for (i, result) in results {
        match result {
            Ok(ack) => {
                attempt.acked[i] = true;
                attempt.duplicates += usize::from(ack.duplicate);
            }
            Err(e) => {
                attempt.error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    attempt
}
