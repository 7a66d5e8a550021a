//! Crash test with real processes: the server is killed with SIGKILL again and again while a
//! fleet of phones records and syncs, and restarted each time. Whatever a phone saw
//! acknowledged must be in the server's database afterwards — an acknowledgement means
//! durably committed — and after a final clean sync every operation is there exactly once.
//!
//! `FIELDVISIT_CRASH_KILLS=200 cargo test --release -p fieldvisit-server --test crash` runs a
//! longer series.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldvisit_core::Store;
use fieldvisit_core::clock::{Clock, SystemClock, WallTime};
use fieldvisit_core::domain::visit::Identification;
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::sync::{RetryPolicy, SyncOptions};
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::storage::Storage;
use fieldvisit_server::storage::sqlite::SqliteStorage;
use rand::{Rng, SeedableRng};

const SERVER: &str = env!("CARGO_BIN_EXE_fieldvisit-server");
const SEED: u64 = 7;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(args: &[&str]) -> String {
    let out = Command::new(SERVER).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn serve(db: &Path, port: u16) -> Child {
    let child = Command::new(SERVER)
        .args([
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// 12 in the normal run; `FIELDVISIT_CRASH_KILLS=200` for a long one.
fn kills_wanted() -> usize {
    std::env::var("FIELDVISIT_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

fn quick_retries() -> SyncOptions {
    SyncOptions {
        retry: RetryPolicy {
            max_attempts: 2,
            base_delay_ms: 20,
            max_delay_ms: 50,
        },
        ..SyncOptions::default()
    }
}

#[test]
fn every_acknowledged_operation_survives_repeated_kill_9_of_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("county.db");
    let dbs = db.to_str().unwrap();
    run(&["seed", "--db", dbs, "--small", "--seed", &SEED.to_string()]);
    let region = Region::generate(RegionSpec::small(SEED));
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = serve(&db, port);

    let today = SystemClock.now().local_date();
    let cadres: Vec<_> = region
        .cadres
        .iter()
        .filter(|c| c.role == "assisting")
        .take(6)
        .collect();
    let mut phones = Vec::new();
    for (i, cadre) in cadres.iter().enumerate() {
        let code = run(&["enroll", "--db", dbs, "--cadre", cadre.id.as_str()])
            .trim()
            .to_string();
        let store = Store::open(dir.path().join(format!("phone-{i}.db"))).unwrap();
        let transport = HttpTransport::new(&url).unwrap();
        fieldvisit_core::sync::enroll(&store, &transport, &url, &code, "crash").unwrap();
        fieldvisit_core::sync::sync(&store, &transport, &SyncOptions::default()).unwrap();
        phones.push((store, cadre.id.clone()));
    }

    // The phones work and sync continuously; every acknowledgement they see is remembered.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(vec![0; phones.len()]));
    let phones = Arc::new(phones);
    let mut kills = 0;
    std::thread::scope(|s| {
        for i in 0..phones.len() {
            let (stop, acked, phones, url, region) = (
                stop.clone(),
                acked.clone(),
                phones.clone(),
                url.clone(),
                &region,
            );
            s.spawn(move || {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(i as u64);
                let (store, cadre) = &phones[i];
                let households = region.households_of(cadre, today);
                let transport = HttpTransport::with_timeout(&url, Duration::from_secs(5)).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let h = households[rng.random_range(0..households.len())];
                    let at = store.now();
                    let (content, location) = region.visit(&mut rng, h, at);
                    let scan = Identification::Scanned {
                        payload: region.plate(h),
                        scanned_at: WallTime(at.0 - 1000),
                    };
                    store.record_visit(scan, content, Some(location)).unwrap();
                    if fieldvisit_core::sync::sync(store, &transport, &quick_retries()).is_ok() {
                        let seq = store.sync_status().unwrap().acked_seq;
                        let mut a = acked.lock().unwrap();
                        a[i] = a[i].max(seq);
                    }
                }
            });
        }
        // Meanwhile the server is killed (SIGKILL, no shutdown) and restarted, again and again.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(SEED);
        for _ in 0..kills_wanted() {
            std::thread::sleep(Duration::from_millis(rng.random_range(100..400)));
            server.kill().unwrap();
            server.wait().unwrap();
            kills += 1;
            // What the phones saw acknowledged up to the kill must all be in the file.
            let seen = acked.lock().unwrap().clone();
            let storage = SqliteStorage::open(&db).unwrap();
            let mut tx = storage.read().unwrap();
            for (i, (store, _)) in phones.iter().enumerate() {
                let head = tx.device(&store.device_id()).unwrap().unwrap().head.seq;
                assert!(
                    head >= seen[i],
                    "kill {kills}: phone {i} saw {} acknowledged, the database has {head}",
                    seen[i]
                );
            }
            drop(tx);
            drop(storage);
            server = serve(&db, port);
        }
        stop.store(true, Ordering::Relaxed);
    });

    // A clean sync for everyone; then each phone's journal is on the server exactly once.
    for (store, _) in phones.iter() {
        let transport = HttpTransport::new(&url).unwrap();
        let report =
            fieldvisit_core::sync::sync(store, &transport, &SyncOptions::default()).unwrap();
        assert!(report.complete);
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let storage = SqliteStorage::open(&db).unwrap();
    let mut tx = storage.read().unwrap();
    let mut total = 0;
    for (store, _) in phones.iter() {
        let local = store.operations(0, usize::MAX).unwrap();
        let stored = tx.ops_of_device(&store.device_id(), 0, usize::MAX).unwrap();
        assert_eq!(local, stored, "every operation on the server exactly once");
        total += local.len();
    }
    eprintln!("crash test: {kills} kills survived, {total} operations, none lost or doubled");
    assert!(kills == kills_wanted() && total > 0);
}
