//! The one error a phone app sees, and the one place core errors become it.
//!
//! Every variant is something a screen can act on (ask for a new code, re-scan the plate,
//! highlight a field, wait for signal). Messages carry no personal data: names, ID numbers,
//! phone numbers and diary text never appear, because these messages end up in logs, crash
//! reports and on screens that others see. This module must never format a value the cadre
//! typed into a message.

use fieldvisit_core::Error as CoreError;
use fieldvisit_core::plate::PlateError;

/// Why a call failed.
///
/// Variants with text carry it in `detail` (or `reason`), never `message`: Kotlin's
/// exceptions already have a `message` property, and a field of that name does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum FieldvisitError {
    /// The device has no enrollment yet: ask a sync admin for a code and enroll.
    #[error("this device is not enrolled yet; enroll it with a code from a sync admin")]
    NotEnrolled,
    /// The enrollment code is unknown, expired or used by another device.
    #[error("the enrollment code was refused: it is unknown, already used or expired")]
    EnrollmentRefused,
    /// The plate's signature does not verify: it may be forged or altered.
    #[error(
        "this door plate's signature is not valid; enter the code by hand and report the plate"
    )]
    PlateForged,
    /// A newer issue of this household's plate exists.
    #[error(
        "this plate was replaced by a newer issue (scanned issue {scanned}, current {current})"
    )]
    PlateSuperseded { scanned: u16, current: u16 },
    /// The text is not a readable fieldvisit plate (another QR code, a cut scan, an unknown
    /// key or format): scan again or enter the code by hand.
    #[error("the door plate could not be read: {detail}")]
    PlateUnreadable { detail: String },
    /// The household exists on this device but is not the cadre's today.
    #[error("this household is not among the households assigned to you")]
    HouseholdNotAssigned,
    /// No household with this code or id is on this device.
    #[error("no household with this code is known on this device")]
    UnknownHousehold,
    /// No visit with this id is on this device.
    #[error("no visit with this id is on this device")]
    UnknownVisit,
    /// Only the cadre who recorded a visit may amend it.
    #[error("only the cadre who recorded a visit can amend it")]
    NotYourVisit,
    /// A value broke a rule; `field` names the input to highlight (`diary`,
    /// `checklist.housing.note`, `follow_up_due`, `code` ...), `reason` says which rule.
    #[error("{field}: {reason}")]
    Validation { field: String, reason: String },
    /// The sync server cannot be reached; everything is kept and will be sent later.
    #[error("the sync server cannot be reached; everything is kept and will be sent later")]
    NetworkUnavailable { detail: String },
    /// The server does not accept this device's credentials: enroll again.
    #[error("the sync server does not accept this device's credentials; enroll the device again")]
    Unauthorized,
    /// A sync admin revoked this device; local data stays, export it for an admin.
    #[error("this device was revoked by the county ({reason}); its data stays on the phone")]
    Revoked { reason: String },
    /// The server answered with an error it will answer again: try later or update the app.
    #[error("the sync server refused the request: {detail}")]
    RejectedByServer { detail: String },
    /// The phone's storage is full; nothing was written.
    #[error("the device's storage is full; nothing was written")]
    StorageFull,
    /// The store was closed; open it again.
    #[error("the store is closed")]
    StoreClosed,
    /// The store cannot be read with this passphrase (or without one, or is not a store).
    #[error("the store cannot be opened with this passphrase; nothing in it was changed")]
    WrongPassphrase,
    /// At-rest encryption was asked for but this build has no SQLCipher.
    #[error("this build cannot encrypt the store (built without the `sqlcipher` feature)")]
    EncryptionUnavailable,
    /// A fault the cadre cannot fix (a damaged store, an app older than its data, a bug).
    #[error("internal error: {detail}")]
    Internal { detail: String },
}

impl FieldvisitError {
    pub(crate) fn validation(field: &str, reason: impl Into<String>) -> Self {
        FieldvisitError::Validation {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn internal(message: impl std::fmt::Display) -> Self {
        FieldvisitError::Internal {
            detail: message.to_string(),
        }
    }
}

/// The one conversion point from the core's errors. Core messages are already free of
/// personal data (see `core/src/error.rs`); the variants a UI branches on are picked here.
impl From<CoreError> for FieldvisitError {
    fn from(err: CoreError) -> Self {
        match err {
            CoreError::Closed => FieldvisitError::StoreClosed,
            CoreError::NotADatabase(_) => FieldvisitError::WrongPassphrase,
            CoreError::StorageFull => FieldvisitError::StorageFull,
            CoreError::Invalid(invalid) => FieldvisitError::Validation {
                field: invalid.field,
                reason: invalid.reason.to_string(),
            },
            CoreError::Plate(PlateError::Forged) => FieldvisitError::PlateForged,
            CoreError::Plate(PlateError::Superseded { scanned, current }) => {
                FieldvisitError::PlateSuperseded { scanned, current }
            }
            CoreError::Plate(other) => FieldvisitError::PlateUnreadable {
                detail: other.to_string(),
            },
            CoreError::Code(code) => FieldvisitError::validation("code", code.to_string()),
            CoreError::NotAHouseholdCode => FieldvisitError::validation(
                "code",
                "this code belongs to a person, not a household",
            ),
            CoreError::UnknownHousehold => FieldvisitError::UnknownHousehold,
            CoreError::NotAssigned => FieldvisitError::HouseholdNotAssigned,
            CoreError::NotEnrolled => FieldvisitError::NotEnrolled,
            CoreError::UnknownVisit => FieldvisitError::UnknownVisit,
            CoreError::NotYourVisit => FieldvisitError::NotYourVisit,
            CoreError::UnknownMember => {
                FieldvisitError::validation("member", "no member with this id is on this device")
            }
            CoreError::FieldNotEditable { field } => {
                FieldvisitError::validation(&field, "cannot be changed from a phone")
            }
            CoreError::StatusStep(refusal) => {
                FieldvisitError::validation("poverty_status", refusal.to_string())
            }
            CoreError::Offline(why) => FieldvisitError::NetworkUnavailable { detail: why },
            CoreError::Unauthorized => FieldvisitError::Unauthorized,
            CoreError::Revoked { reason } => FieldvisitError::Revoked { reason },
            CoreError::EnrollmentRefused => FieldvisitError::EnrollmentRefused,
            e @ CoreError::PhotoTooLarge { .. } => {
                FieldvisitError::validation("photo", e.to_string())
            }
            e @ CoreError::UnknownPhoto(_) => FieldvisitError::validation("photos", e.to_string()),
            e @ (CoreError::PhotoRefused { .. } | CoreError::PhotoHashMismatch) => {
                FieldvisitError::RejectedByServer {
                    detail: e.to_string(),
                }
            }
            CoreError::Server { status, message } => FieldvisitError::RejectedByServer {
                detail: format!("{status}: {message}"),
            },
            other @ (CoreError::DatabaseTooNew { .. }
            | CoreError::JournalBroken(_)
            | CoreError::Body(_)
            | CoreError::Protocol(_)
            | CoreError::Corrupt(_)
            | CoreError::Sqlite(_)
            | CoreError::Json(_)) => FieldvisitError::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldvisit_core::validate::{Invalid, Reason};

    #[test]
    fn a_validation_error_names_the_field_and_rule_but_not_the_value() {
        let err: FieldvisitError = CoreError::Invalid(Invalid::new(
            "diary",
            Reason::TooShort { min: 5, actual: 2 },
        ))
        .into();
        assert_eq!(
            err,
            FieldvisitError::Validation {
                field: "diary".into(),
                reason: "must be at least 5 characters (has 2)".into()
            }
        );
    }

    #[test]
    fn an_unreadable_store_file_reads_as_a_wrong_passphrase() {
        let err: FieldvisitError = CoreError::NotADatabase("file is not a database".into()).into();
        assert_eq!(err, FieldvisitError::WrongPassphrase);
        let closed: FieldvisitError = CoreError::Closed.into();
        assert_eq!(closed, FieldvisitError::StoreClosed);
    }

    #[test]
    fn plate_errors_split_into_forged_superseded_and_unreadable() {
        let forged: FieldvisitError = CoreError::Plate(PlateError::Forged).into();
        assert_eq!(forged, FieldvisitError::PlateForged);
        let old: FieldvisitError = CoreError::Plate(PlateError::Superseded {
            scanned: 1,
            current: 2,
        })
        .into();
        assert_eq!(
            old,
            FieldvisitError::PlateSuperseded {
                scanned: 1,
                current: 2
            }
        );
        let other: FieldvisitError = CoreError::Plate(PlateError::NotAPlate).into();
        assert!(matches!(other, FieldvisitError::PlateUnreadable { .. }));
    }

    #[test]
    fn sync_failures_become_network_credential_and_server_errors() {
        let offline: FieldvisitError = CoreError::Offline("refused".into()).into();
        assert!(matches!(
            offline,
            FieldvisitError::NetworkUnavailable { .. }
        ));
        let revoked: FieldvisitError = CoreError::Revoked {
            reason: "phone lost".into(),
        }
        .into();
        assert_eq!(
            revoked,
            FieldvisitError::Revoked {
                reason: "phone lost".into()
            }
        );
        let server: FieldvisitError = CoreError::Server {
            status: 503,
            message: "overloaded".into(),
        }
        .into();
        assert_eq!(
            server,
            FieldvisitError::RejectedByServer {
                detail: "503: overloaded".into()
            }
        );
    }
}
