//! Signed door-plate QR payloads.
//!
//! Every household (and person) gets a QR door plate. Plates hang on public doors, so the QR
//! carries only what is needed to prove which code the plate was issued for: the kind, the 40-bit
//! code id, the id of the issuing authority's key, an issue number (bumped when a lost or damaged
//! plate is reissued) and the authority's Ed25519 signature over those fields.
//!
//! Binary layout (74 bytes):
//! `[kind u8: 1 household, 2 person][id: 5 bytes BE][key_id: u16 BE][issue: u16 BE][signature: 64]`.
//! Text form, which is what goes into the QR: `"FV1"` followed by those 74 bytes in RFC 4648
//! base32 without padding, 122 characters that all lie in the QR alphanumeric set. The signed
//! message is `b"fieldvisit-plate-v1" || kind || id || key_id || issue`; the domain tag keeps a
//! plate signature from being replayed as any other kind of signature by the same key.
//!
//! This module must never put personal data on a plate, never accept a plate whose signature does
//! not verify strictly under a key the caller holds, never panic on any scanned text, and never
//! reveal an authority's secret key (not even through `Debug`).

use crate::codes::{CodeKind, HumanCode};
use data_encoding::{BASE32_NOPAD, HEXLOWER};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::fmt;

/// Length of the text form of a plate (what the QR holds).
pub const PLATE_TEXT_LEN: usize = 122;

/// The format marker shared by every version, so a future version is recognised as a plate.
const MARKER: &str = "FV";

/// The format version this module reads and writes.
const VERSION: &str = "1";

/// The text prefix: format marker plus version (kept equal to `MARKER + VERSION` by a test).
const PREFIX: &str = "FV1";

/// Length of the binary payload.
const PAYLOAD_LEN: usize = 74;

/// Length of the signed fields (kind, id, key id, issue) inside the payload.
const FIELDS_LEN: usize = 10;

/// Number of base32 characters that encode the payload.
const DATA_CHARS: usize = PLATE_TEXT_LEN - PREFIX.len();

/// Domain separation tag prepended to the signed fields.
const DOMAIN_TAG: &[u8] = b"fieldvisit-plate-v1";

/// A public key the device trusts for plates, with the id plates use to name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthorityKey {
    /// Id written on plates signed by this key.
    pub key_id: u16,
    /// Ed25519 public key.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::byte_array_32))]
    pub public_key: [u8; 32],
}

/// An issuing authority: the holder of a plate signing key.
pub struct PlateAuthority {
    key_id: u16,
    signing_key: SigningKey,
}

impl PlateAuthority {
    /// Creates an authority from its 32-byte Ed25519 secret.
    #[must_use]
    pub fn from_secret(key_id: u16, secret: [u8; 32]) -> Self {
        PlateAuthority {
            key_id,
            signing_key: SigningKey::from_bytes(&secret),
        }
    }

    /// The id plates signed by this authority carry.
    #[must_use]
    pub fn key_id(&self) -> u16 {
        self.key_id
    }

    /// The public half, to hand to devices that verify plates.
    #[must_use]
    pub fn public(&self) -> AuthorityKey {
        AuthorityKey {
            key_id: self.key_id,
            public_key: self.signing_key.verifying_key().to_bytes(),
        }
    }

    /// Signs a plate for `code` with the given issue number and returns the QR text.
    #[must_use]
    pub fn issue(&self, code: &HumanCode, issue: u16) -> String {
        let fields = encode_fields(code.kind(), code.id(), self.key_id, issue);
        let signature = self.signing_key.sign(&signed_message(&fields));
        let mut payload = [0u8; PAYLOAD_LEN];
        let (head, tail) = payload.split_at_mut(FIELDS_LEN);
        head.copy_from_slice(&fields);
        tail.copy_from_slice(&signature.to_bytes());
        let mut text = String::with_capacity(PLATE_TEXT_LEN);
        text.push_str(PREFIX);
        text.push_str(&BASE32_NOPAD.encode(&payload));
        text
    }
}

impl fmt::Debug for PlateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written by hand so the secret can never end up in a log; only public facts are shown.
        f.debug_struct("PlateAuthority")
            .field("key_id", &self.key_id)
            .field(
                "public_key",
                &HEXLOWER.encode(self.signing_key.verifying_key().as_bytes()),
            )
            .finish_non_exhaustive()
    }
}

/// A plate whose signature checked out.
///
/// Whether it is the current issue is for the caller to decide (see
/// [`PlateError::Superseded`]), since only the caller knows the current issue number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPlate {
    /// The code the plate was issued for.
    pub code: HumanCode,
    /// The id of the key that signed it.
    pub key_id: u16,
    /// The plate's issue number.
    pub issue: u16,
}

/// Why a scanned plate was not accepted.
///
/// Messages are for the field worker; they contain no personal data (plates have none).
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum PlateError {
    /// The text is not a fieldvisit plate at all (some other QR code).
    #[error("this QR code is not a fieldvisit door plate")]
    NotAPlate,
    /// A fieldvisit plate of a format version this build does not understand.
    #[error(
        "this door plate uses format version {version:?}, which this app does not support; \
         update the app or enter the code by hand"
    )]
    UnsupportedVersion {
        /// The version as read from the plate (at most a few characters).
        version: String,
    },
    /// The plate text is not well-formed.
    #[error(
        "this door plate could not be read ({reason}); scan it again or enter the code by hand"
    )]
    Malformed {
        /// What was wrong.
        reason: &'static str,
    },
    /// The plate data has the wrong length, usually because the scan was cut short.
    #[error(
        "this door plate was not read completely ({found} of {expected} bytes); scan it again \
         or enter the code by hand"
    )]
    Truncated {
        /// The payload length a plate has.
        expected: usize,
        /// The payload length found (whole bytes).
        found: usize,
    },
    /// The plate names a signing key this device does not hold.
    #[error(
        "this door plate was signed with authority key {key_id}, which this device does not \
         have; sync the device or enter the code by hand"
    )]
    UnknownKey {
        /// The key id written on the plate.
        key_id: u16,
    },
    /// The signature does not verify: the plate was altered, damaged or forged.
    #[error(
        "this door plate's signature is not valid, so the plate may be forged or altered; do not \
         rely on it, enter the code by hand and report the plate"
    )]
    Forged,
    /// Returned by callers (not by [`verify_plate`]) when a newer issue of the plate exists.
    #[error(
        "this plate was replaced by a newer issue; use the new plate or enter the code by hand \
         (scanned issue {scanned}, current issue {current})"
    )]
    Superseded {
        /// The issue number on the scanned plate.
        scanned: u16,
        /// The current issue number the caller knows of.
        current: u16,
    },
}

/// Verifies scanned plate text against the authority keys the device holds.
///
/// Surrounding whitespace is ignored and lowercase is accepted, because some scanners lowercase.
/// Several keys may be held at once (key rotation); the plate's key id selects which.
///
/// # Errors
/// Checked in this order: [`PlateError::NotAPlate`], [`PlateError::UnsupportedVersion`],
/// [`PlateError::Malformed`], [`PlateError::Truncated`], [`PlateError::UnknownKey`],
/// [`PlateError::Forged`]. A held key whose bytes are not a valid Ed25519 point verifies nothing,
/// so a plate naming only such a key is reported as forged.
pub fn verify_plate(text: &str, keys: &[AuthorityKey]) -> Result<VerifiedPlate, PlateError> {
    let text = text.trim();
    // Everything is compared without allocating a copy of the input, so even a huge scan (or a
    // hostile QR) costs nothing beyond one pass over it.
    let rest = strip_prefix_ignore_ascii_case(text, MARKER).ok_or(PlateError::NotAPlate)?;
    let data = strip_prefix_ignore_ascii_case(rest, VERSION).ok_or_else(|| {
        PlateError::UnsupportedVersion {
            version: version_label(rest),
        }
    })?;
    let data = data.as_bytes();

    if !data.iter().all(|&b| base32_value(b).is_some()) {
        return Err(PlateError::Malformed {
            reason: "it contains characters that are not base32",
        });
    }

    // The kind byte is judged before the length, so that an unknown kind of plate is called
    // malformed even when the scan is also incomplete.
    if let [c0, c1, ..] = data {
        let kind_byte =
            (base32_value(*c0).unwrap_or(0) << 3) | (base32_value(*c1).unwrap_or(0) >> 2);
        kind_from_byte(kind_byte)?;
    }

    if data.len() != DATA_CHARS {
        // Every character is valid base32, so the whole bytes the text holds would decode;
        // report how many, which is what a cut-short scan looks like. Computed without
        // multiplying the full length, so no length can overflow.
        let found = data.len() / 8 * 5 + data.len() % 8 * 5 / 8;
        return Err(PlateError::Truncated {
            expected: PAYLOAD_LEN,
            found,
        });
    }

    let upper: Vec<u8> = data.iter().map(u8::to_ascii_uppercase).collect();
    let decoded = BASE32_NOPAD
        .decode(&upper)
        .map_err(|_| PlateError::Malformed {
            // With the length and alphabet already checked, only non-zero padding bits remain.
            reason: "its base32 text is not in canonical form",
        })?;
    let found = decoded.len();
    let payload: [u8; PAYLOAD_LEN] = decoded.try_into().map_err(|_| PlateError::Truncated {
        expected: PAYLOAD_LEN,
        found,
    })?;

    // The two size errors below cannot happen (the payload is exactly 74 bytes); they exist so
    // that no size mismatch could ever panic.
    let (fields, signature) = payload.split_at(FIELDS_LEN);
    let [kind_byte, i0, i1, i2, i3, i4, k0, k1, s0, s1] = *fields else {
        return Err(PlateError::Malformed {
            reason: "its fields have the wrong size",
        });
    };
    let kind = kind_from_byte(kind_byte)?;
    let id = u64::from_be_bytes([0, 0, 0, i0, i1, i2, i3, i4]);
    let key_id = u16::from_be_bytes([k0, k1]);
    let issue = u16::from_be_bytes([s0, s1]);
    let signature: [u8; 64] = signature.try_into().map_err(|_| PlateError::Malformed {
        reason: "its signature has the wrong size",
    })?;
    let signature = Signature::from_bytes(&signature);

    let mut candidates = keys.iter().filter(|k| k.key_id == key_id).peekable();
    if candidates.peek().is_none() {
        return Err(PlateError::UnknownKey { key_id });
    }
    let message = signed_message(&encode_fields(kind, id, key_id, issue));
    // Every held key with this id is trusted equally, so accepting under any of them is no
    // weaker than accepting under one. verify_strict rejects malleable signatures and weak keys.
    let verified = candidates.any(|key| {
        VerifyingKey::from_bytes(&key.public_key)
            .is_ok_and(|vk| vk.verify_strict(&message, &signature).is_ok())
    });
    if !verified {
        return Err(PlateError::Forged);
    }

    let code = HumanCode::new(kind, id).map_err(|_| PlateError::Malformed {
        reason: "its id does not fit in a code",
    })?;
    Ok(VerifiedPlate {
        code,
        key_id,
        issue,
    })
}

/// The ten signed bytes: kind, 5-byte id, key id, issue (all big-endian).
fn encode_fields(kind: CodeKind, id: u64, key_id: u16, issue: u16) -> [u8; FIELDS_LEN] {
    let kind_byte = match kind {
        CodeKind::Household => 1,
        CodeKind::Person => 2,
    };
    let [_, _, _, i0, i1, i2, i3, i4] = id.to_be_bytes();
    let [k0, k1] = key_id.to_be_bytes();
    let [s0, s1] = issue.to_be_bytes();
    [kind_byte, i0, i1, i2, i3, i4, k0, k1, s0, s1]
}

/// The exact bytes that are signed: domain tag then fields.
fn signed_message(fields: &[u8; FIELDS_LEN]) -> Vec<u8> {
    let mut message = Vec::with_capacity(DOMAIN_TAG.len() + FIELDS_LEN);
    message.extend_from_slice(DOMAIN_TAG);
    message.extend_from_slice(fields);
    message
}

fn kind_from_byte(byte: u8) -> Result<CodeKind, PlateError> {
    match byte {
        1 => Ok(CodeKind::Household),
        2 => Ok(CodeKind::Person),
        _ => Err(PlateError::Malformed {
            reason: "it names an unknown kind of subject",
        }),
    }
}

/// The value of an RFC 4648 base32 character in either case.
fn base32_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a'),
        b'2'..=b'7' => Some(b - b'2' + 26),
        _ => None,
    }
}

fn strip_prefix_ignore_ascii_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

/// A short label for an unsupported version: the digits after "FV", or else the one character
/// there. Bounded, because it goes into an error that may be logged.
fn version_label(rest: &str) -> String {
    let digits: String = rest
        .chars()
        .take_while(char::is_ascii_digit)
        .take(8)
        .collect();
    if digits.is_empty() {
        rest.chars()
            .next()
            .map(|c| c.to_ascii_uppercase().to_string())
            .unwrap_or_default()
    } else {
        digits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET_A: [u8; 32] = [7; 32];
    const SECRET_B: [u8; 32] = [9; 32];

    fn authority_a() -> PlateAuthority {
        PlateAuthority::from_secret(1, SECRET_A)
    }

    fn household() -> HumanCode {
        HumanCode::new(CodeKind::Household, 0x12_3456_789a).unwrap()
    }

    fn decode(text: &str) -> Vec<u8> {
        BASE32_NOPAD
            .decode(&text.as_bytes()[PREFIX.len()..])
            .unwrap()
    }

    fn encode(payload: &[u8]) -> String {
        format!("{PREFIX}{}", BASE32_NOPAD.encode(payload))
    }

    #[test]
    fn text_length_constant_matches_layout() {
        assert_eq!(
            PREFIX.len() + BASE32_NOPAD.encode_len(PAYLOAD_LEN),
            PLATE_TEXT_LEN
        );
        assert_eq!(DATA_CHARS, 119);
        assert_eq!(format!("{MARKER}{VERSION}"), PREFIX);
    }

    #[test]
    fn issue_then_verify_round_trips() {
        let authority = authority_a();
        for code in [household(), HumanCode::new(CodeKind::Person, 5).unwrap()] {
            let text = authority.issue(&code, 3);
            assert_eq!(text.len(), PLATE_TEXT_LEN);
            assert!(text.starts_with("FV1"));
            let plate = verify_plate(&text, &[authority.public()]).unwrap();
            assert_eq!(
                plate,
                VerifiedPlate {
                    code,
                    key_id: 1,
                    issue: 3
                }
            );
        }
    }

    #[test]
    fn binary_layout_is_as_documented() {
        let authority = PlateAuthority::from_secret(0x0102, SECRET_A);
        let text = authority.issue(
            &HumanCode::new(CodeKind::Person, 0xAB_CDEF_0123).unwrap(),
            0x0304,
        );
        let payload = decode(&text);
        assert_eq!(payload.len(), PAYLOAD_LEN);
        assert_eq!(
            &payload[..FIELDS_LEN],
            &[2, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 1, 2, 3, 4]
        );
        // The signature covers the domain-tagged message, and nothing else.
        let mut message = DOMAIN_TAG.to_vec();
        message.extend_from_slice(&payload[..FIELDS_LEN]);
        let vk = VerifyingKey::from_bytes(&authority.public().public_key).unwrap();
        let sig = Signature::from_bytes(&payload[FIELDS_LEN..].try_into().unwrap());
        assert!(vk.verify_strict(&message, &sig).is_ok());
        assert!(vk.verify_strict(&payload[..FIELDS_LEN], &sig).is_err());
    }

    #[test]
    fn tolerates_whitespace_and_lowercase() {
        let authority = authority_a();
        let text = authority.issue(&household(), 1);
        let keys = [authority.public()];
        assert!(verify_plate(&format!("  {text}\r\n"), &keys).is_ok());
        assert!(verify_plate(&text.to_lowercase(), &keys).is_ok());
    }

    #[test]
    fn single_bit_flips_are_rejected() {
        let authority = authority_a();
        let text = authority.issue(&household(), 1);
        let payload = decode(&text);
        let keys = [authority.public()];
        for byte in 0..PAYLOAD_LEN {
            for bit in 0..8 {
                let mut altered = payload.clone();
                altered[byte] ^= 1 << bit;
                let result = verify_plate(&encode(&altered), &keys);
                let expected = match byte {
                    0 => PlateError::Malformed {
                        reason: "it names an unknown kind of subject",
                    },
                    6 | 7 => PlateError::UnknownKey {
                        key_id: 1 ^ (1 << (bit + 8 * (7 - byte))),
                    },
                    _ => PlateError::Forged,
                };
                assert_eq!(result, Err(expected), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn key_id_bit_flips_are_forged_when_that_key_id_is_held() {
        // A flipped key id that names another held key must not verify under it.
        let authority = authority_a();
        let text = authority.issue(&household(), 1);
        let payload = decode(&text);
        let mut keys = vec![authority.public()];
        for bit in 0..16u16 {
            keys.push(PlateAuthority::from_secret(1 ^ (1 << bit), SECRET_B).public());
        }
        for byte in 6..8 {
            for bit in 0..8 {
                let mut altered = payload.clone();
                altered[byte] ^= 1 << bit;
                assert_eq!(
                    verify_plate(&encode(&altered), &keys),
                    Err(PlateError::Forged)
                );
            }
        }
    }

    #[test]
    fn truncated_text_is_reported_as_truncated() {
        let authority = authority_a();
        let text = authority.issue(&household(), 1);
        let keys = [authority.public()];
        for (drop, found) in [(1, 73), (10, 68), (60, 36), (119, 0)] {
            let cut = &text[..text.len() - drop];
            assert_eq!(
                verify_plate(cut, &keys),
                Err(PlateError::Truncated {
                    expected: PAYLOAD_LEN,
                    found
                }),
                "dropped {drop}"
            );
        }
        // Every possible cut, not just the listed ones.
        for len in PREFIX.len()..text.len() {
            assert!(
                matches!(
                    verify_plate(&text[..len], &keys),
                    Err(PlateError::Truncated { .. })
                ),
                "cut at {len}"
            );
        }
        // Too long is a length error too.
        assert!(matches!(
            verify_plate(&format!("{text}AAAAAAAA"), &keys),
            Err(PlateError::Truncated {
                expected: PAYLOAD_LEN,
                found: 79
            })
        ));
    }

    #[test]
    fn different_secret_claiming_known_key_id_is_forged() {
        let genuine = authority_a();
        let impostor = PlateAuthority::from_secret(genuine.key_id(), SECRET_B);
        let text = impostor.issue(&household(), 1);
        assert_eq!(
            verify_plate(&text, &[genuine.public()]),
            Err(PlateError::Forged)
        );
    }

    #[test]
    fn random_secret_claiming_known_key_id_is_forged() {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).unwrap();
        let impostor = PlateAuthority::from_secret(1, secret);
        let text = impostor.issue(&household(), 1);
        assert_eq!(
            verify_plate(&text, &[authority_a().public()]),
            Err(PlateError::Forged)
        );
    }

    #[test]
    fn key_id_nobody_holds_is_unknown() {
        let stranger = PlateAuthority::from_secret(77, SECRET_B);
        let text = stranger.issue(&household(), 1);
        assert_eq!(
            verify_plate(&text, &[authority_a().public()]),
            Err(PlateError::UnknownKey { key_id: 77 })
        );
        assert_eq!(
            verify_plate(&text, &[]),
            Err(PlateError::UnknownKey { key_id: 77 })
        );
    }

    #[test]
    fn invalid_held_key_verifies_nothing() {
        let authority = authority_a();
        let text = authority.issue(&household(), 1);
        // Find 32 bytes that are not a valid curve point.
        let bad = (0u8..=255)
            .map(|b| [b; 32])
            .find(|bytes| VerifyingKey::from_bytes(bytes).is_err())
            .unwrap();
        let keys = [AuthorityKey {
            key_id: 1,
            public_key: bad,
        }];
        assert_eq!(verify_plate(&text, &keys), Err(PlateError::Forged));
    }

    #[test]
    fn wrong_prefix_is_not_a_plate() {
        for text in ["", "F", "https://example.org/", "XV1AAAA", "  ", "ФV1"] {
            assert_eq!(
                verify_plate(text, &[]),
                Err(PlateError::NotAPlate),
                "{text:?}"
            );
        }
    }

    #[test]
    fn other_versions_are_unsupported() {
        let authority = authority_a();
        let v2 = authority.issue(&household(), 1).replacen("FV1", "FV2", 1);
        assert_eq!(
            verify_plate(&v2, &[authority.public()]),
            Err(PlateError::UnsupportedVersion {
                version: "2".into()
            })
        );
        assert_eq!(
            verify_plate("fv23abc", &[]),
            Err(PlateError::UnsupportedVersion {
                version: "23".into()
            })
        );
        assert_eq!(
            verify_plate("FV", &[]),
            Err(PlateError::UnsupportedVersion {
                version: String::new()
            })
        );
        assert_eq!(
            verify_plate("FVx", &[]),
            Err(PlateError::UnsupportedVersion {
                version: "X".into()
            })
        );
    }

    #[test]
    fn malformed_text() {
        let authority = authority_a();
        let text = authority.issue(&household(), 1);
        let keys = [authority.public()];
        // A character outside base32 ('1', '8', '=', non-ASCII).
        for bad in ["1", "8", "=", "é"] {
            let altered = format!("{}{bad}{}", &text[..10], &text[11..]);
            assert!(
                matches!(
                    verify_plate(&altered, &keys),
                    Err(PlateError::Malformed { .. })
                ),
                "{bad}"
            );
        }
        // Non-zero padding bits: the last character's low 3 bits are padding, so 'B'/'C' are never canonical.
        let mut last_changed = text.clone();
        last_changed.pop();
        let last = text.chars().last().unwrap();
        last_changed.push(if last == 'B' { 'C' } else { 'B' });
        assert!(matches!(
            verify_plate(&last_changed, &keys),
            Err(PlateError::Malformed { .. })
        ));
        // An unknown kind byte wins over a length error.
        let mut payload = decode(&text);
        payload[0] = 9;
        let bad_kind = encode(&payload);
        assert!(matches!(
            verify_plate(&bad_kind[..50], &keys),
            Err(PlateError::Malformed {
                reason: "it names an unknown kind of subject"
            })
        ));
    }

    #[test]
    fn rotation_keeps_old_and_new_keys_working() {
        let old = PlateAuthority::from_secret(1, SECRET_A);
        let new = PlateAuthority::from_secret(2, SECRET_B);
        let keys = [old.public(), new.public()];
        let code = household();
        let old_plate = verify_plate(&old.issue(&code, 1), &keys).unwrap();
        let new_plate = verify_plate(&new.issue(&code, 2), &keys).unwrap();
        assert_eq!((old_plate.key_id, old_plate.issue), (1, 1));
        assert_eq!((new_plate.key_id, new_plate.issue), (2, 2));
        assert_eq!(old_plate.code, new_plate.code);
        // Retiring the old key leaves its plates unknown, not forged.
        assert_eq!(
            verify_plate(&old.issue(&code, 1), &[new.public()]),
            Err(PlateError::UnknownKey { key_id: 1 })
        );
    }

    #[test]
    fn debug_does_not_reveal_the_secret() {
        let authority = authority_a();
        let shown = format!("{authority:?}");
        assert!(shown.contains("key_id: 1"));
        assert!(!shown.contains(&HEXLOWER.encode(&SECRET_A)));
        assert!(!shown.contains("7, 7, 7"));
        assert!(!shown.contains("0707070707"));
    }

    #[test]
    fn superseded_message() {
        let err = PlateError::Superseded {
            scanned: 1,
            current: 2,
        };
        assert!(err.to_string().starts_with(
            "this plate was replaced by a newer issue; use the new plate or enter the code by hand"
        ));
    }

    #[test]
    fn qr_fits_version_6_at_ec_m_in_alphanumeric_mode() {
        use qrcode::optimize::{Optimizer, Parser};
        use qrcode::types::Mode;
        use qrcode::{EcLevel, QrCode, Version};
        use std::collections::BTreeMap;

        let authorities = [
            authority_a(),
            PlateAuthority::from_secret(u16::MAX, SECRET_B),
        ];
        let mut auto_versions: BTreeMap<i16, usize> = BTreeMap::new();
        let mut plates = 0usize;
        let mut cases: Vec<(CodeKind, u64, u16)> = (0..300u64)
            .map(|n| {
                let kind = if n % 2 == 0 {
                    CodeKind::Household
                } else {
                    CodeKind::Person
                };
                (
                    kind,
                    n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 24,
                    u16::try_from(n).unwrap(),
                )
            })
            .collect();
        // Extremes, including one the crate's own optimizer puts in version 6.
        cases.push((CodeKind::Person, (1 << 40) - 1, u16::MAX));
        cases.push((CodeKind::Household, 0, 0));
        for (n, (kind, id, issue)) in cases.into_iter().enumerate() {
            let code = HumanCode::new(kind, id).unwrap();
            let authority = &authorities[usize::from(n % 3 == 0)];
            let text = authority.issue(&code, issue);
            assert_eq!(text.len(), PLATE_TEXT_LEN);
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            );

            // What the crate picks on its own for these bytes. encode_auto segments the data for
            // the version 1-9 size class, so the same optimizer run shows the modes it used.
            let auto = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).unwrap();
            assert_eq!(auto.error_correction_level(), EcLevel::M);
            let modes: Vec<Mode> = Optimizer::new(Parser::new(text.as_bytes()), Version::Normal(9))
                .map(|segment| segment.mode)
                .collect();
            assert!(!modes.contains(&Mode::Byte), "byte mode chosen: {modes:?}");
            let Version::Normal(v) = auto.version() else {
                panic!("micro QR chosen: {:?}", auto.version());
            };
            assert!(v <= 6, "auto picked version {v} with modes {modes:?}");
            *auto_versions.entry(v).or_default() += 1;

            // One alphanumeric segment, built by hand, as a plate printer should do it.
            let mut bits = qrcode::bits::Bits::new(Version::Normal(5));
            bits.push_alphanumeric_data(text.as_bytes()).unwrap();
            bits.push_terminator(EcLevel::M).unwrap();
            let forced = QrCode::with_bits(bits, EcLevel::M).unwrap();
            assert_eq!(forced.version(), Version::Normal(5));
            assert_eq!(forced.error_correction_level(), EcLevel::M);

            // For comparison: the same text in byte mode would not fit version 6 at M.
            let mut bits = qrcode::bits::Bits::new(Version::Normal(6));
            assert!(
                bits.push_byte_data(text.as_bytes())
                    .and_then(|()| bits.push_terminator(EcLevel::M))
                    .is_err()
            );
            plates += 1;
        }
        println!(
            "{plates} plates: forced single alphanumeric segment always Normal(5)/M; \
             QrCode::with_error_correction_level versions {auto_versions:?}"
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(text in ".*") {
            let keys = [authority_a().public()];
            let _ = verify_plate(&text, &keys);
            let _ = verify_plate(&format!("FV1{text}"), &keys);
        }

        #[test]
        fn never_panics_on_base32_like_text(text in "(FV1|fv1)[A-Za-z2-7]{0,130}") {
            let _ = verify_plate(&text, &[authority_a().public()]);
        }

        #[test]
        fn arbitrary_payloads_never_verify(payload in proptest::collection::vec(any::<u8>(), PAYLOAD_LEN)) {
            let mut payload = payload;
            // Aim half of the cases at the held key so the signature check itself is exercised.
            payload[0] = if payload[0] & 1 == 0 { 1 } else { payload[0] };
            payload[6] = 0;
            payload[7] = 1;
            let text = encode(&payload);
            prop_assert_eq!(text.len(), PLATE_TEXT_LEN);
            let result = verify_plate(&text, &[authority_a().public()]);
            prop_assert!(result.is_err());
        }
    }
}
