use super::Outcome;
use crate::exit::{Exit, Failure};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args) -> Outcome {
    Err(Failure::new(Exit::Internal, anyhow::anyhow!("`audit` is not built yet")))
}
