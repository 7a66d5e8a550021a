//! The main job: seed a synthetic Hulunbuir-like region, serve it, run a fleet of real device
//! stores that enroll over HTTP, record visits offline by scanning door plates and sync in
//! random order; then report what reached the server. It runs on a temporary embedded database,
//! or on the one `--db` names (a SQLite file or a PostgreSQL URL).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use fieldvisit_core::Store;
use fieldvisit_core::clock::{Clock, ServerTime, SystemClock, WallTime};
use fieldvisit_core::domain::visit::Identification;
use fieldvisit_core::ids::CadreId;
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::sync::{SyncOptions, enroll, sync};
use fieldvisit_core::synth::{Region, RegionSpec};

use crate::app::AppState;
use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::storage::sqlite::SqliteStorage;

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    /// Devices in the fleet (each a real store on disk).
    pub devices: usize,
    /// A small region (3 villages) instead of the whole city.
    pub small: bool,
    /// The database: a SQLite file or a `postgres://` URL ([`crate::storage::open`]); a fresh
    /// temporary SQLite file when `None`.
    pub db: Option<String>,
    pub listen: SocketAddr,
    /// Devices syncing at the same time.
    pub concurrency: usize,
}

/// Latency percentiles of the fleet's syncs, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// What the demo reports; `--json` prints it as one object.
#[derive(Debug, Clone, Serialize)]
pub struct DemoSummary {
    pub seed: u64,
    pub households: usize,
    pub cadres: usize,
    pub devices: usize,
    /// Visits recorded on the devices, offline.
    pub recorded: u64,
    /// Visits the server accepted.
    pub synced: u64,
    /// Operations the server refused (kept with their reasons).
    pub rejected: u64,
    /// Field values that lost a last-writer-wins merge (kept in the conflict log).
    pub conflicts: u64,
    /// Syncs, journal checks or audit findings that failed.
    pub errors: u64,
    /// Operations whose chain and signature the end-of-run audit of the server database
    /// verified.
    pub audited: u64,
    pub syncs: u64,
    pub sync_latency: Latency,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub elapsed_s: f64,
    pub server: String,
}

fn latency(mut ms: Vec<f64>) -> Latency {
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| -> f64 {
        if ms.is_empty() {
            return 0.0;
        }
        let i = ((ms.len() - 1) as f64 * q).round() as usize;
        ms[i.min(ms.len() - 1)]
    };
    Latency {
        p50_ms: pick(0.5),
        p90_ms: pick(0.9),
        p99_ms: pick(0.99),
        max_ms: pick(1.0),
    }
}

struct Device {
    store: Store,
    cadre: CadreId,
}

/// A finished demo run; its server keeps serving on the runtime it was started on.
pub struct Demo {
    pub summary: DemoSummary,
    pub storage: Arc<dyn Storage>,
    pub address: SocketAddr,
    pub region: Region,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("summary", &self.summary)
            .field("address", &self.address)
            .finish()
    }
}

pub fn run(opts: &DemoOptions, runtime: &tokio::runtime::Runtime) -> Result<Demo> {
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let spec = if opts.small {
        RegionSpec::small(opts.seed)
    } else {
        RegionSpec::hulunbuir(opts.seed)
    };
    let region = Region::generate(spec);
    let storage: Arc<dyn Storage> = match &opts.db {
        Some(db) => crate::storage::open(db)?,
        None => Arc::new(SqliteStorage::open(dir.path().join("fieldvisit.db"))?),
    };
    // The demo acts as its own admin, and says so in the admin log.
    let actor = crate::admin_log::Actor::new("demo")?;
    crate::admin::load_region(
        storage.as_ref(),
        &region,
        &actor,
        ServerTime(SystemClock.now().0),
    )?;

    let listener = runtime.block_on(async {
        match tokio::net::TcpListener::bind(opts.listen).await {
            Ok(l) => Ok(l),
            // The usual port is taken (another server running): any free port will do.
            Err(_) => tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await,
        }
    })?;
    let address = listener.local_addr()?;
    let state = AppState::new(storage.clone(), Arc::new(SystemClock))?;
    runtime.spawn(async move {
        if let Err(e) = crate::app::serve(listener, state, std::future::pending()).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    let url = format!("http://{address}");

    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut cadres: Vec<CadreId> = region.cadres.iter().map(|c| c.id.clone()).collect();
    cadres.shuffle(&mut rng);
    // Mostly assisting cadres, and the first secretaries of a few villages.
    let (mut secretaries, mut assisting): (Vec<_>, Vec<_>) = cadres.into_iter().partition(|id| {
        region
            .cadres
            .iter()
            .any(|c| &c.id == id && c.role == "first_secretary")
    });
    let n_secretaries = (opts.devices / 20).max(1).min(secretaries.len());
    let mut chosen: Vec<CadreId> = secretaries.drain(..n_secretaries).collect();
    chosen.extend(
        assisting.drain(..(opts.devices.saturating_sub(chosen.len())).min(assisting.len())),
    );

    let now = SystemClock.now();
    let options = SyncOptions::default();
    let tally = Tally::default();
    let errors = &tally.errors;
    let transport = HttpTransport::new(&url).map_err(|e| Error::Unavailable(e.to_string()))?;

    // Enrollment: an admin makes a code per phone; each phone redeems it and pulls its scope.
    let mut devices = Vec::new();
    for (i, cadre) in chosen.iter().enumerate() {
        let code = crate::enroll::create_code(
            storage.as_ref(),
            cadre,
            ServerTime(now.0),
            86_400_000,
            &actor,
        )?;
        let store = Store::open(dir.path().join(format!("device-{i}.db")))?;
        if enroll(&store, &transport, &url, &code.code, &options.app_version).is_err() {
            errors.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        devices.push(Device {
            store,
            cadre: cadre.clone(),
        });
    }
    let everyone: Vec<&Device> = devices.iter().collect();
    run_syncs(&everyone, &transport, &options, opts.concurrency, &tally);

    // Offline work: each phone records one to three visits by scanning door plates.
    let mut recorded = 0u64;
    let day = WallTime(now.0).local_date();
    for device in &devices {
        let households = region.households_of(&device.cadre, day);
        if households.is_empty() {
            continue;
        }
        for _ in 0..rng.random_range(1..=3) {
            let household = households[rng.random_range(0..households.len())];
            let at = device.store.now();
            let (content, location) = region.visit(&mut rng, household, at);
            let scan = Identification::Scanned {
                payload: region.plate(household),
                scanned_at: WallTime(at.0 - rng.random_range(30_000..600_000)),
            };
            match device.store.record_visit(scan, content, Some(location)) {
                Ok(_) => recorded += 1,
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    // Connections come back in random order; everyone syncs twice so that each phone also
    // receives the visits its colleagues recorded.
    let mut order: Vec<usize> = (0..devices.len()).collect();
    for _ in 0..2 {
        order.shuffle(&mut rng);
        let shuffled: Vec<&Device> = order.iter().map(|&i| &devices[i]).collect();
        run_syncs(&shuffled, &transport, &options, opts.concurrency, &tally);
    }
    for device in &devices {
        if device.store.verify_journal().is_err() {
            errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    let (synced, rejected, conflicts) = {
        let mut tx = storage.read()?;
        let (_, rejected) = tx.op_counts()?;
        (
            tx.visit_count()?,
            rejected,
            tx.conflicts(usize::MAX)?.len() as u64,
        )
    };
    let audit = crate::audit::audit(storage.as_ref())?;
    tally
        .errors
        .fetch_add(audit.breaks.len() as u64, Ordering::Relaxed);
    let Tally {
        errors,
        bytes_up,
        bytes_down,
        latencies,
    } = tally;
    let latencies = latencies.into_inner().unwrap_or_else(|p| p.into_inner());
    let summary = DemoSummary {
        seed: opts.seed,
        households: region.households.len(),
        cadres: region.cadres.len(),
        devices: devices.len(),
        recorded,
        synced,
        rejected,
        conflicts,
        errors: errors.into_inner(),
        audited: audit.operations,
        syncs: latencies.len() as u64,
        sync_latency: latency(latencies),
        bytes_up: bytes_up.into_inner(),
        bytes_down: bytes_down.into_inner(),
        elapsed_s: started.elapsed().as_secs_f64(),
        server: url,
    };
    Ok(Demo {
        summary,
        storage,
        address,
        region,
        _dir: dir,
    })
}

/// What the fleet's syncs add up to.
#[derive(Default)]
struct Tally {
    errors: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    latencies: Mutex<Vec<f64>>,
}

fn run_syncs(
    fleet: &[&Device],
    transport: &HttpTransport,
    options: &SyncOptions,
    concurrency: usize,
    tally: &Tally,
) {
    let Tally {
        errors,
        bytes_up,
        bytes_down,
        latencies,
    } = tally;
    let next = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..concurrency.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(device) = fleet.get(i) else {
                        break;
                    };
                    let started = Instant::now();
                    match sync(&device.store, transport, options) {
                        Ok(report) => {
                            bytes_up.fetch_add(report.bytes_up, Ordering::Relaxed);
                            bytes_down.fetch_add(report.bytes_down, Ordering::Relaxed);
                            let ms = started.elapsed().as_secs_f64() * 1000.0;
                            latencies.lock().unwrap_or_else(|p| p.into_inner()).push(ms);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "a device failed to sync");
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
}

/// Prints the summary for people.
pub fn print_summary(s: &DemoSummary) {
    println!("fieldvisit demo — seed {}", s.seed);
    println!(
        "  region     {} households, {} cadres",
        s.households, s.cadres
    );
    println!("  fleet      {} phones enrolled over HTTP", s.devices);
    println!(
        "  recorded   {} visits offline (door plates scanned and verified on the phone)",
        s.recorded
    );
    println!("  synced     {} visits on the server", s.synced);
    println!("  rejected   {}", s.rejected);
    println!("  conflicts  {}", s.conflicts);
    println!("  errors     {}", s.errors);
    println!(
        "  audit      {} operations checked on the server (chains, signatures)",
        s.audited
    );
    println!(
        "  syncs      {} — latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        s.syncs,
        s.sync_latency.p50_ms,
        s.sync_latency.p90_ms,
        s.sync_latency.p99_ms,
        s.sync_latency.max_ms
    );
    println!(
        "  bytes      {} up, {} down (compressed bodies)",
        s.bytes_up, s.bytes_down
    );
    println!("  elapsed    {:.1} s", s.elapsed_s);
}
