//! The phones' life cycle: `enroll` (a one-time code for a cadre's phone), `revoke`, `retire`
//! (revoked once its final upload is in), `import-unsynced` (a lost phone's exported work), and
//! `devices`, which lists every phone with its sync health.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use fieldvisit_core::ids::{CadreId, DeviceId};
use fieldvisit_server::{Error, Result, admin, devices, enroll, storage};

use super::{Who, china_time_as, now};

#[derive(Args)]
pub struct EnrollArgs {
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
}

#[derive(Args)]
pub struct RevokeArgs {
    /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
    #[arg(long, default_value = "fieldvisit.db")]
    db: String,
    device: String,
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    who: Who,
}

#[derive(Args)]
pub struct RetireArgs {
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
}

#[derive(Args)]
pub struct ImportUnsyncedArgs {
    file: PathBuf,
    #[arg(long, default_value = "fieldvisit.db")]
    db: String,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    who: Who,
}

#[derive(Args)]
pub struct DevicesArgs {
    /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
    #[arg(long, default_value = "fieldvisit.db")]
    db: String,
    #[arg(long, default_value_t = devices::DEFAULT_STALE_DAYS)]
    stale_days: u32,
    #[arg(long)]
    json: bool,
}

fn device_id(text: &str) -> Result<DeviceId> {
    DeviceId::parse(text).map_err(|e| Error::refused(format!("not a device id: {e}")))
}

pub fn run_enroll(args: EnrollArgs) -> Result<ExitCode> {
    let actor = args.who.actor()?;
    let storage = storage::open(&args.db)?;
    let cadre = CadreId::new(args.cadre)?;
    let code = enroll::create_code(
        storage.as_ref(),
        &cadre,
        now(),
        args.ttl_hours.saturating_mul(3_600_000),
        &actor,
    )?;
    println!("{}", code.code);
    if let Some(path) = args.qr {
        std::fs::write(&path, code.qr_svg()?)?;
        eprintln!("QR code written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_revoke(args: RevokeArgs) -> Result<ExitCode> {
    let actor = args.who.actor()?;
    let storage = storage::open(&args.db)?;
    let device = device_id(&args.device)?;
    admin::revoke(storage.as_ref(), &device, &args.reason, &actor, now())?;
    println!("revoked {device}");
    Ok(ExitCode::SUCCESS)
}

pub fn run_retire(args: RetireArgs) -> Result<ExitCode> {
    let actor = args.who.actor()?;
    let storage = storage::open(&args.db)?;
    let device = device_id(&args.device)?;
    match devices::retire(
        storage.as_ref(),
        &device,
        &args.reason,
        args.now,
        &actor,
        now(),
    )? {
        devices::Retired::Revoked => println!("revoked {device}"),
        devices::Retired::Retiring => {
            println!("{device} is retiring: revoked once a sync leaves it with nothing pending")
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_import_unsynced(args: ImportUnsyncedArgs) -> Result<ExitCode> {
    let actor = args.who.actor()?;
    let bytes = std::fs::read(&args.file)?;
    let storage = storage::open(&args.db)?;
    let report = devices::import_unsynced(storage.as_ref(), &bytes, &actor, now())?;
    if args.json {
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

pub fn run_devices(args: DevicesArgs) -> Result<ExitCode> {
    let storage = storage::open(&args.db)?;
    let devices = devices::health(storage.as_ref(), now(), args.stale_days)?;
    if args.json {
        println!("{}", serde_json::to_string(&devices)?);
    } else {
        print_devices(&devices);
    }
    Ok(ExitCode::SUCCESS)
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
