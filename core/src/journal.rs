//! The journal: every change made on a device, as a signed, hash-chained operation written in
//! the same transaction as the change itself. Sync moves operations; the device's tables and
//! the server's views are derived from them.
//!
//! An operation's digest covers its id, device, sequence number, clocks, kind, payload and the
//! digest of the operation before it, in a fixed binary layout (below), so a stored operation
//! cannot be altered, reordered or removed without breaking either its own signature or the
//! chain. The payload is JSON text and is hashed exactly as stored and sent — never re-encoded.
//!
//! This module is pure: no storage, no network. The same verification runs on the device
//! ([`crate::store::Store::verify_journal`]) and on the server for every pushed batch.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::{Hlc, WallTime};
use crate::domain::exit::StatusStep;
use crate::domain::visit::{VisitAmendment, VisitRecord};
use crate::ids::{DeviceId, HouseholdId, MemberId, OpId};

/// The digest a device's first operation chains to.
pub const GENESIS: [u8; 32] = [0; 32];
const DOMAIN_TAG: &[u8] = b"fieldvisit-op-v1";

/// One signed journal operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Operation {
    pub id: OpId,
    pub device: DeviceId,
    /// Gap-free per device, starting at 1.
    pub seq: u64,
    pub hlc: Hlc,
    /// The device's wall clock when the operation was made: evidence, not ordering.
    pub wall: WallTime,
    #[cfg_attr(feature = "openapi", schema(schema_with = kind_schema))]
    pub kind: String,
    /// The change, as JSON text (see [`OpBody`]). On the wire it is embedded as JSON, byte
    /// for byte as hashed.
    #[serde(with = "raw_json")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::payload))]
    pub payload: String,
    #[serde(with = "b64")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::base64_bytes::<32>))]
    pub prev_hash: [u8; 32],
    #[serde(with = "b64")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::base64_bytes::<64>))]
    pub signature: [u8; 64],
}

/// Everything of an operation but its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedOperation {
    pub id: OpId,
    pub device: DeviceId,
    pub seq: u64,
    pub hlc: Hlc,
    pub wall: WallTime,
    pub kind: String,
    pub payload: String,
    pub prev_hash: [u8; 32],
}

// Eight fields are what an operation is; bundling them into a struct only to hash it would
// copy the payload.
#[allow(clippy::too_many_arguments)]
fn digest_of(
    id: &OpId,
    device: &DeviceId,
    seq: u64,
    hlc: Hlc,
    wall: WallTime,
    kind: &str,
    payload: &str,
    prev_hash: &[u8; 32],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN_TAG);
    h.update(id.as_bytes());
    h.update(device.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(hlc.as_u64().to_be_bytes());
    h.update(wall.0.to_be_bytes());
    // Lengths make the layout unambiguous: no kind/payload split can be shifted.
    h.update(u64::try_from(kind.len()).unwrap_or(u64::MAX).to_be_bytes());
    h.update(kind.as_bytes());
    h.update(
        u64::try_from(payload.len())
            .unwrap_or(u64::MAX)
            .to_be_bytes(),
    );
    h.update(payload.as_bytes());
    h.update(prev_hash);
    h.finalize().into()
}

impl UnsignedOperation {
    pub fn digest(&self) -> [u8; 32] {
        digest_of(
            &self.id,
            &self.device,
            self.seq,
            self.hlc,
            self.wall,
            &self.kind,
            &self.payload,
            &self.prev_hash,
        )
    }

    pub fn sign(self, key: &SigningKey) -> Operation {
        let signature = key.sign(&self.digest()).to_bytes();
        Operation {
            id: self.id,
            device: self.device,
            seq: self.seq,
            hlc: self.hlc,
            wall: self.wall,
            kind: self.kind,
            payload: self.payload,
            prev_hash: self.prev_hash,
            signature,
        }
    }
}

impl Operation {
    /// The SHA-256 digest the next operation chains to and the signature covers.
    pub fn digest(&self) -> [u8; 32] {
        digest_of(
            &self.id,
            &self.device,
            self.seq,
            self.hlc,
            self.wall,
            &self.kind,
            &self.payload,
            &self.prev_hash,
        )
    }

    pub fn signature_valid(&self, key: &VerifyingKey) -> bool {
        key.verify(&self.digest(), &Signature::from_bytes(&self.signature))
            .is_ok()
    }

    /// The typed change this operation carries.
    pub fn body(&self) -> Result<OpBody, BodyError> {
        OpBody::decode(&self.kind, &self.payload)
    }
}

/// A position in a device's chain: the last sequence number and its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainPoint {
    pub seq: u64,
    #[serde(with = "b64")]
    pub hash: [u8; 32],
}

impl ChainPoint {
    pub const START: ChainPoint = ChainPoint {
        seq: 0,
        hash: GENESIS,
    };
}

/// Where and how a journal is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("journal broken at operation {seq}: {problem}")]
pub struct JournalBreak {
    /// The sequence number at which verification stopped.
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<OpId>,
    pub problem: BreakKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BreakKind {
    #[error(
        "expected sequence number {expected}, found {found} (an operation is missing or out of order)"
    )]
    Gap { expected: u64, found: u64 },
    #[error("the operation does not chain to the digest of the one before it")]
    ChainBroken,
    #[error("the signature does not verify: the operation was altered or not made by this device")]
    BadSignature,
    #[error("the operation names another device")]
    WrongDevice,
    #[error("the stored digest does not match the operation's content")]
    HashMismatch,
    #[error(
        "the journal ends at {found} but its recorded head is {expected}: operations were removed"
    )]
    Truncated { expected: u64, found: u64 },
}

/// Verifies `ops` in order as the continuation of a chain at `start`, returning the new end.
pub fn verify_chain<'a>(
    device: &DeviceId,
    key: &VerifyingKey,
    start: ChainPoint,
    ops: impl IntoIterator<Item = &'a Operation>,
) -> Result<ChainPoint, JournalBreak> {
    let mut at = start;
    for op in ops {
        let fail = |problem| JournalBreak {
            seq: op.seq,
            op: Some(op.id),
            problem,
        };
        if op.device != *device {
            return Err(fail(BreakKind::WrongDevice));
        }
        if op.seq != at.seq + 1 {
            return Err(fail(BreakKind::Gap {
                expected: at.seq + 1,
                found: op.seq,
            }));
        }
        if !op.signature_valid(key) {
            return Err(fail(BreakKind::BadSignature));
        }
        if op.prev_hash != at.hash {
            return Err(fail(BreakKind::ChainBroken));
        }
        at = ChainPoint {
            seq: op.seq,
            hash: op.digest(),
        };
    }
    Ok(at)
}

/// Field changes to a household, merged per field on the server (last writer by HLC wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseholdUpdate {
    pub household: HouseholdId,
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// Field changes to a member of a household.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberUpdate {
    pub member: MemberId,
    pub household: HouseholdId,
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// The typed change carried by an operation, one variant per operation kind.
#[derive(Debug, Clone, PartialEq)]
pub enum OpBody {
    VisitRecorded(VisitRecord),
    VisitAmended(VisitAmendment),
    HouseholdUpdated(HouseholdUpdate),
    MemberUpdated(MemberUpdate),
    /// A step of the household's poverty status (exit verification, [`crate::domain::exit`]).
    StatusChanged(StatusStep),
}

/// Every kind of operation a phone can write: the one list from which the kind strings, the
/// body decoding and the server's reads by kind are derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    VisitRecord,
    VisitAmend,
    HouseholdUpdate,
    MemberUpdate,
    HouseholdStatus,
}

impl OpKind {
    pub const ALL: [OpKind; 5] = [
        OpKind::VisitRecord,
        OpKind::VisitAmend,
        OpKind::HouseholdUpdate,
        OpKind::MemberUpdate,
        OpKind::HouseholdStatus,
    ];

    /// The kind as it travels and is stored (`Operation::kind`).
    pub const fn as_str(self) -> &'static str {
        match self {
            OpKind::VisitRecord => "visit.record",
            OpKind::VisitAmend => "visit.amend",
            OpKind::HouseholdUpdate => "household.update",
            OpKind::MemberUpdate => "member.update",
            OpKind::HouseholdStatus => "household.status",
        }
    }

    /// The kind named `text`, or `None` for a kind this build does not know.
    pub fn parse(text: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// The schema of an operation's `kind` (feature `openapi`): any text travels, the kinds of
/// [`OpKind`] are the ones this build applies (others are stored and rejected as
/// `unknown_kind`).
#[cfg(feature = "openapi")]
pub(crate) fn kind_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let kinds: Vec<&str> = OpKind::ALL.iter().map(|k| k.as_str()).collect();
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(format!(
            "The operation's kind, which decides the payload's shape: {}. A kind the server \
             does not know is stored and rejected (unknown_kind).",
            kinds.join(", ")
        )))
        .examples(kinds)
        .into()
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("unknown operation kind (this app or server may be older than the sender)")]
    UnknownKind,
    #[error("the operation's payload does not match its kind: {0}")]
    Payload(String),
}

impl OpBody {
    pub fn op_kind(&self) -> OpKind {
        match self {
            OpBody::VisitRecorded(_) => OpKind::VisitRecord,
            OpBody::VisitAmended(_) => OpKind::VisitAmend,
            OpBody::HouseholdUpdated(_) => OpKind::HouseholdUpdate,
            OpBody::MemberUpdated(_) => OpKind::MemberUpdate,
            OpBody::StatusChanged(_) => OpKind::HouseholdStatus,
        }
    }

    pub fn kind(&self) -> &'static str {
        self.op_kind().as_str()
    }

    /// The household the change concerns: what decides scope.
    pub fn household(&self) -> Option<&HouseholdId> {
        match self {
            OpBody::VisitRecorded(v) => Some(&v.household),
            OpBody::VisitAmended(_) => None,
            OpBody::HouseholdUpdated(u) => Some(&u.household),
            OpBody::MemberUpdated(u) => Some(&u.household),
            OpBody::StatusChanged(s) => Some(&s.household),
        }
    }

    pub fn to_payload(&self) -> Result<String, serde_json::Error> {
        match self {
            OpBody::VisitRecorded(v) => serde_json::to_string(v),
            OpBody::VisitAmended(a) => serde_json::to_string(a),
            OpBody::HouseholdUpdated(u) => serde_json::to_string(u),
            OpBody::MemberUpdated(u) => serde_json::to_string(u),
            OpBody::StatusChanged(s) => serde_json::to_string(s),
        }
    }

    pub fn decode(kind: &str, payload: &str) -> Result<OpBody, BodyError> {
        fn parse<T: serde::de::DeserializeOwned>(payload: &str) -> Result<T, BodyError> {
            serde_json::from_str(payload).map_err(|e| BodyError::Payload(e.to_string()))
        }
        match OpKind::parse(kind).ok_or(BodyError::UnknownKind)? {
            OpKind::VisitRecord => parse(payload).map(OpBody::VisitRecorded),
            OpKind::VisitAmend => parse(payload).map(OpBody::VisitAmended),
            OpKind::HouseholdUpdate => parse(payload).map(OpBody::HouseholdUpdated),
            OpKind::MemberUpdate => parse(payload).map(OpBody::MemberUpdated),
            OpKind::HouseholdStatus => parse(payload).map(OpBody::StatusChanged),
        }
    }
}

/// JSON text embedded verbatim in the enclosing JSON document (not as an escaped string), and
/// read back as exactly the bytes that were sent, so a digest over the text still verifies.
pub mod raw_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    pub fn serialize<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(text.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Ok(raw.get().to_string())
    }
}

/// Fixed-size byte arrays as standard base64 text in JSON.
pub mod b64 {
    use data_encoding::BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = BASE64
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)?;
        bytes.try_into().map_err(|v: Vec<u8>| {
            serde::de::Error::custom(format!("expected {N} bytes, found {}", v.len()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn chain(n: u64, device: DeviceId, key: &SigningKey) -> Vec<Operation> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let op = UnsignedOperation {
                    id: OpId::generate(WallTime(1_700_000_000_000 + seq as i64)),
                    device,
                    seq,
                    hlc: Hlc::new(1_700_000_000_000 + seq, 0),
                    wall: WallTime(1_700_000_000_000 + seq as i64),
                    kind: OpKind::HouseholdUpdate.as_str().into(),
                    payload: format!(
                        r#"{{"household":"h1","fields":{{"phone":"1390000{seq:04}"}}}}"#
                    ),
                    prev_hash: prev,
                }
                .sign(key);
                prev = op.digest();
                op
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_to_its_last_digest() {
        let device = DeviceId::generate(WallTime(1));
        let ops = chain(5, device, &key(1));
        let end = verify_chain(&device, &key(1).verifying_key(), ChainPoint::START, &ops).unwrap();
        assert_eq!(
            end,
            ChainPoint {
                seq: 5,
                hash: ops[4].digest()
            }
        );
    }

    #[test]
    fn altered_payload_reordered_and_missing_operations_are_named() {
        let device = DeviceId::generate(WallTime(1));
        let public = key(1).verifying_key();
        let ops = chain(5, device, &key(1));

        let mut altered = ops.clone();
        altered[2].payload = altered[2].payload.replace("139", "138");
        let err = verify_chain(&device, &public, ChainPoint::START, &altered).unwrap_err();
        assert_eq!((err.seq, err.problem), (3, BreakKind::BadSignature));

        let mut swapped = ops.clone();
        swapped.swap(1, 2);
        let err = verify_chain(&device, &public, ChainPoint::START, &swapped).unwrap_err();
        assert_eq!(
            (err.seq, err.problem),
            (
                3,
                BreakKind::Gap {
                    expected: 2,
                    found: 3
                }
            )
        );

        let mut missing = ops.clone();
        missing.remove(3);
        let err = verify_chain(&device, &public, ChainPoint::START, &missing).unwrap_err();
        assert_eq!(
            err.problem,
            BreakKind::Gap {
                expected: 4,
                found: 5
            }
        );

        let err =
            verify_chain(&device, &key(2).verifying_key(), ChainPoint::START, &ops).unwrap_err();
        assert_eq!((err.seq, err.problem), (1, BreakKind::BadSignature));
    }

    #[test]
    fn re_signing_an_altered_operation_with_its_own_key_still_breaks_the_chain() {
        let device = DeviceId::generate(WallTime(1));
        let k = key(1);
        let mut ops = chain(3, device, &k);
        let forged = UnsignedOperation {
            id: ops[1].id,
            device,
            seq: 2,
            hlc: ops[1].hlc,
            wall: ops[1].wall,
            kind: ops[1].kind.clone(),
            payload: ops[1].payload.replace("139", "137"),
            prev_hash: ops[1].prev_hash,
        }
        .sign(&k);
        ops[1] = forged;
        let err = verify_chain(&device, &k.verifying_key(), ChainPoint::START, &ops).unwrap_err();
        assert_eq!((err.seq, err.problem), (3, BreakKind::ChainBroken));
    }

    #[test]
    fn operations_round_trip_through_json() {
        let device = DeviceId::generate(WallTime(1));
        let ops = chain(2, device, &key(3));
        let text = serde_json::to_string(&ops).unwrap();
        let back: Vec<Operation> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ops);
        assert!(
            text.contains(r#""payload":{"household":"h1""#),
            "payload is embedded JSON"
        );
        // Whitespace inside a payload is kept byte for byte, so its digest still verifies.
        let spaced = text.replacen(r#"{"household":"h1""#, r#"{ "household" : "h1""#, 1);
        let back: Vec<Operation> = serde_json::from_str(&spaced).unwrap();
        assert!(back[0].payload.starts_with(r#"{ "household" : "h1""#));
        assert!(serde_json::from_str::<ChainPoint>(r#"{"seq":1,"hash":"AAAA"}"#).is_err());
    }

    #[test]
    fn unknown_kinds_and_mismatched_payloads_are_typed_errors() {
        assert_eq!(
            OpBody::decode("visit.delete", "{}"),
            Err(BodyError::UnknownKind)
        );
        assert!(matches!(
            OpBody::decode(OpKind::VisitRecord.as_str(), "{}"),
            Err(BodyError::Payload(_))
        ));
        assert!(matches!(
            OpBody::decode(OpKind::VisitAmend.as_str(), "not json"),
            Err(BodyError::Payload(_))
        ));
    }
}
