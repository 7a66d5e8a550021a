//! Conformance checks for [`Journal`](fieldvisit_server::storage::Journal): operations come
//! back byte for byte with their outcomes and counts, by household and kind, by device and in
//! server order, and server sequence numbers rise in commit order.

use ed25519_dalek::SigningKey;

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::{CadreId, HouseholdId, OpId};
use fieldvisit_core::journal::{OpKind, Operation};
use fieldvisit_core::protocol::RejectCode;
use fieldvisit_server::storage::{Outcome, Storage};

use super::{T0, add_device, chain, device_id};

pub fn journal_round_trips_byte_for_byte(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    add_device(s, 1, &cadre);
    add_device(s, 2, &cadre);
    let h = HouseholdId::new("h-1").unwrap();
    let ops1 = chain(1, 5, "visit.record");
    let ops2 = chain(2, 3, "household.update");
    let mut tx = s.write().unwrap();
    let mut seqs = Vec::new();
    for (a, b) in ops1
        .iter()
        .zip(ops2.iter().chain(std::iter::repeat(&ops2[0])))
    {
        seqs.push(
            tx.insert_op(a, &Outcome::Accepted, Some(&h), ServerTime(T0))
                .unwrap(),
        );
        if a.seq <= 3 {
            tx.insert_op(b, &Outcome::Accepted, None, ServerTime(T0))
                .unwrap();
        }
    }
    tx.commit().unwrap();

    let mut tx = s.read().unwrap();
    for (op, seq) in ops1.iter().zip(&seqs) {
        let got = tx.op_by_server_seq(*seq).unwrap().unwrap();
        assert_eq!(&got, op);
        assert_eq!(got.payload.as_bytes(), op.payload.as_bytes());
        assert!(got.signature_valid(&SigningKey::from_bytes(&[1; 32]).verifying_key()));
        assert!(tx.op_id_exists(&op.id).unwrap());
        assert_eq!(
            tx.op_at(&op.device, op.seq).unwrap(),
            Some((op.id, Outcome::Accepted))
        );
    }
    assert_eq!(tx.op_by_server_seq(999_999).unwrap(), None);
    assert!(!tx.op_id_exists(&OpId::from_bytes([0xee; 16])).unwrap());
    assert_eq!(tx.op_at(&device_id(1), 99).unwrap(), None);
    assert_eq!(tx.ops_of_device(&device_id(1), 0, 100).unwrap(), ops1);
    assert_eq!(tx.ops_of_device(&device_id(1), 2, 2).unwrap(), ops1[2..4]);
    assert_eq!(tx.ops_of_device(&device_id(2), 0, 100).unwrap(), ops2);
    let mut of_household = |kinds: &[OpKind]| -> Vec<Operation> {
        tx.ops_of_household(&h, kinds)
            .unwrap()
            .into_iter()
            .map(|(op, received)| {
                assert_eq!(received, ServerTime(T0));
                op
            })
            .collect()
    };
    assert_eq!(of_household(&[OpKind::VisitRecord]), ops1);
    assert_eq!(
        of_household(&[OpKind::VisitRecord, OpKind::VisitAmend]),
        ops1
    );
    // Operations stored without a household, and kinds asked for that it has none of, are not
    // the household's.
    assert!(of_household(&[OpKind::HouseholdUpdate]).is_empty());
    assert!(of_household(&[]).is_empty());
    let mut recent = ops1.clone();
    recent.extend(ops2.iter().cloned());
    assert_eq!(tx.recent_accepted_ops(100).unwrap().len(), 8);
    assert_eq!(tx.recent_accepted_ops(1).unwrap(), vec![ops1[4].clone()]);
    drop(tx);
    // (device, seq) and op ids are unique.
    let mut tx = s.write().unwrap();
    assert!(
        tx.insert_op(&ops1[0], &Outcome::Accepted, None, ServerTime(T0))
            .is_err()
    );
}

pub fn journal_outcomes_and_counts(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    add_device(s, 1, &cadre);
    let h = HouseholdId::new("h-1").unwrap();
    let ops = chain(1, 6, "visit.record");
    let rejected = |i: usize| Outcome::Rejected {
        code: [RejectCode::NotAssigned, RejectCode::UnknownKind][i % 2],
        reason: format!("reason {i}"),
    };
    let mut tx = s.write().unwrap();
    assert_eq!(tx.op_counts().unwrap(), (0, 0));
    for (i, op) in ops.iter().enumerate() {
        let outcome = if i % 3 == 1 {
            rejected(i)
        } else {
            Outcome::Accepted
        };
        tx.insert_op(op, &outcome, Some(&h), ServerTime(T0))
            .unwrap();
    }
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(tx.op_counts().unwrap(), (4, 2));
    assert_eq!(
        tx.op_at(&ops[1].device, 2).unwrap(),
        Some((ops[1].id, rejected(1)))
    );
    let rejections = tx.rejections(10).unwrap();
    assert_eq!(rejections.len(), 2);
    assert_eq!(rejections[0].0, device_id(1));
    assert_eq!(
        (
            rejections[0].1.seq,
            rejections[0].1.op,
            rejections[0].1.code
        ),
        (5, ops[4].id, RejectCode::NotAssigned)
    );
    assert_eq!(rejections[0].1.reason, "reason 4");
    assert_eq!(rejections[1].1.seq, 2, "newest first");
    assert_eq!(tx.rejections(1).unwrap().len(), 1);
    let devices: std::collections::BTreeSet<_> = rejections.iter().map(|r| r.0).collect();
    let counts = tx.rejected_counts().unwrap();
    assert_eq!(counts.iter().map(|c| c.1).sum::<u64>(), 2);
    assert_eq!(
        counts
            .iter()
            .map(|c| c.0)
            .collect::<std::collections::BTreeSet<_>>(),
        devices
    );
    // Rejected operations are kept in the journal but are not visits.
    let visits: Vec<u64> = tx
        .ops_of_household(&h, &[OpKind::VisitRecord, OpKind::VisitAmend])
        .unwrap()
        .iter()
        .map(|(o, _)| o.seq)
        .collect();
    assert_eq!(visits, vec![1, 3, 4, 6]);
    assert_eq!(tx.ops_of_device(&device_id(1), 0, 100).unwrap().len(), 6);
    let recent: Vec<u64> = tx
        .recent_accepted_ops(10)
        .unwrap()
        .iter()
        .map(|o| o.seq)
        .collect();
    assert_eq!(recent, vec![6, 4, 3, 1]);
}

pub fn server_seq_increases_in_commit_order(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    for n in 1..=4 {
        add_device(s, n, &cadre);
    }
    // Four threads each commit their device's chain in small transactions; every committed
    // number is above every number committed before it.
    let committed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for n in 1..=4u8 {
            let committed = &committed;
            scope.spawn(move || {
                for op in chain(n, 10, "visit.record") {
                    let mut tx = s.write().unwrap();
                    let seq = tx
                        .insert_op(&op, &Outcome::Accepted, None, ServerTime(T0))
                        .unwrap();
                    // The commit and the record of its order happen under one lock, so the
                    // list is in commit order.
                    let mut list = committed.lock().unwrap();
                    tx.commit().unwrap();
                    list.push(seq);
                }
            });
        }
    });
    let list = committed.into_inner().unwrap();
    assert_eq!(list.len(), 40);
    assert!(
        list.windows(2).all(|w| w[0] < w[1]),
        "server_seq in commit order: {list:?}"
    );
    let mut tx = s.read().unwrap();
    assert_eq!(tx.op_counts().unwrap(), (40, 0));
}
