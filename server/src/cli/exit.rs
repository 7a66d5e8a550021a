//! A household's exit procedure (退出) at the command line: `household` shows a household's
//! status and every exit step, and `exit` records the county's steps (the village notice, the
//! approval). The work and the output are the library's (`fieldvisit_server::exit`); this file
//! only carries the flags to it.

use std::process::ExitCode;

use clap::Args;

use fieldvisit_server::Result;
use fieldvisit_server::exit::{self, ExitCommand};

use super::now;

#[derive(Args)]
pub struct HouseholdArgs {
    /// The household id.
    household: String,
    #[arg(long, default_value = "fieldvisit.db")]
    db: String,
    #[arg(long)]
    json: bool,
}

pub fn run_household(args: HouseholdArgs) -> Result<ExitCode> {
    exit::show_household(&args.db, &args.household, args.json)
}

pub fn run_exit(action: ExitCommand) -> Result<ExitCode> {
    exit::run_cli(action, now())
}
