//! A photo upload cut halfway: a 2 MB photo on a real server over HTTP, the connection cut
//! in the chunk that holds the photo's middle byte, then the next sync resumes. Reports the
//! photo bytes re-sent because of the cut (target: at most one chunk), for a cut before the
//! server got the chunk and for one after (the answer lost).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use fieldvisit_core::clock::WallTime;
use fieldvisit_core::domain::photo::{CHUNK_BYTES, PhotoSource, sha256_hex};
use fieldvisit_core::domain::visit::Identification;
use fieldvisit_core::protocol::{
    EnrollRequest, EnrollResponse, PhotoStatus, SyncRequest, SyncResponse,
};
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::sync::{Exchange, RetryPolicy, SyncOptions, Transport, TransportError};
use fieldvisit_tests::harness::{TestServer, options, today};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type BoxError = Box<dyn std::error::Error>;

/// The photo: a phone camera's JPEG is 2–5 MB.
const PHOTO_BYTES: usize = 2_000_000;

/// Forwards to the server; cuts the chunk upload holding byte `cut_at` once, before the
/// server gets it or after (losing the answer), and counts the chunk bytes handed to it.
struct CuttingLink {
    inner: HttpTransport,
    cut: Mutex<Option<(u64, bool)>>,
    sent: AtomicU64,
}

impl Transport for CuttingLink {
    fn enroll(&self, req: &EnrollRequest) -> Result<Exchange<EnrollResponse>, TransportError> {
        self.inner.enroll(req)
    }

    fn sync(
        &self,
        token: &str,
        req: &SyncRequest,
    ) -> Result<Exchange<SyncResponse>, TransportError> {
        self.inner.sync(token, req)
    }

    fn photo_status(
        &self,
        token: &str,
        sha256: &str,
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        self.inner.photo_status(token, sha256)
    }

    fn put_photo_chunk(
        &self,
        token: &str,
        sha256: &str,
        index: u32,
        bytes: &[u8],
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        self.sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let start = u64::from(index) * u64::from(CHUNK_BYTES);
        let cut = {
            let mut cut = self.cut.lock().map_err(|_| offline("lock"))?;
            match *cut {
                Some((at, lose_answer)) if (start..start + bytes.len() as u64).contains(&at) => {
                    *cut = None;
                    Some(lose_answer)
                }
                _ => None,
            }
        };
        match cut {
            Some(false) => Err(offline("connection cut mid-chunk")),
            Some(true) => {
                self.inner.put_photo_chunk(token, sha256, index, bytes)?;
                Err(offline("connection cut before the answer"))
            }
            None => self.inner.put_photo_chunk(token, sha256, index, bytes),
        }
    }

    fn fetch_dictionary(&self, token: &str, id: u32) -> Result<Exchange<Vec<u8>>, TransportError> {
        self.inner.fetch_dictionary(token, id)
    }

    fn use_dictionary(&self, bytes: Option<&[u8]>) -> Result<Option<u32>, TransportError> {
        self.inner.use_dictionary(bytes)
    }
}

fn offline(why: &str) -> TransportError {
    TransportError::Offline(why.to_string())
}

/// One cut upload and its resumption: the photo bytes re-sent.
fn one(server: &TestServer, seed: u64, lose_answer: bool) -> Result<u64, BoxError> {
    let cadre = server
        .region
        .cadres
        .iter()
        .find(|c| c.role == "assisting")
        .ok_or("no assisting cadre")?
        .id
        .clone();
    let h = server
        .region
        .households_of(&cadre, today())
        .first()
        .copied()
        .ok_or("no household")?
        .clone();
    let phone = server.device(&cadre);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut photo = vec![0u8; PHOTO_BYTES];
    rng.fill(photo.as_mut_slice());
    let at = phone.now();
    let sha = phone
        .add_photo(&photo, PhotoSource::Camera, WallTime(at.0 - 1000), None)?
        .sha256;
    let (content, location) = server.region.visit(&mut rng, &h, at);
    let scan = Identification::Scanned {
        payload: server.region.plate(&h),
        scanned_at: WallTime(at.0 - 60_000),
    };
    phone.record_visit_with_photos(scan, content, Some(location), std::slice::from_ref(&sha))?;

    let link = CuttingLink {
        inner: server.transport(),
        cut: Mutex::new(Some(((PHOTO_BYTES / 2) as u64, lose_answer))),
        sent: AtomicU64::new(0),
    };
    let once = SyncOptions {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..options()
    };
    if fieldvisit_core::sync::sync(&phone, &link, &once).is_ok() {
        return Err("the cut did not happen".into());
    }
    let report = fieldvisit_core::sync::sync(&phone, &link, &options())?;
    if report.photos_uploaded != 1 {
        return Err("the resumed upload did not complete".into());
    }
    let stored = server
        .storage
        .read()?
        .photo_bytes(&sha)?
        .ok_or("the server does not hold the photo")?;
    if sha256_hex(&stored) != sha {
        return Err("the server holds other bytes than the photo".into());
    }
    Ok(link.sent.load(Ordering::Relaxed) - PHOTO_BYTES as u64)
}

pub fn run(runs: usize, seed: u64, json: bool) -> Result<(), BoxError> {
    let server = TestServer::start(seed);
    for (lose_answer, case) in [(false, "cut mid-chunk"), (true, "answer lost")] {
        let mut resent: Vec<u64> = (0..runs.max(1))
            // A photo of its own per run: the server would hold an earlier run's already.
            .map(|r| {
                one(
                    &server,
                    seed + r as u64 + u64::from(lose_answer) * 1000,
                    lose_answer,
                )
            })
            .collect::<Result<_, _>>()?;
        resent.sort_unstable();
        let median = resent[resent.len() / 2];
        if json {
            println!(
                "{}",
                serde_json::json!({"bench": "photo-resume", "case": case, "photo_bytes": PHOTO_BYTES,
                    "chunk_bytes": CHUNK_BYTES, "cut_at_byte": PHOTO_BYTES / 2,
                    "resent_bytes": median, "runs": resent.len()})
            );
        } else {
            println!(
                "photo-resume ({case}): {median} bytes re-sent after a cut at byte {} of a \
                 {PHOTO_BYTES}-byte photo (chunk {CHUNK_BYTES} bytes; median of {} runs)",
                PHOTO_BYTES / 2,
                resent.len()
            );
        }
    }
    Ok(())
}
