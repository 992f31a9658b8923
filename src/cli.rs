//! The command line: global options and one subcommand per job.

use crate::commands;
use crate::report::{self, LogFormat};
use clap::{Parser, Subcommand};

const TOP_LEVEL_HELP: &str = "\
Start with `genesys-compliance demo`: it runs the whole pipeline against the built-in simulator,
with no credentials and no network. Each command's --help has its details and examples.

Exit codes: 0 done, 1 internal error, 2 invalid input (nothing sent), 3 credentials or permission
refused, 4 server unavailable after retries, 5 done but the webhook is still queued.

Examples:
  genesys-compliance demo --violations 50000 --faults
  genesys-compliance extract --region eu-west-1 --start 2023-10-01T00:00:00Z \\
      --end 2023-10-02T00:00:00Z --out violations.jsonl --audit-dir audit
  genesys-compliance verify --in raw.jsonl --out verified.jsonl --rules rules.toml
  genesys-compliance serve --config deploy/config.example.toml
  genesys-compliance audit verify audit --state genesys-compliance.db
  genesys-compliance report --in violations.jsonl --audit-dir audit --out report.html
  genesys-compliance simulate --listen 127.0.0.1:0 --violations 10000 --fault-5xx 0.05";

#[derive(Debug, Parser)]
#[command(
    name = "genesys-compliance",
    version,
    about = "Extract Agent Assist compliance violations from Genesys Cloud, verify them, \
             redact customer data, and deliver signed, tamper-evident audit records.",
    long_about = None,
    after_help = TOP_LEVEL_HELP
)]
pub struct Cli {
    /// How log lines are written to standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "GENESYS_COMPLIANCE_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log filter, in `tracing` syntax (`info`, `debug`, `compliance_client=debug`, ...).
    #[arg(
        long,
        global = true,
        default_value = "info",
        env = "GENESYS_COMPLIANCE_LOG"
    )]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline against the built-in simulator: no credentials, no network.
    Demo(commands::demo::Args),
    /// Extract the violations of one time interval.
    Extract(commands::extract::Args),
    /// Verify, redact and judge violations from a JSONL file, offline.
    Verify(commands::verify::Args),
    /// Serve the simulated compliance API (token endpoint and API on one address).
    Simulate(commands::simulate::Args),
    /// Check an audit directory, or send webhooks again to an endpoint that answered 410 Gone.
    #[command(after_help = "Examples:\n  \
        genesys-compliance audit verify audit --state genesys-compliance.db\n  \
        genesys-compliance audit enable-webhook https://audit.example.com/hooks --state genesys-compliance.db\n  \
        genesys-compliance audit verify --help")]
    Audit(commands::audit::Args),
    /// Extract continuously on a schedule, with health, metrics and report endpoints.
    Serve(commands::serve::Args),
    /// Write an HTML compliance report (charts, audit trail) that opens offline.
    Report(commands::report::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(commands::docs::CompletionsArgs),
    /// Print the man page, or write every command's page into a directory.
    Man(commands::docs::ManArgs),
}

pub fn parse() -> Cli {
    Cli::try_parse().unwrap_or_else(|e| usage_error(e))
}

/// A command line clap refused: clap's own message and exit code, or with
/// `--log-format json` the same as one JSON error event. Help and version
/// are printed as clap prints them.
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || !json_requested(
            std::env::args_os(),
            std::env::var_os("GENESYS_COMPLIANCE_LOG_FORMAT"),
        )
    {
        e.exit()
    }
    report::set_format(LogFormat::Json);
    let text = e.render().to_string();
    let message = text.trim().trim_start_matches("error: ");
    let code = e.exit_code();
    report::error(message, code as u8, None);
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
