//! Conformance checks for the journal and what follows from it: operations come back byte for
//! byte with their outcomes and counts, server sequence numbers rise in commit order, and
//! visits and each device's feed are stored and read back in order.

use ed25519_dalek::SigningKey;

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::ids::{AssignmentId, CadreId, HouseholdId, OpId, PostId, VisitId};
use fieldvisit_core::journal::{OpKind, Operation};
use fieldvisit_core::protocol::RejectCode;
use fieldvisit_server::storage::{FeedItem, Outcome, ServerVisit, Storage};

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

pub fn visits(s: &dyn Storage) {
    let visit = |n: u8, manual: bool| ServerVisit {
        id: VisitId::from_bytes([n; 16]),
        household: HouseholdId::new(format!("h-{n}")).unwrap(),
        cadre: CadreId::new("cadre-1").unwrap(),
        device: device_id(1),
        server_seq: u64::from(n),
        recorded_at: WallTime(T0 + i64::from(n)),
        received_at: ServerTime(T0 + 100),
        kind: "routine".into(),
        manual,
        distance_m: (!manual).then_some(12.5),
        record: "{\"content\": \"入户走访\" }".into(),
    };
    let mut tx = s.write().unwrap();
    assert_eq!(tx.visit_count().unwrap(), 0);
    tx.insert_visit(&visit(1, false)).unwrap();
    tx.insert_visit(&visit(2, true)).unwrap();
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(tx.visit_count().unwrap(), 2);
    assert_eq!(
        tx.visit_owner(&VisitId::from_bytes([2; 16])).unwrap(),
        Some((
            CadreId::new("cadre-1").unwrap(),
            HouseholdId::new("h-2").unwrap()
        ))
    );
    assert_eq!(tx.visit_owner(&VisitId::from_bytes([3; 16])).unwrap(), None);
    assert_eq!(
        tx.visit(&VisitId::from_bytes([1; 16])).unwrap(),
        Some(visit(1, false)),
        "every column read back as stored"
    );
    assert_eq!(
        tx.visit(&VisitId::from_bytes([2; 16])).unwrap(),
        Some(visit(2, true))
    );
    assert_eq!(tx.visit(&VisitId::from_bytes([3; 16])).unwrap(), None);
    drop(tx);
    let mut tx = s.write().unwrap();
    assert!(
        tx.insert_visit(&visit(1, false)).is_err(),
        "a visit id once"
    );
}

pub fn feeds(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let (a, b) = (add_device(s, 1, &cadre).id, add_device(s, 2, &cadre).id);
    let items = vec![
        FeedItem::Op(17),
        FeedItem::Household(HouseholdId::new("h-2").unwrap()),
        FeedItem::Purge(HouseholdId::new("h-9").unwrap()),
        FeedItem::Cadre(cadre.clone()),
        FeedItem::Area("150702100200".into()),
        FeedItem::Assignment(AssignmentId::new("a-1").unwrap()),
        FeedItem::Post(PostId::new("p-1").unwrap()),
        FeedItem::AuthorityKey(3),
        FeedItem::Household(HouseholdId::new("h-1").unwrap()),
        FeedItem::Household(HouseholdId::new("h-2").unwrap()),
    ];
    let mut tx = s.write().unwrap();
    assert_eq!(tx.feed_head(&a).unwrap(), 0);
    assert_eq!(tx.feed_head(&device_id(99)).unwrap(), 0, "unknown device");
    for (i, item) in items.iter().enumerate() {
        assert_eq!(tx.append_feed(&a, item).unwrap(), i as u64 + 1);
    }
    assert_eq!(
        tx.append_feed(&b, &FeedItem::Op(1)).unwrap(),
        1,
        "per device"
    );
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(tx.feed_head(&a).unwrap(), 10);
    assert_eq!(tx.feed_head(&b).unwrap(), 1);
    let all = tx.feed_after(&a, 0, 100).unwrap();
    let expected: Vec<(u64, FeedItem)> = (1..).zip(items.iter().cloned()).collect();
    assert_eq!(all, expected);
    assert_eq!(tx.feed_after(&a, 3, 2).unwrap(), expected[3..5]);
    assert!(tx.feed_after(&a, 10, 100).unwrap().is_empty());
    assert_eq!(
        tx.households_sent(&a).unwrap(),
        vec![
            HouseholdId::new("h-1").unwrap(),
            HouseholdId::new("h-2").unwrap()
        ]
    );
    assert!(tx.households_sent(&b).unwrap().is_empty());
}

pub fn feed_runs_take_consecutive_positions(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let (a, b) = (add_device(s, 1, &cadre).id, add_device(s, 2, &cadre).id);
    let run = vec![
        FeedItem::Op(5),
        FeedItem::Household(HouseholdId::new("h-1").unwrap()),
        FeedItem::Op(6),
    ];
    let mut tx = s.write().unwrap();
    assert_eq!(tx.append_feed(&a, &FeedItem::Op(1)).unwrap(), 1);
    assert_eq!(
        tx.append_feed_run(&a, &run).unwrap(),
        4,
        "the last entry's position"
    );
    assert_eq!(
        tx.append_feed_run(&a, &[]).unwrap(),
        4,
        "an empty run appends nothing"
    );
    assert_eq!(tx.append_feed_run(&b, &[]).unwrap(), 0);
    assert_eq!(
        tx.append_feed(&a, &FeedItem::Op(7)).unwrap(),
        5,
        "after the run"
    );
    tx.savepoint().unwrap();
    assert_eq!(tx.append_feed_run(&b, &run).unwrap(), 3);
    tx.rollback_to_savepoint().unwrap();
    assert!(
        tx.append_feed_run(&device_id(99), &run).is_err(),
        "an unknown device has no feed to append to"
    );
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    let expected: Vec<(u64, FeedItem)> = (1..)
        .zip(
            std::iter::once(FeedItem::Op(1))
                .chain(run.iter().cloned())
                .chain([FeedItem::Op(7)]),
        )
        .collect();
    assert_eq!(tx.feed_after(&a, 0, 100).unwrap(), expected);
    assert_eq!(
        tx.feed_head(&b).unwrap(),
        0,
        "the rolled-back run left nothing"
    );
    assert!(tx.feed_after(&b, 0, 100).unwrap().is_empty());
}
