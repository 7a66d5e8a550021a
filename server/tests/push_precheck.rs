//! Signature and chain verification done before the writer thread (`sync::precheck`) is only
//! ever a shortcut: the writer trusts it just for the same operations from the same head, and
//! a push is answered exactly as it would be without it.

#![allow(clippy::unwrap_used)]

use fieldvisit_core::clock::{Clock, Hlc, ServerTime, SystemClock, WallTime};
use fieldvisit_core::ids::OpId;
use fieldvisit_core::journal::{BreakKind, ChainPoint, Operation, UnsignedOperation};
use fieldvisit_core::protocol::{PushProblem, PushedOp};
use fieldvisit_server::reference::Reference;
use fieldvisit_server::storage::{DeviceRecord, Storage};
use fieldvisit_server::sync::{Source, precheck, push};

mod common;

use common::World;

fn world() -> World {
    common::world(5, [9; 32])
}

/// A signed operation after `prev`; its payload names nothing, so the server stores it as
/// rejected (`unknown_kind`) — what matters here is whether it is stored at all.
fn op_after(w: &World, prev: ChainPoint, note: &str) -> Operation {
    UnsignedOperation {
        id: OpId::generate(SystemClock.now()),
        device: w.device.id,
        seq: prev.seq + 1,
        hlc: Hlc::new(1_700_000_000_000 + prev.seq, 0),
        wall: WallTime(1_700_000_000_000),
        kind: "test.note".into(),
        payload: serde_json::json!({ "note": note }).to_string(),
        prev_hash: prev.hash,
    }
    .sign(&w.key)
}

fn point(op: &Operation) -> ChainPoint {
    ChainPoint {
        seq: op.seq,
        hash: op.digest(),
    }
}

fn stored_device(w: &World) -> DeviceRecord {
    w.storage
        .read()
        .unwrap()
        .device(&w.device.id)
        .unwrap()
        .unwrap()
}

fn now() -> ServerTime {
    ServerTime(SystemClock.now().0)
}

#[test]
fn a_precheck_from_another_head_is_not_trusted() {
    let w = world();
    // The phone's chain as first pushed: 1 → 2, prechecked from the start.
    let one = op_after(&w, ChainPoint::START, "one");
    let two = op_after(&w, point(&one), "two");
    let ops = vec![
        PushedOp::from_operation(&one),
        PushedOp::from_operation(&two),
    ];
    let stale = precheck(&w.device, &ops);

    // Meanwhile the server stored another operation 1 for this device.
    let other_one = op_after(&w, ChainPoint::START, "another one");
    let mut tx = w.storage.write().unwrap();
    let ack = push(
        tx.as_mut(),
        &mut Reference::default(),
        &w.device,
        vec![PushedOp::from_operation(&other_one)],
        None,
        Source::Sync,
        now(),
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(ack.acked_seq, 1);

    // Operation 2 links to the first 1, not the stored one: the stale precheck must not let
    // it through onto the stored chain.
    let device = stored_device(&w);
    let mut tx = w.storage.write().unwrap();
    let ack = push(
        tx.as_mut(),
        &mut Reference::default(),
        &device,
        vec![PushedOp::from_operation(&two)],
        Some(stale),
        Source::Sync,
        now(),
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        ack.problem,
        Some(PushProblem::Broken {
            seq: 2,
            problem: BreakKind::BadSignature
        })
    );
    assert_eq!(ack.acked_seq, 1);
    assert_eq!(stored_device(&w).head, point(&other_one));
}

#[test]
fn a_forged_operation_after_good_ones_is_refused_with_the_precheck_as_without_it() {
    for use_precheck in [true, false] {
        let w = world();
        let one = op_after(&w, ChainPoint::START, "one");
        let mut two = op_after(&w, point(&one), "two");
        two.payload = serde_json::json!({ "note": "changed after signing" }).to_string();
        let three = op_after(&w, point(&two), "three");
        let ops: Vec<PushedOp> = [&one, &two, &three]
            .into_iter()
            .map(PushedOp::from_operation)
            .collect();
        let prechecked = use_precheck.then(|| precheck(&w.device, &ops));
        let mut tx = w.storage.write().unwrap();
        let ack = push(
            tx.as_mut(),
            &mut Reference::default(),
            &w.device,
            ops,
            prechecked,
            Source::Sync,
            now(),
        )
        .unwrap();
        tx.commit().unwrap();
        assert_eq!(
            ack.problem,
            Some(PushProblem::Broken {
                seq: 2,
                problem: BreakKind::BadSignature
            }),
            "precheck used: {use_precheck}"
        );
        assert_eq!(ack.acked_seq, 1, "precheck used: {use_precheck}");
        assert_eq!(stored_device(&w).head, point(&one));
    }
}

#[test]
fn a_precheck_from_the_stored_head_accepts_the_chain() {
    let w = world();
    let one = op_after(&w, ChainPoint::START, "one");
    let two = op_after(&w, point(&one), "two");
    let ops = vec![
        PushedOp::from_operation(&one),
        PushedOp::from_operation(&two),
    ];
    let prechecked = precheck(&w.device, &ops);
    let mut tx = w.storage.write().unwrap();
    let ack = push(
        tx.as_mut(),
        &mut Reference::default(),
        &w.device,
        ops,
        Some(prechecked),
        Source::Sync,
        now(),
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(ack.problem, None);
    assert_eq!(ack.acked_seq, 2);
    assert_eq!(stored_device(&w).head, point(&two));
}
