//! Enrollment: an admin makes a one-time, expiring code for a cadre (text, and a QR code the
//! phone scans); the phone presents it with its public key and receives a bearer token. Codes
//! and tokens are stored only as SHA-256 hashes (tokens through `crate::token`).

use data_encoding::{BASE64URL_NOPAD, Encoding};
use sha2::{Digest, Sha256};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::CadreId;
use fieldvisit_core::journal::ChainPoint;
use fieldvisit_core::protocol::{EnrollRequest, EnrollResponse, PROTOCOL_VERSION};

use crate::admin_log::{self, Action, Actor};
use crate::error::{Error, Refusal, Result};
use crate::feed::seed_device_feed;
use crate::storage::{DeviceRecord, Storage};
use crate::token::token_hash;

/// Crockford's base32 alphabet: no I, L, O or U to misread when a code is typed.
const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn crockford() -> Result<Encoding> {
    let mut spec = data_encoding::Specification::new();
    spec.symbols.push_str(CROCKFORD);
    spec.encoding()
        .map_err(|e| Error::Corrupt(format!("code alphabet: {e}")))
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Unavailable(format!("no randomness: {e}")))?;
    Ok(bytes)
}

/// A code as typed: case, spaces and hyphens do not matter; O, I and L read as 0, 1, 1.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

fn code_hash(code: &str) -> [u8; 32] {
    Sha256::digest(normalize_code(code).as_bytes()).into()
}

/// A fresh enrollment code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EnrollmentCode {
    /// As printed: four groups of four characters (80 random bits).
    pub code: String,
    pub cadre: CadreId,
    pub expires: ServerTime,
}

impl EnrollmentCode {
    /// The code as a QR image (SVG) for the phone's camera.
    pub fn qr_svg(&self) -> Result<String> {
        let qr =
            qrcode::QrCode::with_error_correction_level(self.code.as_bytes(), qrcode::EcLevel::M)
                .map_err(|e| Error::Corrupt(format!("QR encoding: {e}")))?;
        Ok(qr
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build())
    }
}

/// Makes a one-time code for `cadre`, valid for `ttl_ms`, and logs its issue (the code itself
/// is not logged: it is a credential until it is used or expires).
pub fn create_code(
    storage: &dyn Storage,
    cadre: &CadreId,
    now: ServerTime,
    ttl_ms: i64,
    actor: &Actor,
) -> Result<EnrollmentCode> {
    let text = crockford()?.encode(&random::<10>()?);
    let code = text
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-");
    let expires = ServerTime(now.0.saturating_add(ttl_ms));
    let mut tx = storage.write()?;
    if tx.cadre(cadre)?.is_none() {
        return Err(Error::NotFound(format!(
            "no cadre '{cadre}' in the registry"
        )));
    }
    tx.insert_enrollment_code(&code_hash(&code), cadre, now, expires)?;
    admin_log::record(
        tx.as_mut(),
        actor,
        now,
        Action::EnrollCode,
        cadre.as_str(),
        serde_json::json!({ "expires": expires.0 }),
    )?;
    tx.commit()?;
    Ok(EnrollmentCode {
        code,
        cadre: cadre.clone(),
        expires,
    })
}

/// Redeems a code for the device in `req`: registers its key and returns its token. The same
/// device may enroll again with a new code (a phone handed to another cadre); its journal
/// continues where it was.
pub fn redeem(
    storage: &dyn Storage,
    req: &EnrollRequest,
    now: ServerTime,
) -> Result<EnrollResponse> {
    if req.protocol != PROTOCOL_VERSION {
        return Err(Refusal::UnsupportedProtocol(req.protocol).into());
    }
    if ed25519_dalek::VerifyingKey::from_bytes(&req.public_key).is_err() {
        return Err(Refusal::BadRequest("public_key is not an Ed25519 public key".into()).into());
    }
    let mut tx = storage.write()?;
    let existing = tx.device(&req.device)?;
    if existing
        .as_ref()
        .is_some_and(|d| d.public_key != req.public_key)
    {
        return Err(Refusal::EnrollmentRefused(
            "this device id is enrolled with another key".into(),
        )
        .into());
    }
    let Some(cadre) = tx.redeem_enrollment_code(&code_hash(&req.code), &req.device, now)? else {
        return Err(Refusal::EnrollmentRefused(
            "the enrollment code is unknown, used or expired".into(),
        )
        .into());
    };
    let token = format!("fv1.{}", BASE64URL_NOPAD.encode(&random::<32>()?));
    let record = DeviceRecord {
        id: req.device,
        cadre: cadre.clone(),
        public_key: req.public_key,
        enrolled_at: now,
        revoked: None,
        retiring: None,
        head: existing.as_ref().map_or(ChainPoint::START, |d| d.head),
        app_version: Some(req.app_version.clone()),
        last_sync_at: None,
        pending_reported: 0,
        clock_skew_ms: 0,
    };
    tx.upsert_device(&record, &token_hash(&token))?;
    seed_device_feed(tx.as_mut(), &record, now)?;
    let authority_keys = tx.authority_keys()?;
    let dictionary = tx.current_dictionary()?;
    tx.commit()?;
    Ok(EnrollResponse {
        protocol: PROTOCOL_VERSION,
        device: req.device,
        cadre,
        token,
        authority_keys,
        server_time: now,
        dictionary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_normalise_to_the_same_hash() {
        assert_eq!(code_hash("AB0C-1DEF"), code_hash(" abOc 1def "));
        assert_eq!(code_hash("11"), code_hash("iL"));
        assert_ne!(code_hash("AB0C"), code_hash("AB0D"));
    }
}
