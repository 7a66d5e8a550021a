//! End to end over real HTTP on the PostgreSQL backend: the server in-process on an ephemeral
//! port over a throwaway schema of the database named by `FIELDVISIT_TEST_POSTGRES_URL`, and
//! several phones on temporary stores. Skipped, saying so, when the variable is unset.
//!
//! This also proves that the blocking PostgreSQL client is only ever used off the async
//! workers: every request here goes through `spawn_blocking` and the group committer's thread,
//! and a call on a worker thread would panic ("Cannot start a runtime from within a runtime").

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use fieldvisit_core::Store;
use fieldvisit_core::domain::Household;
use fieldvisit_core::ids::CadreId;
use fieldvisit_core::journal::OpKind;
use fieldvisit_core::synth::RegionSpec;
use fieldvisit_tests::harness::{TestServer, postgres_url, today};
use serde_json::json;

/// A household three phones are responsible for.
fn shared_household(server: &TestServer) -> (Household, Vec<CadreId>) {
    for h in &server.region.households {
        let cadres = server.cadres_of(h);
        if cadres.len() >= 3 {
            return (h.clone(), cadres.into_iter().take(3).collect());
        }
    }
    panic!("the small region has no household with three responsible cadres");
}

#[test]
fn devices_record_offline_sync_and_agree_with_a_postgres_server() {
    let Some(url) = postgres_url() else { return };
    let server = TestServer::start_postgres(&url, RegionSpec::small(11));
    assert!(server.storage.describe().starts_with("postgres:"));
    let (household, cadres) = shared_household(&server);
    let phones: Vec<Store> = cadres.iter().map(|c| server.device(c)).collect();

    // Offline: every phone records two visits to each of its first three other households and
    // one to the shared household, and corrects the shared household's phone number.
    let mut recorded = 0u64;
    for (i, (store, cadre)) in phones.iter().zip(&cadres).enumerate() {
        let mine: Vec<Household> = server
            .region
            .households_of(cadre, today())
            .into_iter()
            .filter(|h| h.id != household.id)
            .take(3)
            .cloned()
            .collect();
        for (j, h) in mine.iter().enumerate() {
            for k in 0..2 {
                server
                    .record_visit(store, h, (i * 100 + j * 10 + k) as u64)
                    .unwrap();
                recorded += 1;
            }
        }
        server.record_visit(store, &household, i as u64).unwrap();
        recorded += 1;
        store
            .update_household(
                &household.id,
                [("phone".to_string(), json!(format!("1390000000{i}")))].into(),
            )
            .unwrap();
    }
    // Two rounds: everyone pushes, then everyone pulls what the others pushed.
    for _ in 0..2 {
        for store in &phones {
            let report = server.sync(store).unwrap();
            assert!(report.complete, "{report:?}");
        }
    }

    let mut tx = server.storage.read().unwrap();
    assert_eq!(tx.visit_count().unwrap(), recorded);
    let (accepted, rejected) = tx.op_counts().unwrap();
    assert_eq!(rejected, 0);
    assert!(accepted >= recorded + 3, "{accepted} operations accepted");
    let server_phone = tx.household(&household.id).unwrap().unwrap().phone;
    assert!(server_phone.is_some());
    assert_eq!(
        tx.conflicts(100).unwrap().len(),
        2,
        "two phone numbers lost"
    );
    let visit_ops = tx
        .ops_of_household(&household.id, &[OpKind::VisitRecord, OpKind::VisitAmend])
        .unwrap();
    drop(tx);
    let server_visits: BTreeSet<String> = visit_ops.iter().map(|(o, _)| o.id.to_string()).collect();
    assert_eq!(server_visits.len(), 3);

    for store in &phones {
        assert!(store.unsynced().unwrap().is_empty());
        store.verify_journal().unwrap();
        assert_eq!(
            store
                .household(&household.id)
                .unwrap()
                .and_then(|d| d.household.phone),
            server_phone,
            "every phone holds the server's value"
        );
        assert_eq!(
            store.visits_for(&household.id).unwrap().len(),
            3,
            "every phone holds every visit to the shared household"
        );
    }
    // Every chain the server holds verifies end to end.
    let audit = fieldvisit_server::audit::audit(server.storage.as_ref()).unwrap();
    assert!(audit.breaks.is_empty(), "{:?}", audit.breaks);
    assert_eq!(audit.devices, 3);
}
