//! The one place where outcomes become exit codes (see the README's table).

use crate::cli::{Cli, Command, LogFormat};
use crate::commands;
use std::process::ExitCode;

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
#[error("{error:#}")]
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

fn init_logging(format: LogFormat, filter: &str) {
    crate::report::set_format(format);
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(crate::report::stderr_ansi())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.with_target(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub fn run(cli: Cli) -> ExitCode {
    init_logging(cli.log_format, &cli.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let message = format!("cannot start the async runtime: {e}");
            crate::report::error(&message, Exit::Internal as u8, None);
            return ExitCode::from(Exit::Internal as u8);
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Demo(args) => commands::demo::run(args).await,
            Command::Extract(args) => commands::extract::run(args).await,
            Command::Verify(args) => commands::verify::run(args).await,
            Command::Simulate(args) => commands::simulate::run(args).await,
            Command::Audit(args) => commands::audit::run(args).await,
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Report(args) => commands::report::run(args).await,
        }
    });
    let exit = match outcome {
        Ok(exit) => exit,
        Err(failure) => {
            let message = failure.to_string();
            crate::report::error(&message, failure.exit as u8, failure.correlation_id());
            failure.exit
        }
    };
    ExitCode::from(exit as u8)
}

/// A command line clap refused: clap's own message and exit code, or with
/// `--log-format json` the same as one JSON error event. Help and version
/// are printed as clap prints them.
pub fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || !json_requested(
            std::env::args_os(),
            std::env::var_os("GENESYS_COMPLIANCE_LOG_FORMAT"),
        )
    {
        e.exit()
    }
    crate::report::set_format(LogFormat::Json);
    let text = e.render().to_string();
    let message = text.trim().trim_start_matches("error: ");
    let code = e.exit_code();
    crate::report::error(message, code as u8, None);
    std::process::exit(code)
}

/// Whether the command line or the environment asks for JSON logs, read
/// without clap (which has just refused the command line).
fn json_requested(
    args: impl Iterator<Item = std::ffi::OsString>,
    env: Option<std::ffi::OsString>,
) -> bool {
    let args: Vec<std::ffi::OsString> = args.collect();
    let from_args = args.iter().enumerate().rev().find_map(|(i, a)| {
        let a = a.to_str()?;
        if a == "--log-format" {
            args.get(i + 1)
                .and_then(|v| v.to_str())
                .map(|v| v == "json")
        } else {
            a.strip_prefix("--log-format=").map(|v| v == "json")
        }
    });
    from_args.unwrap_or_else(|| env.is_some_and(|v| v == "json"))
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

/// The one mapping from a pipeline run's failures to exit codes.
pub fn run_failure(e: compliance_pipeline::run::RunError) -> Failure {
    use compliance_pipeline::run::RunError;
    match e {
        RunError::Client(e) => client_failure(e),
        RunError::Interrupted => Failure::new(Exit::Done, e),
        e @ (RunError::Output(_)
        | RunError::Audit(_)
        | RunError::Delivery(_)
        | RunError::Store(_)
        | RunError::Checkpoint(_)) => Failure::new(Exit::Internal, e),
    }
}
