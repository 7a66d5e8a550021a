//! The HTTP API's answers to calls that are wrong: each gets its status code and a JSON error
//! body naming the problem, and nothing is stored.

#![allow(clippy::unwrap_used)]

use fieldvisit_core::Store;
use fieldvisit_core::protocol::{EnrollRequest, ErrorBody, ErrorCode, PROTOCOL_VERSION};
use fieldvisit_server::report::Report;
use fieldvisit_tests::harness::{TestServer, admin, now};

fn post(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, Option<ErrorBody>) {
    let client = reqwest::blocking::Client::new();
    let mut req = client
        .post(format!("{}{path}", server.url))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    (status, serde_json::from_slice(&resp.bytes().unwrap()).ok())
}

fn enroll_request(store: &Store, code: &str) -> EnrollRequest {
    EnrollRequest {
        protocol: PROTOCOL_VERSION,
        code: code.into(),
        device: store.device_id(),
        public_key: store.device_public_key(),
        app_version: "test".into(),
    }
}

#[test]
fn malformed_json_is_a_400_naming_the_problem() {
    let server = TestServer::start(21);
    let (status, body) = post(&server, "/v1/enroll", None, b"{\"protocol\": 1, \"code\": ");
    let body = body.unwrap();
    assert_eq!((status, body.error), (400, ErrorCode::BadRequest));
    assert!(
        body.message.contains("EOF") || body.message.contains("line"),
        "{}",
        body.message
    );
}

#[test]
fn an_unsupported_protocol_version_is_refused_with_the_versions_spoken() {
    let server = TestServer::start(22);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("d.db")).unwrap();
    let mut req = enroll_request(&store, "AAAA-BBBB-CCCC-DDDD");
    req.protocol = 99;
    let (status, body) = post(
        &server,
        "/v1/enroll",
        None,
        &serde_json::to_vec(&req).unwrap(),
    );
    let body = body.unwrap();
    assert_eq!((status, body.error), (400, ErrorCode::UnsupportedProtocol));
    assert_eq!(body.supported_protocols, Some(vec![PROTOCOL_VERSION]));
}

#[test]
fn sync_without_a_known_token_is_a_401() {
    let server = TestServer::start(23);
    let (status, body) = post(&server, "/v1/sync", None, b"{}");
    assert_eq!(
        (status, body.unwrap().error),
        (401, ErrorCode::Unauthorized)
    );
    let (status, _) = post(&server, "/v1/sync", Some("fv1.not-a-token"), b"{}");
    assert_eq!(status, 401);
}

#[test]
fn an_enrollment_code_works_once_per_device_until_it_expires() {
    let server = TestServer::start(24);
    let cadre = server.region.cadres[0].id.clone();
    let code = fieldvisit_server::enroll::create_code(
        server.storage.as_ref(),
        &cadre,
        now(),
        3_600_000,
        &admin(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let phone = Store::open(dir.path().join("a.db")).unwrap();
    let thief = Store::open(dir.path().join("b.db")).unwrap();
    let req = serde_json::to_vec(&enroll_request(&phone, &code.code.to_lowercase())).unwrap();
    assert_eq!(post(&server, "/v1/enroll", None, &req).0, 200);
    // The same phone again (its first answer was lost): answered again.
    assert_eq!(post(&server, "/v1/enroll", None, &req).0, 200);
    // Another phone with the same code: refused.
    let stolen = serde_json::to_vec(&enroll_request(&thief, &code.code)).unwrap();
    let (status, body) = post(&server, "/v1/enroll", None, &stolen);
    assert_eq!(
        (status, body.unwrap().error),
        (403, ErrorCode::EnrollmentRefused)
    );
    // An expired code: refused.
    let expired = fieldvisit_server::enroll::create_code(
        server.storage.as_ref(),
        &cadre,
        now(),
        -1,
        &admin(),
    )
    .unwrap();
    let late = serde_json::to_vec(&enroll_request(&thief, &expired.code)).unwrap();
    assert_eq!(post(&server, "/v1/enroll", None, &late).0, 403);
}

#[test]
fn an_oversized_body_is_a_413() {
    let server = TestServer::start(25);
    let huge = vec![b' '; fieldvisit_core::protocol::MAX_REQUEST_BYTES + 1024];
    let (status, body) = post(&server, "/v1/enroll", None, &huge);
    assert_eq!((status, body.unwrap().error), (413, ErrorCode::TooLarge));
}

#[test]
fn a_compressed_request_is_read_and_the_health_check_answers() {
    let server = TestServer::start(26);
    let body = zstd::bulk::compress(b"{\"protocol\":1}", 3).unwrap();
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/enroll", server.url))
        .header("content-encoding", "zstd")
        .body(body)
        .send()
        .unwrap();
    // It was decompressed and parsed: the error names a missing field, not bad bytes.
    let err: ErrorBody = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
    assert!(err.message.contains("missing field"), "{}", err.message);
    let health: serde_json::Value = serde_json::from_slice(
        &reqwest::blocking::get(format!("{}/v1/health", server.url))
            .unwrap()
            .bytes()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(health["status"], "ok");
}

/// The served document is the one the code generates, and each of its operations is answered
/// by a handler (its own refusal), never by the router's fallback (an empty 404, or 405).
#[test]
fn the_openapi_document_is_served_and_every_operation_reaches_its_handler() {
    let server = TestServer::start(27);
    let served: serde_json::Value = serde_json::from_slice(
        &reqwest::blocking::get(format!("{}/v1/openapi.json", server.url))
            .unwrap()
            .bytes()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(served, fieldvisit_server::app::openapi().unwrap());
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1."));
    let report = Report::ALL[0].name();
    let zeros = "0".repeat(64);
    let client = reqwest::blocking::Client::new();
    let mut reached = 0;
    for (path, item) in served["paths"].as_object().unwrap() {
        let url = path
            .replace("{name}", report)
            .replace("{id}", "1")
            .replace("{sha256}", &zeros)
            .replace("{index}", "0");
        assert!(
            !url.contains('{'),
            "{path}: a path parameter this test does not fill"
        );
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = client
                .request(method.clone(), format!("{}{url}", server.url))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .unwrap();
            let status = resp.status().as_u16();
            let body = resp.bytes().unwrap();
            assert_ne!(status, 405, "{method} {path} is routed");
            if status == 404 {
                assert!(
                    serde_json::from_slice::<ErrorBody>(&body).is_ok(),
                    "{method} {path}: a handler's 404, not the router's"
                );
            }
            reached += 1;
        }
    }
    assert!(reached >= 8, "{reached} operations");
}
