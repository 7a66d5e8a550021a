//! A tiny in-memory sync server that plays the protocol honestly: it enrolls devices with a
//! one-time code, keeps each device's operations verified against its chain and public key,
//! acknowledges what it stored, and serves a canned feed in pages. It can be told to fail in
//! the ways a real link and a real server fail.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::domain::photo::{self, CHUNK_BYTES};
use fieldvisit_core::ids::{CadreId, DeviceId};
use fieldvisit_core::journal::OpBody;
use fieldvisit_core::journal::{ChainPoint, GENESIS, Operation, verify_chain};
use fieldvisit_core::plate::AuthorityKey;
use fieldvisit_core::protocol::PhotoStatus;
use fieldvisit_core::protocol::{
    Change, ChangeBody, EnrollRequest, EnrollResponse, ErrorBody, ErrorCode, PROTOCOL_VERSION,
    PushAck, PushProblem, RejectCode, Rejection, SyncRequest, SyncResponse,
};
use fieldvisit_core::sync::{Exchange, Sleeper, Transport, TransportError};

pub const SERVER_TIME: i64 = 1_717_207_200_000 + 1_500;

#[derive(Default)]
pub struct DeviceRecord {
    pub key: Option<VerifyingKey>,
    pub code: String,
    pub token: String,
    /// Stored operations; index i holds sequence number i + 1.
    pub ops: Vec<Operation>,
    pub rejected: BTreeMap<u64, Rejection>,
}

#[derive(Default)]
pub struct State {
    pub codes: Vec<String>,
    pub cadre: Option<CadreId>,
    pub authority_keys: Vec<AuthorityKey>,
    pub devices: HashMap<DeviceId, DeviceRecord>,
    /// How many times each (device, seq) was stored: an honest server stores each once.
    pub stored: BTreeMap<u64, u32>,
    /// Fail this many calls with `Offline` before doing anything.
    pub fail_next: u32,
    /// Commit this many calls, then lose their responses.
    pub drop_next: u32,
    /// Answer every call with this HTTP error.
    pub http_error: Option<(u16, ErrorBody)>,
    pub reject: HashMap<u64, (RejectCode, String)>,
    pub revoked: Option<String>,
    pub feed: Vec<Change>,
    /// Feed entries per page.
    pub page_size: usize,
    /// Every sync request received, answered or not.
    pub requests: Vec<SyncRequest>,
    /// Chunks of photos being uploaded, by hash.
    pub photo_chunks: HashMap<String, BTreeMap<u32, Vec<u8>>>,
    /// Complete photos, by hash.
    pub photos: HashMap<String, Vec<u8>>,
    /// Photo chunk bytes received.
    pub photo_bytes: u64,
}

#[derive(Clone, Default)]
pub struct FakeServer(Arc<Mutex<State>>);

impl FakeServer {
    pub fn new(cadre: &str, authority_keys: Vec<AuthorityKey>) -> FakeServer {
        let server = FakeServer::default();
        {
            let mut s = server.state();
            s.codes = vec!["ENROL-0001".into()];
            s.cadre = Some(CadreId::new(cadre).unwrap());
            s.authority_keys = authority_keys;
            s.page_size = 100;
        }
        server
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    /// Sets the feed: each body gets the next position, from 1.
    pub fn set_feed(&self, bodies: Vec<ChangeBody>) {
        self.state().feed = bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| Change {
                pos: i as u64 + 1,
                body,
            })
            .collect();
    }

    /// Appends to the feed after its last position.
    pub fn publish(&self, body: ChangeBody) {
        let mut s = self.state();
        let pos = s.feed.last().map_or(1, |c| c.pos + 1);
        s.feed.push(Change { pos, body });
    }

    /// The server loses what it had after `seq` (a restore from an older backup).
    pub fn forget_after(&self, device: DeviceId, seq: u64) {
        let mut s = self.state();
        let record = s.devices.get_mut(&device).unwrap();
        record.ops.truncate(seq as usize);
        record.rejected.retain(|s, _| *s <= seq);
    }

    pub fn stored_seqs(&self, device: DeviceId) -> Vec<u64> {
        self.state().devices[&device]
            .ops
            .iter()
            .map(|o| o.seq)
            .collect()
    }

    /// The sequence numbers pushed in each request received.
    pub fn pushes(&self) -> Vec<Vec<u64>> {
        self.state()
            .requests
            .iter()
            .map(|r| r.push.iter().map(|p| p.seq).collect())
            .collect()
    }

    /// The size an accepted visit of the device holding `token` declared for a photo.
    fn photo_claim(&self, token: &str, sha256: &str) -> Result<u64, TransportError> {
        let s = self.state();
        let device = s
            .devices
            .values()
            .find(|d| d.token == token)
            .ok_or_else(|| http(401, ErrorCode::Unauthorized, "unknown token"))?;
        device
            .ops
            .iter()
            .filter(|op| !device.rejected.contains_key(&op.seq))
            .filter_map(|op| match op.body() {
                Ok(OpBody::VisitRecorded(r)) => Some(r.photos),
                _ => None,
            })
            .flatten()
            .find(|p| p.sha256 == sha256)
            .map(|p| p.size)
            .ok_or_else(|| http(403, ErrorCode::PhotoNotReferenced, "no visit names it"))
    }

    fn photo_answer(&self, sha256: &str, size: u64) -> Exchange<PhotoStatus> {
        let s = self.state();
        let complete = s.photos.contains_key(sha256);
        let received = match (complete, s.photo_chunks.get(sha256)) {
            (false, Some(chunks)) => chunks.keys().copied().collect(),
            _ => Vec::new(),
        };
        Exchange {
            body: PhotoStatus {
                sha256: sha256.to_string(),
                size,
                chunk_bytes: CHUNK_BYTES,
                received,
                complete,
            },
            bytes_up: 0,
            bytes_down: 100,
        }
    }

    pub fn cursors(&self) -> Vec<u64> {
        self.state().requests.iter().map(|r| r.cursor).collect()
    }
}

fn http(status: u16, error: ErrorCode, message: &str) -> TransportError {
    TransportError::Http {
        status,
        body: Some(ErrorBody {
            error,
            message: message.into(),
            supported_protocols: None,
        }),
    }
}

fn wire_len<T: serde::Serialize>(value: &T) -> u64 {
    serde_json::to_vec(value).unwrap().len() as u64
}

impl Transport for FakeServer {
    fn enroll(&self, req: &EnrollRequest) -> Result<Exchange<EnrollResponse>, TransportError> {
        let mut s = self.state();
        let key = VerifyingKey::from_bytes(&req.public_key)
            .map_err(|_| http(400, ErrorCode::BadRequest, "bad key"))?;
        // A repeat of a committed enrollment (its response lost) gets the same answer.
        let repeat = s
            .devices
            .get(&req.device)
            .is_some_and(|d| d.code == req.code && d.key == Some(key));
        if !repeat {
            let Some(at) = s.codes.iter().position(|c| *c == req.code) else {
                return Err(http(403, ErrorCode::EnrollmentRefused, "code refused"));
            };
            s.codes.remove(at);
        }
        let token = format!("token-{}", req.device);
        let record = s.devices.entry(req.device).or_default();
        record.key = Some(key);
        record.code = req.code.clone();
        record.token = token.clone();
        let body = EnrollResponse {
            protocol: PROTOCOL_VERSION,
            device: req.device,
            cadre: s.cadre.clone().unwrap(),
            token,
            authority_keys: s.authority_keys.clone(),
            server_time: ServerTime(SERVER_TIME),
            dictionary: None,
        };
        Ok(Exchange {
            bytes_up: wire_len(req),
            bytes_down: wire_len(&body),
            body,
        })
    }

    fn sync(
        &self,
        token: &str,
        req: &SyncRequest,
    ) -> Result<Exchange<SyncResponse>, TransportError> {
        let mut guard = self.state();
        let s = &mut *guard;
        s.requests.push(req.clone());
        if s.fail_next > 0 {
            s.fail_next -= 1;
            return Err(TransportError::Offline("connection timed out".into()));
        }
        if let Some((status, body)) = &s.http_error {
            return Err(TransportError::Http {
                status: *status,
                body: Some(body.clone()),
            });
        }
        if let Some(reason) = &s.revoked {
            return Err(http(401, ErrorCode::Revoked, reason));
        }
        let Some(device) = s
            .devices
            .iter()
            .find(|(_, d)| d.token == token)
            .map(|(id, _)| *id)
        else {
            return Err(http(401, ErrorCode::Unauthorized, "unknown token"));
        };
        if device != req.device {
            return Err(http(403, ErrorCode::WrongDevice, "wrong device"));
        }
        let record = s.devices.get_mut(&device).unwrap();
        let key = record.key.unwrap();

        let mut problem = None;
        if let Some(first) = req.push.first() {
            let last = record.ops.len() as u64;
            if first.seq > last + 1 {
                problem = Some(PushProblem::Gap {
                    expected_seq: last + 1,
                });
            } else {
                let mut at = ChainPoint {
                    seq: last,
                    hash: record.ops.last().map_or(GENESIS, Operation::digest),
                };
                for pushed in &req.push {
                    if pushed.seq <= last {
                        // Already stored: a repeat must be the very same operation.
                        if record.ops[pushed.seq as usize - 1].id != pushed.id {
                            problem = Some(PushProblem::Diverged { seq: pushed.seq });
                            break;
                        }
                        continue;
                    }
                    let op = pushed.clone().into_operation(device, at.hash);
                    match verify_chain(&device, &key, at, [&op]) {
                        Ok(next) => {
                            at = next;
                            *s.stored.entry(op.seq).or_default() += 1;
                            if let Some((code, reason)) = s.reject.get(&op.seq) {
                                record.rejected.insert(
                                    op.seq,
                                    Rejection {
                                        seq: op.seq,
                                        op: op.id,
                                        code: *code,
                                        reason: reason.clone(),
                                    },
                                );
                            }
                            record.ops.push(op);
                        }
                        Err(broken) => {
                            problem = Some(PushProblem::Broken {
                                seq: broken.seq,
                                problem: broken.problem,
                            });
                            break;
                        }
                    }
                }
            }
        }
        let acked_seq = record.ops.len() as u64;
        let first_pushed = req.push.first().map_or(u64::MAX, |p| p.seq);
        let rejected = record
            .rejected
            .range(first_pushed..=acked_seq)
            .map(|(_, r)| r.clone())
            .collect();

        let page: Vec<Change> = s
            .feed
            .iter()
            .filter(|c| c.pos > req.cursor)
            .take(s.page_size)
            .cloned()
            .collect();
        let cursor = page.last().map_or(req.cursor, |c| c.pos);
        let more = s.feed.iter().any(|c| c.pos > cursor);
        let body = SyncResponse {
            protocol: PROTOCOL_VERSION,
            server_time: ServerTime(SERVER_TIME),
            ack: PushAck {
                acked_seq,
                rejected,
                problem,
            },
            changes: page,
            cursor,
            more,
            clock_skew_ms: req.device_time.0 - SERVER_TIME,
            dictionary: None,
        };
        if s.drop_next > 0 {
            s.drop_next -= 1;
            return Err(TransportError::Offline("connection reset by peer".into()));
        }
        Ok(Exchange {
            bytes_up: wire_len(req),
            bytes_down: wire_len(&body),
            body,
        })
    }

    fn photo_status(
        &self,
        token: &str,
        sha256: &str,
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        let size = self.photo_claim(token, sha256)?;
        Ok(self.photo_answer(sha256, size))
    }

    fn put_photo_chunk(
        &self,
        token: &str,
        sha256: &str,
        index: u32,
        bytes: &[u8],
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        let size = self.photo_claim(token, sha256)?;
        {
            let mut s = self.state();
            s.photo_bytes += bytes.len() as u64;
            if !s.photos.contains_key(sha256) {
                let chunks = s.photo_chunks.entry(sha256.to_string()).or_default();
                chunks.insert(index, bytes.to_vec());
                if chunks.len() as u32 == photo::chunk_count(size) {
                    let data: Vec<u8> = chunks.values().flatten().copied().collect();
                    s.photo_chunks.remove(sha256);
                    if photo::sha256_hex(&data) != sha256 {
                        return Err(http(422, ErrorCode::PhotoHashMismatch, "discarded"));
                    }
                    s.photos.insert(sha256.to_string(), data);
                }
            }
        }
        let mut answer = self.photo_answer(sha256, size);
        answer.bytes_up = bytes.len() as u64;
        Ok(answer)
    }

    fn fetch_dictionary(&self, _: &str, _: u32) -> Result<Exchange<Vec<u8>>, TransportError> {
        Err(http(
            404,
            ErrorCode::NotFound,
            "this server trains no dictionary",
        ))
    }

    /// Bodies are not compressed in memory, so there is no dictionary to use.
    fn use_dictionary(&self, _: Option<&[u8]>) -> Result<Option<u32>, TransportError> {
        Ok(None)
    }
}

/// Records the waits instead of waiting.
#[derive(Default)]
pub struct RecordingSleeper(pub Mutex<Vec<Duration>>);

impl Sleeper for RecordingSleeper {
    fn sleep(&self, d: Duration) {
        self.0.lock().unwrap().push(d);
    }
}
