//! End to end over real HTTP: a server in-process on an ephemeral port, several phones on
//! temporary stores. Offline edits converge whatever order the phones sync in; a lost
//! response creates no duplicate; a refused operation is kept with its reason and blocks
//! nothing; a reassignment moves the household between phones; a revoked phone keeps its data.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};

use fieldvisit_core::domain::Household;
use fieldvisit_core::ids::CadreId;
use fieldvisit_core::protocol::PhotoStatus;
use fieldvisit_core::protocol::{EnrollRequest, EnrollResponse, SyncRequest, SyncResponse};
use fieldvisit_core::store::OpState;
use fieldvisit_core::sync::{Exchange, Transport, TransportError};
use fieldvisit_core::{Error, Store};
use fieldvisit_tests::harness::{TestServer, admin, now, today};
use serde_json::json;

/// A household three phones are responsible for: two assisting cadres and the village's first
/// secretary.
fn shared_household(server: &TestServer) -> (Household, Vec<CadreId>) {
    for h in &server.region.households {
        let cadres = server.cadres_of(h);
        if cadres.len() >= 3 {
            return (h.clone(), cadres.into_iter().take(3).collect());
        }
    }
    panic!("the small region has no household with three responsible cadres");
}

fn phone_of(store: &Store, household: &Household) -> Option<String> {
    store
        .household(&household.id)
        .unwrap()
        .and_then(|d| d.household.phone)
}

fn server_phone(server: &TestServer, household: &Household) -> Option<String> {
    server
        .storage
        .read()
        .unwrap()
        .household(&household.id)
        .unwrap()
        .unwrap()
        .phone
}

#[test]
fn three_devices_editing_offline_converge_whatever_order_they_sync_in() {
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
        let server = TestServer::start(11);
        let (household, cadres) = shared_household(&server);
        let phones: Vec<Store> = cadres.iter().map(|c| server.device(c)).collect();

        // Offline, each phone records a visit and corrects the household's phone number.
        for (i, store) in phones.iter().enumerate() {
            server.record_visit(store, &household, i as u64).unwrap();
            let number = format!("1390000000{i}");
            store
                .update_household(&household.id, [("phone".to_string(), json!(number))].into())
                .unwrap();
        }
        for round in 0..2 {
            for &i in &order {
                let report = server.sync(&phones[i]).unwrap();
                assert!(report.complete, "round {round} phone {i}: {report:?}");
            }
        }

        let expected = server_phone(&server, &household);
        assert!(expected.is_some());
        for (i, store) in phones.iter().enumerate() {
            assert_eq!(
                phone_of(store, &household),
                expected,
                "order {order:?}: phone {i} agrees"
            );
            let visits = store.visits_for(&household.id).unwrap();
            assert_eq!(
                visits.len(),
                3,
                "order {order:?}: phone {i} holds every visit"
            );
            assert!(store.unsynced().unwrap().is_empty());
            store.verify_journal().unwrap();
        }
        // The last writer by clock won; the two values it replaced are in the conflict log.
        let conflicts = server.storage.read().unwrap().conflicts(100).unwrap();
        assert_eq!(conflicts.len(), 2, "order {order:?}: {conflicts:?}");
        assert!(
            conflicts
                .iter()
                .all(
                    |c| Some(c.winning_value.as_str().unwrap().to_string()) == expected
                        || c.losing_value.as_str().map(str::to_string) != expected
                )
        );
    }
}

/// Forwards to the real server but loses the response of the first `drop` sync calls, after
/// the server has committed them.
struct LosesResponses<T> {
    inner: T,
    drop: AtomicU32,
}

impl<T: Transport> Transport for LosesResponses<T> {
    fn enroll(&self, req: &EnrollRequest) -> Result<Exchange<EnrollResponse>, TransportError> {
        self.inner.enroll(req)
    }

    fn sync(
        &self,
        token: &str,
        req: &SyncRequest,
    ) -> Result<Exchange<SyncResponse>, TransportError> {
        let answer = self.inner.sync(token, req)?;
        if self
            .drop
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(TransportError::Offline(
                "connection reset after the server answered".into(),
            ));
        }
        Ok(answer)
    }

    fn photo_status(
        &self,
        token: &str,
        sha256: &str,
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        self.inner.photo_status(token, sha256)
    }

    fn put_photo_chunk(
        &self,
        token: &str,
        sha256: &str,
        index: u32,
        bytes: &[u8],
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        self.inner.put_photo_chunk(token, sha256, index, bytes)
    }

    fn fetch_dictionary(&self, token: &str, id: u32) -> Result<Exchange<Vec<u8>>, TransportError> {
        self.inner.fetch_dictionary(token, id)
    }

    fn use_dictionary(&self, bytes: Option<&[u8]>) -> Result<Option<u32>, TransportError> {
        self.inner.use_dictionary(bytes)
    }
}

#[test]
fn a_response_lost_after_the_server_committed_creates_no_duplicate_on_retry() {
    let server = TestServer::start(12);
    let cadre = server
        .region
        .cadres
        .iter()
        .find(|c| c.role == "assisting")
        .unwrap()
        .id
        .clone();
    let store = server.device(&cadre);
    let households = server.region.households_of(&cadre, today());
    for (i, h) in households.iter().enumerate() {
        server.record_visit(&store, h, i as u64).unwrap();
    }
    let recorded = store.operations(0, usize::MAX).unwrap().len();

    let lossy = LosesResponses {
        inner: server.transport(),
        drop: AtomicU32::new(2),
    };
    let report = server.sync_via(&store, &lossy).unwrap();
    assert!(report.retries >= 2, "{report:?}");
    assert!(store.unsynced().unwrap().is_empty());

    let (accepted, rejected) = server.storage.read().unwrap().op_counts().unwrap();
    assert_eq!(
        (accepted as usize, rejected),
        (recorded, 0),
        "each operation stored exactly once"
    );
    assert_eq!(
        server.storage.read().unwrap().visit_count().unwrap() as usize,
        households.len()
    );
}

#[test]
fn an_out_of_scope_push_is_rejected_with_a_reason_and_later_operations_are_still_accepted() {
    let server = TestServer::start(13);
    let cadre = server
        .region
        .cadres
        .iter()
        .find(|c| c.role == "assisting" && server.region.households_of(&c.id, today()).len() >= 2)
        .unwrap()
        .id
        .clone();
    let store = server.device(&cadre);
    let households = server.region.households_of(&cadre, today());
    let (lost, kept) = (households[0].clone(), households[1].clone());
    let other = server
        .region
        .cadres
        .iter()
        .find(|c| c.id != cadre && c.role == "assisting")
        .unwrap()
        .id
        .clone();

    // The county moves a household to another cadre while this phone is offline; the phone,
    // not knowing yet, records a visit there, then one at a household it still has.
    fieldvisit_server::admin::reassign(
        server.storage.as_ref(),
        &lost.id,
        &other,
        today(),
        &admin(),
        now(),
    )
    .unwrap();
    let refused = server.record_visit(&store, &lost, 1).unwrap();
    let accepted = server.record_visit(&store, &kept, 2).unwrap();
    server.sync(&store).unwrap();

    let ops = store.operations(0, usize::MAX).unwrap();
    let states: Vec<OpState> = ops
        .iter()
        .map(|op| store.operation_state(op.id).unwrap().unwrap())
        .collect();
    assert_eq!(states, [OpState::Rejected, OpState::Synced]);
    let unsynced = store.unsynced().unwrap();
    assert_eq!(unsynced.len(), 1);
    let reason = unsynced[0].reject_reason.as_deref().unwrap();
    assert!(
        reason.contains("not_assigned") || reason.contains("not assigned"),
        "{reason}"
    );

    let rejections = server.storage.read().unwrap().rejections(10).unwrap();
    assert_eq!(rejections.len(), 1);
    assert_eq!(rejections[0].0, store.device_id());
    assert_eq!(rejections[0].1.op, ops[0].id);
    let mut tx = server.storage.read().unwrap();
    assert!(tx.visit_owner(&refused.id).unwrap().is_none());
    assert!(tx.visit_owner(&accepted.id).unwrap().is_some());
}

#[test]
fn a_reassignment_purges_the_old_phone_and_fills_the_new_one() {
    let server = TestServer::start(14);
    let assisting: Vec<CadreId> = server
        .region
        .cadres
        .iter()
        .filter(|c| {
            c.role == "assisting" && !server.region.households_of(&c.id, today()).is_empty()
        })
        .map(|c| c.id.clone())
        .collect();
    let (old, new) = (assisting[0].clone(), assisting[1].clone());
    let household = server.region.households_of(&old, today())[0].clone();
    assert!(
        !server
            .region
            .households_of(&new, today())
            .iter()
            .any(|h| h.id == household.id)
    );
    let old_phone = server.device(&old);
    let new_phone = server.device(&new);
    server.record_visit(&old_phone, &household, 5).unwrap();
    server.sync(&old_phone).unwrap();
    assert!(new_phone.household(&household.id).unwrap().is_none());

    fieldvisit_server::admin::reassign(
        server.storage.as_ref(),
        &household.id,
        &new,
        today(),
        &admin(),
        now(),
    )
    .unwrap();
    let old_report = server.sync(&old_phone).unwrap();
    let new_report = server.sync(&new_phone).unwrap();

    assert!(old_report.purged >= 1, "{old_report:?}");
    assert!(
        old_phone.household(&household.id).unwrap().is_none(),
        "the old phone purged it"
    );
    assert!(old_phone.visits_for(&household.id).unwrap().is_empty());
    let detail = new_phone
        .household(&household.id)
        .unwrap()
        .expect("the new phone received it");
    assert!(detail.in_scope);
    assert!(!detail.members.is_empty());
    assert_eq!(
        new_phone.visits_for(&household.id).unwrap().len(),
        1,
        "with its visit history"
    );
    assert!(new_report.pulled >= 1);
    // The new phone can visit it at once.
    server.record_visit(&new_phone, &household, 6).unwrap();
    server.sync(&new_phone).unwrap();
    assert!(new_phone.unsynced().unwrap().is_empty());
}

#[test]
fn a_revoked_device_gets_401_and_keeps_its_local_data() {
    let server = TestServer::start(15);
    let cadre = server
        .region
        .cadres
        .iter()
        .find(|c| c.role == "assisting")
        .unwrap()
        .id
        .clone();
    let store = server.device(&cadre);
    let household = server.region.households_of(&cadre, today())[0].clone();
    let visit = server.record_visit(&store, &household, 9).unwrap();

    fieldvisit_server::admin::revoke(
        server.storage.as_ref(),
        &store.device_id(),
        "phone reported stolen",
        &admin(),
        now(),
    )
    .unwrap();
    match server.sync(&store) {
        Err(Error::Revoked { reason }) => assert!(reason.contains("stolen"), "{reason}"),
        other => panic!("expected Revoked, got {other:?}"),
    }
    assert!(
        store.visit(visit.id).unwrap().is_some(),
        "the visit stays on the phone"
    );
    assert_eq!(
        store.unsynced().unwrap().len(),
        1,
        "and stays pending, for export"
    );
    store.verify_journal().unwrap();
}

#[test]
fn a_second_server_side_copy_of_an_operation_is_never_stored() {
    // Replaying a device's already-acknowledged batch (a duplicated request) changes nothing.
    let server = TestServer::start(16);
    let cadre = server
        .region
        .cadres
        .iter()
        .find(|c| c.role == "assisting")
        .unwrap()
        .id
        .clone();
    let store = server.device(&cadre);
    let household = server.region.households_of(&cadre, today())[0].clone();
    server.record_visit(&store, &household, 3).unwrap();
    let (request, token) = store.sync_request(262_144, 500, "test").unwrap();
    let transport = server.transport();
    let first = transport.sync(&token, &request).unwrap().body;
    let second = transport.sync(&token, &request).unwrap().body;
    assert_eq!(first.ack.acked_seq, second.ack.acked_seq);
    assert_eq!(second.ack.problem, None);
    assert_eq!(server.storage.read().unwrap().op_counts().unwrap(), (1, 0));
}
