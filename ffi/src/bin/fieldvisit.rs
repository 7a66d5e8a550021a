//! `fieldvisit`: a command-line device. It does what a phone does — enroll, scan plates, list
//! households, add photos, record and amend visits, sync, show what is pending or refused,
//! export unsynced work — through exactly the API the phone apps call (`fieldvisit_ffi`), and nothing else.
//! If something cannot be done here, the phones cannot do it either.
//!
//! Every failure prints one clear line to stderr and exits non-zero (1 for a refused call,
//! 2 for a malformed command line).

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand, ValueEnum};
use fieldvisit_ffi::{
    ChecklistAnswer, ChecklistStatus, FieldvisitError, FieldvisitStore, Identification, Location,
    NetworkType, PhotoRecord, PhotoSource, PhotoSyncPolicy, VisitChanges, new_draft,
};
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "fieldvisit",
    version,
    about = "A fieldvisit device on the command line (the phone API, for tests, scripts and admins)"
)]
struct Cli {
    /// The device store (created on first use).
    #[arg(long, default_value = "fieldvisit-device.db")]
    store: String,
    /// Read the store's passphrase from this environment variable (encrypted stores).
    #[arg(long, value_name = "VAR")]
    passphrase_env: Option<String>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll this device with a one-time code from a sync admin, then sync (as a phone does).
    Enroll {
        url: String,
        code: String,
        /// Enroll only; do not run the first sync.
        #[arg(long)]
        no_sync: bool,
    },
    /// Verify a door plate's QR text offline and show its household.
    Scan { payload: String },
    /// List the households assigned to this device's cadre.
    Households {
        /// Filter by household code, member name or village (Chinese text works).
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print only the household codes, one per line.
        #[arg(long)]
        codes: bool,
    },
    /// Show one household with its members and visits.
    Household { id: String },
    /// Record a visit.
    Visit(VisitArgs),
    /// Amend a visit this cadre recorded.
    Amend {
        visit: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        diary: Option<String>,
        #[arg(long, value_name = "YYYY-MM-DD")]
        follow_up: Option<String>,
        /// The problem was solved: clear the follow-up date.
        #[arg(long, conflicts_with = "follow_up")]
        clear_follow_up: bool,
    },
    /// Visits with a follow-up due by a date.
    FollowUps {
        #[arg(value_name = "YYYY-MM-DD")]
        until: String,
    },
    /// Push pending work and pull what the server has for this device; then upload the
    /// photos of accepted visits, as `--photos` allows.
    Sync {
        /// When photos upload: always, unmetered-only (with --unmetered) or never.
        #[arg(long, value_enum, default_value_t = PhotosWhen::Always)]
        photos: PhotosWhen,
        /// The network is unmetered (Wi-Fi).
        #[arg(long)]
        unmetered: bool,
    },
    /// Photos: `photo add FILE` stores a picture for a visit to name by its hash.
    Photo {
        #[command(subcommand)]
        command: PhotoCommand,
    },
    /// List the photos on this device (or one visit's) and where each stands with the server.
    Photos {
        #[arg(long)]
        visit: Option<String>,
    },
    /// Who this device is, and every operation with its state.
    Status,
    /// Write the work the server has not acknowledged to FILE, for a sync admin.
    Export { file: String },
}

#[derive(Subcommand)]
enum PhotoCommand {
    /// Store a picture (JPEG) by its SHA-256 and print the hash to name in `visit --photo`.
    Add {
        file: String,
        /// The picture was picked from the gallery, not taken with the camera (flagged for
        /// supervisors: only camera captures count as evidence).
        #[arg(long)]
        gallery: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum PhotosWhen {
    Always,
    UnmeteredOnly,
    Never,
}

#[derive(Args)]
struct VisitArgs {
    /// The QR text of the door plate.
    #[arg(
        long,
        conflicts_with_all = ["household", "reason"],
        required_unless_present = "household"
    )]
    scan: Option<String>,
    /// The household code, typed by hand (needs --reason).
    #[arg(long, requires = "reason")]
    household: Option<String>,
    /// Why the plate was not scanned.
    #[arg(long)]
    reason: Option<String>,
    /// routine, policy, problem, exit_verification or follow_up.
    #[arg(long, default_value = "routine")]
    kind: String,
    /// The diary (民情日记), at least 5 characters.
    #[arg(long)]
    diary: String,
    /// A problem found (repeatable).
    #[arg(long = "problem")]
    problems: Vec<String>,
    #[arg(long, value_name = "YYYY-MM-DD")]
    follow_up: Option<String>,
    /// A checklist answer: ITEM=ok, ITEM=na or ITEM=problem:NOTE (repeatable).
    #[arg(long = "check", value_name = "ITEM=STATUS")]
    checks: Vec<String>,
    /// The household confirmed the visit.
    #[arg(long)]
    acknowledged: bool,
    #[arg(long, requires = "lon", allow_hyphen_values = true)]
    lat: Option<f64>,
    #[arg(long, requires = "lat", allow_hyphen_values = true)]
    lon: Option<f64>,
    /// Accuracy of the location fix in metres.
    #[arg(long, default_value_t = 10.0)]
    accuracy: f64,
    /// gps, network or fused.
    #[arg(long, default_value = "gps")]
    provider: String,
    /// A photo taken during the visit, by the hash `photo add` printed (repeatable).
    #[arg(long = "photo", value_name = "SHA256")]
    photos: Vec<String>,
}

/// A failure: a refused call, or input the command line could not turn into a call.
enum Failure {
    Api(FieldvisitError),
    Usage(String),
    Other(String),
}

impl From<FieldvisitError> for Failure {
    fn from(e: FieldvisitError) -> Self {
        Failure::Api(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Api(e)) => {
            if json {
                let body = serde_json::json!({ "error": error_name(&e), "message": e.to_string() });
                eprintln!("{body}");
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Other(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The variant's name, for scripts that branch on it.
fn error_name(e: &FieldvisitError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("Internal")
        .to_string()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) {
    if json {
        match serde_json::to_string(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot print the result as JSON: {e}"),
        }
    } else {
        println!("{}", text(value));
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let passphrase = match &cli.passphrase_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            Failure::Usage(format!(
                "the environment variable {var} holds no passphrase"
            ))
        })?),
        None => None,
    };
    let store = FieldvisitStore::open(cli.store.clone(), passphrase)?;
    let json = cli.json;
    match cli.command {
        Command::Enroll { url, code, no_sync } => {
            let identity = store.enroll(url, code)?;
            print(json, &identity, |i| {
                format!(
                    "enrolled device {} for cadre {}",
                    i.device_id,
                    i.cadre_id.as_deref().unwrap_or("?")
                )
            });
            if !no_sync {
                // With --json, this prints a second line: the first sync's report.
                sync(&store, json)?;
            }
        }
        Command::Scan { payload } => {
            let scanned = store.scan(payload)?;
            print(json, &scanned, |s| {
                format!(
                    "plate verified: household {} ({}), village {}, plate issue {}",
                    s.household.code,
                    s.household.id,
                    s.household
                        .village_name
                        .as_deref()
                        .unwrap_or(&s.household.village_code),
                    s.plate_issue
                )
            });
        }
        Command::Households {
            search,
            limit,
            codes,
        } => {
            let list = store.households(search, limit)?;
            if codes && !json {
                for h in &list {
                    println!("{}", h.code);
                }
                return Ok(());
            }
            print(json, &list, |list| {
                let mut out = format!("{} household(s)", list.len());
                for h in list {
                    out.push_str(&format!(
                        "\n{}  {:<12} {}  {}  {} member(s)  last visit {}",
                        h.code,
                        h.id,
                        h.village_name.as_deref().unwrap_or(&h.village_code),
                        h.head_name.as_deref().unwrap_or("-"),
                        h.member_count,
                        h.last_visit_at_ms.map_or("never".into(), time_text)
                    ));
                }
                out
            });
        }
        Command::Household { id } => {
            let detail = store
                .household(id)?
                .ok_or(FieldvisitError::UnknownHousehold)?;
            print(json, &detail, |d| {
                format!(
                    "household {} ({}), {} member(s), {} visit(s)",
                    d.code,
                    d.id,
                    d.members.len(),
                    d.visits.len()
                )
            });
        }
        Command::Visit(args) => {
            let visit = record_visit(&store, args)?;
            print(json, &visit, |v| {
                format!(
                    "recorded visit {} at household {}; it is pending until the next sync",
                    v.id, v.household_id
                )
            });
        }
        Command::Amend {
            visit,
            reason,
            diary,
            follow_up,
            clear_follow_up,
        } => {
            let changes = VisitChanges {
                diary,
                follow_up_due: follow_up,
                clear_follow_up,
                ..VisitChanges::default()
            };
            let visit = store.amend_visit(visit, reason, changes)?;
            print(json, &visit, |v| {
                format!(
                    "amended visit {} ({} amendment(s))",
                    v.id,
                    v.amendments.len()
                )
            });
        }
        Command::FollowUps { until } => {
            let due = store.follow_ups_due(until)?;
            print(json, &due, |due| {
                let mut out = format!("{} follow-up(s) due", due.len());
                for v in due {
                    out.push_str(&format!(
                        "\n{}  household {}  due {}",
                        v.id,
                        v.household_id,
                        v.follow_up_due.as_deref().unwrap_or("-")
                    ));
                }
                out
            });
        }
        Command::Sync { photos, unmetered } => {
            let photos = match photos {
                PhotosWhen::Always => PhotoSyncPolicy::Always,
                PhotosWhen::UnmeteredOnly => PhotoSyncPolicy::UnmeteredOnly,
                PhotosWhen::Never => PhotoSyncPolicy::Never,
            };
            let network = if unmetered {
                NetworkType::Unmetered
            } else {
                NetworkType::Metered
            };
            sync_on(&store, json, network, photos)?
        }
        Command::Photo {
            command: PhotoCommand::Add { file, gallery },
        } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| Failure::Other(format!("cannot read {file}: {e}")))?;
            let source = if gallery {
                PhotoSource::Gallery
            } else {
                PhotoSource::Camera
            };
            let photo = store.add_photo(bytes, source, now_ms(), None)?;
            print(json, &photo, |p| {
                format!("{}\n{} bytes, {}", p.sha256, p.size, photo_line(p))
            });
        }
        Command::Photos { visit } => {
            let photos = match visit {
                Some(visit) => store.visit_photos(visit)?,
                None => store.photos()?,
            };
            print(json, &photos, |list| {
                let mut out = format!("{} photo(s)", list.len());
                for p in list {
                    out.push_str(&format!("\n{}  {}", p.sha256, photo_line(p)));
                }
                out
            });
        }
        Command::Status => {
            #[derive(Serialize)]
            struct Status {
                identity: fieldvisit_ffi::Identity,
                sync: fieldvisit_ffi::SyncStatus,
                last_report: Option<fieldvisit_ffi::SyncReport>,
                operations: Vec<fieldvisit_ffi::OperationStatus>,
            }
            let status = Status {
                identity: store.identity()?,
                sync: store.sync_status()?,
                last_report: store.last_sync_report()?,
                operations: store.operations()?,
            };
            print(json, &status, |s| {
                let mut out = format!(
                    "device {} cadre {} server {}\n{} pending, {} rejected, {} operation(s) in all",
                    s.identity.device_id,
                    s.identity.cadre_id.as_deref().unwrap_or("(not enrolled)"),
                    s.identity.server_url.as_deref().unwrap_or("-"),
                    s.sync.pending,
                    s.sync.rejected,
                    s.operations.len()
                );
                for op in &s.operations {
                    out.push_str(&format!(
                        "\n#{:<4} {:<16} {:?}{}",
                        op.seq,
                        op.kind,
                        op.state,
                        op.reject_reason
                            .as_deref()
                            .map(|r| format!(" — {r}"))
                            .unwrap_or_default()
                    ));
                }
                out
            });
        }
        Command::Export { file } => {
            let n = store.export_unsynced(file.clone())?;
            print(
                json,
                &serde_json::json!({ "file": file, "operations": n }),
                |_| format!("wrote {n} unsynced operation(s) to {file}"),
            );
        }
    }
    store.close_store();
    Ok(())
}

fn sync(store: &FieldvisitStore, json: bool) -> Result<(), Failure> {
    sync_on(store, json, NetworkType::Unknown, PhotoSyncPolicy::Always)
}

fn sync_on(
    store: &FieldvisitStore,
    json: bool,
    network: NetworkType,
    photos: PhotoSyncPolicy,
) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Failure::Other(format!("cannot start the async runtime: {e}")))?;
    let report = runtime.block_on(store.sync_on(network, photos))?;
    print(json, &report, |r| {
        format!(
            "synced: {} pushed, {} acknowledged, {} rejected, {} pulled; {} photo(s) uploaded, \
             {} waiting{}",
            r.pushed,
            r.acknowledged,
            r.rejected,
            r.pulled,
            r.photos_uploaded,
            r.photos_pending,
            if r.complete {
                ""
            } else {
                " (incomplete: sync again)"
            }
        )
    });
    Ok(())
}

/// One photo's source, EXIF facts and upload state, for the listing.
fn photo_line(p: &PhotoRecord) -> String {
    let exif = match (p.exif_taken_at_ms, p.exif_lat, p.exif_lon) {
        (None, None, _) => "no EXIF".to_string(),
        (at, lat, lon) => format!(
            "EXIF {}{}",
            at.map_or("no time".into(), time_text),
            match (lat, lon) {
                (Some(lat), Some(lon)) => format!(" at {lat:.5},{lon:.5}"),
                _ => String::new(),
            }
        ),
    };
    format!(
        "{:?}, {exif}, {:?}{}",
        p.source,
        p.upload_state,
        if p.has_data { "" } else { " (thumbnail kept)" }
    )
}

/// Milliseconds since the epoch as UTC text, e.g. `2026-11-29 03:04 UTC`.
fn time_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn record_visit(
    store: &FieldvisitStore,
    args: VisitArgs,
) -> Result<fieldvisit_ffi::VisitSummary, Failure> {
    let identification = match (args.scan, args.household, args.reason) {
        (Some(payload), _, _) => {
            let scanned = store.scan(payload.clone())?;
            Identification::Scanned {
                payload,
                scanned_at_ms: scanned.scanned_at_ms,
            }
        }
        (None, Some(code), Some(reason)) => Identification::Manual { code, reason },
        _ => {
            return Err(Failure::Usage(
                "give --scan PAYLOAD, or --household CODE with --reason TEXT".into(),
            ));
        }
    };
    let mut draft = new_draft();
    draft.kind = args.kind;
    draft.diary = args.diary;
    draft.problems = args.problems;
    draft.follow_up_due = args.follow_up;
    draft.acknowledged = args.acknowledged;
    draft.checklist = args
        .checks
        .iter()
        .map(|c| parse_check(c))
        .collect::<Result<_, _>>()?;
    let location = match (args.lat, args.lon) {
        (Some(lat), Some(lon)) => Some(Location {
            lat,
            lon,
            accuracy_m: args.accuracy,
            provider: args.provider,
            fix_at_ms: now_ms(),
        }),
        _ => None,
    };
    if args.photos.is_empty() {
        Ok(store.commit_visit(identification, draft, location)?)
    } else {
        Ok(store.commit_visit_with_photos(identification, draft, location, args.photos)?)
    }
}

/// `food=ok`, `water=na`, `housing=problem:屋顶漏雨`.
fn parse_check(text: &str) -> Result<ChecklistAnswer, Failure> {
    let usage = || {
        Failure::Usage(format!(
            "--check {text:?}: write ITEM=ok, ITEM=na or ITEM=problem:NOTE"
        ))
    };
    let (item, answer) = text.split_once('=').ok_or_else(usage)?;
    let (status, note) = match answer.split_once(':') {
        Some((status, note)) => (status, Some(note.to_string())),
        None => (answer, None),
    };
    let status = match status.trim() {
        "ok" => ChecklistStatus::Ok,
        "problem" => ChecklistStatus::Problem,
        "na" => ChecklistStatus::NotApplicable,
        _ => return Err(usage()),
    };
    Ok(ChecklistAnswer {
        item: item.trim().to_string(),
        status,
        note,
    })
}
