//! The fleet day: every cadre's phone pushes one to three visits and pulls its changes, over a
//! fixed number of concurrent connections, against the server's HTTP API on the embedded
//! backend. The phones are protocol-level simulations (their own keys, chains and cursors, and
//! real signed operations) so that sixteen thousand of them fit in one process; the server is
//! the real one, in a process of its own so that its CPU time and peak memory are measured
//! apart from the phones'.
//!
//! Each run plays the day twice, side by side: once with plain zstd bodies and once with the
//! phones holding a compression dictionary the server trained on an earlier day's visits
//! (another seed's: other households, other words), as after `fieldvisit-server dictionary
//! train`.
//!
//! On PostgreSQL (`--db postgres://…`) the day can also run on several server processes
//! sharing the one database (`--instances 1,2`: each count in turn, side by side), as behind a
//! load balancer: each connection talks to one instance, connection *i* to instance *i mod N*,
//! and phones enroll through the instances in turn.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use fieldvisit_core::clock::Hlc;
use fieldvisit_core::clock::{Clock, ServerTime, SystemClock, WallTime};
use fieldvisit_core::domain::Household;
use fieldvisit_core::domain::visit::{IdentifiedBy, VisitRecord};
use fieldvisit_core::ids::{CadreId, DeviceId, OpId, VisitId};
use fieldvisit_core::journal::{ChainPoint, OpBody, Operation, UnsignedOperation};
use fieldvisit_core::protocol::{
    DEFAULT_PAGE_BYTES, EnrollRequest, PROTOCOL_VERSION, PushedOp, SyncRequest,
};
use fieldvisit_core::sync::Transport;
use fieldvisit_core::sync::codec::{self, Dictionary};
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::storage::Storage;
use fieldvisit_server::storage::postgres::ScratchSchema;
use fieldvisit_server::storage::sqlite::SqliteStorage;
use fieldvisit_tests::server_process::{ServerProcess, cpu_seconds_of};
use fieldvisit_tests::stats::{Summary, summarize};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(clap::Args, Debug)]
pub struct FleetArgs {
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Phones in the fleet (default: every cadre of the region).
    #[arg(long)]
    devices: Option<usize>,
    /// Visits of the earlier day the dictionary is trained on.
    #[arg(long, default_value_t = 20_000)]
    training_visits: usize,
    /// Run the server on this PostgreSQL database (postgres://…; each run in a new schema,
    /// dropped afterwards) instead of a temporary SQLite file.
    #[arg(long)]
    db: Option<String>,
    /// Visits each phone pushes in its one sync, LOW-HIGH: a day's 1-3 by default; `14-28` is
    /// a phone back after two weeks without signal, the ingest row of docs/benchmarks.md
    /// (per-visit cost with the per-request cost spread over many visits).
    #[arg(long, default_value = "1-3")]
    visits: VisitRange,
    /// Server processes sharing the database, as behind a load balancer; a list such as `1,2`
    /// plays the day with each count in turn. More than one needs `--db postgres://…`.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    instances: Vec<usize>,
}

impl FleetArgs {
    /// The settings `bench fleet` runs with when given no flags.
    pub fn defaults() -> Result<FleetArgs, clap::Error> {
        use clap::{Args, FromArgMatches};
        let matches =
            FleetArgs::augment_args(clap::Command::new("fleet")).try_get_matches_from(["fleet"])?;
        FleetArgs::from_arg_matches(&matches)
    }

    /// The ingest row of docs/benchmarks.md: these settings with 2,000 phones back after two
    /// weeks without signal, each pushing 14–28 visits in one sync.
    pub fn backlog(&self) -> FleetArgs {
        FleetArgs {
            devices: Some(BACKLOG_DEVICES),
            visits: VisitRange { low: 14, high: 28 },
            db: self.db.clone(),
            instances: self.instances.clone(),
            ..*self
        }
    }
}

/// Phones in the backlog run of `bench all`.
const BACKLOG_DEVICES: usize = 2_000;

/// An inclusive range of visits per phone.
#[derive(Debug, Clone, Copy)]
pub struct VisitRange {
    low: usize,
    high: usize,
}

impl std::str::FromStr for VisitRange {
    type Err = String;

    fn from_str(s: &str) -> Result<VisitRange, String> {
        let bad = || format!("{s:?} is not a range of visits such as 1-3 or 14-28");
        let (low, high) = s.split_once('-').unwrap_or((s, s));
        let low: usize = low.trim().parse().map_err(|_| bad())?;
        let high: usize = high.trim().parse().map_err(|_| bad())?;
        if low == 0 || low > high || high > 500 {
            return Err(format!("{}: between 1 and 500, low first", bad()));
        }
        Ok(VisitRange { low, high })
    }
}

/// The phones' zstd level with a dictionary, as in `fieldvisit_core::sync::http`.
const DICTIONARY_LEVEL: i32 = 9;

pub(crate) struct Phone {
    pub(crate) cadre: CadreId,
    pub(crate) device: DeviceId,
    pub(crate) key: SigningKey,
    pub(crate) token: String,
    pub(crate) head: ChainPoint,
    pub(crate) hlc: Hlc,
    pub(crate) cursor: u64,
}

struct DayResult {
    wall: Duration,
    latency: Summary,
    syncs: usize,
    visits: usize,
    requests: usize,
    bytes_up: u64,
    bytes_down: u64,
    /// The phones' process (the bench itself).
    cpu_s: f64,
    /// The server process, during the timed day.
    server_cpu_s: f64,
    /// The server process's peak resident memory, setup included.
    server_rss_mib: f64,
    /// The same visit rows inserted raw into a fresh database (`raw_insert`); measured on the
    /// embedded backend only.
    raw_visits_per_s: Option<f64>,
}

/// A visit recorded on a phone, as the device store writes it: the visit shares its
/// operation's id and the fix is rounded.
pub(crate) fn visit_op(
    region: &Region,
    rng: &mut ChaCha8Rng,
    phone: &mut Phone,
    household: &Household,
    at: WallTime,
) -> Result<Operation, Box<dyn std::error::Error>> {
    let (content, location) = region.visit(rng, household, at);
    let id = OpId::generate(at);
    let record = VisitRecord {
        id: VisitId(id.0),
        household: household.id.clone(),
        cadre: phone.cadre.clone(),
        identified: IdentifiedBy::Scan {
            key_id: 1,
            issue: household.plate_issue,
            scanned_at: WallTime(at.0 - 60_000),
        },
        recorded_at: at,
        location: Some(location.rounded()),
        content,
        photos: Vec::new(),
    };
    phone.hlc = Hlc::tick(phone.hlc, at);
    let op = UnsignedOperation {
        id,
        device: phone.device,
        seq: phone.head.seq + 1,
        hlc: phone.hlc,
        wall: at,
        kind: "visit.record".into(),
        payload: OpBody::VisitRecorded(record).to_payload()?,
        prev_hash: phone.head.hash,
    }
    .sign(&phone.key);
    phone.head = ChainPoint {
        seq: op.seq,
        hash: op.digest(),
    };
    Ok(op)
}

/// Trains a dictionary on an earlier day: `n` visits of another region's cadres (another
/// seed), in the form the server's trainer takes them from its database.
pub(crate) fn earlier_days_dictionary(
    seed: u64,
    n: usize,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let region = Region::generate(RegionSpec::hulunbuir(seed ^ 0x5eed_0ff5));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let day = SystemClock.now().local_date();
    let mut samples = Vec::with_capacity(n);
    while samples.len() < n {
        let cadre = &region.cadres[rng.random_range(0..region.cadres.len())];
        let households = region.households_of(&cadre.id, day);
        let Some(h) = households.get(rng.random_range(0..households.len().max(1))) else {
            continue;
        };
        let mut phone = Phone {
            cadre: cadre.id.clone(),
            device: DeviceId::generate(SystemClock.now()),
            key: SigningKey::from_bytes(&rng.random()),
            token: String::new(),
            head: ChainPoint::START,
            hlc: Hlc::ZERO,
            cursor: 0,
        };
        let op = visit_op(&region, &mut rng, &mut phone, h, SystemClock.now())?;
        samples.push(fieldvisit_server::dictionary::sample(&op)?);
    }
    Ok(fieldvisit_server::dictionary::train(
        &samples,
        fieldvisit_server::dictionary::DEFAULT_SIZE,
    )?)
}

pub(crate) fn cpu_seconds() -> f64 {
    cpu_seconds_of(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

fn pull_all(
    transport: &HttpTransport,
    phone: &mut Phone,
    push: Vec<PushedOp>,
) -> Result<(usize, u64, u64), String> {
    let mut push = push;
    let mut requests = 0;
    let (mut up, mut down) = (0, 0);
    loop {
        let req = SyncRequest {
            protocol: PROTOCOL_VERSION,
            device: phone.device,
            app_version: "bench".into(),
            device_time: SystemClock.now(),
            push: std::mem::take(&mut push),
            cursor: phone.cursor,
            page_bytes: DEFAULT_PAGE_BYTES,
            pending: 0,
        };
        let answer = transport
            .sync(&phone.token, &req)
            .map_err(|e| e.to_string())?;
        requests += 1;
        up += answer.bytes_up;
        down += answer.bytes_down;
        if answer.body.ack.problem.is_some() || !answer.body.ack.rejected.is_empty() {
            return Err(format!(
                "push refused: {:?} {:?}",
                answer.body.ack.problem, answer.body.ack.rejected
            ));
        }
        phone.cursor = answer.body.cursor;
        if !answer.body.more {
            return Ok((requests, up, down));
        }
    }
}

/// Sends a prepared, compressed first request, then pulls any further pages.
fn sync_prepared(
    transport: &HttpTransport,
    client: &reqwest::blocking::Client,
    url: &str,
    phone: &mut Phone,
    body: Vec<u8>,
    dictionary: Option<&Arc<Dictionary>>,
) -> Result<(usize, u64, u64), String> {
    let up = body.len() as u64;
    let response = client
        .post(format!("{url}/v1/sync"))
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .header("accept-encoding", "zstd")
        .header("authorization", format!("Bearer {}", phone.token))
        .body(body)
        .send()
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let encoding = response
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let raw = response.bytes().map_err(|e| e.to_string())?;
    let down = raw.len() as u64;
    let plain = codec::decode(&encoding, &raw, 1 << 26, |_| dictionary.cloned())
        .map_err(|e| e.to_string())?;
    let answer: fieldvisit_core::protocol::SyncResponse =
        serde_json::from_slice(&plain).map_err(|e| e.to_string())?;
    if answer.ack.problem.is_some() || !answer.ack.rejected.is_empty() {
        return Err(format!(
            "push refused: {:?} {:?}",
            answer.ack.problem, answer.ack.rejected
        ));
    }
    phone.cursor = answer.cursor;
    if answer.more {
        let (requests, more_up, more_down) = pull_all(transport, phone, Vec::new())?;
        return Ok((requests + 1, up + more_up, down + more_down));
    }
    Ok((1, up, down))
}

fn one_day(
    region: &Region,
    args: &FleetArgs,
    instances: usize,
    seed: u64,
    dictionary: Option<&[u8]>,
) -> Result<DayResult, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    // Declared before the storage so that it is dropped after it.
    let schema = match args.db.as_deref() {
        Some(url) if fieldvisit_server::storage::postgres::is_url(url) => {
            Some(ScratchSchema::new(url, "bench")?)
        }
        Some(other) => return Err(format!("--db takes a postgres:// URL, not {other}").into()),
        None => None,
    };
    let storage: Arc<dyn Storage> = match &schema {
        Some(schema) => Arc::new(schema.storage()?),
        None => Arc::new(SqliteStorage::open(dir.path().join("fleet.db"))?),
    };
    let actor = fieldvisit_server::admin_log::Actor::new("bench")?;
    fieldvisit_server::admin::load_region(
        storage.as_ref(),
        region,
        &actor,
        ServerTime(SystemClock.now().0),
    )?;
    let dictionary = match dictionary {
        Some(bytes) => {
            let stored = fieldvisit_server::dictionary::install(
                storage.as_ref(),
                bytes.to_vec(),
                args.training_visits as u64,
                &actor,
                ServerTime(SystemClock.now().0),
            )?;
            Some(Arc::new(Dictionary::new(&stored.bytes, DICTIONARY_LEVEL)?))
        }
        None => None,
    };
    // The children open the same database the setup above wrote.
    let db = match &schema {
        Some(schema) => schema.url()?,
        None => dir.path().join("fleet.db").display().to_string(),
    };
    let bench = std::env::current_exe()?;
    let servers = (0..instances.max(1))
        .map(|_| ServerProcess::start(&bench, &db))
        .collect::<Result<Vec<_>, _>>()?;
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let servers_cpu = || servers.iter().map(ServerProcess::cpu_seconds).sum::<f64>();

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let count = args
        .devices
        .unwrap_or(region.cadres.len())
        .min(region.cadres.len());
    let now = ServerTime(SystemClock.now().0);
    // Setup, not measured: enroll every phone over HTTP and pull its scope.
    let transports = urls
        .iter()
        .map(|u| HttpTransport::new(u))
        .collect::<Result<Vec<_>, _>>()?;
    let mut phones = Vec::with_capacity(count);
    for (i, cadre) in region.cadres.iter().take(count).enumerate() {
        let transport = &transports[i % transports.len()];
        let code = fieldvisit_server::enroll::create_code(
            storage.as_ref(),
            &cadre.id,
            now,
            86_400_000,
            &actor,
        )?;
        let key = SigningKey::from_bytes(&rng.random());
        let device = DeviceId::generate(SystemClock.now());
        let answer = transport.enroll(&EnrollRequest {
            protocol: PROTOCOL_VERSION,
            code: code.code,
            device,
            public_key: key.verifying_key().to_bytes(),
            app_version: "bench".into(),
        })?;
        phones.push(Phone {
            cadre: cadre.id.clone(),
            device,
            key,
            token: answer.body.token,
            head: ChainPoint::START,
            hlc: Hlc::ZERO,
            cursor: 0,
        });
    }
    let setup = Mutex::new(phones.iter_mut().collect::<Vec<_>>());
    std::thread::scope(|s| {
        for c in 0..args.connections {
            let (setup, dictionary) = (&setup, &dictionary);
            let url = &urls[c % urls.len()];
            s.spawn(move || {
                let transport = HttpTransport::new(url).ok();
                if let (Some(t), Some(d)) = (&transport, &dictionary) {
                    let _ = t.use_dictionary(Some(d.bytes()));
                }
                loop {
                    let phone = setup.lock().ok().and_then(|mut q| q.pop());
                    let (Some(phone), Some(transport)) = (phone, transport.as_ref()) else {
                        break;
                    };
                    if let Err(e) = pull_all(transport, phone, Vec::new()) {
                        eprintln!("setup sync failed: {e}");
                    }
                }
            });
        }
    });

    // The day: each phone's visits are recorded offline first, then phones connect in random
    // order over `connections` connections.
    let day = SystemClock.now().local_date();
    let mut work = Vec::with_capacity(phones.len());
    let mut visits = 0;
    for phone in phones.iter_mut() {
        let households = region.households_of(&phone.cadre, day);
        let mut ops = Vec::new();
        for _ in 0..rng.random_range(args.visits.low..=args.visits.high) {
            let Some(h) = households.get(rng.random_range(0..households.len().max(1))) else {
                break;
            };
            let op = visit_op(region, &mut rng, phone, h, SystemClock.now())?;
            ops.push(PushedOp::from_operation(&op));
            visits += 1;
        }
        // The phone builds and compresses its request before it has a connection, as a real
        // phone would; only the exchange is timed.
        let first = SyncRequest {
            protocol: PROTOCOL_VERSION,
            device: phone.device,
            app_version: "bench".into(),
            device_time: SystemClock.now(),
            push: ops,
            cursor: phone.cursor,
            page_bytes: DEFAULT_PAGE_BYTES,
            pending: 0,
        };
        let body = codec::compress(&serde_json::to_vec(&first)?, 3, dictionary.as_deref())?;
        work.push((phone, body));
    }
    work.shuffle(&mut rng);
    let queue = Mutex::new(work);
    let latencies = Mutex::new(Vec::new());
    let totals = Mutex::new((0usize, 0u64, 0u64));
    let failures = AtomicUsize::new(0);
    let cpu_before = cpu_seconds();
    let server_cpu_before = servers_cpu();
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in 0..args.connections {
            let (queue, dictionary, latencies, totals, failures) =
                (&queue, &dictionary, &latencies, &totals, &failures);
            let url = &urls[c % urls.len()];
            s.spawn(move || {
                let transport = HttpTransport::new(url).ok();
                if let (Some(t), Some(d)) = (&transport, &dictionary) {
                    let _ = t.use_dictionary(Some(d.bytes()));
                }
                let client = reqwest::blocking::Client::new();
                loop {
                    let item = queue.lock().ok().and_then(|mut q| q.pop());
                    let (Some((phone, body)), Some(transport)) = (item, transport.as_ref()) else {
                        break;
                    };
                    let t = Instant::now();
                    match sync_prepared(transport, &client, url, phone, body, dictionary.as_ref()) {
                        Ok((requests, up, down)) => {
                            if let Ok(mut l) = latencies.lock() {
                                l.push(t.elapsed());
                            }
                            if let Ok(mut tot) = totals.lock() {
                                tot.0 += requests;
                                tot.1 += up;
                                tot.2 += down;
                            }
                        }
                        Err(e) => {
                            eprintln!("sync failed: {e}");
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let wall = started.elapsed();
    let cpu_s = cpu_seconds() - cpu_before;
    let server_cpu_s = servers_cpu() - server_cpu_before;
    let server_rss_mib = servers.iter().map(ServerProcess::peak_rss_mib).sum();
    if failures.load(Ordering::Relaxed) > 0 {
        return Err(format!("{} phones failed to sync", failures.load(Ordering::Relaxed)).into());
    }
    let latencies = latencies.into_inner().unwrap_or_default();
    let (requests, bytes_up, bytes_down) = totals.into_inner().unwrap_or_default();
    let stored = storage.read()?.visit_count()? as usize;
    if stored != visits {
        return Err(format!("{visits} visits pushed but {stored} stored").into());
    }
    drop(servers);
    // The physical limit, on this run's own rows: a fresh database of the same schema.
    let raw_visits_per_s = if schema.is_none() {
        let raw_target = dir.path().join("raw.db");
        drop(SqliteStorage::open(&raw_target)?);
        Some(super::raw_insert::visits_per_second(
            &dir.path().join("fleet.db"),
            &raw_target,
        )?)
    } else {
        None
    };
    Ok(DayResult {
        wall,
        latency: summarize(&latencies),
        syncs: latencies.len(),
        visits,
        requests,
        bytes_up,
        bytes_down,
        cpu_s,
        server_cpu_s,
        server_rss_mib,
        raw_visits_per_s,
    })
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The medians of several days in one mode.
struct Row {
    wall: f64,
    syncs_per_s: f64,
    visits_per_s: f64,
    p50: f64,
    p99: f64,
    up: f64,
    down: f64,
    reqs: f64,
    cpu: f64,
    server_cpu: f64,
    server_rss: f64,
    raw_per_s: Option<f64>,
    syncs: usize,
}

impl Row {
    fn of(results: &[DayResult]) -> Row {
        let m = |f: &dyn Fn(&DayResult) -> f64| median(results.iter().map(f).collect());
        let raw: Option<Vec<f64>> = results.iter().map(|r| r.raw_visits_per_s).collect();
        Row {
            wall: m(&|r| r.wall.as_secs_f64()),
            syncs_per_s: m(&|r| r.syncs as f64 / r.wall.as_secs_f64()),
            visits_per_s: m(&|r| r.visits as f64 / r.wall.as_secs_f64()),
            p50: m(&|r| r.latency.p50_us / 1000.0),
            p99: m(&|r| r.latency.p99_us / 1000.0),
            up: m(&|r| r.bytes_up as f64 / r.visits as f64),
            down: m(&|r| r.bytes_down as f64 / r.syncs as f64),
            reqs: m(&|r| r.requests as f64 / r.syncs as f64),
            cpu: m(&|r| r.cpu_s),
            server_cpu: m(&|r| r.server_cpu_s),
            server_rss: m(&|r| r.server_rss_mib),
            raw_per_s: raw.filter(|v| !v.is_empty()).map(median),
            syncs: results.first().map(|r| r.syncs).unwrap_or(0),
        }
    }

    fn json(&self, mode: &str, instances: usize) -> serde_json::Value {
        serde_json::json!({"compression": mode, "instances": instances, "phones": self.syncs,
            "wall_s": self.wall, "syncs_per_s": self.syncs_per_s,
            "visits_per_s": self.visits_per_s, "p50_ms": self.p50, "p99_ms": self.p99,
            "bytes_up_per_visit": self.up, "bytes_down_per_sync": self.down,
            "requests_per_sync": self.reqs, "phones_cpu_s": self.cpu,
            "server_cpu_s": self.server_cpu, "server_peak_rss_mib": self.server_rss,
            "raw_insert_visits_per_s": self.raw_per_s,
            "ingest_over_raw": self.raw_per_s.map(|raw| self.visits_per_s / raw)})
    }

    fn print(&self, label: &str, width: usize) {
        println!(
            "{label:<width$} {:>7.2} s {:>8.0} {:>9.0} {:>8.1} {:>8.1} {:>9.0} {:>9.0} {:>8.2} {:>8.1} {:>9.1} {:>9.0}",
            self.wall,
            self.syncs_per_s,
            self.visits_per_s,
            self.p50,
            self.p99,
            self.up,
            self.down,
            self.reqs,
            self.cpu,
            self.server_cpu,
            self.server_rss
        );
    }
}

/// The instance counts to play the day with: each at least one, and more than one only on
/// PostgreSQL (an embedded database file has one server).
fn instance_counts(args: &FleetArgs) -> Result<Vec<usize>, String> {
    if args.instances.is_empty() || args.instances.contains(&0) {
        return Err("--instances takes counts of at least 1, such as 1,2".into());
    }
    if args.instances.iter().any(|&n| n > 1) && args.db.is_none() {
        return Err("more than one instance needs a shared database: add --db postgres://…".into());
    }
    Ok(args.instances.clone())
}

pub fn run(
    args: &FleetArgs,
    runs: usize,
    seed: u64,
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let counts = instance_counts(args)?;
    let region = Region::generate(RegionSpec::hulunbuir(seed));
    let dictionary = earlier_days_dictionary(seed, args.training_visits)?;
    let modes = [
        ("plain zstd", None),
        ("zstd + dictionary", Some(dictionary.as_slice())),
    ];
    // results[count index][mode index]: the days of one row.
    let mut results: Vec<[Vec<DayResult>; 2]> = counts.iter().map(|_| Default::default()).collect();
    for run in 0..runs {
        for (slot, &instances) in results.iter_mut().zip(&counts) {
            for ((mode, dict), days) in modes.iter().zip(slot.iter_mut()) {
                let r = one_day(&region, args, instances, seed + run as u64, *dict)?;
                eprintln!(
                    "run {run}, {instances} instance(s), {mode}: {} syncs, {} visits in {:.2} s; \
                     p50 {:.1} ms p99 {:.1} ms; {:.0} B up/visit",
                    r.syncs,
                    r.visits,
                    r.wall.as_secs_f64(),
                    r.latency.p50_us / 1000.0,
                    r.latency.p99_us / 1000.0,
                    r.bytes_up as f64 / r.visits as f64
                );
                days.push(r);
            }
        }
    }
    let labelled = counts.len() > 1 || counts.first() != Some(&1);
    let rows: Vec<(usize, &str, String, Row)> = results
        .iter()
        .zip(&counts)
        .flat_map(|(slot, &n)| {
            modes.iter().zip(slot).map(move |((mode, _), days)| {
                let label = if labelled {
                    format!("{n} instance{}, {mode}", if n == 1 { "" } else { "s" })
                } else {
                    (*mode).to_string()
                };
                (n, *mode, label, Row::of(days))
            })
        })
        .collect();
    if json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|(n, mode, _, row)| {
                row.json(
                    if mode.contains("dictionary") {
                        "zstd+dictionary"
                    } else {
                        "zstd"
                    },
                    *n,
                )
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"bench": "fleet_day", "runs": runs,
                "visits_per_phone": [args.visits.low, args.visits.high],
                "connections": args.connections, "dictionary_bytes": dictionary.len(),
                "training_visits": args.training_visits, "rows": rows})
        );
        return Ok(());
    }
    println!(
        "# fleet day: {} phones with {}-{} visits each, {} connections, {}; median of {runs} runs",
        rows.first().map_or(0, |r| r.3.syncs),
        args.visits.low,
        args.visits.high,
        args.connections,
        if args.db.is_some() {
            "PostgreSQL"
        } else {
            "embedded SQLite"
        }
    );
    println!(
        "# dictionary: {} bytes, trained on {} visits of another seed's region",
        dictionary.len(),
        args.training_visits
    );
    let width = rows.iter().map(|r| r.2.len()).max().unwrap_or(0).max(6);
    println!(
        "{:<width$} {:>9} {:>8} {:>9} {:>8} {:>8} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9}",
        "bodies",
        "wall",
        "syncs/s",
        "visits/s",
        "p50 ms",
        "p99 ms",
        "B up/vis",
        "B dn/sync",
        "req/sync",
        "phone s",
        "server s",
        "srv MiB"
    );
    for (_, _, label, row) in &rows {
        row.print(label, width);
    }
    for pair in rows.chunks(2) {
        if let [(n, _, _, plain), (_, _, _, trained)] = pair {
            println!(
                "{n} instance(s): bytes up per visit, dictionary / plain: {:.2}; \
                 bytes down per sync: {:.2}",
                trained.up / plain.up,
                trained.down / plain.down
            );
        }
    }
    for (_, _, label, row) in &rows {
        if let Some(raw) = row.raw_per_s {
            println!(
                "ingest ({label}): {:.0} visits/s through /v1/sync vs {raw:.0} visits/s raw \
                 insert of the same rows: {:.1}%",
                row.visits_per_s,
                100.0 * row.visits_per_s / raw
            );
        }
    }
    Ok(())
}
