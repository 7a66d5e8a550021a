//! Identifiers. Registry entities (areas aside) carry opaque text ids assigned by the county's
//! registry; everything a device creates (operations, visits, the device itself) carries a
//! UUIDv7, time-ordered so that indexes stay compact.
//!
//! Ids are never personal data: a resident ID number or a phone number must not be used as one.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::WallTime;
use crate::validate::{Invalid, Reason};

/// The longest registry id accepted; registry exports use short numeric or prefixed keys.
pub const MAX_TEXT_ID_LEN: usize = 64;

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Accepts 1–64 characters of ASCII letters, digits, '-', '_' and '.'.
            pub fn new(value: impl Into<String>) -> Result<Self, Invalid> {
                let value = value.into();
                check_text_id($field, &value)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(value: String) -> Result<Self, Invalid> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::openapi::text_id(concat!(
                    "A registry id (", $field, "): 1 to 64 ASCII letters, digits, '-', '_' or '.'"
                ))
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

fn check_text_id(field: &str, value: &str) -> Result<(), Invalid> {
    let reason = if value.is_empty() {
        Some(Reason::Required)
    } else if value.len() > MAX_TEXT_ID_LEN {
        Some(Reason::TooLong {
            max: MAX_TEXT_ID_LEN,
            actual: value.chars().count(),
        })
    } else {
        value
            .chars()
            .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .map(|position| Reason::InvalidCharacter { position })
    };
    match reason {
        Some(reason) => Err(Invalid {
            field: field.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

text_id!(
    /// A household in the registry (户).
    HouseholdId, "household_id"
);
text_id!(
    /// A member of a household (成员).
    MemberId, "member_id"
);
text_id!(
    /// An assisting cadre, first secretary or other official who visits households.
    CadreId, "cadre_id"
);
text_id!(
    /// A dated cadre ↔ household assignment.
    AssignmentId, "assignment_id"
);
text_id!(
    /// A dated first secretary ↔ village post.
    PostId, "post_id"
);
text_id!(
    /// A help measure (帮扶措施) recorded in the registry.
    MeasureId, "measure_id"
);

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new UUIDv7 whose time part is the given wall time, so that ids made on a
            /// device sort roughly in the order they were made.
            pub fn generate(at: WallTime) -> Self {
                let millis = u64::try_from(at.0).unwrap_or(0);
                let ts = uuid::Timestamp::from_unix(
                    uuid::NoContext,
                    millis / 1000,
                    u32::try_from((millis % 1000) * 1_000_000).unwrap_or(0),
                );
                Self(Uuid::new_v7(ts))
            }

            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }

            pub fn parse(text: &str) -> Result<Self, uuid::Error> {
                Uuid::parse_str(text).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::openapi::uuid(concat!("A UUID (", stringify!($name), ")"))
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

uuid_id!(
    /// A phone (or command-line device); made when its store is first opened.
    DeviceId
);
uuid_id!(
    /// One journal operation.
    OpId
);
uuid_id!(
    /// One recorded visit (民情日记 entry).
    VisitId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_ids_refuse_empty_long_and_odd_characters() {
        assert!(HouseholdId::new("hh-000123").is_ok());
        assert_eq!(HouseholdId::new("").unwrap_err().reason, Reason::Required);
        assert!(matches!(
            HouseholdId::new("x".repeat(65)).unwrap_err().reason,
            Reason::TooLong { .. }
        ));
        assert_eq!(
            CadreId::new("c 1").unwrap_err().reason,
            Reason::InvalidCharacter { position: 1 }
        );
        assert!(serde_json::from_str::<CadreId>("\"a'; drop table x\"").is_err());
    }

    #[test]
    fn generated_ids_sort_by_time() {
        let a = OpId::generate(WallTime(1_700_000_000_000));
        let b = OpId::generate(WallTime(1_700_000_000_500));
        assert!(a < b);
        assert_eq!(a.0.get_version_num(), 7);
    }
}
