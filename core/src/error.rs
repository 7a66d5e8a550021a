//! The core's error type. Variants are what a caller can act on; messages carry no personal
//! data (no names, ID numbers, phone numbers or diary text), because they end up in logs and
//! on screens that others see. The FFI layer converts these into its public error in one place.

use crate::codes::CodeError;
use crate::journal::{BodyError, JournalBreak};
use crate::plate::PlateError;
use crate::validate::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the store is closed")]
    Closed,
    #[error(
        "the store was written by a newer version of the app (schema {found}, this app reads up to \
         {supported}); update the app — nothing has been changed or deleted"
    )]
    DatabaseTooNew { found: u32, supported: u32 },
    #[error(
        "the store file is not a readable database ({0}); it has been left untouched for recovery"
    )]
    NotADatabase(String),
    #[error("the device's storage is full; nothing was written — free some space and try again")]
    StorageFull,
    #[error("invalid input: {0}")]
    Invalid(#[from] Invalid),
    #[error("{0}")]
    Plate(#[from] PlateError),
    #[error("{0}")]
    Code(#[from] CodeError),
    #[error("this code belongs to a person, not a household")]
    NotAHouseholdCode,
    #[error("no household with this code is known on this device")]
    UnknownHousehold,
    #[error("this household is not among the households assigned to you")]
    NotAssigned,
    #[error("this device is not enrolled yet")]
    NotEnrolled,
    #[error("no visit with this id is on this device")]
    UnknownVisit,
    #[error("only the cadre who recorded a visit can amend it")]
    NotYourVisit,
    #[error("the photo is {size} bytes; the largest accepted is {max} bytes")]
    PhotoTooLarge { size: u64, max: u64 },
    #[error("no photo with hash {0} is on this device; add the photo before recording the visit")]
    UnknownPhoto(String),
    #[error(
        "the server received a photo whose content does not match its hash and discarded it; \
         it will be sent again"
    )]
    PhotoHashMismatch,
    #[error("the server refused photo {sha256}: {reason}")]
    PhotoRefused { sha256: String, reason: String },
    #[error("no member with this id is on this device")]
    UnknownMember,
    #[error("the field '{field}' cannot be changed from a phone")]
    FieldNotEditable { field: String },
    /// A poverty-status step refused on the phone (role or procedure), with the reason.
    #[error("{0}")]
    StatusStep(#[from] crate::domain::exit::StepRefusal),
    #[error("{0}")]
    JournalBroken(#[from] JournalBreak),
    #[error("{0}")]
    Body(#[from] BodyError),
    #[error("the sync server cannot be reached ({0}); everything is kept and will be sent later")]
    Offline(String),
    #[error("the sync server does not accept this device's credentials; enroll the device again")]
    Unauthorized,
    #[error(
        "this device was revoked by the county ({reason}); its data stays on the phone — ask a \
         sync admin to enroll it again"
    )]
    Revoked { reason: String },
    #[error("the enrollment code was refused: it is unknown, already used or expired")]
    EnrollmentRefused,
    #[error("the sync server answered with an error ({status}: {message}); try again later")]
    Server { status: u16, message: String },
    #[error("the sync server's answer cannot be used ({0}); nothing from it was applied")]
    Protocol(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("encoding error: {0}")]
    Json(#[from] serde_json::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match err.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => Error::StorageFull,
            Some(ErrorCode::NotADatabase) => Error::NotADatabase(err.to_string()),
            _ => Error::Sqlite(err),
        }
    }
}
