//! What supervisors and auditors read: `report` (coverage, visit-rate, flags and the other
//! supervision reports), `flags-eval` (how well the anomaly flags find planted anomalies),
//! `audit` (every device's hash chain and signatures), `admin-log` and `rejected`. None of
//! these commands changes the database.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use fieldvisit_core::clock::{Clock, SystemClock};
use fieldvisit_server::{Error, Result, report, storage};

use super::china_time;

#[derive(Args)]
pub struct ReportArgs {
    /// The report (docs/supervision.md).
    name: report::Report,
    #[arg(long, default_value = "fieldvisit.db")]
    db: String,
    /// First day of the period (China Standard Time); with --to.
    #[arg(long, requires = "to")]
    from: Option<chrono::NaiveDate>,
    /// Last day of the period (default: today).
    #[arg(long)]
    to: Option<chrono::NaiveDate>,
    /// The period is the N days ending on --to (ignored with --from).
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Visits a cadre must make a month (visit-rate).
    #[arg(long, default_value_t = 4)]
    required: u32,
    /// Newest entries of the rejected and conflicts logs.
    #[arg(long, default_value_t = 10_000)]
    limit: usize,
    /// csv, json or xlsx.
    #[arg(long, default_value = "csv")]
    format: report::Format,
    /// Write here instead of to standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct FlagsEvalArgs {
    /// Seeds to run (one table each).
    #[arg(long = "seed", default_values_t = [1u64, 2, 3])]
    seeds: Vec<u64>,
    /// Weeks of visits.
    #[arg(long, default_value_t = 12)]
    weeks: u32,
}

#[derive(Args)]
pub struct AuditArgs {
    /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
    #[arg(long, default_value = "fieldvisit.db")]
    db: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct AdminLogArgs {
    /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
    #[arg(long, default_value = "fieldvisit.db")]
    db: String,
    /// How many of the newest entries to list.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RejectedArgs {
    #[arg(long, default_value = "fieldvisit.db")]
    db: String,
    #[arg(long, default_value_t = 50)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

pub fn run_report(args: ReportArgs) -> Result<ExitCode> {
    // A report never creates a database: a mistyped path would report on an empty one.
    if !storage::postgres::is_url(&args.db) && !std::path::Path::new(&args.db).exists() {
        return Err(Error::NotFound(format!("no database at {}", args.db)));
    }
    let to = args.to.unwrap_or_else(|| SystemClock.now().local_date());
    let period = match args.from {
        Some(from) => report::Period { from, to },
        None => report::Period::last_days(to, args.days),
    };
    let opts = report::ReportOptions {
        period,
        required_per_month: args.required,
        limit: args.limit,
    };
    let storage = storage::open(&args.db)?;
    let table = report::run(&mut *storage.read()?, args.name, &opts)?;
    let bytes = table.render(args.format, args.name.name())?;
    match args.out {
        Some(path) => std::fs::write(path, bytes)?,
        None => std::io::Write::write_all(&mut std::io::stdout().lock(), &bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_flags_eval(args: FlagsEvalArgs) -> Result<ExitCode> {
    let weeks = args.weeks;
    for seed in args.seeds {
        let scores = report::planted::evaluate(&report::planted::generate(seed, weeks));
        println!("seed {seed}, {weeks} weeks\n");
        println!("{}", report::planted::markdown(&scores));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_audit(args: AuditArgs) -> Result<ExitCode> {
    let storage = storage::open(&args.db)?;
    let report = fieldvisit_server::audit::audit(storage.as_ref())?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{} devices, {} operations checked",
            report.devices, report.operations
        );
        for b in &report.breaks {
            println!("BROKEN device {} (cadre {}): {}", b.device, b.cadre, b.at);
        }
        if report.breaks.is_empty() {
            println!("every chain verifies");
        }
    }
    Ok(if report.breaks.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn run_admin_log(args: AdminLogArgs) -> Result<ExitCode> {
    let storage = storage::open(&args.db)?;
    let mut entries = storage.read()?.admin_log(args.limit)?;
    entries.reverse();
    if args.json {
        println!("{}", serde_json::to_string(&entries)?);
    } else {
        for e in entries {
            println!(
                "{:>6}  {}  {:<16} {:<19} {:<40} {}",
                e.id,
                china_time(e.at),
                e.actor,
                e.action,
                e.subject,
                e.detail
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_rejected(args: RejectedArgs) -> Result<ExitCode> {
    let storage = storage::open(&args.db)?;
    let rejections = storage.read()?.rejections(args.limit)?;
    if args.json {
        let out: Vec<_> = rejections
            .iter()
            .map(|(device, r)| serde_json::json!({ "device": device, "rejection": r }))
            .collect();
        println!("{}", serde_json::to_string(&out)?);
    } else {
        for (device, r) in rejections {
            println!("{device} #{:<6} {:?}  {}", r.seq, r.code, r.reason);
        }
    }
    Ok(ExitCode::SUCCESS)
}
