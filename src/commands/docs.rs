//! `completions SHELL` and `man`: shell completion scripts and man pages,
//! generated from the command line's own definition so that they never
//! drift from it. `deploy/install.sh` installs both.

use super::Outcome;
use crate::cli::Cli;
use crate::exit::{Exit, Failure};
use anyhow::Context;
use clap::CommandFactory;
use std::io::Write;
use std::path::PathBuf;

const NAME: &str = "genesys-compliance";

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    genesys-compliance completions bash > /usr/share/bash-completion/completions/genesys-compliance\n  \
    genesys-compliance completions zsh > /usr/local/share/zsh/site-functions/_genesys-compliance\n  \
    genesys-compliance completions fish > ~/.config/fish/completions/genesys-compliance.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    genesys-compliance man > genesys-compliance.1 && man ./genesys-compliance.1\n  \
    genesys-compliance man --dir /usr/local/share/man/man1")]
pub struct ManArgs {
    /// Write one page per command (genesys-compliance.1, genesys-compliance-extract.1, ...)
    /// into this directory instead of the main page to standard output.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Prints the completion script for one shell.
pub async fn completions(args: CompletionsArgs) -> Outcome {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), NAME, &mut script);
    print(&script)
}

/// Prints the main man page, or writes every command's page into a directory.
pub async fn man(args: ManArgs) -> Outcome {
    match args.dir {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(Failure::invalid(anyhow::anyhow!(
                    "--dir {}: no such directory; give an existing directory for the man pages",
                    dir.display()
                )));
            }
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))
                .map_err(|e| Failure::new(Exit::Internal, e))?;
            Ok(Exit::Done)
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| Failure::new(Exit::Internal, e))?;
            print(&page)
        }
    }
}

fn print(bytes: &[u8]) -> Outcome {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
        .map_err(|e| Failure::new(Exit::Internal, e))?;
    Ok(Exit::Done)
}
