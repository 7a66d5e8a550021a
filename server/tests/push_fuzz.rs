//! Property-based fuzzing of the sync request path: whatever a device sends — undecodable
//! bytes, operations with arbitrary kinds and payloads (validly signed, so that they reach the
//! checks behind the signature), arbitrary sequence numbers — the server answers without an
//! internal error, and every operation it stores is either accepted or rejected with a reason.

#![allow(clippy::unwrap_used)]

use fieldvisit_core::clock::{Clock, Hlc, ServerTime, SystemClock, WallTime};
use fieldvisit_core::ids::OpId;
use fieldvisit_core::journal::{ChainPoint, UnsignedOperation};
use fieldvisit_core::protocol::{PROTOCOL_VERSION, PushedOp, SyncRequest};
use fieldvisit_server::error::Class;
use fieldvisit_server::storage::Storage;
use proptest::prelude::*;
use serde_json::{Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| json!(x)),
        "\\PC{0,40}".prop_map(Value::String),
        Just(json!("hh-000001")),
        Just(json!("c-00001")),
        Just(json!("routine")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("household".to_string()),
                    Just("visit".to_string()),
                    Just("fields".to_string()),
                    Just("member".to_string()),
                    Just("id".to_string()),
                    Just("cadre".to_string()),
                    Just("diary".to_string()),
                    Just("kind".to_string()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn kind() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("visit.record".to_string()),
        Just("visit.amend".to_string()),
        Just("household.update".to_string()),
        Just("member.update".to_string()),
        "[a-z.]{0,20}",
    ]
}

mod common;

use common::World;

fn world() -> World {
    common::world(3, [4; 32])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_signed_operations_never_cause_an_internal_error(
        ops in prop::collection::vec((kind(), json_value(), any::<u64>(), 0u8..4), 1..8)
    ) {
        let w = world();
        let mut head = ChainPoint::START;
        let mut pushed = Vec::new();
        for (kind, payload, clock, mangle) in ops {
            let op = UnsignedOperation {
                id: OpId::generate(SystemClock.now()),
                device: w.device.id,
                // Mostly the right sequence number; sometimes a gap or a replay.
                seq: match mangle { 0 => head.seq + 2, 1 => head.seq, _ => head.seq + 1 },
                hlc: Hlc::from_u64(clock),
                wall: WallTime(i64::try_from(clock >> 20).unwrap_or(0)),
                kind,
                payload: payload.to_string(),
                prev_hash: head.hash,
            }
            .sign(&w.key);
            head = ChainPoint { seq: op.seq, hash: op.digest() };
            pushed.push(PushedOp::from_operation(&op));
        }
        let req = SyncRequest {
            protocol: PROTOCOL_VERSION,
            device: w.device.id,
            app_version: "fuzz".into(),
            device_time: SystemClock.now(),
            push: pushed,
            cursor: 0,
            page_bytes: 65_536,
            pending: 0,
        };
        let now = ServerTime(SystemClock.now().0);
        match fieldvisit_server::sync::handle(&w.storage, &w.device, req, now) {
            Ok(answer) => {
                let (accepted, rejected) = w.storage.read().unwrap().op_counts().unwrap();
                prop_assert_eq!(accepted + rejected, answer.ack.acked_seq);
                prop_assert_eq!(rejected as usize, answer.ack.rejected.len());
            }
            Err(e) if e.class() == Class::Internal => prop_assert!(false, "internal error: {}", e),
            Err(other) => prop_assert!(false, "unexpected refusal: {}", other),
        }
    }

    #[test]
    fn arbitrary_bytes_never_decode_into_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<SyncRequest>(&bytes);
        let _ = serde_json::from_slice::<fieldvisit_core::protocol::EnrollRequest>(&bytes);
    }
}
