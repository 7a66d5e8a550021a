//! Visit photos end to end over HTTP: an upload cut anywhere resumes where it stopped and ends
//! with the right hash; a photo two visits name is stored and sent once; corrupted, oversized,
//! malformed and unreferenced uploads are refused with their own error codes, and nothing else
//! the server holds is lost.

#![allow(clippy::unwrap_used)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fieldvisit_core::Store;
use fieldvisit_core::clock::{Clock, SystemClock, WallTime};
use fieldvisit_core::domain::Household;
use fieldvisit_core::domain::photo::{
    CHUNK_BYTES, ExifFacts, MAX_PHOTO_BYTES, PhotoRef, PhotoSource, chunk_count, chunk_len,
    sha256_hex,
};
use fieldvisit_core::domain::visit::{Identification, IdentifiedBy, VisitRecord};
use fieldvisit_core::ids::{CadreId, VisitId};
use fieldvisit_core::journal::OpBody;
use fieldvisit_core::protocol::{
    EnrollRequest, EnrollResponse, ErrorCode, PhotoStatus, RejectCode, SyncRequest, SyncResponse,
};
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::sync::{Exchange, RetryPolicy, SyncOptions, Transport, TransportError};
use fieldvisit_tests::harness::{RawDevice, TestServer, options, today};
use fieldvisit_tests::proxy::FaultProxy;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Picture-like bytes: varied, so that no two photos share a chunk.
fn picture(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = vec![0u8; size];
    rng.fill(out.as_mut_slice());
    out
}

/// A link to the server that opens a fresh connection per call (so that a proxy's faults
/// meet each on its own), counts the chunk bytes it is handed, and can be told to cut one
/// chunk upload (before the server gets it, or after, losing the answer) or to damage one.
#[derive(Default)]
struct Link {
    url: String,
    chunk_bytes: AtomicU64,
    cut: Mutex<Option<(u32, bool)>>,
    damage: Mutex<Option<u32>>,
    token: Mutex<String>,
}

impl Link {
    fn to(url: &str) -> Link {
        Link {
            url: url.to_string(),
            ..Link::default()
        }
    }

    fn http(&self) -> Result<HttpTransport, TransportError> {
        HttpTransport::with_timeout(&self.url, Duration::from_secs(5))
    }
}

impl Transport for Link {
    fn enroll(&self, req: &EnrollRequest) -> Result<Exchange<EnrollResponse>, TransportError> {
        self.http()?.enroll(req)
    }

    fn sync(
        &self,
        token: &str,
        req: &SyncRequest,
    ) -> Result<Exchange<SyncResponse>, TransportError> {
        *self.token.lock().unwrap() = token.to_string();
        self.http()?.sync(token, req)
    }

    fn photo_status(
        &self,
        token: &str,
        sha256: &str,
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        self.http()?.photo_status(token, sha256)
    }

    fn put_photo_chunk(
        &self,
        token: &str,
        sha256: &str,
        index: u32,
        bytes: &[u8],
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        self.chunk_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let cut = {
            let mut cut = self.cut.lock().unwrap();
            match *cut {
                Some((at, lose_answer)) if at == index => {
                    *cut = None;
                    Some(lose_answer)
                }
                _ => None,
            }
        };
        match cut {
            Some(false) => return Err(TransportError::Offline("cut mid-chunk".into())),
            Some(true) => {
                self.http()?.put_photo_chunk(token, sha256, index, bytes)?;
                return Err(TransportError::Offline("answer lost".into()));
            }
            None => {}
        }
        let damaged = {
            let mut damage = self.damage.lock().unwrap();
            (*damage == Some(index)).then(|| damage.take())
        };
        if damaged.is_some() {
            let mut bad = bytes.to_vec();
            bad[0] ^= 0xFF;
            return self.http()?.put_photo_chunk(token, sha256, index, &bad);
        }
        self.http()?.put_photo_chunk(token, sha256, index, bytes)
    }

    fn fetch_dictionary(&self, token: &str, id: u32) -> Result<Exchange<Vec<u8>>, TransportError> {
        self.http()?.fetch_dictionary(token, id)
    }

    /// A fresh client per call keeps no dictionary.
    fn use_dictionary(&self, _: Option<&[u8]>) -> Result<Option<u32>, TransportError> {
        Ok(None)
    }
}

fn assisting(server: &TestServer, n: usize) -> CadreId {
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

fn first_household(server: &TestServer, cadre: &CadreId) -> Household {
    server.region.households_of(cadre, today())[0].clone()
}

/// Records a scanned visit naming `photos`.
fn visit_with(
    server: &TestServer,
    store: &Store,
    h: &Household,
    seed: u64,
    photos: &[String],
) -> VisitRecord {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let at = store.now();
    let (content, location) = server.region.visit(&mut rng, h, at);
    let scan = Identification::Scanned {
        payload: server.region.plate(h),
        scanned_at: WallTime(at.0 - 60_000),
    };
    store
        .record_visit_with_photos(scan, content, Some(location), photos)
        .unwrap()
}

fn add(store: &Store, bytes: &[u8]) -> String {
    store
        .add_photo(
            bytes,
            PhotoSource::Camera,
            WallTime(store.now().0 - 1000),
            None,
        )
        .unwrap()
        .sha256
}

fn stored(server: &TestServer, sha: &str) -> Option<Vec<u8>> {
    server.storage.read().unwrap().photo_bytes(sha).unwrap()
}

fn one_attempt() -> SyncOptions {
    SyncOptions {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..options()
    }
}

#[test]
fn an_upload_cut_at_a_random_chunk_resumes_and_resends_at_most_that_chunk() {
    let server = TestServer::start(61);
    let cadre = assisting(&server, 0);
    let h = first_household(&server, &cadre);
    let mut rng = ChaCha8Rng::seed_from_u64(61);
    let size = 2_000_000;
    let count = chunk_count(size as u64);
    for round in 0..4u64 {
        let phone = server.device(&cadre);
        let bytes = picture(size, round);
        let sha = add(&phone, &bytes);
        visit_with(&server, &phone, &h, round, std::slice::from_ref(&sha));
        let cut_at = rng.random_range(0..count);
        let lose_answer = rng.random_bool(0.5);
        let link = Link::to(&server.url);
        *link.cut.lock().unwrap() = Some((cut_at, lose_answer));

        // The cut ends this sync (one attempt per call); the visit is already on the server.
        let err = fieldvisit_core::sync::sync(&phone, &link, &one_attempt()).unwrap_err();
        assert!(matches!(err, fieldvisit_core::Error::Offline(_)), "{err}");
        assert!(phone.unsynced().unwrap().is_empty(), "visits went first");
        assert!(phone.photo_bytes(&sha).unwrap().is_some(), "nothing pruned");
        assert_eq!(stored(&server, &sha), None);

        // The next sync asks what the server has and sends only the rest.
        let report = fieldvisit_core::sync::sync(&phone, &link, &options()).unwrap();
        assert_eq!(report.photos_uploaded, 1);
        let resent = link.chunk_bytes.load(Ordering::Relaxed) - size as u64;
        let expected = if lose_answer {
            0
        } else {
            chunk_len(size as u64, cut_at)
        };
        assert_eq!(
            resent, expected,
            "round {round}: cut at chunk {cut_at} (answer lost: {lose_answer})"
        );
        assert!(resent <= u64::from(CHUNK_BYTES));
        let on_server = stored(&server, &sha).unwrap();
        assert_eq!(sha256_hex(&on_server), sha);
        assert_eq!(phone.photo_bytes(&sha).unwrap(), None, "pruned once held");
    }
}

#[test]
fn a_cut_retried_within_the_sync_costs_one_chunk() {
    let server = TestServer::start(62);
    let cadre = assisting(&server, 0);
    let h = first_household(&server, &cadre);
    let phone = server.device(&cadre);
    let size = 2_000_000u64;
    let bytes = picture(size as usize, 9);
    let sha = add(&phone, &bytes);
    visit_with(&server, &phone, &h, 9, std::slice::from_ref(&sha));
    let link = Link::to(&server.url);
    let half = chunk_count(size) / 2;
    *link.cut.lock().unwrap() = Some((half, false));
    let report = fieldvisit_core::sync::sync(&phone, &link, &options()).unwrap();
    assert_eq!(report.photos_uploaded, 1);
    assert_eq!(report.photo_bytes_up - size, chunk_len(size, half));
    assert_eq!(sha256_hex(&stored(&server, &sha).unwrap()), sha);
}

#[test]
fn uploads_through_a_link_that_cuts_bodies_mid_stream_complete_with_the_right_hash() {
    let server = TestServer::start(63);
    let upstream = server.url.trim_start_matches("http://").parse().unwrap();
    let proxy = FaultProxy::start(upstream, 63, 0.5).unwrap();
    let cadre = assisting(&server, 0);
    let h = first_household(&server, &cadre);
    let phone = server.device(&cadre);
    let size = 700_000u64;
    let bytes = picture(size as usize, 63);
    let sha = add(&phone, &bytes);
    visit_with(&server, &phone, &h, 63, std::slice::from_ref(&sha));
    let link = Link::to(&proxy.url());
    let mut failed_syncs = 0;
    for _ in 0..40 {
        match fieldvisit_core::sync::sync(&phone, &link, &one_attempt()) {
            Ok(r) if r.photos_pending == 0 && r.complete => break,
            Ok(_) => {}
            Err(_) => failed_syncs += 1,
        }
    }
    let cuts = proxy.counts.requests_cut.load(Ordering::Relaxed)
        + proxy.counts.responses_cut.load(Ordering::Relaxed);
    assert!(cuts > 0, "the proxy cut nothing");
    assert_eq!(sha256_hex(&stored(&server, &sha).unwrap()), sha);
    let resent = link.chunk_bytes.load(Ordering::Relaxed) - size;
    assert!(
        resent <= cuts * u64::from(CHUNK_BYTES),
        "{resent} bytes re-sent for {cuts} cuts"
    );
    eprintln!("{cuts} bodies cut, {failed_syncs} syncs failed, {resent} photo bytes re-sent");
}

#[test]
fn a_photo_named_by_two_visits_is_stored_and_sent_once() {
    let server = TestServer::start(64);
    let (c1, c2) = (assisting(&server, 0), assisting(&server, 1));
    let (h1, h2) = (first_household(&server, &c1), first_household(&server, &c2));
    let (p1, p2) = (server.device(&c1), server.device(&c2));
    let bytes = picture(300_000, 64);
    let sha = add(&p1, &bytes);
    assert_eq!(add(&p2, &bytes), sha);
    let v1 = visit_with(&server, &p1, &h1, 1, std::slice::from_ref(&sha));
    let first = server.sync(&p1).unwrap();
    assert_eq!((first.photos_uploaded, first.photo_bytes_up), (1, 300_000));
    let v2 = visit_with(&server, &p2, &h2, 2, std::slice::from_ref(&sha));
    let second = server.sync(&p2).unwrap();
    assert_eq!(
        (second.photos_uploaded, second.photo_bytes_up),
        (1, 0),
        "the server already held it"
    );
    assert_eq!(p2.photo_bytes(&sha).unwrap(), None);

    let mut tx = server.storage.read().unwrap();
    let links: Vec<VisitId> = tx
        .photo_links(&sha)
        .unwrap()
        .into_iter()
        .map(|l| l.visit)
        .collect();
    let mut expected = vec![v1.id, v2.id];
    expected.sort();
    assert_eq!(links, expected);
    assert_eq!(tx.photo(&sha).unwrap().unwrap().size, 300_000);
}

#[test]
fn a_corrupted_upload_is_refused_discarded_and_sent_again() {
    let server = TestServer::start(65);
    let cadre = assisting(&server, 0);
    let h = first_household(&server, &cadre);
    let phone = server.device(&cadre);
    let size = 200_000u64;
    let bytes = picture(size as usize, 65);
    let sha = add(&phone, &bytes);
    visit_with(&server, &phone, &h, 65, std::slice::from_ref(&sha));
    let link = Link::to(&server.url);
    *link.damage.lock().unwrap() = Some(1);
    let report = fieldvisit_core::sync::sync(&phone, &link, &options()).unwrap();
    assert_eq!(report.acknowledged, 1);
    assert_eq!(report.photos_uploaded, 1);
    assert_eq!(report.photo_bytes_up, 2 * size, "sent whole a second time");
    assert_eq!(stored(&server, &sha).unwrap(), bytes);
    assert_eq!(
        server
            .storage
            .read()
            .unwrap()
            .photo_chunk_indexes(&sha)
            .unwrap(),
        Vec::<u32>::new()
    );
}

/// A protocol-level device whose accepted visit names a photo of `size` bytes.
fn raw_visit_naming(server: &TestServer, sha: &str, size: u64, seed: u8) -> (RawDevice, u64) {
    let cadre = assisting(server, 0);
    let h = first_household(server, &cadre);
    let mut raw = server.raw_device(&cadre, seed);
    let at = SystemClock.now();
    let mut rng = ChaCha8Rng::seed_from_u64(u64::from(seed));
    let (content, location) = server.region.visit(&mut rng, &h, at);
    let op = raw.next(&OpBody::VisitRecorded(VisitRecord {
        id: VisitId::generate(at),
        household: h.id.clone(),
        cadre,
        identified: IdentifiedBy::Manual {
            reason: "门牌丢失".into(),
        },
        recorded_at: at,
        location: Some(location),
        content,
        photos: vec![PhotoRef {
            sha256: sha.to_string(),
            size,
            source: PhotoSource::Camera,
            captured_at: at,
            exif: ExifFacts::default(),
        }],
    }));
    let answer = raw.push(server, vec![op]).unwrap();
    let visits = server.storage.read().unwrap().visit_count().unwrap();
    assert_eq!(answer.ack.acked_seq, 1);
    (raw, visits)
}

fn code_of(result: Result<Exchange<PhotoStatus>, TransportError>) -> (u16, ErrorCode) {
    match result {
        Err(TransportError::Http {
            status,
            body: Some(body),
        }) => (status, body.error),
        other => panic!("expected an error answer, got {other:?}"),
    }
}

#[test]
fn malformed_oversized_and_unreferenced_uploads_get_their_own_errors() {
    let server = TestServer::start(66);
    let http = server.transport();
    let bytes = picture(100_000, 66);
    let sha = sha256_hex(&bytes);
    let (raw, visits) = raw_visit_naming(&server, &sha, 100_000, 3);
    let t = raw.token.as_str();

    let too_big = vec![0u8; CHUNK_BYTES as usize + 1];
    assert_eq!(
        code_of(http.put_photo_chunk(t, &sha, 0, &too_big)),
        (413, ErrorCode::PhotoTooLarge)
    );
    assert_eq!(
        code_of(http.put_photo_chunk(t, &sha, 1, &bytes[..100])),
        (400, ErrorCode::BadChunk),
        "the last chunk must be exactly the rest"
    );
    assert_eq!(
        code_of(http.put_photo_chunk(t, &sha, 2, &bytes[..10])),
        (400, ErrorCode::BadChunk),
        "past the end"
    );
    let other = sha256_hex(b"a photo no visit names");
    assert_eq!(
        code_of(http.photo_status(t, &other)),
        (403, ErrorCode::PhotoNotReferenced)
    );
    assert_eq!(
        code_of(http.photo_status(t, "NOT-A-HASH")),
        (400, ErrorCode::BadRequest)
    );
    assert!(matches!(
        http.photo_status("no such token", &sha),
        Err(TransportError::Http { status: 401, .. })
    ));

    // None of it was kept, and the honest upload still goes through.
    let status = http.photo_status(t, &sha).unwrap().body;
    assert!(status.received.is_empty() && !status.complete);
    http.put_photo_chunk(t, &sha, 0, &bytes[..CHUNK_BYTES as usize])
        .unwrap();
    let done = http
        .put_photo_chunk(t, &sha, 1, &bytes[CHUNK_BYTES as usize..])
        .unwrap()
        .body;
    assert!(done.complete);
    assert_eq!(stored(&server, &sha).unwrap(), bytes);
    assert_eq!(
        server.storage.read().unwrap().visit_count().unwrap(),
        visits
    );
}

#[test]
fn a_visit_declaring_an_oversized_photo_is_refused_with_its_reason() {
    let server = TestServer::start(67);
    let cadre = assisting(&server, 0);
    let h = first_household(&server, &cadre);
    let mut raw = server.raw_device(&cadre, 4);
    let at = SystemClock.now();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (content, location) = server.region.visit(&mut rng, &h, at);
    let sha = sha256_hex(b"huge");
    let op = raw.next(&OpBody::VisitRecorded(VisitRecord {
        id: VisitId::generate(at),
        household: h.id.clone(),
        cadre,
        identified: IdentifiedBy::Manual {
            reason: "门牌丢失".into(),
        },
        recorded_at: at,
        location: Some(location),
        content,
        photos: vec![PhotoRef {
            sha256: sha.clone(),
            size: MAX_PHOTO_BYTES + 1,
            source: PhotoSource::Camera,
            captured_at: at,
            exif: ExifFacts::default(),
        }],
    }));
    let answer = raw.push(&server, vec![op]).unwrap();
    assert_eq!(answer.ack.rejected.len(), 1);
    assert_eq!(answer.ack.rejected[0].code, RejectCode::Invalid);
    assert!(
        answer.ack.rejected[0].reason.contains("photos[0].size"),
        "{}",
        answer.ack.rejected[0].reason
    );
    assert_eq!(
        code_of(server.transport().photo_status(&raw.token, &sha)),
        (403, ErrorCode::PhotoNotReferenced)
    );
}
