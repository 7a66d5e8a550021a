//! The journal after many random operations: gap-free, hash-chained, signed — and any
//! tampering with the stored operations is detected and named.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldvisit_core::clock::{Clock, WallTime};
use fieldvisit_core::domain::visit::{Identification, VisitAmendment, VisitChanges};
use fieldvisit_core::ids::VisitId;
use fieldvisit_core::journal::{BreakKind, GENESIS};
use fieldvisit_core::{Error, Store};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::Connection;

/// Makes `n` random operations (visits by scan and by hand, amendments, household and member
/// edits), some of them refused, with the clock wandering forwards and backwards.
fn random_operations(f: &Fixture, n: usize, seed: u64) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut visits: Vec<VisitId> = Vec::new();
    let mut made = 0;
    let mut attempts = 0;
    while made < n {
        attempts += 1;
        // Phone clocks jump: mostly forwards, sometimes back by up to a minute.
        f.clock.advance_ms(rng.random_range(-60_000..600_000));
        let h = &f.households[rng.random_range(0..3)];
        let result = match rng.random_range(0..10) {
            0..=3 => {
                let ident = if rng.random_bool(0.8) {
                    Identification::Scanned {
                        payload: f.authority.issue(&h.code, 1),
                        scanned_at: WallTime(f.clock.now().0 - 5_000),
                    }
                } else {
                    Identification::Manual {
                        code: h.code.grouped(),
                        reason: "二维码污损".into(),
                    }
                };
                let mut c = content(&format!("第{attempts}次入户走访，情况正常。"));
                c.follow_up_due = None;
                f.store
                    .record_visit(ident, c, None)
                    .map(|r| visits.push(r.id))
            }
            4..=5 if !visits.is_empty() => {
                let visit = visits[rng.random_range(0..visits.len())];
                f.store.amend_visit(VisitAmendment {
                    visit,
                    reason: "补充记录".into(),
                    changes: VisitChanges {
                        diary: Some(format!("补充说明第{attempts}条。")),
                        ..Default::default()
                    },
                })
            }
            6..=7 => {
                let phone = format!("139{:08}", rng.random_range(0..100_000_000u32));
                f.store
                    .update_household(&h.id, [("phone".to_string(), phone.into())].into())
            }
            _ => {
                let months = rng.random_range(0..=12);
                let member =
                    fieldvisit_core::ids::MemberId::new(format!("m-{}-1", rng.random_range(1..=3)))
                        .unwrap();
                f.store
                    .update_member(&member, [("work_months".to_string(), months.into())].into())
            }
        };
        match result {
            Ok(()) => made += 1,
            // Household 3 is out of c-1's scope: refused, and nothing is written.
            Err(Error::NotAssigned) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    made
}

fn raw(f: &Fixture) -> Connection {
    // An attacker's own connection: it does not honour the store's foreign keys.
    let db = Connection::open(f.dir.path().join("device.db")).unwrap();
    db.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    db
}

fn break_of(store: &Store) -> (u64, BreakKind) {
    match store.verify_journal() {
        Err(Error::JournalBroken(b)) => (b.seq, b.problem),
        other => panic!("expected a broken journal, got {other:?}"),
    }
}

#[test]
fn a_thousand_random_operations_leave_a_gap_free_signed_chain() {
    let f = fixture("c-1");
    assert_eq!(random_operations(&f, 1000, 7), 1000);
    let ops = f.store.operations(0, usize::MAX).unwrap();
    assert_eq!(ops.len(), 1000);
    assert_eq!(ops[0].prev_hash, GENESIS);
    for (i, pair) in ops.windows(2).enumerate() {
        assert_eq!(pair[1].seq, i as u64 + 2, "gap-free");
        assert_eq!(pair[1].prev_hash, pair[0].digest(), "chained");
        assert!(
            pair[1].hlc > pair[0].hlc,
            "clock order follows sequence even when the wall clock goes back"
        );
    }
    let end = f.store.verify_journal().unwrap();
    assert_eq!((end.seq, end.hash), (1000, ops[999].digest()));
    let key = ed25519_dalek::VerifyingKey::from_bytes(&f.store.device_public_key()).unwrap();
    assert!(ops.iter().all(|op| op.signature_valid(&key)));
}

#[test]
fn altering_any_stored_operation_is_detected_at_that_operation() {
    let f = fixture("c-1");
    random_operations(&f, 300, 11);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..20 {
        let seq: i64 = rng.random_range(1..=300);
        let db = raw(&f);
        let (column, value): (&str, rusqlite::types::Value) = match rng.random_range(0..4) {
            0 => (
                "payload",
                db.query_row(
                    "SELECT payload || ' ' FROM journal WHERE seq = ?1",
                    [seq],
                    |r| r.get(0),
                )
                .unwrap(),
            ),
            1 => (
                "wall",
                db.query_row("SELECT wall + 1 FROM journal WHERE seq = ?1", [seq], |r| {
                    r.get(0)
                })
                .unwrap(),
            ),
            2 => (
                "hlc",
                db.query_row("SELECT hlc + 1 FROM journal WHERE seq = ?1", [seq], |r| {
                    r.get(0)
                })
                .unwrap(),
            ),
            _ => ("kind", "visit.amend".to_string().into()),
        };
        let original: rusqlite::types::Value = db
            .query_row(
                &format!("SELECT {column} FROM journal WHERE seq = ?1"),
                [seq],
                |r| r.get(0),
            )
            .unwrap();
        db.execute(
            &format!("UPDATE journal SET {column} = ?2 WHERE seq = ?1"),
            rusqlite::params![seq, value],
        )
        .unwrap();
        if original != value {
            let (at, problem) = break_of(&f.store);
            assert_eq!(
                at, seq as u64,
                "altering {column} of {seq} is named at {seq}"
            );
            assert_eq!(problem, BreakKind::BadSignature);
        }
        db.execute(
            &format!("UPDATE journal SET {column} = ?2 WHERE seq = ?1"),
            rusqlite::params![seq, original],
        )
        .unwrap();
        f.store.verify_journal().unwrap();
    }
}

#[test]
fn a_forged_signature_or_digest_is_detected() {
    let f = fixture("c-1");
    random_operations(&f, 50, 5);
    let db = raw(&f);
    db.execute(
        "UPDATE journal SET signature = zeroblob(64) WHERE seq = 17",
        [],
    )
    .unwrap();
    assert_eq!(break_of(&f.store), (17, BreakKind::BadSignature));
    let f = fixture("c-1");
    random_operations(&f, 50, 5);
    raw(&f)
        .execute("UPDATE journal SET hash = zeroblob(32) WHERE seq = 23", [])
        .unwrap();
    assert_eq!(break_of(&f.store), (23, BreakKind::HashMismatch));
}

#[test]
fn reordering_operations_is_detected() {
    let f = fixture("c-1");
    random_operations(&f, 50, 9);
    let db = raw(&f);
    db.execute_batch(
        "UPDATE journal SET seq = -1 WHERE seq = 10;
         UPDATE journal SET seq = 10 WHERE seq = 11;
         UPDATE journal SET seq = 11 WHERE seq = -1;",
    )
    .unwrap();
    assert_eq!(break_of(&f.store), (10, BreakKind::BadSignature));
}

#[test]
fn deleting_an_operation_in_the_middle_or_at_the_end_is_detected() {
    let f = fixture("c-1");
    random_operations(&f, 50, 13);
    raw(&f)
        .execute("DELETE FROM journal WHERE seq = 30", [])
        .unwrap();
    assert_eq!(
        break_of(&f.store),
        (
            31,
            BreakKind::Gap {
                expected: 30,
                found: 31
            }
        )
    );

    let f = fixture("c-1");
    random_operations(&f, 50, 13);
    raw(&f)
        .execute("DELETE FROM journal WHERE seq >= 48", [])
        .unwrap();
    assert_eq!(
        break_of(&f.store),
        (
            47,
            BreakKind::Truncated {
                expected: 50,
                found: 47
            }
        )
    );
}
