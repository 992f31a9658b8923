//! The one place where outcomes become exit codes (see the README's table).

/// The exit codes of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Done = 0,
    Internal = 1,
    Invalid = 2,
    Refused = 3,
    Unavailable = 4,
    Undelivered = 5,
}

/// An error that knows its exit code. Commands wrap library errors in it;
/// anything else is an internal error.
#[derive(Debug, thiserror::Error)]
#[error("{}", crate::advice::chain(.error))]
pub struct Failure {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        Failure {
            exit,
            error: error.into(),
        }
    }
    pub fn invalid(error: impl Into<anyhow::Error>) -> Self {
        Failure::new(Exit::Invalid, error)
    }
    /// The server's correlation id of the answer that failed, when there was one.
    pub fn correlation_id(&self) -> Option<&str> {
        self.error
            .chain()
            .find_map(|e| e.downcast_ref::<compliance_client::Error>())
            .and_then(compliance_client::Error::correlation_id)
    }
}

/// Anything not classified is an internal error (exit 1).
impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::new(Exit::Internal, error)
    }
}

/// The one mapping from the client library's failures to exit codes.
pub fn client_failure(e: compliance_client::Error) -> Failure {
    use compliance_client::{Error, ErrorKind};
    let exit = match e.kind() {
        ErrorKind::Refused => Exit::Refused,
        ErrorKind::Unavailable => Exit::Unavailable,
        ErrorKind::Internal => Exit::Internal,
    };
    let hint = match &e {
        Error::CredentialsRefused { .. } => Some(
            "check GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET \
             (or client_id and client_secret in the config file)",
        ),
        _ => None,
    };
    let error = anyhow::Error::new(e);
    Failure::new(
        exit,
        match hint {
            Some(hint) => error.context(hint),
            None => error,
        },
    )
}

/// The one mapping from a state store that cannot be opened to exit codes:
/// a server that stayed unreachable is 4, anything else (a bad URL, a wrong
/// password, a newer schema, a file that is not a store) is 2.
pub fn store_failure(e: compliance_store::StoreError) -> Failure {
    let exit = match e {
        compliance_store::StoreError::Unreachable { .. } => Exit::Unavailable,
        _ => Exit::Invalid,
    };
    Failure::new(exit, anyhow::Error::new(e).context("--state"))
}

/// The one mapping from a stream sink's failures to exit codes: a server
/// that stayed unreachable or stopped acknowledging is 4, anything else (a
/// missing stream, no JetStream, refused credentials) is 2.
pub fn stream_failure(e: compliance_pipeline::nats::NatsError) -> Failure {
    let exit = if e.is_unavailable() {
        Exit::Unavailable
    } else {
        Exit::Invalid
    };
    Failure::new(exit, anyhow::Error::new(e).context("--sink"))
}

/// The one mapping from a pipeline run's failures to exit codes.
pub fn run_failure(e: compliance_pipeline::RunError) -> Failure {
    use compliance_pipeline::{OutputError, RunError};
    match e {
        RunError::Client(e) => client_failure(e),
        RunError::Output(OutputError::Stream(e)) if e.is_unavailable() => stream_failure(e),
        RunError::Interrupted => Failure::new(Exit::Done, e),
        e @ (RunError::Output(_)
        | RunError::Audit(_)
        | RunError::Delivery(_)
        | RunError::Store(_)
        | RunError::Checkpoint(_)) => Failure::new(Exit::Internal, e),
    }
}
