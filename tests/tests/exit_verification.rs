//! Exit verification (退出) end to end over real HTTP: a cadre's status move is refused on the
//! phone, and the same move forged past the phone is rejected by the server with a reason that
//! admins can read, without blocking what comes after it; the village's first secretary moves a
//! household not exited → pre-exit → exited (and on to relapsed) only with a qualifying
//! verification visit, step by step, and the other phones holding the household follow.

#![allow(clippy::unwrap_used)]

use fieldvisit_core::clock::WallTime;
use fieldvisit_core::domain::Household;
use fieldvisit_core::domain::exit::{self, StatusStep, StepRefusal};
use fieldvisit_core::domain::visit::{
    Checklist, ChecklistEntry, ChecklistStatus, Identification, VisitContent, VisitRecord,
};
use fieldvisit_core::ids::CadreId;
use fieldvisit_core::journal::{HouseholdUpdate, OpBody};
use fieldvisit_core::store::OpState;
use fieldvisit_core::sync::protocol::RejectCode;
use fieldvisit_core::{Error, Store};
use fieldvisit_tests::harness::{TestServer, today};
use serde_json::json;

/// A not-exited household with an assisting cadre and the village's first secretary.
fn household_with_secretary(server: &TestServer) -> (Household, CadreId, CadreId) {
    let role = |id: &CadreId| {
        server
            .region
            .cadres
            .iter()
            .find(|c| &c.id == id)
            .map(|c| c.role.clone())
            .unwrap()
    };
    for h in &server.region.households {
        if h.poverty_status != exit::NOT_EXITED {
            continue;
        }
        let cadres = server.cadres_of(h);
        let secretary = cadres.iter().find(|c| role(c) == exit::FIRST_SECRETARY);
        let assisting = cadres.iter().find(|c| role(c) == "assisting");
        if let (Some(s), Some(a)) = (secretary, assisting) {
            return (h.clone(), a.clone(), s.clone());
        }
    }
    panic!("the small region has no household with both an assisting cadre and a secretary");
}

fn verification(item_status: ChecklistStatus, acknowledged: bool) -> VisitContent {
    let mut checklist = Checklist::new();
    for item in ["food", "clothing", "medical", "housing", "water"] {
        let note = (item_status == ChecklistStatus::Problem).then(|| "饮水不安全".to_string());
        let status = if item == "water" {
            item_status
        } else {
            ChecklistStatus::Ok
        };
        let note = if item == "water" { note } else { None };
        checklist.insert(item.into(), ChecklistEntry { status, note });
    }
    // No child of school age: compulsory education does not apply.
    checklist.insert(
        "education".into(),
        ChecklistEntry {
            status: ChecklistStatus::NotApplicable,
            note: None,
        },
    );
    VisitContent {
        kind: exit::VERIFICATION_KIND.into(),
        checklist,
        problems: vec![],
        help: vec![],
        diary: "入户核验两不愁三保障，逐项核对".into(),
        follow_up_due: None,
        acknowledged,
    }
}

fn record(server: &TestServer, store: &Store, h: &Household, content: VisitContent) -> VisitRecord {
    let scan = Identification::Scanned {
        payload: server.region.plate(h),
        scanned_at: WallTime(store.now().0 - 60_000),
    };
    store.record_visit(scan, content, None).unwrap()
}

fn server_status(server: &TestServer, h: &Household) -> Household {
    server
        .storage
        .read()
        .unwrap()
        .household(&h.id)
        .unwrap()
        .unwrap()
}

fn local_status(store: &Store, h: &Household) -> String {
    store
        .household(&h.id)
        .unwrap()
        .unwrap()
        .household
        .poverty_status
}

#[test]
fn a_cadres_status_move_is_refused_on_the_phone_and_rejected_with_a_reason_when_forged() {
    let server = TestServer::start(21);
    let (household, cadre, _) = household_with_secretary(&server);
    let phone = server.device(&cadre);

    // The phone says no at once and journals nothing.
    let err = phone
        .move_poverty_status(&household.id, exit::PRE_EXIT, None)
        .unwrap_err();
    assert!(
        matches!(err, Error::StatusStep(StepRefusal::Forbidden(_))),
        "{err}"
    );
    assert!(phone.operations(0, usize::MAX).unwrap().is_empty());
    assert_eq!(local_status(&phone, &household), exit::NOT_EXITED);

    // A modified app sends the step anyway, followed by an ordinary edit.
    let mut forged = server.raw_device(&cadre, 7);
    let step = forged.next(&OpBody::StatusChanged(StatusStep {
        household: household.id.clone(),
        from: exit::NOT_EXITED.into(),
        to: exit::PRE_EXIT.into(),
        verification: None,
    }));
    let edit = forged.next(&OpBody::HouseholdUpdated(HouseholdUpdate {
        household: household.id.clone(),
        fields: [("phone".to_string(), json!("13900000042"))].into(),
    }));
    let answer = forged.push(&server, vec![step, edit]).unwrap();
    assert_eq!(answer.ack.acked_seq, 2);
    assert_eq!(answer.ack.rejected.len(), 1);
    let refused = &answer.ack.rejected[0];
    assert_eq!((refused.seq, refused.code), (1, RejectCode::Forbidden));
    assert!(
        refused.reason.contains("first secretary"),
        "{}",
        refused.reason
    );

    // Kept for admins with its reason; the status did not move; the edit behind it went in.
    let rejections = server.storage.read().unwrap().rejections(10).unwrap();
    assert_eq!(rejections.len(), 1);
    assert_eq!(rejections[0].0, forged.device);
    assert_eq!(rejections[0].1.code, RejectCode::Forbidden);
    assert_eq!(rejections[0].1.reason, refused.reason);
    let now = server_status(&server, &household);
    assert_eq!(now.poverty_status, exit::NOT_EXITED);
    assert_eq!(now.phone.as_deref(), Some("13900000042"));
    let mut tx = server.storage.read().unwrap();
    assert!(
        tx.status_ops_of_household(&household.id)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_first_secretary_moves_a_household_to_exited_in_order_and_other_phones_follow() {
    let server = TestServer::start(22);
    let (household, cadre, secretary) = household_with_secretary(&server);
    let phone = server.device(&secretary);
    let other = server.device(&cadre);
    let refused = |r: Result<StatusStep, Error>| match r {
        Err(Error::StatusStep(StepRefusal::Invalid(reason))) => reason,
        other => panic!("expected an invalid step, got {other:?}"),
    };

    // No verification yet: neither pre-exit nor skipping straight to exited.
    refused(phone.move_poverty_status(&household.id, exit::PRE_EXIT, None));
    let skip = refused(phone.move_poverty_status(&household.id, exit::EXITED, None));
    assert!(skip.contains("in one step"), "{skip}");

    // A verification that found a problem does not qualify.
    let failed = record(
        &server,
        &phone,
        &household,
        verification(ChecklistStatus::Problem, true),
    );
    let why = refused(phone.move_poverty_status(&household.id, exit::PRE_EXIT, Some(failed.id)));
    assert!(why.contains("water"), "{why}");

    // The full checklist, all ok, signed by the household: pre-exit, then exited.
    let passed = record(
        &server,
        &phone,
        &household,
        verification(ChecklistStatus::Ok, true),
    );
    phone
        .move_poverty_status(&household.id, exit::PRE_EXIT, Some(passed.id))
        .unwrap();
    server.sync(&phone).unwrap();
    assert_eq!(
        server_status(&server, &household).poverty_status,
        exit::PRE_EXIT
    );
    phone
        .move_poverty_status(&household.id, exit::EXITED, Some(passed.id))
        .unwrap();
    server.sync(&phone).unwrap();

    let ops = phone.operations(0, usize::MAX).unwrap();
    assert_eq!(ops.len(), 4, "two visits and two steps");
    for op in &ops {
        assert_eq!(phone.operation_state(op.id).unwrap(), Some(OpState::Synced));
    }
    assert!(
        server
            .storage
            .read()
            .unwrap()
            .rejections(10)
            .unwrap()
            .is_empty()
    );
    let exited = server_status(&server, &household);
    assert_eq!(exited.poverty_status, exit::EXITED);
    assert_eq!(exited.exit_year, Some(chrono::Datelike::year(&today())));

    // The other phone holding the household receives the new status.
    server.sync(&other).unwrap();
    assert_eq!(local_status(&other, &household), exit::EXITED);

    // Each step is on the household's history, in order, by whom, with its verification visit.
    let history = {
        let mut tx = server.storage.read().unwrap();
        fieldvisit_server::exit::exit_history(tx.as_mut(), &household.id).unwrap()
    };
    let steps: Vec<(&str, &str, Option<_>)> = history
        .iter()
        .map(|s| (s.from.as_str(), s.to.as_str(), s.verification))
        .collect();
    assert_eq!(
        steps,
        [
            (exit::NOT_EXITED, exit::PRE_EXIT, Some(passed.id)),
            (exit::PRE_EXIT, exit::EXITED, Some(passed.id)),
        ]
    );
    assert!(
        history
            .iter()
            .all(|s| s.cadre.as_ref() == Some(&secretary) && s.device == phone.device_id())
    );
    assert!(history[0].received_at <= history[1].received_at);
    assert_eq!(history[1].describe(), "pre-exit (1) → exited (2)");

    // A relapse (返贫) needs no visit; the first secretary records it.
    phone
        .move_poverty_status(&household.id, exit::RELAPSED, None)
        .unwrap();
    server.sync(&phone).unwrap();
    assert_eq!(
        server_status(&server, &household).poverty_status,
        exit::RELAPSED
    );
}

#[test]
fn the_server_refuses_a_first_secretarys_forged_steps_out_of_order() {
    let server = TestServer::start(23);
    let (household, _, secretary) = household_with_secretary(&server);
    let phone = server.device(&secretary);
    let passed = record(
        &server,
        &phone,
        &household,
        verification(ChecklistStatus::Ok, true),
    );
    server.sync(&phone).unwrap();

    let mut forged = server.raw_device(&secretary, 9);
    let step = |from: &str, to: &str, with_visit: bool| {
        OpBody::StatusChanged(StatusStep {
            household: household.id.clone(),
            from: from.into(),
            to: to.into(),
            verification: with_visit.then_some(passed.id),
        })
    };
    let ops = vec![
        // Skipping pre-exit.
        forged.next(&step(exit::NOT_EXITED, exit::EXITED, true)),
        // Pre-exit with no verification visit.
        forged.next(&step(exit::NOT_EXITED, exit::PRE_EXIT, false)),
        // The right step: accepted.
        forged.next(&step(exit::NOT_EXITED, exit::PRE_EXIT, true)),
        // A stale step: the household is no longer not-exited.
        forged.next(&step(exit::NOT_EXITED, exit::PRE_EXIT, true)),
    ];
    let answer = forged.push(&server, ops).unwrap();
    assert_eq!(answer.ack.acked_seq, 4);
    let rejected: Vec<(u64, RejectCode)> = answer
        .ack
        .rejected
        .iter()
        .map(|r| (r.seq, r.code))
        .collect();
    assert_eq!(
        rejected,
        [
            (1, RejectCode::Invalid),
            (2, RejectCode::Invalid),
            (4, RejectCode::Invalid),
        ]
    );
    assert_eq!(
        server_status(&server, &household).poverty_status,
        exit::PRE_EXIT
    );

    // The secretary's phone learns the status from the server.
    server.sync(&phone).unwrap();
    assert_eq!(local_status(&phone, &household), exit::PRE_EXIT);
}
