//! The fleet day: every cadre's phone pushes one to three visits and pulls its changes, over a
//! fixed number of concurrent connections, against the server's HTTP API on the embedded
//! backend. The phones are protocol-level simulations (their own keys, chains and cursors, and
//! real signed operations) so that sixteen thousand of them fit in one process; the server is
//! the real one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use fieldvisit_core::clock::Hlc;
use fieldvisit_core::clock::{Clock, ServerTime, SystemClock, WallTime};
use fieldvisit_core::domain::visit::{IdentifiedBy, VisitRecord};
use fieldvisit_core::ids::{CadreId, DeviceId, OpId, VisitId};
use fieldvisit_core::journal::{ChainPoint, OpBody, UnsignedOperation};
use fieldvisit_core::sync::Transport;
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::sync::protocol::{
    DEFAULT_PAGE_BYTES, EnrollRequest, PROTOCOL_VERSION, PushedOp, SyncRequest,
};
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::http::AppState;
use fieldvisit_server::storage::Storage;
use fieldvisit_server::storage::sqlite::SqliteStorage;
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
}

struct Phone {
    cadre: CadreId,
    device: DeviceId,
    key: SigningKey,
    token: String,
    head: ChainPoint,
    hlc: Hlc,
    cursor: u64,
}

struct DayResult {
    wall: Duration,
    latency: Summary,
    syncs: usize,
    visits: usize,
    requests: usize,
    bytes_up: u64,
    bytes_down: u64,
    cpu_s: f64,
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 per second on Linux).
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
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
    let raw = response.bytes().map_err(|e| e.to_string())?;
    let down = raw.len() as u64;
    let plain = zstd::stream::decode_all(&raw[..]).map_err(|e| e.to_string())?;
    let answer: fieldvisit_core::sync::protocol::SyncResponse =
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
    seed: u64,
) -> Result<DayResult, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(dir.path().join("fleet.db"))?);
    let actor = fieldvisit_server::admin_log::Actor::new("bench")?;
    fieldvisit_server::admin::load_region(
        storage.as_ref(),
        region,
        &actor,
        ServerTime(SystemClock.now().0),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}", listener.local_addr()?);
    let state = AppState::new(storage.clone(), Arc::new(SystemClock))?;
    runtime.spawn(fieldvisit_server::http::serve(
        listener,
        state,
        std::future::pending(),
    ));

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let count = args
        .devices
        .unwrap_or(region.cadres.len())
        .min(region.cadres.len());
    let now = ServerTime(SystemClock.now().0);
    // Setup, not measured: enroll every phone over HTTP and pull its scope.
    let transport = HttpTransport::new(&url)?;
    let mut phones = Vec::with_capacity(count);
    for cadre in region.cadres.iter().take(count) {
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
        for _ in 0..args.connections {
            s.spawn(|| {
                let transport = HttpTransport::new(&url).ok();
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
        for _ in 0..rng.random_range(1..=3) {
            let Some(h) = households.get(rng.random_range(0..households.len().max(1))) else {
                break;
            };
            let at = SystemClock.now();
            let (content, location) = region.visit(&mut rng, h, at);
            let record = VisitRecord {
                id: VisitId::generate(at),
                household: h.id.clone(),
                cadre: phone.cadre.clone(),
                identified: IdentifiedBy::Scan {
                    key_id: 1,
                    issue: h.plate_issue,
                    scanned_at: WallTime(at.0 - 60_000),
                },
                recorded_at: at,
                location: Some(location),
                content,
            };
            phone.hlc = Hlc::tick(phone.hlc, at);
            let op = UnsignedOperation {
                id: OpId::generate(at),
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
        let body = zstd::bulk::compress(&serde_json::to_vec(&first)?, 3)?;
        work.push((phone, body));
    }
    work.shuffle(&mut rng);
    let queue = Mutex::new(work);
    let latencies = Mutex::new(Vec::new());
    let totals = Mutex::new((0usize, 0u64, 0u64));
    let failures = AtomicUsize::new(0);
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..args.connections {
            s.spawn(|| {
                let transport = HttpTransport::new(&url).ok();
                let client = reqwest::blocking::Client::new();
                loop {
                    let item = queue.lock().ok().and_then(|mut q| q.pop());
                    let (Some((phone, body)), Some(transport)) = (item, transport.as_ref()) else {
                        break;
                    };
                    let t = Instant::now();
                    match sync_prepared(transport, &client, &url, phone, body) {
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
    if failures.load(Ordering::Relaxed) > 0 {
        return Err(format!("{} phones failed to sync", failures.load(Ordering::Relaxed)).into());
    }
    let latencies = latencies.into_inner().unwrap_or_default();
    let (requests, bytes_up, bytes_down) = totals.into_inner().unwrap_or_default();
    let stored = storage.read()?.visit_count()? as usize;
    if stored != visits {
        return Err(format!("{visits} visits pushed but {stored} stored").into());
    }
    Ok(DayResult {
        wall,
        latency: summarize(&latencies),
        syncs: latencies.len(),
        visits,
        requests,
        bytes_up,
        bytes_down,
        cpu_s,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub fn run(
    args: &FleetArgs,
    runs: usize,
    seed: u64,
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let region = Region::generate(RegionSpec::hulunbuir(seed));
    let mut results = Vec::new();
    for run in 0..runs {
        let r = one_day(&region, args, seed + run as u64)?;
        eprintln!(
            "run {run}: {} syncs, {} visits in {:.2} s; p50 {:.1} ms p99 {:.1} ms; {:.0} B up/visit",
            r.syncs,
            r.visits,
            r.wall.as_secs_f64(),
            r.latency.p50_us / 1000.0,
            r.latency.p99_us / 1000.0,
            r.bytes_up as f64 / r.visits as f64
        );
        results.push(r);
    }
    let wall = median(results.iter().map(|r| r.wall.as_secs_f64()).collect());
    let syncs_per_s = median(
        results
            .iter()
            .map(|r| r.syncs as f64 / r.wall.as_secs_f64())
            .collect(),
    );
    let visits_per_s = median(
        results
            .iter()
            .map(|r| r.visits as f64 / r.wall.as_secs_f64())
            .collect(),
    );
    let p50 = median(results.iter().map(|r| r.latency.p50_us / 1000.0).collect());
    let p99 = median(results.iter().map(|r| r.latency.p99_us / 1000.0).collect());
    let up = median(
        results
            .iter()
            .map(|r| r.bytes_up as f64 / r.visits as f64)
            .collect(),
    );
    let down = median(
        results
            .iter()
            .map(|r| r.bytes_down as f64 / r.syncs as f64)
            .collect(),
    );
    let reqs = median(
        results
            .iter()
            .map(|r| r.requests as f64 / r.syncs as f64)
            .collect(),
    );
    let cpu = median(results.iter().map(|r| r.cpu_s).collect());
    let syncs = results.first().map(|r| r.syncs).unwrap_or(0);
    if json {
        println!(
            "{}",
            serde_json::json!({"bench": "fleet_day", "runs": runs, "phones": syncs,
            "connections": args.connections, "wall_s": wall, "syncs_per_s": syncs_per_s,
            "visits_per_s": visits_per_s, "p50_ms": p50, "p99_ms": p99,
            "bytes_up_per_visit": up, "bytes_down_per_sync": down, "requests_per_sync": reqs,
            "process_cpu_s": cpu})
        );
    } else {
        println!(
            "# fleet day: {syncs} phones, {} connections, embedded SQLite; median of {runs} runs",
            args.connections
        );
        println!("wall time                {wall:>10.2} s");
        println!("syncs per second         {syncs_per_s:>10.0}");
        println!("visits accepted per s    {visits_per_s:>10.0}");
        println!("sync latency p50 / p99   {p50:>10.1} / {p99:.1} ms");
        println!("bytes up per visit       {up:>10.0} (zstd request bodies, headers excluded)");
        println!("bytes down per sync      {down:>10.0}");
        println!("requests per sync        {reqs:>10.2}");
        println!("process CPU (client+server) {cpu:>7.1} s");
    }
    Ok(())
}
