//! The sync engine against an honest in-memory server: enrollment, pushing and acknowledging,
//! retries and lost responses, refusals, gaps, revocation, and paged pulls that commit progress
//! page by page.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "support/fake_server.rs"]
mod fake_server;

use std::sync::Arc;

use common::*;
use fake_server::{FakeServer, RecordingSleeper};
use fieldvisit_core::domain::Household;
use fieldvisit_core::domain::visit::Identification;
use fieldvisit_core::ids::{CadreId, HouseholdId};
use fieldvisit_core::protocol::{ChangeBody, ErrorBody, ErrorCode, PushProblem, RejectCode};
use fieldvisit_core::store::OpState;
use fieldvisit_core::sync::{self, RetryPolicy, SyncOptions};
use fieldvisit_core::{Error, Store};

struct Setup {
    f: Fixture,
    server: FakeServer,
    sleeper: Arc<RecordingSleeper>,
    options: SyncOptions,
}

/// A store enrolled through the fake server for cadre c-1.
fn setup() -> Setup {
    let f = fixture("c-1");
    let server = FakeServer::new("c-1", vec![f.authority.public()]);
    sync::enroll(&f.store, &server, "https://sync.test", "ENROL-0001", "test").unwrap();
    let sleeper = Arc::new(RecordingSleeper::default());
    let options = SyncOptions {
        sleeper: sleeper.clone(),
        app_version: "test".into(),
        ..SyncOptions::default()
    };
    Setup {
        f,
        server,
        sleeper,
        options,
    }
}

fn record(store: &Store, household: &Household, diary: &str) {
    store
        .record_visit(
            Identification::Manual {
                code: household.code.as_str().to_string(),
                reason: "门牌脱落".into(),
            },
            content(diary),
            None,
        )
        .unwrap();
}

fn states(store: &Store) -> Vec<(u64, OpState)> {
    store
        .operations(0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|op| (op.seq, store.operation_state(op.id).unwrap().unwrap()))
        .collect()
}

fn snapshot(n: u64) -> ChangeBody {
    ChangeBody::Household {
        household: household(n, VILLAGE),
        clocks: Default::default(),
        members: vec![],
        measures: vec![],
        visits: vec![],
    }
}

#[test]
fn enrollment_stores_the_cadre_the_keys_and_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("fresh.db")).unwrap();
    let authority = fieldvisit_core::plate::PlateAuthority::from_secret(1, [7; 32]);
    let server = FakeServer::new("c-1", vec![authority.public()]);
    assert!(matches!(
        store.sync_request(1024, 10, "test"),
        Err(Error::NotEnrolled)
    ));

    let refused = sync::enroll(&store, &server, "https://sync.test", "WRONG", "test");
    assert!(
        matches!(refused, Err(Error::EnrollmentRefused)),
        "{refused:?}"
    );

    let identity =
        sync::enroll(&store, &server, "https://sync.test", "ENROL-0001", "test").unwrap();
    assert_eq!(identity.cadre, Some(CadreId::new("c-1").unwrap()));
    assert_eq!(identity.server_url.as_deref(), Some("https://sync.test"));
    assert_eq!(identity.device, store.device_id());
    let (req, token) = store.sync_request(1024, 10, "test").unwrap();
    assert_eq!(token, format!("token-{}", store.device_id()));
    assert_eq!(req.device, store.device_id());
    // The authority key came with the enrollment: a plate verifies offline (the household
    // itself is not held yet, which is the next thing the scan says).
    let plate = authority.issue(&household(1, VILLAGE).code, 1);
    assert!(matches!(store.scan(&plate), Err(Error::UnknownHousehold)));
    // The code is single-use, but a repeat by the same device (a lost response) is answered.
    sync::enroll(&store, &server, "https://sync.test", "ENROL-0001", "test").unwrap();
}

#[test]
fn a_sync_pushes_every_pending_operation_and_marks_it_synced() {
    let s = setup();
    for (i, diary) in [
        "第一次入户走访记录。",
        "第二次入户走访记录。",
        "第三次入户走访记录。",
    ]
    .iter()
    .enumerate()
    {
        record(&s.f.store, &s.f.households[i % 2], diary);
    }
    let report = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert_eq!(report.pushed, 3);
    assert_eq!(report.acknowledged, 3);
    assert_eq!(report.requests, 1);
    assert!(report.complete);
    assert!(report.bytes_up > 0 && report.bytes_down > 0);
    assert_eq!(report.server_time.0, fake_server::SERVER_TIME);
    assert_eq!(report.clock_skew_ms, T0 - fake_server::SERVER_TIME);
    assert!(
        states(&s.f.store)
            .iter()
            .all(|(_, st)| *st == OpState::Synced)
    );
    assert_eq!(s.server.stored_seqs(s.f.store.device_id()), [1, 2, 3]);
    assert_eq!(s.f.store.last_sync_report().unwrap(), Some(report));
    let status = s.f.store.sync_status().unwrap();
    assert_eq!(
        (status.pending, status.acked_seq, status.head_seq),
        (0, 3, 3)
    );

    // Nothing left: the next sync sends an empty push.
    let again = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert_eq!((again.pushed, again.acknowledged), (0, 0));
    assert_eq!(s.server.pushes().last().unwrap(), &Vec::<u64>::new());
}

#[test]
fn a_response_lost_after_the_server_committed_is_redone_with_the_same_end_state() {
    let s = setup();
    record(&s.f.store, &s.f.households[0], "入户走访，了解收入。");
    record(&s.f.store, &s.f.households[1], "入户走访，核实人口。");
    s.server.state().drop_next = 1;
    let report = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert_eq!(report.retries, 1);
    assert_eq!(report.requests, 2);
    assert_eq!(
        s.server.pushes(),
        [vec![1, 2], vec![1, 2]],
        "resent as they were"
    );
    let stored = s.server.state().stored.clone();
    assert_eq!(
        stored.into_iter().collect::<Vec<_>>(),
        [(1, 1), (2, 1)],
        "stored once each"
    );
    assert_eq!(report.acknowledged, 2);
    assert!(
        states(&s.f.store)
            .iter()
            .all(|(_, st)| *st == OpState::Synced)
    );
}

#[test]
fn offline_failures_are_retried_with_backoff_and_then_reported_with_nothing_lost() {
    let mut s = setup();
    record(&s.f.store, &s.f.households[0], "入户走访，了解收入。");
    s.options.retry = RetryPolicy {
        max_attempts: 4,
        base_delay_ms: 100,
        max_delay_ms: 250,
    };
    s.server.state().fail_next = 10;
    let err = sync::sync(&s.f.store, &s.server, &s.options).unwrap_err();
    assert!(matches!(err, Error::Offline(_)), "{err:?}");
    assert_eq!(s.server.state().requests.len(), 4);
    let waits = s.sleeper.0.lock().unwrap().clone();
    assert_eq!(waits.len(), 3);
    for (retry, wait) in waits.iter().enumerate() {
        assert!(*wait <= s.options.retry.ceiling(retry as u32), "{wait:?}");
    }
    assert_eq!(states(&s.f.store), [(1, OpState::Pending)]);
    let status = s.f.store.sync_status().unwrap();
    assert!(
        status
            .last_error
            .unwrap()
            .message
            .contains("cannot be reached")
    );
    assert_eq!(status.last_report, None);

    // The link comes back after two more failures: the same sync goes through.
    s.server.state().fail_next = 2;
    let report = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert_eq!((report.retries, report.acknowledged), (2, 1));
    assert!(s.f.store.sync_status().unwrap().last_error.is_none());
}

#[test]
fn client_errors_are_not_retried() {
    let s = setup();
    s.server.state().http_error = Some((
        413,
        ErrorBody {
            error: ErrorCode::TooLarge,
            message: "body too large".into(),
            supported_protocols: None,
        },
    ));
    let err = sync::sync(&s.f.store, &s.server, &s.options).unwrap_err();
    assert!(matches!(err, Error::Server { status: 413, .. }), "{err:?}");
    assert_eq!(s.server.state().requests.len(), 1);
}

#[test]
fn a_rejected_operation_keeps_its_reason_and_does_not_block_the_ones_after_it() {
    let s = setup();
    for diary in ["第一次入户走访。", "第二次入户走访。", "第三次入户走访。"]
    {
        record(&s.f.store, &s.f.households[0], diary);
    }
    s.server.state().reject.insert(
        2,
        (
            RejectCode::NotAssigned,
            "household reassigned on 2024-05-30".into(),
        ),
    );
    let report = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert_eq!((report.acknowledged, report.rejected), (2, 1));
    assert!(report.complete);
    assert_eq!(
        states(&s.f.store),
        [
            (1, OpState::Synced),
            (2, OpState::Rejected),
            (3, OpState::Synced)
        ]
    );
    let refused = s.f.store.unsynced().unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0].reject_reason.as_deref(),
        Some("not_assigned: household reassigned on 2024-05-30")
    );
    assert_eq!(s.f.store.sync_status().unwrap().rejected, 1);
}

#[test]
fn a_gap_makes_the_device_resend_from_where_the_server_expects() {
    let s = setup();
    for diary in ["第一次入户走访。", "第二次入户走访。", "第三次入户走访。"]
    {
        record(&s.f.store, &s.f.households[0], diary);
    }
    sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    // The server is restored from a backup that holds only the first operation.
    s.server.forget_after(s.f.store.device_id(), 1);
    record(&s.f.store, &s.f.households[1], "第四次入户走访。");
    let report = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert!(report.complete);
    let pushes = s.server.pushes();
    assert_eq!(pushes[1..], [vec![4], vec![2, 3, 4]]);
    assert_eq!(s.server.stored_seqs(s.f.store.device_id()), [1, 2, 3, 4]);
    assert!(
        states(&s.f.store)
            .iter()
            .all(|(_, st)| *st == OpState::Synced)
    );
    assert_eq!(s.f.store.sync_status().unwrap().problem, None);
}

#[test]
fn a_journal_that_diverged_from_what_the_server_holds_is_reported_and_pulling_goes_on() {
    let s = setup();
    let path = s.f.store.path().to_path_buf();
    s.f.store.close();
    let backup = s.f.dir.path().join("backup.db");
    std::fs::copy(&path, &backup).unwrap();
    let store = Store::open_with_clock(&path, s.f.clock.clone()).unwrap();
    record(&store, &s.f.households[0], "原手机上的走访。");
    sync::sync(&store, &s.server, &s.options).unwrap();
    store.close();

    // The phone is restored from the backup and records something else as operation 1.
    let restored = Store::open_with_clock(&backup, s.f.clock.clone()).unwrap();
    record(&restored, &s.f.households[1], "恢复后的走访记录。");
    s.server
        .set_feed(vec![snapshot(10), snapshot(11), snapshot(12)]);
    s.server.state().page_size = 1;
    let report = sync::sync(&restored, &s.server, &s.options).unwrap();
    assert!(!report.complete);
    assert_eq!(report.pulled, 3, "pages still arrive");
    let pushes = s.server.pushes();
    assert_eq!(
        pushes[pushes.len() - 3..],
        [vec![1], vec![], vec![]],
        "push held back"
    );
    let status = restored.sync_status().unwrap();
    assert_eq!(status.problem, Some(PushProblem::Diverged { seq: 1 }));
    assert_eq!(states(&restored), [(1, OpState::Pending)]);
}

#[test]
fn a_revoked_device_gets_a_revoked_error_and_keeps_every_visit() {
    let s = setup();
    record(&s.f.store, &s.f.households[0], "入户走访，了解收入。");
    record(&s.f.store, &s.f.households[1], "入户走访，核实人口。");
    s.server.state().revoked = Some("reported lost".into());
    let err = sync::sync(&s.f.store, &s.server, &s.options).unwrap_err();
    assert!(
        matches!(&err, Error::Revoked { reason } if reason == "reported lost"),
        "{err:?}"
    );
    assert_eq!(s.server.state().requests.len(), 1, "a 401 is not retried");
    for h in &s.f.households[..2] {
        assert_eq!(s.f.store.visits_for(&h.id).unwrap().len(), 1);
    }
    assert_eq!(s.f.store.verify_journal().unwrap().seq, 2);
    assert_eq!(s.f.store.sync_status().unwrap().pending, 2);
}

#[test]
fn pages_are_pulled_until_the_server_has_no_more_and_the_cursor_follows_each_page() {
    let s = setup();
    s.server.set_feed((10..15).map(snapshot).collect());
    s.server.state().page_size = 2;
    let report = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert_eq!(report.pulled, 5);
    assert_eq!(report.requests, 3);
    assert!(report.complete);
    assert_eq!(s.server.cursors(), [0, 2, 4]);
    assert_eq!(s.f.store.sync_status().unwrap().cursor, 5);
    for n in 10..15 {
        let id = HouseholdId::new(format!("hh-{n}")).unwrap();
        assert!(s.f.store.household(&id).unwrap().is_some());
    }
}

#[test]
fn a_page_that_fails_to_apply_leaves_the_cursor_at_the_end_of_the_page_before() {
    let s = setup();
    // Page 2 holds a household whose door-plate code is already another's: the store refuses
    // it, as a crash in the middle of applying would.
    let mut clash = household(12, VILLAGE);
    clash.code = s.f.households[0].code.clone();
    let clash = ChangeBody::Household {
        household: clash,
        clocks: Default::default(),
        members: vec![],
        measures: vec![],
        visits: vec![],
    };
    s.server.set_feed(vec![snapshot(10), snapshot(11), clash]);
    s.server.state().page_size = 2;
    let err = sync::sync(&s.f.store, &s.server, &s.options).unwrap_err();
    assert!(matches!(err, Error::Sqlite(_)), "{err:?}");
    assert_eq!(s.f.store.sync_status().unwrap().cursor, 2);
    let held = |n: u64| {
        s.f.store
            .household(&HouseholdId::new(format!("hh-{n}")).unwrap())
            .unwrap()
            .is_some()
    };
    assert!(held(10) && held(11) && !held(12));

    // The server corrects its feed; the next sync resumes after page 1, not from zero.
    s.server.state().feed[2].body = snapshot(12);
    let report = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert!(report.complete);
    assert_eq!(s.server.cursors()[2..], [2]);
    assert!(held(12));
}

#[test]
fn a_long_backlog_is_pushed_in_batches_with_the_remainder_announced() {
    let mut s = setup();
    for i in 0..5 {
        record(&s.f.store, &s.f.households[i % 2], "入户走访，了解收入。");
    }
    s.options.max_push_ops = 2;
    let report = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert!(report.complete);
    assert_eq!(s.server.pushes(), [vec![1, 2], vec![3, 4], vec![5]]);
    let pending: Vec<u32> = s
        .server
        .state()
        .requests
        .iter()
        .map(|r| r.pending)
        .collect();
    assert_eq!(pending, [3, 1, 0]);
    assert_eq!(report.acknowledged, 5);
}

#[test]
fn a_sync_is_bounded_by_max_rounds() {
    let mut s = setup();
    s.server.set_feed((10..20).map(snapshot).collect());
    s.server.state().page_size = 1;
    s.options.max_rounds = 3;
    let report = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert_eq!((report.requests, report.pulled), (3, 3));
    assert!(!report.complete);
    assert_eq!(s.f.store.sync_status().unwrap().cursor, 3);
}
