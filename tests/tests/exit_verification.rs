//! Exit verification (退出) end to end over real HTTP: a cadre's status move is refused on the
//! phone, and the same move forged past the phone is rejected by the server with a reason that
//! admins can read, without blocking what comes after it; the village's first secretary moves a
//! household not exited → pre-exit only with a qualifying verification visit; the household
//! becomes exited only by the county's approval (`fieldvisit_server::exit`) after the village
//! notice has run 7 full days, and the phones holding the household follow; relapse and a
//! second round work afterwards.

#![allow(clippy::unwrap_used)]

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::domain::Household;
use fieldvisit_core::domain::exit::{self, StatusStep, StepRefusal};
use fieldvisit_core::domain::visit::{
    Checklist, ChecklistEntry, ChecklistStatus, Identification, VisitAmendment, VisitChanges,
    VisitContent, VisitRecord,
};
use fieldvisit_core::ids::CadreId;
use fieldvisit_core::journal::{HouseholdUpdate, OpBody, OpKind};
use fieldvisit_core::protocol::RejectCode;
use fieldvisit_core::store::OpState;
use fieldvisit_core::{Error, Store};
use fieldvisit_server::exit::{self as procedure, ExitRecord};
use fieldvisit_server::storage::ExitEventKind;
use fieldvisit_tests::admin_web::{PASSWORD, SUPERVISOR, WebClient};
use fieldvisit_tests::harness::{TestServer, admin, now, today};
use serde_json::json;

/// A not-exited household with an assisting cadre and the village's first secretary.
fn household_with_secretary(server: &TestServer) -> (Household, CadreId, CadreId) {
    household_in(server, exit::NOT_EXITED)
}

/// A household of status `status` with an assisting cadre and the village's first secretary.
fn household_in(server: &TestServer, status: &str) -> (Household, CadreId, CadreId) {
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
        if h.poverty_status != status {
            continue;
        }
        let cadres = server.cadres_of(h);
        let secretary = cadres.iter().find(|c| role(c) == exit::FIRST_SECRETARY);
        let assisting = cadres.iter().find(|c| role(c) == "assisting");
        if let (Some(s), Some(a)) = (secretary, assisting) {
            return (h.clone(), a.clone(), s.clone());
        }
    }
    panic!(
        "the small region has no household of status {status} with both an assisting cadre and a secretary"
    );
}

/// The server's time `days` days from now (the county acts on later days than the phones).
fn in_days(days: i64) -> ServerTime {
    ServerTime(now().0 + days * 86_400_000)
}

fn refusal(r: fieldvisit_server::Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(fieldvisit_server::Error::Refused(reason)) => reason.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
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
        tx.ops_of_household(&household.id, &[OpKind::HouseholdStatus])
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_household_becomes_exited_by_verification_notice_and_county_approval_in_order_and_phones_follow()
 {
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
    // The phone cannot make the household exited: that is the county's approval.
    let why = refused(phone.move_poverty_status(&household.id, exit::EXITED, Some(passed.id)));
    assert!(
        why.contains("county approval") && why.contains("notice"),
        "{why}"
    );

    // The county: no approval before the notice, nor before it has run 7 full days.
    let storage = server.storage.as_ref();
    let why = refusal(procedure::approve(
        storage,
        &household.id,
        &admin(),
        in_days(10),
    ));
    assert!(why.contains("no village notice"), "{why}");
    let notice =
        procedure::record_notice(storage, &household.id, today(), &admin(), now()).unwrap();
    assert_eq!(notice.day, today());
    let why = refusal(procedure::approve(
        storage,
        &household.id,
        &admin(),
        in_days(6),
    ));
    assert_eq!(
        why,
        format!(
            "household {}: the village notice started on {}; county approval is possible from {}",
            household.id,
            today(),
            today() + chrono::Days::new(7)
        )
    );
    assert_eq!(
        server_status(&server, &household).poverty_status,
        exit::PRE_EXIT
    );
    let approved = procedure::approve(storage, &household.id, &admin(), in_days(7)).unwrap();
    assert_eq!(approved.verification, passed.id);
    assert_eq!(approved.notice_from, today());

    let ops = phone.operations(0, usize::MAX).unwrap();
    assert_eq!(ops.len(), 3, "two visits and one step");
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
    let approval_day = today() + chrono::Days::new(7);
    assert_eq!(
        exited.exit_year,
        Some(chrono::Datelike::year(&approval_day))
    );

    // Both phones holding the household receive the new status.
    server.sync(&other).unwrap();
    assert_eq!(local_status(&other, &household), exit::EXITED);
    server.sync(&phone).unwrap();
    assert_eq!(local_status(&phone, &household), exit::EXITED);

    // Each step is on the household's history, in order: the secretary's step with its
    // verification visit, the notice and the approval with the admin who recorded them.
    let history = {
        let mut tx = server.storage.read().unwrap();
        procedure::exit_record(tx.as_mut(), &household.id).unwrap()
    };
    assert_eq!(history.len(), 3, "{history:?}");
    match &history[0] {
        ExitRecord::Step(s) => {
            assert_eq!(
                (s.from.as_str(), s.to.as_str(), s.verification),
                (exit::NOT_EXITED, exit::PRE_EXIT, Some(passed.id))
            );
            assert_eq!(s.cadre.as_ref(), Some(&secretary));
            assert_eq!(s.device, phone.device_id());
            assert_eq!(s.describe(), "not exited (0) → pre-exit (1)");
        }
        other => panic!("expected the pre-exit step first, got {other:?}"),
    }
    match (&history[1], &history[2]) {
        (ExitRecord::Notice(n), ExitRecord::Approval(a)) => {
            assert_eq!((n.day, n.actor.as_str()), (today(), "test"));
            assert_eq!((a.day, a.actor.as_str()), (approval_day, "test"));
            assert!(history[0].at() <= n.at && n.at < a.at);
        }
        other => panic!("expected the notice, then the approval, got {other:?}"),
    }
    assert!(history[2].describe().contains("pre-exit (1) → exited (2)"));

    // The supervisors' `exits` report lists the same steps, in order.
    let exits = {
        let mut tx = server.storage.read().unwrap();
        let opts = fieldvisit_server::report::ReportOptions {
            period: fieldvisit_server::report::Period {
                from: today(),
                to: approval_day,
            },
            required_per_month: 4,
            limit: 50,
        };
        fieldvisit_server::report::run(tx.as_mut(), fieldvisit_server::report::Report::Exits, &opts)
            .unwrap()
    };
    let rows: Vec<(String, String, String, String)> = exits
        .rows
        .iter()
        .filter(|r| r[1] == household.id.as_str())
        .map(|r| {
            let text = |i: usize| r[i].as_str().unwrap().to_string();
            (text(3), text(4), text(5), text(6))
        })
        .collect();
    let owned = |a: &str, b: &str, c: &str, d: &str| (a.into(), b.into(), c.into(), d.into());
    assert_eq!(
        rows,
        [
            owned("step", exit::NOT_EXITED, exit::PRE_EXIT, secretary.as_str()),
            owned("notice", exit::PRE_EXIT, exit::PRE_EXIT, "test"),
            owned("approval", exit::PRE_EXIT, exit::EXITED, "test"),
        ]
    );

    // Both admin steps are in the append-only admin log, with the actor.
    let log = server.storage.read().unwrap().admin_log(10).unwrap();
    let ours: Vec<(&str, &str, &str)> = log
        .iter()
        .filter(|e| e.subject == household.id.as_str())
        .map(|e| (e.action.as_str(), e.actor.as_str(), e.subject.as_str()))
        .collect();
    assert_eq!(
        ours,
        [
            ("exit.approve", "test", household.id.as_str()),
            ("exit.notice", "test", household.id.as_str()),
        ]
    );
    assert_eq!(log[0].detail["verification"], passed.id.to_string());

    // A relapse (返贫) needs no visit; the first secretary records it.
    phone
        .move_poverty_status(&household.id, exit::RELAPSED, None)
        .unwrap();
    server.sync(&phone).unwrap();
    assert_eq!(
        server_status(&server, &household).poverty_status,
        exit::RELAPSED
    );

    // A second round starts afresh: the old notice does not carry over to the new pre-exit.
    let again = record(
        &server,
        &phone,
        &household,
        verification(ChecklistStatus::Ok, true),
    );
    phone
        .move_poverty_status(&household.id, exit::PRE_EXIT, Some(again.id))
        .unwrap();
    server.sync(&phone).unwrap();
    assert_eq!(
        server_status(&server, &household).poverty_status,
        exit::PRE_EXIT
    );
    let why = refusal(procedure::approve(
        storage,
        &household.id,
        &admin(),
        in_days(30),
    ));
    assert!(why.contains("no village notice"), "{why}");
}

#[test]
fn approval_is_refused_for_a_household_not_pre_exit_unverified_or_unsigned() {
    let server = TestServer::start(24);
    let storage = server.storage.as_ref();

    // Not pre-exit: neither a notice nor an approval.
    let (household, _, secretary) = household_with_secretary(&server);
    let why = refusal(procedure::approve(
        storage,
        &household.id,
        &admin(),
        in_days(10),
    ));
    assert!(why.contains("not pre-exit"), "{why}");
    let why = refusal(procedure::record_notice(
        storage,
        &household.id,
        today(),
        &admin(),
        now(),
    ));
    assert!(why.contains("not pre-exit"), "{why}");
    assert!(matches!(
        procedure::approve(
            storage,
            &fieldvisit_core::ids::HouseholdId::new("no-such-household").unwrap(),
            &admin(),
            now()
        ),
        Err(fieldvisit_server::Error::NotFound(_))
    ));

    // Pre-exit on a verification the household has not signed: the notice may run, but the
    // county cannot approve until the household signs (an amendment of the visit).
    let phone = server.device(&secretary);
    let unsigned = record(
        &server,
        &phone,
        &household,
        verification(ChecklistStatus::Ok, false),
    );
    phone
        .move_poverty_status(&household.id, exit::PRE_EXIT, Some(unsigned.id))
        .unwrap();
    server.sync(&phone).unwrap();
    // A notice cannot start before the household became pre-exit, nor in the future.
    let yesterday = today() - chrono::Days::new(1);
    let why = refusal(procedure::record_notice(
        storage,
        &household.id,
        yesterday,
        &admin(),
        now(),
    ));
    assert!(
        why.contains("before the household became pre-exit"),
        "{why}"
    );
    let tomorrow = today() + chrono::Days::new(1);
    let why = refusal(procedure::record_notice(
        storage,
        &household.id,
        tomorrow,
        &admin(),
        now(),
    ));
    assert!(why.contains("after today"), "{why}");
    procedure::record_notice(storage, &household.id, today(), &admin(), now()).unwrap();
    let why = refusal(procedure::approve(
        storage,
        &household.id,
        &admin(),
        in_days(8),
    ));
    assert!(why.contains("not acknowledged"), "{why}");
    phone
        .amend_visit(VisitAmendment {
            visit: unsigned.id,
            reason: "户主已签字确认".into(),
            changes: VisitChanges {
                acknowledged: Some(true),
                ..VisitChanges::default()
            },
        })
        .unwrap();
    server.sync(&phone).unwrap();
    procedure::approve(storage, &household.id, &admin(), in_days(8)).unwrap();
    assert_eq!(
        server_status(&server, &household).poverty_status,
        exit::EXITED
    );

    // A household pre-exit in the registry with no verification by its first secretary: a
    // visit of that kind by an assisting cadre does not count.
    let (pre, cadre, _) = household_in(&server, exit::PRE_EXIT);
    let helper = server.device(&cadre);
    record(
        &server,
        &helper,
        &pre,
        verification(ChecklistStatus::Ok, true),
    );
    server.sync(&helper).unwrap();
    procedure::record_notice(storage, &pre.id, today(), &admin(), now()).unwrap();
    let why = refusal(procedure::approve(storage, &pre.id, &admin(), in_days(8)));
    assert!(why.contains("no exit-verification visit"), "{why}");
    assert_eq!(server_status(&server, &pre).poverty_status, exit::PRE_EXIT);

    // Refused approvals change nothing and log nothing; the notices are logged.
    let log = server.storage.read().unwrap().admin_log(20).unwrap();
    let actions: Vec<&str> = log
        .iter()
        .filter(|e| e.action.starts_with("exit."))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(actions, ["exit.notice", "exit.approve", "exit.notice"]);
    let events = server
        .storage
        .read()
        .unwrap()
        .exit_events_of_household(&pre.id)
        .unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [ExitEventKind::Notice]
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
        // Exited from a phone, with a signed verification: only the county approves.
        forged.next(&step(exit::PRE_EXIT, exit::EXITED, true)),
    ];
    let answer = forged.push(&server, ops).unwrap();
    assert_eq!(answer.ack.acked_seq, 5);
    let last = answer.ack.rejected.last().unwrap();
    assert!(last.reason.contains("county approval"), "{}", last.reason);
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
            (5, RejectCode::Invalid),
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

#[test]
fn the_dashboards_exits_page_lists_each_step_with_its_kind_named_in_the_pages_language() {
    let server = TestServer::start(27);
    let (household, _, secretary) = household_with_secretary(&server);
    let phone = server.device(&secretary);
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
    procedure::record_notice(
        server.storage.as_ref(),
        &household.id,
        today(),
        &admin(),
        now(),
    )
    .unwrap();
    fieldvisit_server::web::accounts::add(
        server.storage.as_ref(),
        SUPERVISOR,
        fieldvisit_server::web::accounts::Role::Supervisor,
        PASSWORD,
        &admin(),
        now(),
    )
    .unwrap();

    let mut web = WebClient::new(&server.url);
    assert_eq!(web.login(SUPERVISOR, PASSWORD).status, 303);
    assert!(
        web.get("/admin/devices")
            .text()
            .contains("<a href=\"/admin/exits\">"),
        "the navigation links the exits page"
    );
    let en = web.get("/admin/exits?lang=en&days=7");
    assert_eq!(en.status, 200);
    let en = en.text();
    assert!(en.contains("<h1>Exit steps</h1>"), "{en}");
    assert_eq!(
        en.matches(household.id.as_str()).count(),
        2,
        "one row for the first secretary's step, one for the notice: {en}"
    );
    for text in [
        "first secretary&#39;s step",
        "village notice",
        secretary.as_str(),
    ] {
        assert!(en.contains(text), "{text}: {en}");
    }
    assert!(
        en.contains("/v1/admin/reports/exits?format=xlsx&days=7"),
        "{en}"
    );
    let zh = web.get("/admin/exits?lang=zh").text();
    for text in ["退出步骤", "第一书记状态变更", "村级公示", "原状态"] {
        assert!(zh.contains(text), "{text}: {zh}");
    }
    let json = web.get("/v1/admin/reports/exits?format=json");
    assert_eq!(json.status, 200);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&json.body).unwrap();
    let steps: Vec<&str> = rows.iter().map(|r| r["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["step", "notice"]);
}
