//! The server's error. Every variant has a class ([`Error::class`]) — not found, refused with
//! one of the protocol's codes, conflict, invalid, unavailable, internal — which is all a
//! caller acts on: the HTTP face answers each class with its status in exactly one place
//! (`http::error`), the command line prints the message. Domain code says what went wrong in
//! these terms and never how it is answered. Messages never carry personal data.

use fieldvisit_core::protocol::ErrorCode;
use fieldvisit_core::validate::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A fault of the core (its SQLite, its journal checks): internal.
    #[error(transparent)]
    Core(#[from] fieldvisit_core::Error),
    /// Stored data that breaks the server's own invariants: internal.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// What the request names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A value that breaks a field rule.
    #[error("invalid input: {0}")]
    Invalid(#[from] Invalid),
    /// The request is refused, for the reason its [`Refusal`] names.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The request contradicts what the server holds (a name already taken).
    #[error("{0}")]
    Conflict(String),
    /// The storage backend (or the writer thread) cannot serve now; retrying later can help.
    #[error("the storage backend is unavailable: {0}")]
    Unavailable(String),
    /// A worker on tokio's blocking pool panicked or was cancelled: internal.
    #[error("a worker failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("encoding error: {0}")]
    Json(#[from] serde_json::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(postgres::Error),
}

impl Error {
    /// A request refused for a reason of the server's own, named by `message` (an admin's
    /// command, a configuration value): [`Refusal::Rule`].
    pub fn refused(message: impl Into<String>) -> Error {
        Error::Refused(Refusal::Rule(message.into()))
    }

    /// What kind of failure this is; the HTTP status and the error code follow from it.
    pub fn class(&self) -> Class {
        match self {
            Error::NotFound(_) => Class::NotFound,
            Error::Refused(refusal) => Class::Refused(refusal.code()),
            Error::Conflict(_) => Class::Conflict,
            Error::Invalid(_) => Class::Invalid,
            Error::Unavailable(_) => Class::Unavailable,
            Error::Core(_)
            | Error::Corrupt(_)
            | Error::Worker(_)
            | Error::Io(_)
            | Error::Json(_)
            | Error::Postgres(_) => Class::Internal,
        }
    }
}

/// The kinds of failure a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    NotFound,
    /// Refused, with the protocol's code for the reason.
    Refused(ErrorCode),
    Conflict,
    Invalid,
    /// Retry later.
    Unavailable,
    /// A fault of the server: logged where it is answered, described to no one.
    Internal,
}

impl Class {
    /// The protocol's error code for this class.
    pub fn code(self) -> ErrorCode {
        match self {
            Class::NotFound => ErrorCode::NotFound,
            Class::Refused(code) => code,
            Class::Conflict => ErrorCode::Conflict,
            Class::Invalid => ErrorCode::BadRequest,
            Class::Unavailable => ErrorCode::Unavailable,
            Class::Internal => ErrorCode::Internal,
        }
    }
}

/// Why a request is refused. Each case is one of the protocol's error codes
/// ([`Refusal::code`]); its text is the message the caller reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A rule of the server's own that the request breaks, named by the message (an admin's
    /// command, a configuration value, a report that cannot be rendered): `bad_request`.
    #[error("{0}")]
    Rule(String),
    /// The body or a parameter of a call is not valid for it.
    #[error("the request body is not valid: {0}")]
    BadRequest(String),
    #[error("protocol version {0} is not supported")]
    UnsupportedProtocol(u32),
    #[error("missing or unknown device token")]
    Unauthorized,
    /// The dashboard's and the admin API's calls need a live session.
    #[error("log in to the dashboard first (POST /admin/login) and send its fv_session cookie")]
    NotLoggedIn,
    /// The device was revoked, with the reason an admin gave.
    #[error("this device was revoked: {0}")]
    Revoked(String),
    #[error("the token belongs to another device than the request names")]
    WrongDevice,
    #[error("{0}")]
    EnrollmentRefused(String),
    /// The body is larger than the limit, compressed or not.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error(
        "the body was compressed with dictionary {0}, which this server does not have; \
         send it without a dictionary"
    )]
    UnknownDictionary(u32),
    #[error("{0}")]
    PhotoNotReferenced(String),
    #[error("{0}")]
    PhotoTooLarge(String),
    #[error("{0}")]
    BadChunk(String),
    #[error("{0}")]
    PhotoHashMismatch(String),
}

impl Refusal {
    /// The protocol's code for this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::Rule(_) | Refusal::BadRequest(_) => ErrorCode::BadRequest,
            Refusal::UnsupportedProtocol(_) => ErrorCode::UnsupportedProtocol,
            Refusal::Unauthorized | Refusal::NotLoggedIn => ErrorCode::Unauthorized,
            Refusal::Revoked(_) => ErrorCode::Revoked,
            Refusal::WrongDevice => ErrorCode::WrongDevice,
            Refusal::EnrollmentRefused(_) => ErrorCode::EnrollmentRefused,
            Refusal::TooLarge(_) => ErrorCode::TooLarge,
            Refusal::UnknownDictionary(_) => ErrorCode::UnknownDictionary,
            Refusal::PhotoNotReferenced(_) => ErrorCode::PhotoNotReferenced,
            Refusal::PhotoTooLarge(_) => ErrorCode::PhotoTooLarge,
            Refusal::BadChunk(_) => ErrorCode::BadChunk,
            Refusal::PhotoHashMismatch(_) => ErrorCode::PhotoHashMismatch,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Core(e.into())
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        if e.is_closed() {
            Error::Unavailable(format!("the PostgreSQL connection closed: {e}"))
        } else {
            Error::Postgres(e)
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
