//! One module per subcommand: its arguments and what it runs.

pub mod audit;
pub mod demo;
pub mod extract;
pub mod serve;
pub mod simulate;
pub mod verify;

use crate::exit::{Exit, Failure};

/// What a command returns: its exit code, or a failure carrying one.
pub type Outcome = Result<Exit, Failure>;
