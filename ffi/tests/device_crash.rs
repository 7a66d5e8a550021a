//! Killing a phone mid-sync: the `fieldvisit` device process is killed with SIGKILL at random
//! moments while it syncs — before, during and after it applies a page — again and again.
//! Reopened, it carries on: its journal verifies, every operation reaches the server exactly
//! once, and it ends holding exactly its scope with every visit. A page and its cursor are
//! committed in one transaction, so no kill can fall between them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use fieldvisit_core::Store;
use fieldvisit_core::ids::VisitId;
use fieldvisit_core::journal::{OpBody, OpKind};
use fieldvisit_tests::harness::{TestServer, admin, now, today};
use rand::{Rng, SeedableRng};

const DEVICE: &str = env!("CARGO_BIN_EXE_fieldvisit");

fn fieldvisit(store: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(DEVICE)
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("fieldvisit runs")
}

#[test]
fn a_device_killed_mid_sync_carries_on_with_nothing_lost_or_doubled() {
    let server = TestServer::start(61);
    let secretary = server
        .region
        .cadres
        .iter()
        .find(|c| c.role == "first_secretary")
        .unwrap()
        .id
        .clone();
    let households = server.region.households_of(&secretary, today());
    // Colleagues' visits give the phone a feed to pull while it is being killed.
    let colleague = server
        .region
        .cadres
        .iter()
        .find(|c| c.role == "assisting" && !server.region.households_of(&c.id, today()).is_empty())
        .unwrap()
        .id
        .clone();
    let other = server.device(&colleague);
    for (i, h) in server
        .region
        .households_of(&colleague, today())
        .iter()
        .enumerate()
    {
        server.record_visit(&other, h, i as u64).unwrap();
    }
    server.sync(&other).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("phone.db");
    let code = fieldvisit_server::enroll::create_code(
        server.storage.as_ref(),
        &secretary,
        now(),
        3_600_000,
        &admin(),
    )
    .unwrap();
    let out = fieldvisit(&store, &["enroll", "--no-sync", &server.url, &code.code]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(61);
    let mut kills = 0;
    for round in 0..30 {
        // Work recorded offline between attempts (once the phone holds its households).
        let h = &households[round % households.len()];
        let _ = fieldvisit(
            &store,
            &[
                "visit",
                "--household",
                h.code.as_str(),
                "--reason",
                "门牌污损",
                "--diary",
                &format!("第{round}次入户走访，核实收入情况。"),
            ],
        );
        let mut child = Command::new(DEVICE)
            .arg("--store")
            .arg(&store)
            .arg("sync")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..60)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    let out = fieldvisit(&store, &["--json", "sync"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["complete"], true);

    let phone = Store::open(&store).unwrap();
    phone.verify_journal().unwrap();
    let local = phone.operations(0, usize::MAX).unwrap();
    let mut tx = server.storage.read().unwrap();
    assert_eq!(
        local,
        tx.ops_of_device(&phone.device_id(), 0, usize::MAX).unwrap(),
        "exactly once on the server"
    );
    assert!(phone.unsynced().unwrap().is_empty());
    for h in &households {
        let on_phone: BTreeSet<VisitId> = phone
            .visits_for(&h.id)
            .unwrap()
            .into_iter()
            .map(|v| v.id)
            .collect();
        let on_server: BTreeSet<VisitId> = tx
            .ops_of_household(&h.id, &[OpKind::VisitRecord])
            .unwrap()
            .into_iter()
            .filter_map(|(op, _)| match op.body() {
                Ok(OpBody::VisitRecorded(v)) => Some(v.id),
                _ => None,
            })
            .collect();
        assert_eq!(
            on_phone, on_server,
            "household {} holds every visit once",
            h.id
        );
    }
    eprintln!(
        "device crash test: {kills} kills mid-sync, {} operations, none lost or doubled",
        local.len()
    );
    assert!(kills > 0 && !local.is_empty());
}
