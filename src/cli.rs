//! The command line: global options and one subcommand per job.

use crate::commands;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "genesys-compliance",
    version,
    about = "Extract Agent Assist compliance violations from Genesys Cloud, verify them, \
             redact customer data, and deliver signed, tamper-evident audit records.",
    long_about = None,
    after_help = "Start with `genesys-compliance demo`: it runs the whole pipeline against the \
                  built-in simulator, with no credentials and no network.\n\
                  Exit codes: 0 done, 1 internal error, 2 invalid input (nothing sent), \
                  3 credentials or permission refused, 4 server unavailable after retries, \
                  5 done but the webhook is still queued."
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
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
    /// Check an audit directory.
    Audit(commands::audit::Args),
    /// Extract continuously on a schedule, with health and metrics endpoints.
    Serve(commands::serve::Args),
}

pub fn parse() -> Cli {
    Cli::parse()
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
