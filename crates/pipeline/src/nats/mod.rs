//! The stream sink: output lines published to NATS JetStream instead of a
//! file (`--sink nats://HOST:PORT/SUBJECT`).
//!
//! Exactly once for consumers: each line carries its violation's id as
//! `Nats-Msg-Id`, so the stream drops a line sent again within its
//! duplicate window (a batch re-published after a crash, a retry whose
//! first ack was lost). A batch's commit returns only once the stream has
//! acknowledged every line of it, so the checkpoint never moves past a line
//! the stream does not hold.
//!
//! Rooms: `target` (the URL, parsed), `stream` (the connection, the stream's
//! check or creation, publishing a batch with retries), `sink` (the
//! [`RecordSink`](crate::output::RecordSink) over it), `testing` (servers
//! and read-back for tests).

mod sink;
mod stream;
mod target;
pub mod testing;

pub use sink::NatsSink;
pub use stream::{NatsStream, StreamOptions, DUPLICATE_WINDOW};
pub use target::{Credentials, NatsTarget, Subject, ALLOWED as URL_FORM};

use std::time::Duration;

/// What went wrong with the stream. Messages say what happened and what to
/// do; they never hold the URL's credentials.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error(
        "the NATS server {server} is unreachable after {attempts} attempts ({detail}); \
         start it, or check the host and port"
    )]
    Unreachable {
        server: String,
        attempts: u32,
        detail: String,
    },
    #[error("the NATS server {server} refused the credentials ({detail})")]
    Refused { server: String, detail: String },
    #[error(
        "the NATS server {server} has no JetStream ({detail}); start it with -js \
         (or a jetstream block in its configuration)"
    )]
    NoJetStream { server: String, detail: String },
    #[error(
        "no JetStream stream on {server} takes the subject `{subject}`; create one with a \
         duplicate window at least as long as a rerun after a crash may take, such as \
         `nats stream add {suggested} --subjects '{subject}' --dupe-window 24h --storage file \
         --defaults`"
    )]
    NoStream {
        server: String,
        subject: String,
        suggested: String,
    },
    #[error(
        "{published} of {total} lines to {target} were acknowledged by the stream after \
         {attempts} attempts in {elapsed:.1?} ({detail}); the checkpoint stays before this \
         batch: run again once the server is back, and the stream drops what it already holds"
    )]
    Unacknowledged {
        target: String,
        published: usize,
        total: usize,
        attempts: u32,
        elapsed: Duration,
        detail: String,
    },
    #[error("the JetStream stream for {target} cannot be used: {detail}")]
    Stream { target: String, detail: String },
    #[error("an output line has no violation id to publish as its Nats-Msg-Id")]
    NoId,
}

impl NatsError {
    /// Whether the server stayed unavailable (interface.md's exit 4), as
    /// opposed to a configuration to fix (exit 2).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            NatsError::Unreachable { .. } | NatsError::Unacknowledged { .. }
        )
    }
}
