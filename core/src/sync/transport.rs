//! What carries the protocol's calls to the server, and what to do when a call fails: the
//! [`Transport`] trait (the FFI layer's HTTP client, a test's in-memory server), what a call
//! returns ([`Exchange`]) or why it did not ([`TransportError`]), the network the phone is on
//! ([`NetworkKind`]), the backoff between retries ([`RetryPolicy`], [`Sleeper`]), and the one
//! place a transport failure becomes an error the app can act on. The engine and the photo
//! upload both send through here; neither reaches into the other to do it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::protocol::{
    EnrollRequest, EnrollResponse, ErrorBody, ErrorCode, PROTOCOL_VERSION, PhotoStatus,
    SyncRequest, SyncResponse,
};
use crate::report::SyncReport;

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

/// The network the phone is on, as the app knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkKind {
    /// Not known: treated as metered.
    #[default]
    Unknown,
    Metered,
    Unmetered,
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

/// Makes one call with retries: `attempt` builds a fresh request from the store and sends it
/// (so a retried request carries the current device time), returning a store error as the
/// outer error and the transport's as the inner one.
pub(super) fn send_with_retries<T>(
    retry_policy: &RetryPolicy,
    sleeper: &dyn Sleeper,
    report: &mut SyncReport,
    mut attempt: impl FnMut(&mut SyncReport) -> Result<Result<T, TransportError>>,
) -> Result<T> {
    let attempts = retry_policy.max_attempts.max(1);
    let mut retry = 0u32;
    loop {
        report.requests = report.requests.saturating_add(1);
        match attempt(report)? {
            Ok(out) => return Ok(out),
            Err(e) if e.is_retryable() && retry + 1 < attempts => {
                sleeper.sleep(retry_policy.delay(retry));
                retry += 1;
                report.retries = report.retries.saturating_add(1);
            }
            Err(e) => return Err(transport_error(e)),
        }
    }
}

/// The one place a transport failure becomes an error the app can act on.
pub(super) fn transport_error(e: TransportError) -> Error {
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
