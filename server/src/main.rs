//! `fieldvisit-server`: the sync server and the county's tools.
//!
//! `serve` runs the server; `demo` runs the whole system on a synthetic region; `import`,
//! `enroll`, `revoke`, `retire`, `import-unsynced`, `devices`, `seed`, `plates`, `admin-log` and
//! `dictionary` are the admin's
//! commands, `exit` records the county's steps of a household's exit (notice, approval), `admin-user` manages dashboard accounts, `report` prints supervision reports (`flags-eval` scores the anomaly flags on
//! planted anomalies), and `synth` writes a synthetic region as CSV files for `import`. Commands that
//! change something (`import`, `seed`, `enroll`, `revoke`, `retire`, `import-unsynced`, `plates`, `exit`)
//! append to the admin log as
//! the user named by `--actor`, or else the operating system user.
//!
//! This file names the commands and sends each to its family's file in `cli/`, where its flags
//! are declared and its output printed.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use fieldvisit_server::Result;
use fieldvisit_server::web::accounts::{self, AdminUserCommand};

use cli::dictionary::DictionaryAction;
use cli::{devices, dictionary, exit, now, plates, registry, reports, serve};

#[derive(Parser)]
#[command(
    name = "fieldvisit-server",
    version,
    about = "The fieldvisit sync server and county tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sync API.
    Serve(serve::ServeArgs),
    /// Seed a synthetic region, serve it, run a fleet of phones, and print a summary.
    Demo(serve::DemoArgs),
    /// Import the registry from CSV files (layout: docs/import.md). Every bad row is reported
    /// with its file, row and column; if there is any, nothing is written.
    Import(registry::ImportArgs),
    /// Write a synthetic region (the demo's data) as registry CSV files in the import layout.
    Synth(registry::SynthArgs),
    /// Load a synthetic region into a database.
    Seed(registry::SeedArgs),
    /// Make a one-time enrollment code for a cadre's phone.
    Enroll(devices::EnrollArgs),
    /// Revoke a phone: its next sync gets 401; its local data stays on the phone.
    Revoke(devices::RevokeArgs),
    /// Retire a phone: its final upload is accepted, then it is revoked by the sync that leaves
    /// nothing pending. `--now` revokes it at once (a lost phone; import its export later).
    Retire(devices::RetireArgs),
    /// Import a phone's exported unsynced work (`fieldvisit-unsynced-v1`, docs/devices.md):
    /// verified and applied as a sync would, all or nothing.
    ImportUnsynced(devices::ImportUnsyncedArgs),
    /// Verify every device's hash chain and signatures across the whole database.
    Audit(reports::AuditArgs),
    /// Print a village's door plates as A4 SVG pages (8 plates a page), or reissue a plate.
    Plates(plates::PlatesArgs),
    /// List the admin log, oldest of the listed entries first.
    AdminLog(reports::AdminLogArgs),
    /// List enrolled phones with their sync health: state, app version, last sync, pending
    /// operations as last reported, rejected operations, clock skew, and the flags `stuck`
    /// (work waiting, no sync for `--stale-days`) and `silent` (never synced, or not for
    /// `--stale-days`).
    Devices(devices::DevicesArgs),
    /// A supervision report (docs/supervision.md) as CSV (UTF-8 with BOM, for Excel), JSON or
    /// xlsx.
    Report(reports::ReportArgs),
    /// Score the anomaly flags on synthetic visits with planted anomalies: recall and
    /// false-positive rate per flag, as the Markdown table in docs/supervision.md.
    FlagsEval(reports::FlagsEvalArgs),
    /// Show a household: its poverty status and every exit step (退出) with who made it, when,
    /// and what it rests on: the first secretary's steps, the village notice, the approval.
    Household(exit::HouseholdArgs),
    /// The county's steps of a household's exit procedure (退出): the village notice and the
    /// approval that makes it exited (docs/protocol.md).
    Exit {
        #[command(subcommand)]
        action: fieldvisit_server::exit::ExitCommand,
    },
    /// List the operations the server refused, newest first, with their reasons.
    Rejected(reports::RejectedArgs),
    /// Dashboard accounts (docs/supervision.md): add, list, disable.
    AdminUser {
        #[command(subcommand)]
        action: AdminUserCommand,
    },
    /// Compression dictionaries for sync bodies, trained on the operations phones pushed.
    Dictionary {
        #[command(subcommand)]
        action: DictionaryAction,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run_serve(args),
        Command::Demo(args) => serve::run_demo(args),
        Command::Import(args) => registry::run_import(args),
        Command::Synth(args) => registry::run_synth(args),
        Command::Seed(args) => registry::run_seed(args),
        Command::Enroll(args) => devices::run_enroll(args),
        Command::Revoke(args) => devices::run_revoke(args),
        Command::Retire(args) => devices::run_retire(args),
        Command::ImportUnsynced(args) => devices::run_import_unsynced(args),
        Command::Devices(args) => devices::run_devices(args),
        Command::Audit(args) => reports::run_audit(args),
        Command::AdminLog(args) => reports::run_admin_log(args),
        Command::Rejected(args) => reports::run_rejected(args),
        Command::Report(args) => reports::run_report(args),
        Command::FlagsEval(args) => reports::run_flags_eval(args),
        Command::Plates(args) => plates::run(args),
        Command::Household(args) => exit::run_household(args),
        Command::Exit { action } => exit::run_exit(action),
        Command::AdminUser { action } => {
            accounts::run_cli(action, now()).map(|()| ExitCode::SUCCESS)
        }
        Command::Dictionary { action } => dictionary::run(action),
    }
}
