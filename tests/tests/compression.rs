//! Compression dictionaries end to end: the server trains one on the visits phones pushed,
//! advertises it, phones fetch it once and from then on both directions of a sync are
//! compressed with it; a phone whose dictionary the server does not know still syncs.

#![allow(clippy::unwrap_used)]

use fieldvisit_core::Store;
use fieldvisit_core::domain::Household;
use fieldvisit_core::ids::CadreId;
use fieldvisit_core::protocol::{ErrorBody, ErrorCode};
use fieldvisit_core::store::OpState;
use fieldvisit_core::sync::codec::{self, Dictionary};
use fieldvisit_server::dictionary;
use fieldvisit_server::storage::StoredDictionary;
use fieldvisit_tests::harness::{TestServer, admin, now, today};

/// A cadre of the small region and the households it is responsible for today.
fn cadre_with_households(server: &TestServer) -> (CadreId, Vec<Household>) {
    for cadre in &server.region.cadres {
        let households: Vec<Household> = server
            .region
            .households_of(&cadre.id, today())
            .into_iter()
            .cloned()
            .collect();
        if !households.is_empty() {
            return (cadre.id.clone(), households);
        }
    }
    panic!("no cadre of the small region has households");
}

/// A server whose phones pushed `visits` visits, and one phone of its.
fn server_with_visits(seed: u64, visits: usize) -> (TestServer, Store, Vec<Household>) {
    let server = TestServer::start(seed);
    let (cadre, households) = cadre_with_households(&server);
    let phone = server.device(&cadre);
    for i in 0..visits {
        server
            .record_visit(&phone, &households[i % households.len()], i as u64)
            .unwrap();
    }
    server.sync(&phone).unwrap();
    (server, phone, households)
}

fn all_synced(store: &Store) -> bool {
    store
        .operations(0, usize::MAX)
        .unwrap()
        .iter()
        .all(|op| store.operation_state(op.id).unwrap() == Some(OpState::Synced))
}

#[test]
fn too_few_operations_train_no_dictionary_and_say_so() {
    let (server, _, _) = server_with_visits(71, 5);
    let err = dictionary::train_from_storage(server.storage.as_ref(), 1_000, 4096, &admin(), now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("too few"), "{err}");
    assert_eq!(
        server.storage.read().unwrap().current_dictionary().unwrap(),
        None
    );
}

#[test]
fn phones_fetch_the_trained_dictionary_and_sync_with_it_both_ways() {
    let (server, phone, households) = server_with_visits(72, 240);
    let trained =
        dictionary::train_from_storage(server.storage.as_ref(), 1_000, 8 * 1024, &admin(), now())
            .unwrap();
    assert_eq!(trained.samples, 240);

    // The next sync learns of the dictionary and fetches it.
    let report = server.sync(&phone).unwrap();
    assert_eq!(report.dictionary, Some(trained.id));
    let (held, bytes) = phone.compression_dictionary().unwrap().unwrap();
    assert_eq!(
        (held, bytes.as_slice()),
        (trained.id, trained.bytes.as_slice())
    );

    // A visit now goes up compressed with it, is accepted, and costs less than plain zstd.
    server.record_visit(&phone, &households[0], 9_999).unwrap();
    let (request, _) = phone.sync_request(256 * 1024, 500, "test").unwrap();
    let json = serde_json::to_vec(&request).unwrap();
    let plain = codec::compress(&json, 3, None).unwrap().len() as u64;
    let report = server.sync(&phone).unwrap();
    assert_eq!(report.acknowledged, 1);
    assert!(all_synced(&phone));
    assert!(
        report.bytes_up < plain * 2 / 3,
        "with the dictionary {} bytes, plain zstd {plain}",
        report.bytes_up
    );
    assert_eq!(
        report.requests, 1,
        "no second fetch of a dictionary already held"
    );
}

#[test]
fn a_phone_holding_a_dictionary_the_server_never_had_drops_it_and_still_syncs() {
    let (server, phone, households) = server_with_visits(73, 240);
    let trained =
        dictionary::train_from_storage(server.storage.as_ref(), 1_000, 8 * 1024, &admin(), now())
            .unwrap();
    // A dictionary from elsewhere (another county's server, say).
    let samples: Vec<Vec<u8>> = (0..300)
        .map(|i| format!(r#"{{"elsewhere":{i},"text":"另一个县的字典{}"}}"#, i * 31).into_bytes())
        .collect();
    let foreign = dictionary::train(&samples, 4096).unwrap();
    let foreign_id = Dictionary::new(&foreign, 3).unwrap().id();
    assert_ne!(foreign_id, trained.id);
    phone
        .save_compression_dictionary(foreign_id, &foreign)
        .unwrap();

    server.record_visit(&phone, &households[0], 4_242).unwrap();
    let report = server.sync(&phone).unwrap();
    assert_eq!(report.acknowledged, 1);
    assert!(all_synced(&phone));
    // ...and it picked up the server's own dictionary on the way.
    assert_eq!(report.dictionary, Some(trained.id));
    assert_eq!(
        phone.compression_dictionary().unwrap().map(|(id, _)| id),
        Some(trained.id)
    );
}

#[test]
fn dictionaries_are_served_only_to_enrolled_devices_and_unknown_ids_are_404() {
    let (server, phone, _) = server_with_visits(74, 240);
    let trained =
        dictionary::train_from_storage(server.storage.as_ref(), 1_000, 8 * 1024, &admin(), now())
            .unwrap();
    let client = reqwest::blocking::Client::new();
    let url = |id: u32| format!("{}/v1/dictionaries/{id}", server.url);
    let anonymous = client.get(url(trained.id)).send().unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    let token = phone.sync_request(1024, 1, "test").unwrap().1;
    let fetched = client
        .get(url(trained.id))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(fetched.status().as_u16(), 200);
    assert_eq!(fetched.bytes().unwrap().as_ref(), trained.bytes.as_slice());

    let missing = client
        .get(url(trained.id.wrapping_add(1)))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let body: ErrorBody = serde_json::from_slice(&missing.bytes().unwrap()).unwrap();
    assert_eq!(body.error, ErrorCode::NotFound);
}

#[test]
fn a_request_compressed_with_an_unknown_dictionary_is_refused_by_name() {
    let (server, phone, _) = server_with_visits(75, 0);
    let samples: Vec<Vec<u8>> = (0..300)
        .map(|i| format!(r#"{{"protocol":1,"n":{i}}}"#).into_bytes())
        .collect();
    let bytes = dictionary::train(&samples, 2048).unwrap();
    let foreign = Dictionary::new(&bytes, 3).unwrap();
    let (request, token) = phone.sync_request(1024, 1, "test").unwrap();
    let body = codec::compress(&serde_json::to_vec(&request).unwrap(), 3, Some(&foreign)).unwrap();
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/sync", server.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: ErrorBody = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
    assert_eq!(body.error, ErrorCode::UnknownDictionary);
    assert!(
        body.message.contains(&foreign.id().to_string()),
        "{}",
        body.message
    );
}

#[test]
fn the_answer_to_a_dictionary_compressed_request_uses_the_same_dictionary() {
    let (server, phone, _) = server_with_visits(76, 240);
    let trained: StoredDictionary =
        dictionary::train_from_storage(server.storage.as_ref(), 1_000, 8 * 1024, &admin(), now())
            .unwrap();
    let dict = Dictionary::new(&trained.bytes, 3).unwrap();
    let (request, token) = phone.sync_request(64 * 1024, 1, "test").unwrap();
    let body = codec::compress(&serde_json::to_vec(&request).unwrap(), 3, Some(&dict)).unwrap();
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/sync", server.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .header("accept-encoding", "zstd, gzip")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-encoding"], "zstd");
    let raw = resp.bytes().unwrap();
    assert_eq!(codec::frame_dictionary(&raw), Some(trained.id));
    let plain = codec::decode("zstd", &raw, 1 << 24, |_| Some(dict.into())).unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(answer["dictionary"], trained.id);
}
