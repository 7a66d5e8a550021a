//! `import`, `synth` and `seed`: the commands that fill the registry (areas, cadres,
//! households, members, assignments, village posts, measures), from the county's CSV files or
//! from a synthetic region, and `synth`, which writes such a region as CSV files for `import`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::import::{self, Encoding, ImportOptions, ImportReport};
use fieldvisit_server::{Error, Result, admin, storage};

use super::{Who, now};

#[derive(Args)]
pub struct ImportArgs {
    /// The CSV files: areas.csv, cadres.csv, households.csv, members.csv,
    /// assignments.csv, village_posts.csv, measures.csv (any subset, any order).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[arg(long, default_value = "fieldvisit.db")]
    db: String,
    /// Check everything and report what would change, but write nothing.
    #[arg(long)]
    dry_run: bool,
    /// The files' encoding: utf-8, gbk or gb18030 (default: detected per file).
    #[arg(long, value_parser = parse_encoding)]
    encoding: Option<Encoding>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    who: Who,
}

#[derive(Args)]
pub struct SynthArgs {
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A small region (3 villages, 40 households) instead of the whole city.
    #[arg(long)]
    small: bool,
    /// The folder to write the files into (created if missing; files are replaced).
    #[arg(long)]
    out: PathBuf,
    /// utf-8 (default) or gbk.
    #[arg(long, value_parser = parse_encoding, default_value = "utf-8")]
    encoding: Encoding,
}

#[derive(Args)]
pub struct SeedArgs {
    /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
    #[arg(long, default_value = "fieldvisit.db")]
    db: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    small: bool,
    #[command(flatten)]
    who: Who,
}

fn parse_encoding(name: &str) -> std::result::Result<Encoding, String> {
    Encoding::parse(name)
        .ok_or_else(|| format!("unknown encoding '{name}': use utf-8, gbk or gb18030"))
}

fn region(seed: u64, small: bool) -> Region {
    let spec = if small {
        RegionSpec::small(seed)
    } else {
        RegionSpec::hulunbuir(seed)
    };
    Region::generate(spec)
}

pub fn run_import(args: ImportArgs) -> Result<ExitCode> {
    let ImportArgs {
        files,
        db,
        dry_run,
        encoding,
        json,
        who,
    } = args;
    let actor = who.actor()?;
    let storage = storage::open(&db)?;
    let progress =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    progress.set_style(
        indicatif::ProgressStyle::with_template("{msg:>20} [{bar:40}] {pos}/{len} ({eta})")
            .map_err(|e| Error::refused(e.to_string()))?
            .progress_chars("=> "),
    );
    let options = ImportOptions {
        dry_run,
        encoding,
        progress,
    };
    let report = import::import(storage.as_ref(), &files, &options, &actor, now())?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_import(&report, dry_run, &db);
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_import(report: &ImportReport, dry_run: bool, db: &str) {
    for error in &report.errors {
        println!("{error}");
    }
    if !report.errors.is_empty() {
        println!();
    }
    for file in &report.files {
        println!(
            "{}: {} rows, {} ({})",
            file.file,
            file.rows,
            file.kind.unwrap_or("unknown kind"),
            file.encoding
        );
    }
    for (kind, c) in &report.counts {
        if c.rows > 0 {
            println!(
                "{kind:>14}: {:>6} rows: {} new, {} updated, {} unchanged",
                c.rows, c.new, c.updated, c.unchanged
            );
        }
    }
    let problems = report.errors.len();
    if problems > 0 {
        println!(
            "{problems} problem(s) found: nothing was written to {} (an import is all or nothing)",
            db
        );
    } else if dry_run {
        println!("dry run: every row is good; nothing was written");
    } else {
        println!(
            "imported into {} in one transaction; {} feed entries for phones",
            db, report.feed_entries
        );
    }
}

pub fn run_synth(args: SynthArgs) -> Result<ExitCode> {
    let region = region(args.seed, args.small);
    for file in import::synth::write_region(&region, &args.out, args.encoding)? {
        println!("{:>7} rows  {}", file.rows, file.path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_seed(args: SeedArgs) -> Result<ExitCode> {
    let actor = args.who.actor()?;
    let storage = storage::open(&args.db)?;
    let region = region(args.seed, args.small);
    let n = admin::load_region(storage.as_ref(), &region, &actor, now())?;
    println!("loaded {n} registry records into {}", storage.describe());
    Ok(ExitCode::SUCCESS)
}
