//! fieldvisit's benchmarks. Each figure is printed with the median of several runs; copy them
//! into docs/benchmarks.md together with the command.
//!
//! `cargo run --release -p fieldvisit-tests --bin bench -- device` — record_visit latency with
//! journal and signature, plate verification.
//! `cargo run --release -p fieldvisit-tests --bin bench -- fleet` — the fleet day: every cadre's
//! phone pushes 1–3 visits and pulls its changes through the HTTP API on the embedded backend.
//! `cargo run --release -p fieldvisit-tests --bin bench -- peer` — K phones × V visits synced
//! at once, side by side with PouchDB replicating to pouchdb-server (needs Node.js and npm).
//! `cargo run --release -p fieldvisit-tests --bin bench -- photo-resume` — photo bytes re-sent
//! after an upload of a 2 MB photo is cut at 50%.

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use fieldvisit_core::Store;
use fieldvisit_core::clock::{Clock, SystemClock, WallTime};
use fieldvisit_core::domain::visit::Identification;
use fieldvisit_core::plate::verify_plate;
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_tests::stats::{Summary, median_of_runs, summarize};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod first_sync;
mod fleet;
mod peer;
mod photo_resume;
mod raw_insert;

/// Visits `record_visit` is timed on per run, by default.
const DEVICE_VISITS: usize = 2000;

#[derive(Parser)]
#[command(about = "fieldvisit benchmarks")]
struct Cli {
    #[command(subcommand)]
    what: What,
    /// Runs per figure; the median is reported.
    #[arg(long, default_value_t = 5, global = true)]
    runs: usize,
    #[arg(long, default_value_t = 1, global = true)]
    seed: u64,
    /// Print results as JSON lines.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum What {
    /// Device-side latencies.
    Device {
        /// Visits recorded per run.
        #[arg(long, default_value_t = DEVICE_VISITS)]
        visits: usize,
    },
    /// The fleet day over HTTP on the embedded backend (or PostgreSQL with --db).
    Fleet(fleet::FleetArgs),
    /// Side by side with PouchDB → pouchdb-server (CouchDB replication) on the same visits.
    Peer(peer::PeerArgs),
    /// A first secretary's new phone: enrollment and first sync with a year of the village's
    /// visits on the server.
    FirstSync(first_sync::FirstSyncArgs),
    /// A 2 MB photo upload cut at 50%, then resumed: photo bytes re-sent.
    PhotoResume,
    /// The whole table of docs/benchmarks.md: device, fleet day, the fleet day's backlog
    /// (2,000 phones × 14–28 visits: the ingest row), a new phone's first sync, photo upload
    /// resumption and the peer, one after another (the device figures with their default 2,000
    /// visits per run).
    ///
    /// The fleet runs take their defaults; the flags are the peer's.
    All {
        #[command(flatten)]
        peer: peer::PeerArgs,
    },
    /// (Internal) the server under benchmark or test, in its own process: serves `--db` on an
    /// ephemeral port, prints its address, and stops when its standard input closes.
    #[command(hide = true)]
    ServeDb {
        /// A SQLite file or a PostgreSQL URL, as `fieldvisit-server serve --db` takes.
        #[arg(long)]
        db: String,
    },
}

fn report(json: bool, name: &str, s: &Summary, runs: usize) {
    if json {
        println!(
            "{}",
            serde_json::json!({"bench": name, "runs": runs, "samples": s.samples, "p50_us": s.p50_us,
                "p90_us": s.p90_us, "p99_us": s.p99_us, "mean_us": s.mean_us})
        );
    } else {
        println!(
            "{name:<40} p50 {:>9.1} µs   p90 {:>9.1} µs   p99 {:>9.1} µs   (median of {runs} runs, {} samples)",
            s.p50_us, s.p90_us, s.p99_us, s.samples
        );
    }
}

fn device(cli: &Cli, visits: usize) -> Result<(), Box<dyn std::error::Error>> {
    let region = Region::generate(RegionSpec::hulunbuir(cli.seed));
    let day = SystemClock.now().local_date();
    // A first secretary: a whole village in scope, the largest store a phone holds.
    let secretary = region
        .cadres
        .iter()
        .filter(|c| c.role == "first_secretary")
        .max_by_key(|c| region.households_of(&c.id, day).len())
        .ok_or("no first secretary")?;
    let households = region.households_of(&secretary.id, day);
    let registry = region.registry_for(&secretary.id, day);

    let mut record_runs = Vec::new();
    let mut verify_runs = Vec::new();
    for run in 0..cli.runs {
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path().join("bench.db"))?;
        store.apply_registry(&registry)?;
        store.enroll(&fieldvisit_core::store::Enrollment {
            cadre: secretary.id.clone(),
            authority_keys: region.authority_keys(),
            server_url: None,
            token: None,
        })?;
        let mut rng = ChaCha8Rng::seed_from_u64(cli.seed + run as u64);
        let mut samples = Vec::with_capacity(visits);
        for _ in 0..visits {
            let h = households[rng.random_range(0..households.len())];
            let at = store.now();
            let (content, location) = region.visit(&mut rng, h, at);
            let ident = Identification::Scanned {
                payload: region.plate(h),
                scanned_at: WallTime(at.0 - 1000),
            };
            let started = Instant::now();
            store.record_visit(ident, content, Some(location))?;
            samples.push(started.elapsed());
        }
        record_runs.push(summarize(&samples));

        let keys = region.authority_keys();
        let plates: Vec<String> = households.iter().map(|h| region.plate(h)).collect();
        let mut samples: Vec<Duration> = Vec::with_capacity(10_000);
        for i in 0..10_000 {
            let plate = &plates[i % plates.len()];
            let started = Instant::now();
            let verified = verify_plate(plate, &keys);
            samples.push(started.elapsed());
            verified?;
        }
        verify_runs.push(summarize(&samples));
    }
    println!(
        "# device: first secretary with {} households, SQLite synchronous=FULL on {}",
        households.len(),
        std::env::temp_dir().display()
    );
    report(
        cli.json,
        "record_visit (validate+journal+sign+commit)",
        &median_of_runs(&record_runs),
        cli.runs,
    );
    report(
        cli.json,
        "verify_plate (Ed25519, offline)",
        &median_of_runs(&verify_runs),
        cli.runs,
    );
    large_store(cli, &region, secretary, day)
}

/// Opening a store that holds 10,000 households (far more than any phone's scope: a township
/// official's, say) and searching it the ways a cadre does: by door-plate code, by a head of
/// household's name, by village name.
fn large_store(
    cli: &Cli,
    region: &Region,
    cadre: &fieldvisit_core::domain::Cadre,
    day: chrono::NaiveDate,
) -> Result<(), Box<dyn std::error::Error>> {
    use fieldvisit_core::domain::{RegistryRecord, VillagePost};
    use fieldvisit_core::ids::PostId;
    const HOUSEHOLDS: usize = 10_000;
    // Whole villages, in order, until 10,000 households; the cadre holds a post in each.
    let mut villages: Vec<&str> = Vec::new();
    let mut held = 0;
    for area in &region.areas {
        if held >= HOUSEHOLDS {
            break;
        }
        let n = region
            .households
            .iter()
            .filter(|h| h.village == area.code)
            .count();
        if n > 0 {
            villages.push(&area.code);
            held += n;
        }
    }
    let in_villages = |v: &str| villages.contains(&v);
    let mut records: Vec<RegistryRecord> = region
        .areas
        .iter()
        .cloned()
        .map(RegistryRecord::Area)
        .collect();
    records.push(RegistryRecord::Cadre(cadre.clone()));
    records.extend(
        region
            .households
            .iter()
            .filter(|h| in_villages(&h.village))
            .cloned()
            .map(RegistryRecord::Household),
    );
    let kept: std::collections::HashSet<_> = region
        .households
        .iter()
        .filter(|h| in_villages(&h.village))
        .map(|h| h.id.clone())
        .collect();
    records.extend(
        region
            .members
            .iter()
            .filter(|m| kept.contains(&m.household))
            .cloned()
            .map(RegistryRecord::Member),
    );
    for (i, v) in villages.iter().enumerate() {
        records.push(RegistryRecord::VillagePost(VillagePost {
            id: PostId::new(format!("bench-post-{i}"))?,
            cadre: cadre.id.clone(),
            village: v.to_string(),
            from: day - chrono::Duration::days(365),
            to: None,
        }));
    }
    let code = region
        .households
        .iter()
        .find(|h| in_villages(&h.village))
        .map(|h| h.code.as_str().to_string())
        .ok_or("no household")?;
    let head = region
        .members
        .iter()
        .find(|m| kept.contains(&m.household) && m.relationship == "01")
        .map(|m| m.name.chars().take(2).collect::<String>())
        .ok_or("no head of household")?;
    let village = region
        .areas
        .iter()
        .find(|a| a.code == villages[villages.len() / 2])
        .map(|a| a.name.chars().take(2).collect::<String>())
        .ok_or("no village")?;

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("large.db");
    {
        let store = Store::open(&path)?;
        store.apply_registry(&records)?;
        store.enroll(&fieldvisit_core::store::Enrollment {
            cadre: cadre.id.clone(),
            authority_keys: region.authority_keys(),
            server_url: None,
            token: None,
        })?;
        let n = store.households(None, usize::MAX)?.len();
        if n < HOUSEHOLDS {
            return Err(format!("the store holds {n} households in scope").into());
        }
        println!(
            "# large store: {n} households in scope, {} villages",
            villages.len()
        );
    }
    let (mut open_runs, mut searches) = (Vec::new(), Vec::new());
    for _ in 0..cli.runs {
        let mut samples = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            let store = Store::open(&path)?;
            samples.push(started.elapsed());
            drop(store);
        }
        open_runs.push(summarize(&samples));
        let store = Store::open(&path)?;
        let mut by_kind = Vec::new();
        for query in [code.as_str(), head.as_str(), village.as_str()] {
            let mut samples = Vec::new();
            for _ in 0..50 {
                let started = Instant::now();
                let found = store.households(Some(query), 20)?;
                samples.push(started.elapsed());
                if found.is_empty() {
                    return Err(format!("nothing found for {query}").into());
                }
            }
            by_kind.push(summarize(&samples));
        }
        searches.push(by_kind);
    }
    report(
        cli.json,
        "open a 10,000-household store",
        &median_of_runs(&open_runs),
        cli.runs,
    );
    for (i, name) in [
        "search by door-plate code (20 max)",
        "search by head's name (20 max)",
        "search by village name (20 max)",
    ]
    .iter()
    .enumerate()
    {
        let runs: Vec<Summary> = searches.iter().map(|r| r[i]).collect();
        report(cli.json, name, &median_of_runs(&runs), cli.runs);
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    match &cli.what {
        What::Device { visits } => device(&cli, *visits),
        What::Fleet(args) => fleet::run(args, cli.runs, cli.seed, cli.json),
        What::Peer(args) => peer::run(args, cli.runs, cli.seed, cli.json),
        What::FirstSync(args) => first_sync::run(args, cli.runs, cli.seed, cli.json),
        What::PhotoResume => photo_resume::run(cli.runs, cli.seed, cli.json),
        What::All { peer } => {
            device(&cli, DEVICE_VISITS)?;
            let fleet = fleet::FleetArgs::defaults()?;
            fleet::run(&fleet, cli.runs, cli.seed, cli.json)?;
            fleet::run(&fleet.backlog(), cli.runs, cli.seed, cli.json)?;
            let first = first_sync::FirstSyncArgs {
                visits_per_household: first_sync::VISITS_PER_HOUSEHOLD,
            };
            first_sync::run(&first, cli.runs, cli.seed, cli.json)?;
            photo_resume::run(cli.runs, cli.seed, cli.json)?;
            peer::run(peer, cli.runs, cli.seed, cli.json)
        }
        What::ServeDb { db } => fieldvisit_tests::server_process::serve(db),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, What};

    #[test]
    fn the_command_line_is_well_formed_and_all_runs_with_its_defaults() {
        // Catches two flags of one subcommand under the same name (which made `all` unusable
        // when the fleet and the peer both took `--visits`).
        Cli::command().debug_assert();
        match Cli::try_parse_from(["bench", "all", "--runs", "3"]) {
            Ok(cli) => assert!(matches!(cli.what, What::All { .. }) && cli.runs == 3),
            Err(e) => panic!("`bench all --runs 3` does not parse: {e}"),
        }
        if let Err(e) = super::fleet::FleetArgs::defaults() {
            panic!("the fleet's defaults do not parse: {e}");
        }
    }
}
