//! Applying sync responses to the device store: per-field last-writer-wins against local edits,
//! visits from other devices, purges that wait for pending operations, and responses that
//! contradict the store, which are refused whole.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use ed25519_dalek::SigningKey;
use fieldvisit_core::Error;
use fieldvisit_core::clock::{Hlc, ServerTime, WallTime};
use fieldvisit_core::domain::visit::{
    Identification, IdentifiedBy, VisitAmendment, VisitChanges, VisitRecord,
};
use fieldvisit_core::ids::{CadreId, DeviceId, HouseholdId, OpId, VisitId};
use fieldvisit_core::journal::{GENESIS, OpBody, Operation, UnsignedOperation};
use fieldvisit_core::protocol::{
    Change, ChangeBody, FieldClock, MemberState, PROTOCOL_VERSION, PushAck, PushProblem,
    RejectCode, Rejection, SyncRequest, SyncResponse,
};
use fieldvisit_core::store::{Enrollment, OpState};
use serde_json::json;

/// The fixture, holding a token so that requests can be built.
fn enrolled() -> Fixture {
    let f = fixture("c-1");
    f.store
        .enroll(&Enrollment {
            cadre: CadreId::new("c-1").unwrap(),
            authority_keys: vec![f.authority.public()],
            server_url: Some("https://sync.test".into()),
            token: Some("secret".into()),
        })
        .unwrap();
    f
}

fn request(f: &Fixture) -> SyncRequest {
    f.store.sync_request(64 * 1024, 500, "test").unwrap().0
}

fn response(acked_seq: u64, cursor: u64, bodies: Vec<ChangeBody>) -> SyncResponse {
    SyncResponse {
        protocol: PROTOCOL_VERSION,
        server_time: ServerTime(T0),
        ack: PushAck {
            acked_seq,
            rejected: vec![],
            problem: None,
        },
        changes: bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| Change {
                pos: i as u64 + 1,
                body,
            })
            .collect(),
        cursor,
        more: false,
        clock_skew_ms: 0,
        dictionary: None,
    }
}

/// Renumbers a response's changes to end at its cursor.
fn positioned(mut resp: SyncResponse) -> SyncResponse {
    let n = resp.changes.len() as u64;
    for (i, change) in resp.changes.iter_mut().enumerate() {
        change.pos = resp.cursor + 1 + i as u64 - n;
    }
    resp
}

fn apply(f: &Fixture, acked: u64, cursor: u64, bodies: Vec<ChangeBody>) -> Result<u64, Error> {
    let req = request(f);
    let resp = positioned(response(acked, cursor, bodies));
    f.store
        .apply_sync_response(&req, &resp)
        .map(|o| o.conflicts)
}

fn other_device() -> (DeviceId, SigningKey) {
    (
        DeviceId::generate(WallTime(T0)),
        SigningKey::from_bytes(&[9; 32]),
    )
}

fn clock(ms: i64, device: DeviceId) -> FieldClock {
    FieldClock {
        hlc: Hlc::new(ms as u64, 0),
        device,
    }
}

fn household_change(f: &Fixture, phone: &str, at: FieldClock) -> ChangeBody {
    let mut h = f.households[0].clone();
    h.phone = Some(phone.into());
    ChangeBody::Household {
        household: h,
        clocks: BTreeMap::from([("phone".to_string(), at)]),
        members: vec![MemberState {
            member: member(1, "巴特尔"),
            clocks: BTreeMap::new(),
        }],
        measures: vec![],
        visits: vec![],
    }
}

fn phone_of(f: &Fixture) -> Option<String> {
    f.store
        .household(&f.households[0].id)
        .unwrap()
        .unwrap()
        .household
        .phone
}

#[test]
fn an_older_snapshot_does_not_overwrite_a_newer_local_edit_and_a_newer_one_does() {
    let f = enrolled();
    let (other, _) = other_device();
    f.store
        .update_household(
            &f.households[0].id,
            BTreeMap::from([("phone".into(), json!("13900001111"))]),
        )
        .unwrap();

    let older = household_change(&f, "13800002222", clock(T0 - 60_000, other));
    assert_eq!(apply(&f, 0, 1, vec![older]).unwrap(), 1, "one conflict");
    assert_eq!(
        phone_of(&f).as_deref(),
        Some("13900001111"),
        "the local edit stands"
    );

    let newer = household_change(&f, "13700003333", clock(T0 + 60_000, other));
    assert_eq!(apply(&f, 0, 2, vec![newer]).unwrap(), 1);
    assert_eq!(
        phone_of(&f).as_deref(),
        Some("13700003333"),
        "the newer remote edit wins"
    );

    // The device has now seen the remote clock: its next edit orders after it, although its
    // own wall clock has not moved.
    f.store
        .update_household(
            &f.households[0].id,
            BTreeMap::from([("phone".into(), json!("13600004444"))]),
        )
        .unwrap();
    let last = f.store.operations(0, usize::MAX).unwrap().pop().unwrap();
    assert!(
        last.hlc > Hlc::new((T0 + 60_000) as u64, 0),
        "{:?}",
        last.hlc
    );
}

#[test]
fn a_snapshot_without_a_clock_for_an_edited_field_keeps_the_local_value_and_others_update() {
    let f = enrolled();
    f.store
        .update_member(
            &member(1, "").id,
            BTreeMap::from([("work_months".into(), json!(6))]),
        )
        .unwrap();
    let mut m = member(1, "巴特尔");
    m.work_months = Some(0);
    m.health = Some("1".into());
    let mut h = f.households[0].clone();
    h.drinking_water = Some("自来水".into());
    let change = ChangeBody::Household {
        household: h,
        clocks: BTreeMap::new(),
        members: vec![MemberState {
            member: m,
            clocks: BTreeMap::new(),
        }],
        measures: vec![],
        visits: vec![],
    };
    assert_eq!(apply(&f, 0, 1, vec![change]).unwrap(), 1);
    let detail = f.store.household(&f.households[0].id).unwrap().unwrap();
    assert_eq!(detail.members[0].work_months, Some(6), "local edit kept");
    assert_eq!(
        detail.members[0].health.as_deref(),
        Some("1"),
        "unedited field updated"
    );
    assert_eq!(detail.household.drinking_water.as_deref(), Some("自来水"));
}

#[test]
fn the_same_write_coming_back_from_the_server_is_not_a_conflict() {
    let f = enrolled();
    f.store
        .update_household(
            &f.households[0].id,
            BTreeMap::from([("phone".into(), json!("13900001111"))]),
        )
        .unwrap();
    let op = f.store.operations(0, 1).unwrap().remove(0);
    let echo = household_change(
        &f,
        "13900001111",
        FieldClock {
            hlc: op.hlc,
            device: f.store.device_id(),
        },
    );
    assert_eq!(apply(&f, 1, 1, vec![echo]).unwrap(), 0);
    assert_eq!(phone_of(&f).as_deref(), Some("13900001111"));
}

fn signed(
    device: DeviceId,
    key: &SigningKey,
    seq: u64,
    prev: [u8; 32],
    body: &OpBody,
) -> Operation {
    UnsignedOperation {
        id: OpId::generate(WallTime(T0 + seq as i64)),
        device,
        seq,
        hlc: Hlc::new((T0 + 1_000 * seq as i64) as u64, 0),
        wall: WallTime(T0 + seq as i64),
        kind: body.kind().into(),
        payload: body.to_payload().unwrap(),
        prev_hash: prev,
    }
    .sign(key)
}

#[test]
fn visits_pulled_from_another_device_appear_with_their_amendments() {
    let f = enrolled();
    let (other, key) = other_device();
    let visit = VisitRecord {
        id: VisitId::generate(WallTime(T0 - 3_600_000)),
        household: f.households[1].id.clone(),
        cadre: CadreId::new("c-fs").unwrap(),
        identified: IdentifiedBy::Manual {
            reason: "二维码看不清".into(),
        },
        recorded_at: WallTime(T0 - 3_600_000),
        location: Some(location(&f.households[1], T0 - 3_600_000)),
        content: content("第一书记入户走访记录。"),
        photos: Vec::new(),
    };
    let recorded = signed(
        other,
        &key,
        1,
        GENESIS,
        &OpBody::VisitRecorded(visit.clone()),
    );
    let amendment = VisitAmendment {
        visit: visit.id,
        reason: "补充".into(),
        changes: VisitChanges {
            diary: Some("第一书记入户走访，已协调修缮。".into()),
            ..Default::default()
        },
    };
    let amended = signed(
        other,
        &key,
        2,
        recorded.digest(),
        &OpBody::VisitAmended(amendment),
    );
    let orphan = VisitAmendment {
        visit: VisitId::generate(WallTime(T0)),
        reason: "未知".into(),
        changes: VisitChanges::default(),
    };
    let orphan = signed(
        other,
        &key,
        3,
        amended.digest(),
        &OpBody::VisitAmended(orphan),
    );
    let changes = vec![
        ChangeBody::Visit {
            op: recorded.clone(),
        },
        ChangeBody::Visit {
            op: amended.clone(),
        },
        ChangeBody::Visit { op: orphan },
    ];
    apply(&f, 0, 3, changes).unwrap();
    // The same operations again (a page re-sent) change nothing.
    let again = vec![
        ChangeBody::Visit { op: recorded },
        ChangeBody::Visit { op: amended },
    ];
    apply(&f, 0, 5, again).unwrap();

    let visits = f.store.visits_for(&f.households[1].id).unwrap();
    assert_eq!(visits.len(), 1);
    let v = &visits[0];
    assert_eq!(v.id, visit.id);
    assert_eq!(v.device, other);
    assert_eq!(v.sync_state, None, "not this device's operation");
    assert_eq!(v.content.diary, "第一书记入户走访，已协调修缮。");
    assert_eq!(v.amendments.len(), 1);
    let d = v.distance_m.unwrap();
    assert!((50.0..60.0).contains(&d), "{d}");
}

#[test]
fn a_purge_waits_for_the_households_pending_operations_and_then_removes_it() {
    let f = enrolled();
    let hh = f.households[0].id.clone();
    f.store
        .record_visit(
            Identification::Manual {
                code: f.households[0].code.as_str().into(),
                reason: "门牌脱落".into(),
            },
            content("调走前最后一次走访。"),
            None,
        )
        .unwrap();

    let req = request(&f);
    let resp = positioned(response(
        0,
        1,
        vec![ChangeBody::Purge {
            household: hh.clone(),
        }],
    ));
    let out = f.store.apply_sync_response(&req, &resp).unwrap();
    assert_eq!(out.purged, 0);
    assert!(
        f.store.household(&hh).unwrap().is_some(),
        "kept while its visit is pending"
    );
    assert_eq!(f.store.visits_for(&hh).unwrap().len(), 1);
    assert_eq!(f.store.sync_status().unwrap().purge_pending, 1);

    // The visit is acknowledged: the waiting purge goes through.
    let req = request(&f);
    let out = f
        .store
        .apply_sync_response(&req, &positioned(response(1, 1, vec![])))
        .unwrap();
    assert_eq!((out.acknowledged, out.purged), (1, 1));
    assert!(f.store.household(&hh).unwrap().is_none());
    assert!(f.store.visits_for(&hh).unwrap().is_empty());
    assert_eq!(f.store.sync_status().unwrap().purge_pending, 0);
    assert!(
        f.store
            .households(None, 10)
            .unwrap()
            .iter()
            .all(|h| h.id != hh)
    );
    // The journal keeps the operation, synced and verifiable.
    assert_eq!(f.store.verify_journal().unwrap().seq, 1);
    assert_eq!(f.store.unsynced().unwrap(), vec![]);
}

#[test]
fn a_household_back_in_scope_cancels_its_waiting_purge() {
    let f = enrolled();
    let hh = f.households[1].id.clone();
    f.store
        .update_household(
            &hh,
            BTreeMap::from([("phone".into(), json!("13900001111"))]),
        )
        .unwrap();
    let purge = ChangeBody::Purge {
        household: hh.clone(),
    };
    let mut back = f.households[1].clone();
    back.phone = Some("13900001111".into());
    let back = ChangeBody::Household {
        household: back,
        clocks: BTreeMap::new(),
        members: vec![],
        measures: vec![],
        visits: vec![],
    };
    apply(&f, 0, 2, vec![purge, back]).unwrap();
    apply(&f, 1, 2, vec![]).unwrap();
    assert!(f.store.household(&hh).unwrap().is_some());
    assert_eq!(f.store.sync_status().unwrap().purge_pending, 0);
}

#[test]
fn an_acknowledgement_beyond_the_journal_is_refused_and_nothing_is_applied() {
    let f = enrolled();
    f.store
        .record_visit(
            Identification::Manual {
                code: f.households[0].code.as_str().into(),
                reason: "门牌脱落".into(),
            },
            content("入户走访，了解收入。"),
            None,
        )
        .unwrap();
    let newcomer = ChangeBody::Household {
        household: household(20, VILLAGE),
        clocks: BTreeMap::new(),
        members: vec![],
        measures: vec![],
        visits: vec![],
    };
    let err = apply(&f, 99, 1, vec![newcomer]).unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    assert!(
        f.store
            .household(&HouseholdId::new("hh-20").unwrap())
            .unwrap()
            .is_none()
    );
    let status = f.store.sync_status().unwrap();
    assert_eq!((status.acked_seq, status.cursor, status.pending), (0, 0, 1));
}

#[test]
fn responses_that_contradict_the_store_are_refused() {
    let f = enrolled();
    f.store
        .record_visit(
            Identification::Manual {
                code: f.households[0].code.as_str().into(),
                reason: "门牌脱落".into(),
            },
            content("入户走访，了解收入。"),
            None,
        )
        .unwrap();
    let req = request(&f);
    let op = f.store.operations(0, 1).unwrap().remove(0);
    let refused = |resp: SyncResponse| {
        let err = f.store.apply_sync_response(&req, &resp).unwrap_err();
        assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    };

    let mut wrong_version = response(1, 0, vec![]);
    wrong_version.protocol = PROTOCOL_VERSION + 1;
    refused(wrong_version);

    let mut foreign_rejection = response(1, 0, vec![]);
    foreign_rejection.ack.rejected = vec![Rejection {
        seq: 1,
        op: OpId::generate(WallTime(T0)),
        code: RejectCode::Invalid,
        reason: "bad".into(),
    }];
    refused(foreign_rejection);

    let mut unacknowledged_rejection = response(0, 0, vec![]);
    unacknowledged_rejection.ack.rejected = vec![Rejection {
        seq: 1,
        op: op.id,
        code: RejectCode::Invalid,
        reason: "bad".into(),
    }];
    refused(unacknowledged_rejection);

    let mut out_of_order = positioned(response(
        0,
        3,
        vec![
            ChangeBody::Purge {
                household: HouseholdId::new("hh-9").unwrap(),
            },
            ChangeBody::Purge {
                household: HouseholdId::new("hh-8").unwrap(),
            },
        ],
    ));
    out_of_order.changes[1].pos = 1;
    refused(out_of_order);

    // A response to a request built before the cursor last moved is stale.
    f.store
        .apply_sync_response(&req, &positioned(response(0, 4, vec![])))
        .unwrap();
    refused(positioned(response(1, 5, vec![])));

    assert_eq!(
        f.store.operation_state(op.id).unwrap(),
        Some(OpState::Pending)
    );
}

#[test]
fn a_gap_beyond_the_devices_own_journal_is_kept_as_a_problem_for_the_admins() {
    let f = enrolled();
    f.store
        .record_visit(
            Identification::Manual {
                code: f.households[0].code.as_str().into(),
                reason: "门牌脱落".into(),
            },
            content("入户走访，了解收入。"),
            None,
        )
        .unwrap();
    let req = request(&f);
    let mut resp = response(0, 0, vec![]);
    resp.ack.problem = Some(PushProblem::Gap { expected_seq: 8 });
    let out = f.store.apply_sync_response(&req, &resp).unwrap();
    assert_eq!(out.problem, Some(PushProblem::Gap { expected_seq: 8 }));
    let status = f.store.sync_status().unwrap();
    assert_eq!(status.problem, Some(PushProblem::Gap { expected_seq: 8 }));
    assert_eq!((status.acked_seq, status.pending), (0, 1));

    // A later push that goes through clears it.
    let req = request(&f);
    f.store
        .apply_sync_response(&req, &response(1, 0, vec![]))
        .unwrap();
    let status = f.store.sync_status().unwrap();
    assert_eq!(
        (status.problem, status.acked_seq, status.pending),
        (None, 1, 0)
    );
}
