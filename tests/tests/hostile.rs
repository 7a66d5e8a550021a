//! Hostile and broken input at the sync API: operations pushed under another device's token,
//! forged signatures, broken chains, replayed and revoked tokens, injection-shaped and very
//! long text. Each is refused with a precise answer, or stored verbatim — never half-stored.

#![allow(clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use fieldvisit_core::Store;
use fieldvisit_core::clock::{Clock, SystemClock, WallTime};
use fieldvisit_core::domain::visit::Identification;
use fieldvisit_core::ids::OpId;
use fieldvisit_core::journal::{BreakKind, ChainPoint, OpBody, OpKind, UnsignedOperation};
use fieldvisit_core::protocol::{
    ErrorCode, PROTOCOL_VERSION, PushProblem, PushedOp, RejectCode, SyncRequest,
};
use fieldvisit_core::sync::{Transport, TransportError};
use fieldvisit_tests::harness::{TestServer, admin, now, today};

fn assisting(server: &TestServer, n: usize) -> fieldvisit_core::ids::CadreId {
    server
        .region
        .cadres
        .iter()
        .filter(|c| c.role == "assisting")
        .nth(n)
        .unwrap()
        .id
        .clone()
}

fn request(store: &Store, push: Vec<PushedOp>) -> (SyncRequest, String) {
    let (mut req, token) = store.sync_request(262_144, 500, "test").unwrap();
    req.push = push;
    (req, token)
}

fn stored_ops(server: &TestServer) -> (u64, u64) {
    server.storage.read().unwrap().op_counts().unwrap()
}

#[test]
fn operations_of_one_device_pushed_with_another_devices_token_are_refused_unstored() {
    let server = TestServer::start(31);
    let a = server.device(&assisting(&server, 0));
    let b = server.device(&assisting(&server, 1));
    let h = server.region.households_of(&assisting(&server, 0), today())[0].clone();
    server.record_visit(&a, &h, 1).unwrap();
    let a_ops: Vec<PushedOp> = a
        .operations(0, 10)
        .unwrap()
        .iter()
        .map(PushedOp::from_operation)
        .collect();
    let (req, b_token) = request(&b, a_ops);
    let answer = server.transport().sync(&b_token, &req).unwrap().body;
    assert_eq!(
        answer.ack.problem,
        Some(PushProblem::Broken {
            seq: 1,
            problem: BreakKind::BadSignature
        })
    );
    assert_eq!(answer.ack.acked_seq, 0);
    assert_eq!(stored_ops(&server), (0, 0));

    // Naming the other device in the request with one's own token is refused outright.
    let (mut req, b_token) = request(&b, Vec::new());
    req.device = a.device_id();
    match server.transport().sync(&b_token, &req) {
        Err(TransportError::Http {
            status: 403,
            body: Some(body),
        }) => assert_eq!(body.error, ErrorCode::WrongDevice),
        other => panic!("expected 403 wrong_device, got {other:?}"),
    }
}

#[test]
fn a_forged_signature_or_a_broken_chain_stores_nothing_from_that_operation_on() {
    let server = TestServer::start(32);
    let cadre = assisting(&server, 0);
    let store = server.device(&cadre);
    let h = server.region.households_of(&cadre, today())[0].clone();
    for i in 0..3 {
        server.record_visit(&store, &h, i).unwrap();
    }
    let mut ops: Vec<PushedOp> = store
        .operations(0, 10)
        .unwrap()
        .iter()
        .map(PushedOp::from_operation)
        .collect();

    // The second operation's signature is forged.
    let mut forged = ops.clone();
    forged[1].signature[0] ^= 1;
    let (req, token) = request(&store, forged);
    let answer = server.transport().sync(&token, &req).unwrap().body;
    assert_eq!(
        answer.ack.acked_seq, 1,
        "the operation before the forgery is stored"
    );
    assert_eq!(
        answer.ack.problem,
        Some(PushProblem::Broken {
            seq: 2,
            problem: BreakKind::BadSignature
        })
    );
    assert_eq!(stored_ops(&server), (1, 0));

    // A chain that skips an operation: the server says where to resume.
    ops.remove(1);
    let (req, token) = request(&store, ops[1..].to_vec());
    let answer = server.transport().sync(&token, &req).unwrap().body;
    assert_eq!(
        answer.ack.problem,
        Some(PushProblem::Gap { expected_seq: 2 })
    );

    // An operation re-signed by the device over an altered payload but chained to the wrong
    // predecessor does not verify either.
    let key = SigningKey::from_bytes(&[9; 32]);
    let bogus = UnsignedOperation {
        id: OpId::generate(SystemClock.now()),
        device: store.device_id(),
        seq: 2,
        hlc: fieldvisit_core::clock::Hlc::new(1, 0),
        wall: WallTime(1),
        kind: "visit.record".into(),
        payload: "{}".into(),
        prev_hash: ChainPoint::START.hash,
    }
    .sign(&key);
    let (req, token) = request(&store, vec![PushedOp::from_operation(&bogus)]);
    let answer = server.transport().sync(&token, &req).unwrap().body;
    assert!(matches!(
        answer.ack.problem,
        Some(PushProblem::Broken { seq: 2, .. })
    ));
    assert_eq!(stored_ops(&server), (1, 0));

    // The genuine phone then syncs normally.
    server.sync(&store).unwrap();
    assert_eq!(stored_ops(&server), (3, 0));
}

#[test]
fn a_token_stops_working_when_its_device_is_revoked_or_re_enrolled() {
    let server = TestServer::start(33);
    let cadre = assisting(&server, 0);
    let store = server.device(&cadre);
    let (req, old_token) = request(&store, Vec::new());
    // Re-enrolling the same phone issues a new token; the old one is refused.
    let code = fieldvisit_server::enroll::create_code(
        server.storage.as_ref(),
        &cadre,
        now(),
        3_600_000,
        &admin(),
    )
    .unwrap();
    fieldvisit_core::sync::enroll(&store, &server.transport(), &server.url, &code.code, "test")
        .unwrap();
    assert!(matches!(
        server.transport().sync(&old_token, &req),
        Err(TransportError::Http { status: 401, .. })
    ));
    let (req, token) = request(&store, Vec::new());
    assert!(server.transport().sync(&token, &req).is_ok());
    fieldvisit_server::admin::revoke(
        server.storage.as_ref(),
        &store.device_id(),
        "lost",
        &admin(),
        now(),
    )
    .unwrap();
    match server.transport().sync(&token, &req) {
        Err(TransportError::Http {
            status: 401,
            body: Some(body),
        }) => {
            assert_eq!(body.error, ErrorCode::Revoked);
            assert!(body.message.contains("lost"));
        }
        other => panic!("expected 401 revoked, got {other:?}"),
    }
}

#[test]
fn an_unsupported_protocol_version_in_sync_is_refused() {
    let server = TestServer::start(34);
    let store = server.device(&assisting(&server, 0));
    let (mut req, token) = request(&store, Vec::new());
    req.protocol = PROTOCOL_VERSION + 1;
    match server.transport().sync(&token, &req) {
        Err(TransportError::Http {
            status: 400,
            body: Some(body),
        }) => assert_eq!(body.error, ErrorCode::UnsupportedProtocol),
        other => panic!("expected 400, got {other:?}"),
    }
}

#[test]
fn injection_shaped_and_long_unicode_text_is_stored_verbatim_or_refused_whole() {
    let server = TestServer::start(35);
    let cadre = assisting(&server, 0);
    let store = server.device(&cadre);
    let h = server.region.households_of(&cadre, today())[0].clone();
    let nasty = "入户走访'); DROP TABLE visit; -- \"<script>alert(1)</script>\" ᠮᠣᠩᠭᠣᠯ 🐑 \\u0000";
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
    let (mut content, location) = server.region.visit(&mut rng, &h, store.now());
    content.diary = nasty.into();
    let ident = Identification::Scanned {
        payload: server.region.plate(&h),
        scanned_at: WallTime(store.now().0 - 1000),
    };
    let record = store.record_visit(ident, content, Some(location)).unwrap();
    server.sync(&store).unwrap();
    let (op, _) = &server
        .storage
        .read()
        .unwrap()
        .ops_of_household(&h.id, &[OpKind::VisitRecord])
        .unwrap()[0];
    match op.body().unwrap() {
        OpBody::VisitRecorded(v) => assert_eq!(v.content.diary, nasty),
        other => panic!("{other:?}"),
    }
    assert!(store.visit(record.id).unwrap().is_some());

    // A modified client pushes a diary over the limit and a visit by another cadre: each is
    // refused whole with its reason, and the valid visit after them is accepted.
    let mut raw = server.raw_device(&cadre, 7);
    let visit = |diary: String, cadre: fieldvisit_core::ids::CadreId| {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(3);
        let at = SystemClock.now();
        let (mut content, location) = server.region.visit(&mut rng, &h, at);
        content.diary = diary;
        OpBody::VisitRecorded(fieldvisit_core::domain::visit::VisitRecord {
            id: fieldvisit_core::ids::VisitId::generate(at),
            household: h.id.clone(),
            cadre,
            identified: fieldvisit_core::domain::visit::IdentifiedBy::Manual {
                reason: "门牌丢失".into(),
            },
            recorded_at: at,
            location: Some(location),
            content,
            photos: Vec::new(),
        })
    };
    let long = raw.next(&visit("字".repeat(4001), cadre.clone()));
    let impostor = raw.next(&visit("冒名顶替的走访记录。".into(), assisting(&server, 1)));
    let fine = raw.next(&visit("正常的入户走访记录。".into(), cadre.clone()));
    let before = stored_ops(&server);
    let answer = raw.push(&server, vec![long, impostor, fine]).unwrap();
    assert_eq!(answer.ack.acked_seq, 3);
    let codes: Vec<RejectCode> = answer.ack.rejected.iter().map(|r| r.code).collect();
    assert_eq!(codes, [RejectCode::Invalid, RejectCode::Forbidden]);
    assert!(
        answer.ack.rejected[0].reason.contains("diary"),
        "{}",
        answer.ack.rejected[0].reason
    );
    assert!(
        !answer.ack.rejected[0].reason.contains('字'),
        "no content in reasons"
    );
    assert_eq!(stored_ops(&server), (before.0 + 1, before.1 + 2));
}
