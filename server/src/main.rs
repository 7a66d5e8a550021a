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

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use fieldvisit_core::clock::{Clock, ServerTime, SystemClock};
use fieldvisit_core::ids::{CadreId, DeviceId};
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::admin_log::Actor;
use fieldvisit_server::demo::{self, DemoOptions};
use fieldvisit_server::http::AppState;
use fieldvisit_server::import::{self, Encoding, ImportOptions, ImportReport};
use fieldvisit_server::storage;
use fieldvisit_server::web::WebConfig;
use fieldvisit_server::web::accounts::AdminUserCommand;
use fieldvisit_server::{Error, Result, admin, devices, dictionary, enroll, plates, report, web};

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

/// Who is acting, for the admin log.
#[derive(Args)]
struct Who {
    /// The admin's name in the admin log (default: the operating system user).
    #[arg(long)]
    actor: Option<String>,
}

impl Who {
    fn actor(&self) -> Result<Actor> {
        Actor::from_flag_or_os(self.actor.as_deref())
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sync API.
    Serve {
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The server is reached through a TLS proxy: mark the dashboard's cookies Secure.
        #[arg(long)]
        behind_tls: bool,
    },
    /// Seed a synthetic region, serve it, run a fleet of phones, and print a summary.
    Demo {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Phones in the fleet.
        #[arg(long, default_value_t = 200)]
        devices: usize,
        /// A small region (3 villages, 40 households) instead of the whole city.
        #[arg(long)]
        small: bool,
        /// Keep the database here (a SQLite file, or a PostgreSQL URL
        /// postgres://user@host:port/dbname) instead of in a temporary folder.
        #[arg(long)]
        db: Option<String>,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// End after the summary instead of serving on.
        #[arg(long)]
        exit: bool,
        /// Print the summary as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Import the registry from CSV files (layout: docs/import.md). Every bad row is reported
    /// with its file, row and column; if there is any, nothing is written.
    Import {
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
    },
    /// Write a synthetic region (the demo's data) as registry CSV files in the import layout.
    Synth {
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
    },
    /// Load a synthetic region into a database.
    Seed {
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        small: bool,
        #[command(flatten)]
        who: Who,
    },
    /// Make a one-time enrollment code for a cadre's phone.
    Enroll {
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        #[arg(long)]
        cadre: String,
        /// Hours until the code expires.
        #[arg(long, default_value_t = 24)]
        ttl_hours: i64,
        /// Also write the code as a QR image (SVG) here.
        #[arg(long)]
        qr: Option<PathBuf>,
        #[command(flatten)]
        who: Who,
    },
    /// Revoke a phone: its next sync gets 401; its local data stays on the phone.
    Revoke {
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        device: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        who: Who,
    },
    /// Retire a phone: its final upload is accepted, then it is revoked by the sync that leaves
    /// nothing pending. `--now` revokes it at once (a lost phone; import its export later).
    Retire {
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        device: String,
        #[arg(long)]
        reason: String,
        /// Revoke at once instead of waiting for the final upload.
        #[arg(long)]
        now: bool,
        #[command(flatten)]
        who: Who,
    },
    /// Import a phone's exported unsynced work (`fieldvisit-unsynced-v1`, docs/devices.md):
    /// verified and applied as a sync would, all or nothing.
    ImportUnsynced {
        file: PathBuf,
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        who: Who,
    },
    /// Verify every device's hash chain and signatures across the whole database.
    Audit {
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        #[arg(long)]
        json: bool,
    },
    /// Print a village's door plates as A4 SVG pages (8 plates a page), or reissue a plate.
    Plates(PlatesArgs),
    /// List the admin log, oldest of the listed entries first.
    AdminLog {
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        /// How many of the newest entries to list.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// List enrolled phones with their sync health: state, app version, last sync, pending
    /// operations as last reported, rejected operations, clock skew, and the flags `stuck`
    /// (work waiting, no sync for `--stale-days`) and `silent` (never synced, or not for
    /// `--stale-days`).
    Devices {
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        #[arg(long, default_value_t = devices::DEFAULT_STALE_DAYS)]
        stale_days: u32,
        #[arg(long)]
        json: bool,
    },
    /// A supervision report: coverage, unvisited, visit-rate, overdue, rejected, conflicts or
    /// flags (docs/supervision.md), as CSV (UTF-8 with BOM, for Excel) or JSON.
    Report(ReportArgs),
    /// Score the anomaly flags on synthetic visits with planted anomalies: recall and
    /// false-positive rate per flag, as the Markdown table in docs/supervision.md.
    FlagsEval {
        /// Seeds to run (one table each).
        #[arg(long = "seed", default_values_t = [1u64, 2, 3])]
        seeds: Vec<u64>,
        /// Weeks of visits.
        #[arg(long, default_value_t = 12)]
        weeks: u32,
    },
    /// Show a household: its poverty status and every exit step (退出) with who made it, when,
    /// and what it rests on: the first secretary's steps, the village notice, the approval.
    Household {
        /// The household id.
        household: String,
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        #[arg(long)]
        json: bool,
    },
    /// The county's steps of a household's exit procedure (退出): the village notice and the
    /// approval that makes it exited (docs/protocol.md).
    Exit {
        #[command(subcommand)]
        action: fieldvisit_server::exit::ExitCommand,
    },
    /// List the operations the server refused, newest first, with their reasons.
    Rejected {
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
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

#[derive(Args)]
struct ReportArgs {
    /// coverage, unvisited, visit-rate, overdue, rejected, conflicts or flags.
    name: String,
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

#[derive(Subcommand)]
enum DictionaryAction {
    /// Train a dictionary on the newest accepted operations; phones fetch it at their next sync.
    Train {
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        /// Operations to train on (the newest).
        #[arg(long, default_value_t = dictionary::DEFAULT_SAMPLES)]
        samples: usize,
        /// The dictionary's size in bytes.
        #[arg(long, default_value_t = dictionary::DEFAULT_SIZE)]
        size: usize,
        #[command(flatten)]
        who: Who,
    },
    /// List the dictionaries; the last one is advertised to phones.
    List {
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
    },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct PlatesArgs {
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

fn parse_encoding(name: &str) -> std::result::Result<Encoding, String> {
    Encoding::parse(name)
        .ok_or_else(|| format!("unknown encoding '{name}': use utf-8, gbk or gb18030"))
}

fn now() -> ServerTime {
    ServerTime(SystemClock.now().0)
}

/// A server time as China Standard Time (UTC+8), to the second with its offset, for admins
/// reading a list.
fn china_time(at: ServerTime) -> String {
    china_time_as(at, "%Y-%m-%d %H:%M:%S%:z")
}

/// A server time in China Standard Time in a chrono `format`; the raw milliseconds when the
/// time is out of chrono's range.
fn china_time_as(at: ServerTime, format: &str) -> String {
    let cst = chrono::FixedOffset::east_opt(8 * 3600);
    match (chrono::DateTime::from_timestamp_millis(at.0), cst) {
        (Some(t), Some(cst)) => t.with_timezone(&cst).format(format).to_string(),
        _ => at.0.to_string(),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
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

fn print_devices(devices: &[devices::DeviceHealth]) {
    println!(
        "{:<38} {:<12} {:<9} {:<10} {:>6} {:>8} {:>8} {:>10}  {:<16} flags",
        "device",
        "cadre",
        "state",
        "app",
        "seq",
        "pending",
        "rejected",
        "skew ms",
        "last sync (CST)"
    );
    for h in devices {
        let d = &h.device;
        let flags = [(h.stuck, "stuck"), (h.silent, "silent")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| *name)
            .collect::<Vec<_>>()
            .join(",");
        println!(
            "{:<38} {:<12} {:<9} {:<10} {:>6} {:>8} {:>8} {:>10}  {:<16} {flags}",
            d.id.to_string(),
            d.cadre.as_str(),
            h.state.as_str(),
            d.app_version.as_deref().unwrap_or("-"),
            d.head.seq,
            d.pending_reported,
            h.rejected,
            d.clock_skew_ms,
            d.last_sync_at
                .map_or_else(|| "never".into(), |t| china_time_as(t, "%Y-%m-%d %H:%M")),
        );
    }
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve {
            db,
            listen,
            behind_tls,
        } => {
            init_logging("info");
            let storage = storage::open(&db)?;
            let rt = runtime()?;
            rt.block_on(async {
                let listener = tokio::net::TcpListener::bind(listen).await?;
                eprintln!(
                    "fieldvisit-server on http://{} ({})",
                    listener.local_addr()?,
                    storage.describe()
                );
                let state = AppState::new(storage, Arc::new(SystemClock))?.with_web(WebConfig {
                    secure_cookies: behind_tls,
                    ..WebConfig::default()
                });
                fieldvisit_server::http::serve(listener, state, shutdown_signal()).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            seed,
            devices,
            small,
            db,
            listen,
            concurrency,
            exit,
            json,
        } => {
            init_logging("warn");
            let rt = runtime()?;
            let opts = DemoOptions {
                seed,
                devices,
                small,
                db,
                listen,
                concurrency,
            };
            let demo = demo::run(&opts, &rt)?;
            if json {
                println!("{}", serde_json::to_string(&demo.summary)?);
            } else {
                demo::print_summary(&demo.summary);
            }
            let ok = demo.summary.errors == 0 && demo.summary.synced == demo.summary.recorded;
            if !exit {
                // Serve on, so that a newcomer can point a device at this server.
                let cadre = demo.region.cadres.first().map(|c| c.id.clone());
                if let Some(cadre) = cadre {
                    let code = enroll::create_code(
                        demo.storage.as_ref(),
                        &cadre,
                        now(),
                        86_400_000,
                        &Actor::new("demo")?,
                    )?;
                    println!();
                    println!("serving on http://{} — press Ctrl-C to stop", demo.address);
                    println!("enroll a device for cadre {cadre} with code {}", code.code);
                }
                rt.block_on(shutdown_signal());
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Import {
            files,
            db,
            dry_run,
            encoding,
            json,
            who,
        } => {
            let actor = who.actor()?;
            let storage = storage::open(&db)?;
            let progress = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            progress.set_style(
                indicatif::ProgressStyle::with_template("{msg:>20} [{bar:40}] {pos}/{len} ({eta})")
                    .map_err(|e| Error::Refused(e.to_string()))?
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
        Command::Synth {
            seed,
            small,
            out,
            encoding,
        } => {
            let spec = if small {
                RegionSpec::small(seed)
            } else {
                RegionSpec::hulunbuir(seed)
            };
            let region = Region::generate(spec);
            for file in import::synth::write_region(&region, &out, encoding)? {
                println!("{:>7} rows  {}", file.rows, file.path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed {
            db,
            seed,
            small,
            who,
        } => {
            let actor = who.actor()?;
            let storage = storage::open(&db)?;
            let spec = if small {
                RegionSpec::small(seed)
            } else {
                RegionSpec::hulunbuir(seed)
            };
            let region = Region::generate(spec);
            let n = admin::load_region(storage.as_ref(), &region, &actor, now())?;
            println!("loaded {n} registry records into {}", storage.describe());
            Ok(ExitCode::SUCCESS)
        }
        Command::Enroll {
            db,
            cadre,
            ttl_hours,
            qr,
            who,
        } => {
            let actor = who.actor()?;
            let storage = storage::open(&db)?;
            let cadre = CadreId::new(cadre)?;
            let code = enroll::create_code(
                storage.as_ref(),
                &cadre,
                now(),
                ttl_hours.saturating_mul(3_600_000),
                &actor,
            )?;
            println!("{}", code.code);
            if let Some(path) = qr {
                std::fs::write(&path, code.qr_svg()?)?;
                eprintln!("QR code written to {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Revoke {
            db,
            device,
            reason,
            who,
        } => {
            let actor = who.actor()?;
            let storage = storage::open(&db)?;
            let device = DeviceId::parse(&device)
                .map_err(|e| Error::Refused(format!("not a device id: {e}")))?;
            admin::revoke(storage.as_ref(), &device, &reason, &actor, now())?;
            println!("revoked {device}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Retire {
            db,
            device,
            reason,
            now: at_once,
            who,
        } => {
            let actor = who.actor()?;
            let storage = storage::open(&db)?;
            let device = DeviceId::parse(&device)
                .map_err(|e| Error::Refused(format!("not a device id: {e}")))?;
            match devices::retire(storage.as_ref(), &device, &reason, at_once, &actor, now())? {
                devices::Retired::Revoked => println!("revoked {device}"),
                devices::Retired::Retiring => println!(
                    "{device} is retiring: revoked once a sync leaves it with nothing pending"
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::ImportUnsynced {
            file,
            db,
            json,
            who,
        } => {
            let actor = who.actor()?;
            let bytes = std::fs::read(&file)?;
            let storage = storage::open(&db)?;
            let report = devices::import_unsynced(storage.as_ref(), &bytes, &actor, now())?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "{}: {} accepted, {} rejected, {} already present",
                    report.device,
                    report.accepted,
                    report.rejected.len(),
                    report.already_present
                );
                for r in &report.rejected {
                    println!("  rejected operation {} ({}): {}", r.seq, r.op, r.reason);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { db, json } => {
            let storage = storage::open(&db)?;
            let report = fieldvisit_server::audit::audit(storage.as_ref())?;
            if json {
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
        Command::Dictionary {
            action:
                DictionaryAction::Train {
                    db,
                    samples,
                    size,
                    who,
                },
        } => {
            let storage = storage::open(&db)?;
            let d = dictionary::train_from_storage(
                storage.as_ref(),
                samples,
                size,
                &who.actor()?,
                now(),
            )?;
            println!(
                "dictionary {} ({} bytes, trained on {} operations) is now advertised to phones",
                d.id,
                d.bytes.len(),
                d.samples
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Dictionary {
            action: DictionaryAction::List { db },
        } => {
            let storage = storage::open(&db)?;
            let all = storage.read()?.dictionaries()?;
            if all.is_empty() {
                println!("no dictionaries: phones send plain zstd bodies");
            }
            for d in all {
                println!(
                    "{:>10}  {:>7} bytes  {:>7} samples  created {}",
                    d.id,
                    d.bytes.len(),
                    d.samples,
                    d.created_at.0
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plates(args) => run_plates(args),
        Command::Report(args) => run_report(args),
        Command::AdminUser { action } => {
            web::accounts::run_cli(action, now()).map(|()| ExitCode::SUCCESS)
        }
        Command::FlagsEval { seeds, weeks } => {
            for seed in seeds {
                let scores = report::planted::evaluate(&report::planted::generate(seed, weeks));
                println!("seed {seed}, {weeks} weeks\n");
                println!("{}", report::planted::markdown(&scores));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::AdminLog { db, limit, json } => {
            let storage = storage::open(&db)?;
            let mut entries = storage.read()?.admin_log(limit)?;
            entries.reverse();
            if json {
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
        Command::Household {
            household,
            db,
            json,
        } => fieldvisit_server::exit::show_household(&db, &household, json),
        Command::Exit { action } => fieldvisit_server::exit::run_cli(action, now()),
        Command::Rejected { db, limit, json } => {
            let storage = storage::open(&db)?;
            let rejections = storage.read()?.rejections(limit)?;
            if json {
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
        Command::Devices {
            db,
            stale_days,
            json,
        } => {
            let storage = storage::open(&db)?;
            let devices = devices::health(storage.as_ref(), now(), stale_days)?;
            if json {
                println!("{}", serde_json::to_string(&devices)?);
            } else {
                print_devices(&devices);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
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

fn run_report(args: ReportArgs) -> Result<ExitCode> {
    if !report::NAMES.contains(&args.name.as_str()) {
        return Err(Error::NotFound(format!(
            "no report named {}; reports: {}",
            args.name,
            report::NAMES.join(", ")
        )));
    }
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
    let table = report::run(&mut *storage.read()?, &args.name, &opts)?;
    let bytes = table.render(args.format, &args.name)?;
    match args.out {
        Some(path) => std::fs::write(path, bytes)?,
        None => std::io::Write::write_all(&mut std::io::stdout().lock(), &bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn run_plates(args: PlatesArgs) -> Result<ExitCode> {
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
                return Err(Error::Refused(
                    "plates needs --village CODE and --out FILE.svg".into(),
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
