//! The sync protocol's messages, shared by the device and the server (docs/protocol.md is the
//! prose description). JSON on the wire, compressed with gzip or zstd both ways.
//!
//! One call does a whole sync: `POST /v1/sync` pushes the device's operations after the last
//! one the server acknowledged and pulls a page of the device's feed after its cursor. Every
//! request can be sent twice, cut off, or arrive late: pushing is idempotent by (device,
//! sequence number) and operation id, and the cursor only moves when the device has applied a
//! page.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::{Hlc, ServerTime, WallTime};
use crate::domain::{Area, Assignment, Cadre, CodeEntry, Household, Measure, Member, VillagePost};
use crate::ids::{CadreId, DeviceId, HouseholdId, OpId};
use crate::journal::{BreakKind, Operation, b64};
use crate::plate::AuthorityKey;

/// The protocol version this build speaks; sent in every request and response.
pub const PROTOCOL_VERSION: u32 = 1;
/// The largest request body the server accepts (compressed or not).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// The default pull page budget, in bytes of uncompressed JSON.
pub const DEFAULT_PAGE_BYTES: u32 = 256 * 1024;

/// The schema of a request's `protocol` (feature `openapi`): the versions this build speaks.
/// Any other number is read and refused (`unsupported_protocol`, which names these).
#[cfg(feature = "openapi")]
fn spoken_protocols() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .description(Some(
            "The protocol version the caller speaks: one this server speaks, or the call is \
             refused (unsupported_protocol, naming the versions it speaks).",
        ))
        .enum_values(Some([PROTOCOL_VERSION]))
        .into()
}

/// `POST /v1/enroll`: a phone presents a one-time enrollment code and its public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollRequest {
    /// The protocol version the phone speaks; the server answers other versions than its own
    /// with `unsupported_protocol`.
    #[cfg_attr(feature = "openapi", schema(schema_with = spoken_protocols))]
    pub protocol: u32,
    pub code: String,
    pub device: DeviceId,
    #[serde(with = "b64")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::base64_bytes::<32>))]
    pub public_key: [u8; 32],
    pub app_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    pub protocol: u32,
    pub device: DeviceId,
    pub cadre: CadreId,
    /// Bearer token for every later call. The server keeps only its hash.
    pub token: String,
    pub authority_keys: Vec<AuthorityKey>,
    pub server_time: ServerTime,
    /// The server's current compression dictionary, if it has one: fetch it with
    /// `GET /v1/dictionaries/{id}` and compress later requests with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dictionary: Option<u32>,
}

/// `POST /v1/sync`, with `Authorization: Bearer <token>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncRequest {
    /// As in [`EnrollRequest`].
    #[cfg_attr(feature = "openapi", schema(schema_with = spoken_protocols))]
    pub protocol: u32,
    pub device: DeviceId,
    pub app_version: String,
    /// The device's wall clock when the request was made; the server reports the skew.
    pub device_time: WallTime,
    /// This device's operations after the last one the server acknowledged, in sequence order
    /// and without gaps. Empty when there is nothing to push.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub push: Vec<PushedOp>,
    /// The last feed position this device has applied; 0 on a first sync.
    #[serde(default)]
    pub cursor: u64,
    /// How many bytes of changes the device wants in this response at most.
    pub page_bytes: u32,
    /// Operations still waiting on the device after this batch (shown to admins).
    #[serde(default)]
    pub pending: u32,
}

/// An operation as pushed: the device and previous digest are implied by the request and the
/// chain, so they are not sent again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushedOp {
    pub id: OpId,
    pub seq: u64,
    pub hlc: Hlc,
    pub wall: WallTime,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::journal::kind_schema))]
    pub kind: String,
    #[serde(with = "crate::journal::raw_json")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::payload))]
    pub payload: String,
    #[serde(with = "b64", rename = "sig")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::base64_bytes::<64>))]
    pub signature: [u8; 64],
}

impl PushedOp {
    pub fn from_operation(op: &Operation) -> PushedOp {
        PushedOp {
            id: op.id,
            seq: op.seq,
            hlc: op.hlc,
            wall: op.wall,
            kind: op.kind.clone(),
            payload: op.payload.clone(),
            signature: op.signature,
        }
    }

    /// The full operation, given its device and the digest of the operation before it.
    pub fn into_operation(self, device: DeviceId, prev_hash: [u8; 32]) -> Operation {
        Operation {
            id: self.id,
            device,
            seq: self.seq,
            hlc: self.hlc,
            wall: self.wall,
            kind: self.kind,
            payload: self.payload,
            prev_hash,
            signature: self.signature,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncResponse {
    pub protocol: u32,
    pub server_time: ServerTime,
    pub ack: PushAck,
    /// Feed entries after the request's cursor, in feed order, within the page budget (at
    /// least one entry when any is waiting, however large).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// The feed position after the last change in this page; the device stores it once it has
    /// applied the page, and sends it next time.
    pub cursor: u64,
    /// More changes are waiting: sync again straight away.
    #[serde(default)]
    pub more: bool,
    /// The device clock's offset from the server's, in milliseconds (positive: device ahead).
    pub clock_skew_ms: i64,
    /// The server's current compression dictionary, if it has one (see [`EnrollResponse`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dictionary: Option<u32>,
}

/// What became of the pushed operations.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushAck {
    /// Every operation of this device up to and including this sequence number is durably
    /// stored on the server — accepted or rejected. The device pushes from here next time.
    pub acked_seq: u64,
    /// Operations up to `acked_seq` that the server refused, with reasons; only those in the
    /// pushed range are listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Rejection>,
    /// Why the push stopped short of the last pushed operation, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<PushProblem>,
}

/// An operation the server stored but refused to apply. It never blocks the operations after
/// it; the device shows it with its reason and admins see it too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rejection {
    pub seq: u64,
    pub op: OpId,
    pub code: RejectCode,
    /// A plain-language reason, without personal data.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The household was not assigned to this cadre when the visit was recorded.
    NotAssigned,
    /// The server does not know the household, member or visit the operation names.
    UnknownEntity,
    /// The cadre's role may not change this field.
    Forbidden,
    /// The content fails validation.
    Invalid,
    /// The server does not know this kind of operation.
    UnknownKind,
}

/// Why a push was cut short. Operations before the problem are stored as usual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PushProblem {
    /// The batch did not start where the server's record of this device ends: send again from
    /// `expected_seq`.
    Gap { expected_seq: u64 },
    /// An operation failed verification (signature or chain); nothing from it on was stored.
    Broken { seq: u64, problem: BreakKind },
    /// The device sent a different operation under a sequence number already stored: its
    /// journal no longer matches what it pushed before (restored from an old backup, say).
    Diverged { seq: u64 },
}

/// One entry of a device's feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    /// The entry's position in this device's feed.
    pub pos: u64,
    pub body: ChangeBody,
}

/// The clock of the last write to a field, for per-field last-writer-wins merging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldClock {
    pub hlc: Hlc,
    pub device: DeviceId,
}

pub type FieldClocks = BTreeMap<String, FieldClock>;

// A page holds a few hundred entries at most and each is applied once, so the size of the
// household variant costs nothing worth boxing it for (which every match would then pay).
#[allow(clippy::large_enum_variant)]
/// Externally tagged (`{"visit": {...}}`): operations inside carry their payload as raw JSON,
/// which an internally tagged or flattened enum could not pass through byte for byte.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeBody {
    /// A household now in scope or changed, in full: the household with its field clocks, its
    /// members, its measures and its recent visits (other devices' operations).
    Household {
        household: Household,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, FieldClock>))]
        clocks: FieldClocks,
        members: Vec<MemberState>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        measures: Vec<Measure>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        visits: Vec<Operation>,
    },
    /// Another device's visit or amendment for a household in scope.
    Visit {
        op: Operation,
    },
    /// The household left this device's scope: remove it (after pushing any pending operations
    /// that concern it).
    Purge {
        household: HouseholdId,
    },
    /// A registry record the device needs (its cadre, areas, assignments, posts, codes, keys).
    Cadre {
        cadre: Cadre,
    },
    Area {
        area: Area,
    },
    Assignment {
        assignment: Assignment,
    },
    VillagePost {
        post: VillagePost,
    },
    Code {
        code: CodeEntry,
    },
    AuthorityKey {
        key: AuthorityKey,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberState {
    #[serde(flatten)]
    pub member: Member,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, FieldClock>))]
    pub clocks: FieldClocks,
}

/// `GET /v1/photos/{sha256}` and every chunk `PUT`: where the server stands with a photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoStatus {
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::sha256))]
    pub sha256: String,
    /// The size the device's visit declared for the photo.
    pub size: u64,
    /// Every chunk but the last is exactly this long.
    pub chunk_bytes: u32,
    /// Chunk indexes the server holds, ascending (empty once complete).
    #[serde(default)]
    pub received: Vec<u32>,
    /// The server holds the whole photo and its hash checked out.
    pub complete: bool,
}

/// The body of every error response (4xx and 5xx).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_protocols: Option<Vec<u32>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not valid JSON for this call; `message` names the problem.
    BadRequest,
    /// 400: the request's protocol version is not spoken here.
    UnsupportedProtocol,
    /// 401: no token, or a token the server does not know.
    Unauthorized,
    /// 401: this device was revoked; its local data stays on the phone.
    Revoked,
    /// 403: the enrollment code is unknown, used or expired.
    EnrollmentRefused,
    /// 403: the token belongs to another device than the request names.
    WrongDevice,
    /// 400: the body was compressed with a dictionary the server does not hold; send it again
    /// without one (and fetch the dictionary the next response advertises).
    UnknownDictionary,
    /// 404: no such resource (a dictionary id the server never had).
    NotFound,
    /// 413: the body is larger than the server accepts.
    TooLarge,
    /// 403: no accepted visit of this device names the photo; the server stores only photos
    /// that are evidence of a visit.
    PhotoNotReferenced,
    /// 413: the photo (as its visit declared it) or a chunk is larger than accepted.
    PhotoTooLarge,
    /// 400: the chunk index is past the photo's end, or the chunk's length is not the one its
    /// index must have.
    BadChunk,
    /// 422: the assembled photo's SHA-256 is not its name; the server discarded what it had
    /// and the device sends the photo again.
    PhotoHashMismatch,
    /// 409: the request contradicts what the server holds (a name that is already taken);
    /// nothing was changed.
    Conflict,
    /// 503: the server is overloaded or shutting down; retry with backoff.
    Unavailable,
    /// 500: a fault on the server; retry with backoff.
    Internal,
}

/// The marker of a phone's export file ([`UnsyncedExport`]).
pub const EXPORT_FORMAT: &str = "fieldvisit-unsynced-v1";

/// A phone's export file (`fieldvisit-unsynced-v1`, docs/devices.md): the operations of one
/// device that the server has not acknowledged, signed and chained exactly as they would have
/// been pushed, for a sync admin to import when the phone is lost, broken or revoked. The
/// phone writes it (`export_unsynced`), the server reads it (`import-unsynced`); both use this
/// one type, so the field order written here is the one every existing file has.
///
/// The identifying fields stay text: the server checks them on import and names what is wrong
/// with a file, rather than failing to read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsyncedExport {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// The device id.
    pub device: String,
    /// The device's Ed25519 public key (standard base64), to verify the signatures.
    pub public_key: String,
    /// The device's cadre when it was exported, for the admin reading the file.
    #[serde(default)]
    pub cadre: Option<String>,
    /// The device's wall clock when the file was written (milliseconds).
    #[serde(default)]
    pub exported_at: Option<i64>,
    /// The last operation the server acknowledged; the file continues from the next one.
    #[serde(default)]
    pub acked_seq: Option<u64>,
    pub operations: Vec<Operation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_file_is_written_with_the_fields_phones_always_wrote() {
        let file = UnsyncedExport {
            format: EXPORT_FORMAT.into(),
            device: "d".into(),
            public_key: "k".into(),
            cadre: None,
            exported_at: Some(7),
            acked_seq: Some(3),
            operations: Vec::new(),
        };
        let text = serde_json::to_string(&file).unwrap();
        assert_eq!(
            text,
            r#"{"format":"fieldvisit-unsynced-v1","device":"d","public_key":"k","cadre":null,"exported_at":7,"acked_seq":3,"operations":[]}"#
        );
        let read: UnsyncedExport = serde_json::from_str(
            r#"{"format":"fieldvisit-unsynced-v1","device":"d","public_key":"k","operations":[]}"#,
        )
        .unwrap();
        assert_eq!(
            (read.cadre, read.exported_at, read.acked_seq),
            (None, None, None)
        );
    }
}
