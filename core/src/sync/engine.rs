//! The device's sync engine: enrolls a device, and runs a sync as a loop of rounds — build a
//! request from the store, send it through a [`Transport`] (retrying what is worth retrying),
//! apply the response to the store in one transaction — until nothing is left to push and the
//! server has no more pages.
//!
//! The engine holds no network code and no async runtime: the caller supplies a transport (the
//! FFI layer's HTTP client, a test's in-memory server) and a [`Sleeper`] for the backoff. It
//! keeps no state between rounds either: every round is rebuilt from the store, so a round
//! whose response was lost is simply done again, and the server's idempotence makes the second
//! time a repeat of the first.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::photos::{NetworkKind, PhotoStatus, PhotoSync};
use super::protocol::{
    DEFAULT_PAGE_BYTES, EnrollRequest, EnrollResponse, ErrorBody, ErrorCode, PROTOCOL_VERSION,
    PushProblem, SyncRequest, SyncResponse,
};
use crate::clock::ServerTime;
use crate::error::{Error, Result};
use crate::store::{Enrollment, Identity, Store};

/// A response and what it cost on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange<T> {
    pub body: T,
    /// Bytes sent, as on the wire (compressed); the transport measures them.
    pub bytes_up: u64,
    /// Bytes received, as on the wire (compressed).
    pub bytes_down: u64,
}

/// Why a call did not produce a response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The connection failed, timed out or was cut mid-body: worth retrying.
    #[error("no connection: {0}")]
    Offline(String),
    /// The server answered with an error status.
    #[error("the server answered {status}")]
    Http {
        status: u16,
        body: Option<ErrorBody>,
    },
    /// The response arrived but could not be read.
    #[error("the response could not be read: {0}")]
    Decode(String),
}

impl TransportError {
    /// Only a missing connection and the server's own faults (5xx, 503 when overloaded) are
    /// retried; a 4xx will be answered the same way however often it is sent.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Offline(_) => true,
            TransportError::Http { status, .. } => *status >= 500,
            TransportError::Decode(_) => false,
        }
    }
}

/// Carries the protocol's two calls to the server.
pub trait Transport: Send + Sync {
    /// `POST /v1/enroll`.
    fn enroll(&self, req: &EnrollRequest) -> Result<Exchange<EnrollResponse>, TransportError>;
    /// `POST /v1/sync` with `Authorization: Bearer <token>`.
    fn sync(
        &self,
        token: &str,
        req: &SyncRequest,
    ) -> Result<Exchange<SyncResponse>, TransportError>;
    /// `GET /v1/photos/{sha256}`: which chunks of a photo the server holds.
    fn photo_status(
        &self,
        token: &str,
        sha256: &str,
    ) -> Result<Exchange<PhotoStatus>, TransportError>;
    /// `PUT /v1/photos/{sha256}/chunks/{index}` with the chunk's bytes.
    fn put_photo_chunk(
        &self,
        token: &str,
        sha256: &str,
        index: u32,
        bytes: &[u8],
    ) -> Result<Exchange<PhotoStatus>, TransportError>;
    /// `GET /v1/dictionaries/{id}`: a compression dictionary the server advertised.
    fn fetch_dictionary(&self, token: &str, id: u32) -> Result<Exchange<Vec<u8>>, TransportError>;
    /// Compresses later requests with this dictionary (`None`: without one) and returns the
    /// id it carries. A transport that does not compress keeps no dictionary and returns
    /// `Ok(None)`; bytes that are not a dictionary are an error.
    fn use_dictionary(&self, dictionary: Option<&[u8]>) -> Result<Option<u32>, TransportError>;
}

/// Waits between retries; tests pass one that only records the waits.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, d: Duration);
}

/// Sleeps the calling thread.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Exponential backoff with full jitter: before retry `n` (0 for the first), wait a random
/// time between zero and `min(max_delay_ms, base_delay_ms · 2ⁿ)`. Full jitter spreads the
/// phones of a county that all regain signal when the same mast comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 0 counts as 1.
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay_ms: 500,
            max_delay_ms: 30_000,
        }
    }
}

impl RetryPolicy {
    /// The longest wait before retry `retry` (0 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u64.checked_shl(retry).unwrap_or(u64::MAX);
        let ms = self
            .base_delay_ms
            .saturating_mul(factor)
            .min(self.max_delay_ms);
        Duration::from_millis(ms)
    }

    /// A random wait in `0..=ceiling(retry)`.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_millis()).unwrap_or(u64::MAX);
        // Without randomness the ceiling itself is still a correct, if less spread, backoff.
        let ms = match getrandom::u64() {
            Ok(r) => r % ceiling.saturating_add(1),
            Err(_) => ceiling,
        };
        Duration::from_millis(ms)
    }
}

/// How a sync runs.
#[derive(Clone)]
pub struct SyncOptions {
    pub retry: RetryPolicy,
    pub sleeper: Arc<dyn Sleeper>,
    /// The pull page budget sent to the server, in bytes of uncompressed JSON.
    pub page_bytes: u32,
    /// Operations pushed per request at most.
    pub max_push_ops: usize,
    /// Rounds per sync at most, so that a server that never says "done" cannot hold the
    /// phone's radio forever.
    pub max_rounds: u32,
    pub app_version: String,
    /// When photos upload (after the visits, in the same sync).
    pub photos: PhotoSync,
    /// The network the phone is on, for [`PhotoSync::UnmeteredOnly`].
    pub network: NetworkKind,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            retry: RetryPolicy::default(),
            sleeper: Arc::new(ThreadSleeper),
            page_bytes: DEFAULT_PAGE_BYTES,
            max_push_ops: 500,
            max_rounds: 1000,
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            photos: PhotoSync::default(),
            network: NetworkKind::default(),
        }
    }
}

impl fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncOptions")
            .field("retry", &self.retry)
            .field("page_bytes", &self.page_bytes)
            .field("max_push_ops", &self.max_push_ops)
            .field("max_rounds", &self.max_rounds)
            .field("app_version", &self.app_version)
            .field("photos", &self.photos)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

/// What one sync did; also kept in the store for the phone's sync screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Operations sent in requests that were answered (one resent after a gap counts again).
    pub pushed: u64,
    /// Operations newly marked synced.
    pub acknowledged: u64,
    /// Operations newly marked rejected.
    pub rejected: u64,
    /// Feed entries applied.
    pub pulled: u64,
    /// Incoming field values that lost to a newer local edit, or local values overwritten by
    /// newer remote ones.
    pub conflicts: u64,
    /// Households removed because they left this device's scope.
    pub purged: u64,
    /// Requests sent, retries included.
    pub requests: u32,
    pub retries: u32,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// The device clock's offset from the server's at the last response (positive: ahead).
    pub clock_skew_ms: i64,
    /// The server's clock at the last response.
    pub server_time: ServerTime,
    /// Nothing was left to push and the server had no more pages.
    pub complete: bool,
    /// The compression dictionary the phone holds after this sync, if any.
    #[serde(default)]
    pub dictionary: Option<u32>,
    /// Photos the server confirmed complete in this sync.
    #[serde(default)]
    pub photos_uploaded: u64,
    /// Photo bytes sent, chunks re-sent after a cut counted again.
    #[serde(default)]
    pub photo_bytes_up: u64,
    /// Photos of accepted visits still waiting to upload after this sync (held back by the
    /// photo policy, or not reached).
    #[serde(default)]
    pub photos_pending: u64,
    /// Photos the server refused, or whose copy on the phone no longer matches its hash;
    /// they stay on the phone.
    #[serde(default)]
    pub photos_failed: u64,
}

impl SyncReport {
    fn empty() -> SyncReport {
        SyncReport {
            pushed: 0,
            acknowledged: 0,
            rejected: 0,
            pulled: 0,
            conflicts: 0,
            purged: 0,
            requests: 0,
            retries: 0,
            bytes_up: 0,
            bytes_down: 0,
            clock_skew_ms: 0,
            server_time: ServerTime(0),
            complete: false,
            dictionary: None,
            photos_uploaded: 0,
            photo_bytes_up: 0,
            photos_pending: 0,
            photos_failed: 0,
        }
    }
}

/// Enrolls this device with a one-time code: sends the device id and public key, and stores
/// the cadre, the plate authorities' keys, the server address and the token the server grants.
///
/// Sent once, without retries: the cadre is standing there and taps again. A server that
/// committed an enrollment whose response was lost should answer the same device, key and
/// code again rather than refuse the code as used.
pub fn enroll(
    store: &Store,
    transport: &dyn Transport,
    server_url: &str,
    code: &str,
    app_version: &str,
) -> Result<Identity> {
    let req = EnrollRequest {
        protocol: PROTOCOL_VERSION,
        code: code.to_string(),
        device: store.device_id(),
        public_key: store.device_public_key(),
        app_version: app_version.to_string(),
    };
    let resp = transport.enroll(&req).map_err(transport_error)?.body;
    if resp.protocol != PROTOCOL_VERSION {
        return Err(Error::Protocol(format!(
            "the server answered in protocol version {}, this app speaks {PROTOCOL_VERSION}",
            resp.protocol
        )));
    }
    if resp.device != req.device {
        return Err(Error::Protocol(
            "the enrollment names another device".into(),
        ));
    }
    let token = resp.token.clone();
    store.enroll_for_sync(&Enrollment {
        cadre: resp.cadre,
        authority_keys: resp.authority_keys,
        server_url: Some(server_url.to_string()),
        token: Some(resp.token),
    })?;
    // Enrolling happens at the county office, usually on a good link: the moment to fetch the
    // dictionary. Without it the phone still syncs, only with larger bodies.
    // Enrolling forgot any dictionary the phone held (it belonged to the previous server).
    let mut report = SyncReport::empty();
    adopt_dictionary(store, transport, &token, None, resp.dictionary, &mut report)?;
    store.identity()
}

/// Gives the transport the dictionary the store holds and returns the id the store holds
/// afterwards; a stored dictionary the transport cannot use is forgotten (the server
/// advertises it again and the phone fetches it anew). A transport that does not compress
/// leaves the stored one alone.
fn load_dictionary(store: &Store, transport: &dyn Transport) -> Result<Option<u32>> {
    let Some((id, bytes)) = store.compression_dictionary()? else {
        transport.use_dictionary(None).map_err(transport_error)?;
        return Ok(None);
    };
    match transport.use_dictionary(Some(&bytes)) {
        Ok(None) => Ok(Some(id)),
        Ok(found) if found == Some(id) => Ok(Some(id)),
        _ => forget_dictionary(store, transport),
    }
}

fn forget_dictionary(store: &Store, transport: &dyn Transport) -> Result<Option<u32>> {
    store.forget_compression_dictionary()?;
    transport.use_dictionary(None).map_err(transport_error)?;
    Ok(None)
}

/// Fetches and keeps the dictionary the server advertised, when the phone does not hold it
/// (`held`: the id the store holds). One attempt, after the sync's own work: failing costs
/// only compression, so it is noted in the report's counts and not raised.
fn adopt_dictionary(
    store: &Store,
    transport: &dyn Transport,
    token: &str,
    held: Option<u32>,
    advertised: Option<u32>,
    report: &mut SyncReport,
) -> Result<()> {
    report.dictionary = held;
    let Some(id) = advertised else {
        return Ok(());
    };
    if held == Some(id) {
        return Ok(());
    }
    report.requests = report.requests.saturating_add(1);
    let Ok(exchange) = transport.fetch_dictionary(token, id) else {
        return Ok(());
    };
    report.bytes_down += exchange.bytes_down;
    report.bytes_up += exchange.bytes_up;
    // Keep it only if the transport can use it and it is the one advertised.
    match transport.use_dictionary(Some(&exchange.body)) {
        Ok(Some(found)) if found == id => {
            store.save_compression_dictionary(id, &exchange.body)?;
            report.dictionary = Some(id);
        }
        _ => report.dictionary = forget_dictionary(store, transport)?,
    }
    Ok(())
}

fn is_unknown_dictionary<T>(result: &Result<T, TransportError>) -> bool {
    matches!(
        result,
        Err(TransportError::Http { body: Some(body), .. }) if body.error == ErrorCode::UnknownDictionary
    )
}

/// Syncs the store with the server: pushes every pending operation and pulls every waiting
/// page, committing progress after each page. The report is kept in the store; a failure is
/// kept too (for the "stuck phones" view), and everything the failed sync had applied stays
/// applied.
pub fn sync(store: &Store, transport: &dyn Transport, options: &SyncOptions) -> Result<SyncReport> {
    let _one_at_a_time = store.sync_guard();
    match run(store, transport, options) {
        Ok(report) => {
            store.save_sync_report(&report)?;
            Ok(report)
        }
        Err(e) => {
            // The sync's own error is what the caller must see; failing to note it (a full
            // disk, a closed store) must not replace it.
            let _ = store.record_sync_failure(&e.to_string());
            Err(e)
        }
    }
}

fn run(store: &Store, transport: &dyn Transport, options: &SyncOptions) -> Result<SyncReport> {
    let mut report = SyncReport::empty();
    // Set once the server has refused the chain itself (a broken or diverged journal, or a
    // gap it cannot resume from): pushing again cannot help within this sync, but pulling can.
    let mut push_blocked = false;
    let mut idle_rounds = 0u32;
    let mut last_position = store.sync_position()?;
    let mut dictionary = load_dictionary(store, transport)?;
    let mut advertised = None;
    let mut token_used = String::new();
    for _ in 0..options.max_rounds.max(1) {
        let (req, exchange) = send_with_retries(options, &mut report, |_| {
            let (mut req, token) = store.sync_request(
                options.page_bytes,
                options.max_push_ops,
                &options.app_version,
            )?;
            if push_blocked {
                let held = u32::try_from(req.push.len()).unwrap_or(u32::MAX);
                req.pending = req.pending.saturating_add(held);
                req.push.clear();
            }
            let mut result = transport.sync(&token, &req);
            // The server no longer knows the phone's dictionary (a restored server, another
            // server): drop it and say the same thing without it.
            if dictionary.is_some() && is_unknown_dictionary(&result) {
                dictionary = forget_dictionary(store, transport)?;
                result = transport.sync(&token, &req);
            }
            token_used = token;
            Ok(result.map(|exchange| (req, exchange)))
        })?;
        let resp = &exchange.body;
        let outcome = store.apply_sync_response(&req, resp)?;

        report.pushed += u64::try_from(req.push.len()).unwrap_or(u64::MAX);
        report.acknowledged += outcome.acknowledged;
        report.rejected += outcome.rejected;
        report.pulled += outcome.pulled;
        report.conflicts += outcome.conflicts;
        report.purged += outcome.purged;
        report.bytes_up += exchange.bytes_up;
        report.bytes_down += exchange.bytes_down;
        report.clock_skew_ms = resp.clock_skew_ms;
        report.server_time = resp.server_time;
        advertised = resp.dictionary;
        if matches!(
            outcome.problem,
            Some(
                PushProblem::Broken { .. } | PushProblem::Diverged { .. } | PushProblem::Gap { .. }
            )
        ) {
            push_blocked = true;
        }

        let position = store.sync_position()?;
        if position.backlog == 0 && !resp.more {
            report.complete = true;
            break;
        }
        if push_blocked && !resp.more {
            break;
        }
        // A server that answers without moving the acknowledgement or the cursor, and sends
        // nothing, would be asked the same thing forever. One such round is allowed (a gap
        // resend starts from where the device already was); two in a row end the sync.
        if position == last_position && resp.changes.is_empty() {
            idle_rounds += 1;
            if idle_rounds >= 2 {
                break;
            }
        } else {
            idle_rounds = 0;
        }
        last_position = position;
    }
    adopt_dictionary(
        store,
        transport,
        &token_used,
        dictionary,
        advertised,
        &mut report,
    )?;
    // Visits first, photos after: a photo is accepted only for a visit the server holds.
    super::photos::upload(store, transport, &token_used, options, &mut report)?;
    Ok(report)
}

/// Makes one call with retries: `attempt` builds a fresh request from the store and sends it
/// (so a retried request carries the current device time), returning a store error as the
/// outer error and the transport's as the inner one.
pub(super) fn send_with_retries<T>(
    options: &SyncOptions,
    report: &mut SyncReport,
    mut attempt: impl FnMut(&mut SyncReport) -> Result<Result<T, TransportError>>,
) -> Result<T> {
    let attempts = options.retry.max_attempts.max(1);
    let mut retry = 0u32;
    loop {
        report.requests = report.requests.saturating_add(1);
        match attempt(report)? {
            Ok(out) => return Ok(out),
            Err(e) if e.is_retryable() && retry + 1 < attempts => {
                options.sleeper.sleep(options.retry.delay(retry));
                retry += 1;
                report.retries = report.retries.saturating_add(1);
            }
            Err(e) => return Err(transport_error(e)),
        }
    }
}

/// The one place a transport failure becomes an error the app can act on.
fn transport_error(e: TransportError) -> Error {
    match e {
        TransportError::Offline(why) => Error::Offline(why),
        TransportError::Decode(why) => Error::Protocol(format!("unreadable response: {why}")),
        TransportError::Http { status, body } => {
            let code = body.as_ref().map(|b| b.error);
            match (status, code, body) {
                (_, Some(ErrorCode::Revoked), Some(body)) => Error::Revoked {
                    reason: body.message,
                },
                (_, Some(ErrorCode::Unauthorized | ErrorCode::WrongDevice), _) | (401, _, _) => {
                    Error::Unauthorized
                }
                (_, Some(ErrorCode::EnrollmentRefused), _) => Error::EnrollmentRefused,
                (_, Some(ErrorCode::PhotoHashMismatch), _) => Error::PhotoHashMismatch,
                (_, Some(ErrorCode::PhotoNotReferenced | ErrorCode::PhotoTooLarge), Some(body)) => {
                    Error::PhotoRefused {
                        sha256: String::new(),
                        reason: body.message,
                    }
                }
                (_, Some(ErrorCode::UnsupportedProtocol), body) => {
                    let spoken = body
                        .and_then(|b| b.supported_protocols)
                        .map(|v| format!("{v:?}"))
                        .unwrap_or_else(|| "others".into());
                    Error::Protocol(format!(
                        "the server speaks protocol versions {spoken}, this app speaks \
                         {PROTOCOL_VERSION}: update the app"
                    ))
                }
                (status, _, body) => Error::Server {
                    status,
                    message: body
                        .map(|b| b.message)
                        .unwrap_or_else(|| "no details".into()),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_ceilings_double_from_the_base_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let ceilings: Vec<u64> = (0..8)
            .map(|n| policy.ceiling(n).as_millis() as u64)
            .collect();
        assert_eq!(
            ceilings,
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
        );
        assert_eq!(policy.ceiling(200), Duration::from_millis(30_000));
    }

    #[test]
    fn jittered_delays_stay_within_their_ceiling_and_vary() {
        let policy = RetryPolicy::default();
        let delays: Vec<Duration> = (0..64).map(|_| policy.delay(3)).collect();
        assert!(delays.iter().all(|d| *d <= policy.ceiling(3)));
        let first = delays[0];
        assert!(delays.iter().any(|d| *d != first), "full jitter varies");
    }

    #[test]
    fn only_missing_connections_and_server_faults_are_retried() {
        let http = |status| TransportError::Http { status, body: None };
        assert!(TransportError::Offline("timed out".into()).is_retryable());
        assert!(http(500).is_retryable());
        assert!(http(503).is_retryable());
        assert!(!http(400).is_retryable());
        assert!(!http(401).is_retryable());
        assert!(!http(413).is_retryable());
        assert!(!TransportError::Decode("eof".into()).is_retryable());
    }

    #[test]
    fn http_errors_become_errors_the_app_can_act_on() {
        let with = |status, error: ErrorCode| TransportError::Http {
            status,
            body: Some(ErrorBody {
                error,
                message: "lost phone".into(),
                supported_protocols: Some(vec![2]),
            }),
        };
        assert!(matches!(
            transport_error(with(401, ErrorCode::Revoked)),
            Error::Revoked { reason } if reason == "lost phone"
        ));
        assert!(matches!(
            transport_error(with(401, ErrorCode::Unauthorized)),
            Error::Unauthorized
        ));
        assert!(matches!(
            transport_error(TransportError::Http {
                status: 401,
                body: None
            }),
            Error::Unauthorized
        ));
        assert!(matches!(
            transport_error(with(403, ErrorCode::EnrollmentRefused)),
            Error::EnrollmentRefused
        ));
        assert!(matches!(
            transport_error(with(400, ErrorCode::UnsupportedProtocol)),
            Error::Protocol(m) if m.contains("[2]")
        ));
        assert!(matches!(
            transport_error(with(503, ErrorCode::Unavailable)),
            Error::Server { status: 503, .. }
        ));
        assert!(matches!(
            transport_error(TransportError::Offline("no route".into())),
            Error::Offline(_)
        ));
    }
}
