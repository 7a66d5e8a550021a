//! Side by side with the stack field-health programs use today: K phones × V visits each,
//! recorded offline and then synced all at once, once through fieldvisit (real device stores,
//! the real sync engine and HTTP transport, the real server on the embedded SQLite backend)
//! and once through CouchDB replication (PouchDB clients replicating to pouchdb-server, run by
//! `tests/peer/bench.js`). Both sides get the same visits: the workload is generated once from
//! the synthetic region and written as JSON for the peer.
//!
//! Bytes are counted the same way on both sides: every byte of the HTTP connections on the
//! wire (request and status lines, headers, bodies as sent, compressed where the client
//! compresses), client to server and back, during the sync phase only. Ours are counted by a
//! pass-through TCP proxy in front of the server (the proxy's hop is inside our timing, not
//! inside the peer's); the peer's by counters on pouchdb-server's own sockets.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use fieldvisit_core::Store;
use fieldvisit_core::clock::{Clock, ServerTime, SystemClock, WallTime};
use fieldvisit_core::domain::visit::{
    Identification, IdentifiedBy, Location, VisitContent, VisitRecord,
};
use fieldvisit_core::ids::{CadreId, VisitId};
use fieldvisit_core::report::SyncReport;
use fieldvisit_core::sync::SyncOptions;
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::app::AppState;
use fieldvisit_server::storage::Storage;
use fieldvisit_server::storage::sqlite::SqliteStorage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::fleet::{cpu_seconds, median};

type BoxError = Box<dyn std::error::Error>;

#[derive(clap::Args, Debug)]
pub struct PeerArgs {
    /// Phones (clients), all syncing at once over their own connections.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Visits each phone records offline before it syncs once.
    #[arg(long, default_value_t = 20)]
    visits: usize,
    /// PouchDB's replication batch_size (its default is 100).
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// pouchdb-server's storage: `leveldb` (its default, files in a temp dir) or `memory`.
    #[arg(long, default_value = "leveldb")]
    peer_storage: String,
    /// Run our side only (no Node needed).
    #[arg(long)]
    no_peer: bool,
    /// Our phones send plain zstd bodies instead of using a dictionary the server trained on
    /// an earlier day's visits (another seed's region; 20,000 visits).
    #[arg(long)]
    plain: bool,
}

/// One visit of the workload: the plate the phone scans and what it records.
#[derive(Debug, Clone)]
pub struct WorkVisit {
    pub plate: String,
    pub content: VisitContent,
    pub location: Location,
    /// The same visit as the peer stores it.
    pub doc: Value,
}

#[derive(Debug, Clone)]
pub struct WorkClient {
    pub cadre: CadreId,
    pub visits: Vec<WorkVisit>,
}

/// K phones × V visits, generated from the synthetic region: deterministic for a seed and a
/// day (the content depends on the day, as a real diary does).
#[derive(Debug, Clone)]
pub struct Workload {
    pub clients: Vec<WorkClient>,
}

impl Workload {
    pub fn generate(
        region: &Region,
        clients: usize,
        visits: usize,
        seed: u64,
        at: WallTime,
    ) -> Workload {
        let day = at.local_date();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7065_6572);
        // Cadres spread over the whole region: every n-th one that has households today.
        let with_households: Vec<_> = region
            .cadres
            .iter()
            .filter(|c| !region.households_of(&c.id, day).is_empty())
            .collect();
        let step = (with_households.len() / clients.max(1)).max(1);
        let clients = with_households
            .iter()
            .step_by(step)
            .take(clients)
            .map(|cadre| {
                let households = region.households_of(&cadre.id, day);
                let visits = (0..visits)
                    .map(|_| {
                        let h = households[rng.random_range(0..households.len())];
                        let (content, location) = region.visit(&mut rng, h, at);
                        // As the phone stores and sends it.
                        let location = location.rounded();
                        let record = VisitRecord {
                            id: VisitId::from_bytes(rng.random()),
                            household: h.id.clone(),
                            cadre: cadre.id.clone(),
                            identified: IdentifiedBy::Scan {
                                key_id: 1,
                                issue: h.plate_issue,
                                scanned_at: WallTime(at.0 - 60_000),
                            },
                            recorded_at: at,
                            location: Some(location.clone()),
                            content: content.clone(),
                            photos: Vec::new(),
                        };
                        WorkVisit {
                            plate: region.plate(h),
                            content,
                            location,
                            doc: peer_doc(&record),
                        }
                    })
                    .collect();
                WorkClient {
                    cadre: cadre.id.clone(),
                    visits,
                }
            })
            .collect();
        Workload { clients }
    }

    pub fn visits(&self) -> usize {
        self.clients.iter().map(|c| c.visits.len()).sum()
    }

    /// What the peer script reads: each client's documents.
    pub fn peer_json(&self) -> Value {
        json!({"clients": self.clients.iter().map(|c| json!({
            "cadre": c.cadre,
            "docs": c.visits.iter().map(|v| v.doc.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()})
    }
}

/// A visit as a PouchDB app stores it: the record our phones make, its id as `_id`, and a
/// `type` as CouchDB apps tag their documents.
fn peer_doc(record: &VisitRecord) -> Value {
    let mut doc = serde_json::to_value(record).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut doc {
        let id = map.remove("id").unwrap_or(Value::Null);
        let mut out = serde_json::Map::new();
        out.insert("_id".into(), id);
        out.insert("type".into(), "visit".into());
        out.extend(std::mem::take(map));
        return Value::Object(out);
    }
    doc
}

/// Counts every byte that crosses it, both ways.
#[derive(Debug, Default)]
struct WireCount {
    up: AtomicU64,
    down: AtomicU64,
}

async fn pipe(
    from: tokio::net::tcp::OwnedReadHalf,
    to: tokio::net::tcp::OwnedWriteHalf,
    counter: Arc<WireCount>,
    up: bool,
) {
    // Readiness-based copy (no io-util feature needed); dropping `to` shuts its side down.
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if from.readable().await.is_err() {
            break;
        }
        let n = match from.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => break,
        };
        let c = if up { &counter.up } else { &counter.down };
        c.fetch_add(n as u64, Ordering::Relaxed);
        let mut sent = 0;
        while sent < n {
            if to.writable().await.is_err() {
                return;
            }
            match to.try_write(&buf[sent..n]) {
                Ok(k) => sent += k,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        }
    }
}

/// Starts a counting pass-through proxy to `upstream` on the runtime; returns its URL.
fn counting_proxy(
    runtime: &tokio::runtime::Runtime,
    upstream: std::net::SocketAddr,
    counter: Arc<WireCount>,
) -> Result<String, BoxError> {
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}", listener.local_addr()?);
    runtime.spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let up = tokio::spawn(pipe(cr, sw, counter.clone(), true));
                pipe(sr, cw, counter, false).await;
                let _ = up.await;
            });
        }
    });
    Ok(url)
}

/// One side's figures for one run.
#[derive(Debug, Clone, Default)]
struct Side {
    wall_s: f64,
    visits: usize,
    clients: usize,
    requests: f64,
    wire_up: f64,
    wire_down: f64,
    body_up: Option<f64>,
    p50_ms: f64,
    p99_ms: f64,
    cpu_s: f64,
    doc_bytes: f64,
}

impl Side {
    fn per_s(&self) -> f64 {
        self.visits as f64 / self.wall_s
    }
    fn up_per_visit(&self) -> f64 {
        self.wire_up / self.visits as f64
    }
    fn down_per_sync(&self) -> f64 {
        self.wire_down / self.clients as f64
    }
    fn requests_per_sync(&self) -> f64 {
        self.requests / self.clients as f64
    }
}

fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Our side: a fresh server on a temp SQLite db, K enrolled stores that record their visits
/// offline, then sync all at once.
fn ours(region: &Region, work: &Workload, dictionary: Option<&[u8]>) -> Result<Side, BoxError> {
    let dir = tempfile::tempdir()?;
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(dir.path().join("server.db"))?);
    let actor = fieldvisit_server::admin_log::Actor::new("bench")?;
    fieldvisit_server::admin::load_region(
        storage.as_ref(),
        region,
        &actor,
        ServerTime(SystemClock.now().0),
    )?;
    if let Some(bytes) = dictionary {
        // Phones fetch it when they enroll, below.
        let at = ServerTime(SystemClock.now().0);
        fieldvisit_server::dictionary::install(
            storage.as_ref(),
            bytes.to_vec(),
            20_000,
            &actor,
            at,
        )?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let address = listener.local_addr()?;
    let url = format!("http://{address}");
    let state = AppState::new(storage.clone(), Arc::new(SystemClock))?;
    runtime.spawn(fieldvisit_server::app::serve(
        listener,
        state,
        std::future::pending(),
    ));
    let counter = Arc::new(WireCount::default());
    let proxy_url = counting_proxy(&runtime, address, counter.clone())?;

    // Setup, not measured: enroll each phone and take its first sync (its scope), straight to
    // the server; then record the visits offline.
    let direct = HttpTransport::new(&url)?;
    let options = SyncOptions {
        app_version: "bench".into(),
        ..SyncOptions::default()
    };
    let now = ServerTime(SystemClock.now().0);
    let mut stores = Vec::with_capacity(work.clients.len());
    for (i, client) in work.clients.iter().enumerate() {
        let store = Store::open(dir.path().join(format!("phone-{i}.db")))?;
        let code = fieldvisit_server::enroll::create_code(
            storage.as_ref(),
            &client.cadre,
            now,
            3_600_000,
            &actor,
        )?;
        fieldvisit_core::sync::enroll(&store, &direct, &url, &code.code, "bench")?;
        fieldvisit_core::sync::sync(&store, &direct, &options)?;
        for v in &client.visits {
            let at = store.now();
            let scan = Identification::Scanned {
                payload: v.plate.clone(),
                scanned_at: WallTime(at.0 - 60_000),
            };
            store.record_visit(scan, v.content.clone(), Some(v.location.clone()))?;
        }
        stores.push(store);
    }
    let before = storage.read()?.visit_count()? as usize;

    // The sync phase: every phone at once, each over its own connection through the proxy.
    let barrier = Barrier::new(stores.len() + 1);
    let cpu_before = cpu_seconds();
    let (started, results) = std::thread::scope(|s| {
        let handles: Vec<_> = stores
            .iter()
            .map(|store| {
                let (barrier, options, proxy_url) = (&barrier, &options, &proxy_url);
                s.spawn(move || -> Result<(SyncReport, Duration), String> {
                    let transport = HttpTransport::new(proxy_url).map_err(|e| e.to_string());
                    barrier.wait();
                    let t = Instant::now();
                    let report = fieldvisit_core::sync::sync(store, &transport?, options)
                        .map_err(|e| e.to_string())?;
                    Ok((report, t.elapsed()))
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("sync thread panicked".into()))
            })
            .collect();
        (started, results)
    });
    let wall = started.elapsed();
    let cpu_s = cpu_seconds() - cpu_before;

    let mut latencies = Vec::new();
    let (mut requests, mut body_up) = (0u64, 0u64);
    for (client, r) in work.clients.iter().zip(results) {
        let (report, latency) = r?;
        if report.acknowledged != client.visits.len() as u64
            || report.rejected > 0
            || !report.complete
        {
            return Err(format!("a phone's sync was not clean: {report:?}").into());
        }
        requests += u64::from(report.requests);
        body_up += report.bytes_up;
        latencies.push(latency);
    }
    let stored = storage.read()?.visit_count()? as usize - before;
    if stored != work.visits() {
        return Err(format!("{} visits synced but {stored} stored", work.visits()).into());
    }
    latencies.sort();
    let doc_bytes = work
        .clients
        .iter()
        .flat_map(|c| &c.visits)
        .map(|v| serde_json::to_vec(&v.doc).map_or(0, |d| d.len()))
        .sum::<usize>() as f64
        / work.visits() as f64;
    Ok(Side {
        wall_s: wall.as_secs_f64(),
        visits: work.visits(),
        clients: work.clients.len(),
        requests: requests as f64,
        wire_up: counter.up.load(Ordering::Relaxed) as f64,
        wire_down: counter.down.load(Ordering::Relaxed) as f64,
        body_up: Some(body_up as f64 / work.visits() as f64),
        p50_ms: quantile_ms(&latencies, 0.5),
        p99_ms: quantile_ms(&latencies, 0.99),
        cpu_s,
        doc_bytes,
    })
}

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peer")
}

/// Checks for node and npm and installs the peer's packages if they are missing.
fn prepare_peer() -> Result<(), BoxError> {
    let dir = peer_dir();
    for tool in ["node", "npm"] {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            return Err(format!(
                "`{tool}` is not on PATH: the peer benchmark runs PouchDB under Node.js \
                 (install Node.js 18+ with npm, e.g. `apt-get install nodejs npm`), \
                 or pass --no-peer to run our side only"
            )
            .into());
        }
    }
    if dir.join("node_modules/pouchdb-server").is_dir() && dir.join("node_modules/pouchdb").is_dir()
    {
        return Ok(());
    }
    eprintln!(
        "peer: {} has no node_modules; running `npm ci --ignore-scripts` there (pouchdb-server 4.2.0, pouchdb 9.0.0, \
         pinned by package-lock.json)",
        dir.display()
    );
    let status = Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()?;
    if !status.success() {
        return Err(format!("`npm ci` in {} failed ({status})", dir.display()).into());
    }
    Ok(())
}

/// The peer's side: `node tests/peer/bench.js` on the workload file.
fn peer(args: &PeerArgs, workload: &Path) -> Result<(Side, Value), BoxError> {
    let dir = tempfile::tempdir()?;
    let output = Command::new("node")
        .arg(peer_dir().join("bench.js"))
        .arg("--workload")
        .arg(workload)
        .arg("--dir")
        .arg(dir.path())
        .args(["--batch-size", &args.batch_size.to_string()])
        .args(["--server-storage", &args.peer_storage])
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "the peer script failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let out: Value = serde_json::from_slice(&output.stdout)?;
    let f = |k: &str| out.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let side = Side {
        wall_s: f("wall_s"),
        visits: f("docs") as usize,
        clients: f("clients") as usize,
        requests: f("requests"),
        wire_up: f("bytes_up"),
        wire_down: f("bytes_down"),
        body_up: None,
        p50_ms: f("p50_ms"),
        p99_ms: f("p99_ms"),
        cpu_s: f("server_cpu_s") + f("client_cpu_s"),
        doc_bytes: f("doc_json_bytes_mean"),
    };
    Ok((side, out))
}

/// The median of each figure over the runs.
#[derive(Debug, Default)]
struct Medians {
    wall_s: f64,
    per_s: f64,
    requests: f64,
    up: f64,
    body_up: Option<f64>,
    down: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_s: f64,
    doc_bytes: f64,
}

fn medians(runs: &[Side]) -> Medians {
    let m = |f: &dyn Fn(&Side) -> f64| median(runs.iter().map(f).collect());
    Medians {
        wall_s: m(&|s| s.wall_s),
        per_s: m(&|s| s.per_s()),
        requests: m(&|s| s.requests_per_sync()),
        up: m(&|s| s.up_per_visit()),
        body_up: runs
            .iter()
            .all(|s| s.body_up.is_some())
            .then(|| m(&|s| s.body_up.unwrap_or(0.0))),
        down: m(&|s| s.down_per_sync()),
        p50_ms: m(&|s| s.p50_ms),
        p99_ms: m(&|s| s.p99_ms),
        cpu_s: m(&|s| s.cpu_s),
        doc_bytes: m(&|s| s.doc_bytes),
    }
}

fn side_json(m: &Medians) -> Value {
    json!({"wall_s": m.wall_s, "visits_per_s": m.per_s, "requests_per_sync": m.requests,
        "wire_bytes_up_per_visit": m.up, "body_bytes_up_per_visit": m.body_up,
        "wire_bytes_down_per_sync": m.down, "p50_ms": m.p50_ms, "p99_ms": m.p99_ms,
        "cpu_s": m.cpu_s, "visit_json_bytes": m.doc_bytes})
}

pub fn run(args: &PeerArgs, runs: usize, seed: u64, json: bool) -> Result<(), BoxError> {
    let runs = runs.max(1);
    if !args.no_peer {
        prepare_peer()?;
    }
    let region = Region::generate(RegionSpec::hulunbuir(seed));
    let work = Workload::generate(&region, args.clients, args.visits, seed, SystemClock.now());
    let dir = tempfile::tempdir()?;
    let workload_path = dir.path().join("workload.json");
    let mut file = std::fs::File::create(&workload_path)?;
    serde_json::to_writer(&mut file, &work.peer_json())?;
    file.flush()?;
    eprintln!(
        "workload: {} phones × {} visits = {} visits, written to {}",
        work.clients.len(),
        args.visits,
        work.visits(),
        workload_path.display()
    );

    let dictionary = if args.plain {
        None
    } else {
        eprintln!("training the server's dictionary on an earlier day (20,000 visits)");
        Some(super::fleet::earlier_days_dictionary(seed, 20_000)?)
    };
    let (mut ours_runs, mut peer_runs, mut peer_raw) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let o = ours(&region, &work, dictionary.as_deref())?;
        eprintln!(
            "run {run}: fieldvisit {:.3} s, {:.0} visits/s, {:.2} requests/sync, {:.0} B up/visit",
            o.wall_s,
            o.per_s(),
            o.requests_per_sync(),
            o.up_per_visit()
        );
        ours_runs.push(o);
        if !args.no_peer {
            let (p, raw) = peer(args, &workload_path)?;
            eprintln!(
                "run {run}: pouchdb    {:.3} s, {:.0} docs/s, {:.2} requests/replication, {:.0} B up/doc",
                p.wall_s,
                p.per_s(),
                p.requests_per_sync(),
                p.up_per_visit()
            );
            peer_runs.push(p);
            peer_raw.push(raw);
        }
    }
    let o = medians(&ours_runs);
    let p = (!peer_runs.is_empty()).then(|| medians(&peer_runs));
    print_results(args, runs, &work, &o, p.as_ref(), peer_raw.last(), json);
    Ok(())
}

fn print_results(
    args: &PeerArgs,
    runs: usize,
    work: &Workload,
    o: &Medians,
    p: Option<&Medians>,
    raw: Option<&Value>,
    json: bool,
) {
    let ratios = p.map(|p| {
        json!({"throughput_ours_over_peer": o.per_s / p.per_s,
            "bytes_up_per_visit_ours_over_peer": o.up / p.up,
            "bytes_down_per_sync_ours_over_peer": o.down / p.down,
            "requests_per_sync_ours": o.requests, "requests_per_sync_peer": p.requests})
    });
    if json {
        println!(
            "{}",
            json!({"bench": "peer", "runs": runs, "clients": work.clients.len(),
                "visits_per_client": args.visits, "visits": work.visits(),
                "ours": side_json(o), "ours_dictionary": !args.plain, "peer": p.map(side_json),
                "peer_setup": raw.map(|r| json!({"pouchdb": r["pouchdb"],
                    "pouchdb_server": r["pouchdb_server"], "node": r["node"],
                    "server_storage": r["server_storage"], "client_adapter": r["client_adapter"],
                    "batch_size": r["batch_size"], "request_kinds": r["request_kinds"]})),
                "ratios": ratios})
        );
        return;
    }
    println!(
        "# {} phones × {} visits, all syncing at once on 127.0.0.1; median of {runs} runs",
        work.clients.len(),
        args.visits
    );
    if let Some(r) = raw {
        println!(
            "# peer: PouchDB {} (memory adapter) → pouchdb-server {} ({}), Node {}, batch_size {}",
            r["pouchdb"].as_str().unwrap_or("?"),
            r["pouchdb_server"].as_str().unwrap_or("?"),
            r["server_storage"].as_str().unwrap_or("?"),
            r["node"].as_str().unwrap_or("?"),
            r["batch_size"]
        );
    }
    println!("# bytes: everything on the wire (HTTP heads and bodies as sent), sync phase only");
    println!(
        "# fieldvisit bodies: {}",
        if args.plain {
            "plain zstd"
        } else {
            "zstd with a dictionary the server trained on an earlier day"
        }
    );
    let col = |f: &dyn Fn(&Medians) -> f64, digits: usize| -> (String, String) {
        (
            format!("{:.*}", digits, f(o)),
            p.map_or("-".into(), |p| format!("{:.*}", digits, f(p))),
        )
    };
    let ratio =
        |f: &dyn Fn(&Medians) -> f64| p.map_or("-".into(), |p| format!("{:.2}", f(o) / f(p)));
    println!(
        "{:<32} {:>12} {:>12} {:>12}",
        "", "fieldvisit", "PouchDB", "ours/peer"
    );
    type Row<'a> = (&'a str, &'a dyn Fn(&Medians) -> f64, usize);
    let rows: [Row; 8] = [
        ("sync phase wall time (s)", &|m| m.wall_s, 3),
        ("visits accepted per s", &|m| m.per_s, 0),
        ("HTTP requests per sync", &|m| m.requests, 2),
        ("bytes up per visit", &|m| m.up, 0),
        ("bytes down per sync", &|m| m.down, 0),
        ("sync latency p50 (ms)", &|m| m.p50_ms, 1),
        ("sync latency p99 (ms)", &|m| m.p99_ms, 1),
        ("CPU, client+server (s)", &|m| m.cpu_s, 2),
    ];
    for (name, f, digits) in rows {
        let (a, b) = col(f, digits);
        println!("{name:<32} {a:>12} {b:>12} {:>12}", ratio(f));
    }
    println!(
        "{:<32} {:>12.0} {:>12}",
        "visit as JSON (bytes)",
        o.doc_bytes,
        p.map_or("-".into(), |p| format!("{:.0}", p.doc_bytes))
    );
    if let Some(b) = o.body_up {
        println!("{:<32} {b:>12.0}", "ours: zstd bodies up per visit");
    }
    if let Some(kinds) = raw.and_then(|r| r.get("request_kinds")) {
        println!("# peer requests (all replications): {kinds}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both sides record the same visits: what our store records from the workload is, field
    /// for field, the content and location of the peer's documents.
    #[test]
    fn both_sides_get_the_same_visits() {
        let region = Region::generate(RegionSpec::small(3));
        let at = SystemClock.now();
        let work = Workload::generate(&region, 3, 4, 3, at);
        assert_eq!(work.clients.len(), 3);
        assert_eq!(work.visits(), 12);
        let again = Workload::generate(&region, 3, 4, 3, at);
        assert_eq!(work.peer_json(), again.peer_json(), "deterministic");
        let day = at.local_date();
        let dir = tempfile::tempdir().expect("dir");
        for (i, client) in work.clients.iter().enumerate() {
            let store = Store::open(dir.path().join(format!("{i}.db"))).expect("store");
            store
                .apply_registry(&region.registry_for(&client.cadre, day))
                .expect("registry");
            store
                .enroll(&fieldvisit_core::store::Enrollment {
                    cadre: client.cadre.clone(),
                    authority_keys: region.authority_keys(),
                    server_url: None,
                    token: None,
                })
                .expect("enroll");
            for v in &client.visits {
                let at = store.now();
                let scan = Identification::Scanned {
                    payload: v.plate.clone(),
                    scanned_at: WallTime(at.0 - 1000),
                };
                let recorded = store
                    .record_visit(scan, v.content.clone(), Some(v.location.clone()))
                    .expect("recorded");
                let mut doc = v.doc.clone();
                doc["id"] = doc["_id"].clone();
                let doc: VisitRecord = serde_json::from_value(doc).expect("doc");
                assert_eq!(recorded.content, doc.content);
                assert_eq!(recorded.location, doc.location);
                assert_eq!(recorded.household, doc.household);
                assert_eq!(recorded.cadre, client.cadre);
                assert_eq!(v.doc["_id"], json!(doc.id.to_string()));
            }
        }
    }
}
