//! `genesys-compliance`: parses the command line, runs the command, maps the
//! outcome to an exit code. Everything else lives in the library crates.

mod advice;
mod cli;
mod commands;
mod exit;
mod report;
mod settings;

use cli::{Cli, Command};
use exit::Exit;
use report::LogFormat;
use std::process::ExitCode;

fn main() -> ExitCode {
    run(cli::parse())
}

fn run(cli: Cli) -> ExitCode {
    init_logging(cli.log_format, &cli.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let message = format!("cannot start the async runtime: {e}");
            report::error(&message, Exit::Internal as u8, None);
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
            Command::Completions(args) => commands::docs::completions(args).await,
            Command::Man(args) => commands::docs::man(args).await,
        }
    });
    let exit = match outcome {
        Ok(exit) => exit,
        Err(failure) => {
            let message = failure.to_string();
            report::error(&message, failure.exit as u8, failure.correlation_id());
            failure.exit
        }
    };
    ExitCode::from(exit as u8)
}

fn init_logging(format: LogFormat, filter: &str) {
    report::set_format(format);
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(report::stderr_ansi())
        .with_writer(report::SweptStderr {
            json: matches!(format, LogFormat::Json),
        });
    match format {
        LogFormat::Human => builder.with_target(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}
