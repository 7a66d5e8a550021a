//! `plates`: print a village's door plates as A4 SVG sheets, and `plates reissue`, which
//! replaces a lost or damaged plate with a new issue number that phones learn at their next
//! sync.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use fieldvisit_server::{Error, Result, plates, storage};

use super::{Who, now};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct PlatesArgs {
    #[command(subcommand)]
    action: Option<PlatesAction>,
    /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
    #[arg(long, default_value = "fieldvisit.db")]
    db: String,
    /// The village's 12-digit area code.
    #[arg(long, required = true)]
    village: Option<String>,
    /// The sheet, an .svg file; a village of more than 8 households gets FILE-1.svg, FILE-2.svg, …
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    #[command(flatten)]
    who: Who,
}

#[derive(Subcommand)]
enum PlatesAction {
    /// Replace a lost or damaged plate: a new issue number, and phones refuse the old plate
    /// once they have synced.
    Reissue {
        /// The household's id or door-plate code.
        household: String,
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        /// Why the plate is replaced (goes to the admin log).
        #[arg(long)]
        reason: Option<String>,
        /// Also write the new plate's sheet (an .svg file) here.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        who: Who,
    },
}

pub fn run(args: PlatesArgs) -> Result<ExitCode> {
    match args.action {
        Some(PlatesAction::Reissue {
            household,
            db,
            reason,
            out,
            who,
        }) => {
            let actor = who.actor()?;
            // Refuse a bad --out before the reissue is committed, not after.
            if let Some(out) = &out {
                plates::check_out_path(out)?;
            }
            let storage = storage::open(&db)?;
            let reissued = plates::reissue(
                storage.as_ref(),
                &household,
                reason.as_deref(),
                &actor,
                now(),
            )?;
            println!("{}", reissued.plate.code.grouped());
            eprintln!(
                "household {} ({} {}): plate issue {} replaces issue {}; phones refuse the old \
                 plate once they sync",
                reissued.household,
                reissued.village.name,
                reissued.village.code,
                reissued.plate.issue,
                reissued.previous_issue,
            );
            if let Some(out) = out {
                let file = plates::write_reissued(&reissued, &out)?;
                eprintln!("new plate written to {}", file.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let (Some(village), Some(out)) = (args.village, args.out) else {
                return Err(Error::refused(
                    "plates needs --village CODE and --out FILE.svg",
                ));
            };
            let actor = args.who.actor()?;
            let storage = storage::open(&args.db)?;
            let printed = plates::print_village(storage.as_ref(), &village, &out, &actor, now())?;
            println!(
                "{} plates of {} ({}) on {} page(s):",
                printed.plates.len(),
                printed.village.name,
                printed.village.code,
                printed.files.len()
            );
            for file in &printed.files {
                println!("{}", file.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
