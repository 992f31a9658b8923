//! `genesys-compliance`: parses the command line, runs the command, maps the
//! outcome to an exit code. Everything else lives in the library crates.

mod advice;
mod cli;
mod commands;
mod exit;
mod report;
mod settings;

fn main() -> std::process::ExitCode {
    exit::run(cli::parse())
}
