//! Who this device is and whom it works for: the device id and signing key (made on first
//! open), and the enrollment that binds the device to a cadre and gives it the plate
//! authorities' public keys.

use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::clock::WallTime;
use crate::error::{Error, Result};
use crate::ids::{CadreId, DeviceId};
use crate::plate::AuthorityKey;

pub(super) struct DeviceKey {
    pub(super) id: DeviceId,
    signing: SigningKey,
}

impl DeviceKey {
    pub(super) fn load_or_create(conn: &mut Connection, now: WallTime) -> Result<Self> {
        let tx = Transaction::new(conn, TransactionBehavior::Immediate)?;
        let id: Option<Vec<u8>> = meta_get(&tx, "device_id")?;
        let secret: Option<Vec<u8>> = meta_get(&tx, "device_secret")?;
        let key = match (id, secret) {
            (Some(id), Some(secret)) => {
                let id: [u8; 16] = id
                    .try_into()
                    .map_err(|_| Error::Corrupt("device id is not 16 bytes".into()))?;
                let secret: [u8; 32] = secret
                    .try_into()
                    .map_err(|_| Error::Corrupt("device key is not 32 bytes".into()))?;
                DeviceKey {
                    id: DeviceId::from_bytes(id),
                    signing: SigningKey::from_bytes(&secret),
                }
            }
            (None, None) => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| {
                    Error::Corrupt(format!("no randomness for the device key: {e}"))
                })?;
                let key = DeviceKey {
                    id: DeviceId::generate(now),
                    signing: SigningKey::from_bytes(&secret),
                };
                meta_set(&tx, "device_id", key.id.as_bytes().to_vec())?;
                meta_set(&tx, "device_secret", secret.to_vec())?;
                key
            }
            _ => return Err(Error::Corrupt("device identity is half written".into())),
        };
        tx.commit()?;
        Ok(key)
    }

    pub(super) fn signing(&self) -> &SigningKey {
        &self.signing
    }

    pub(super) fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }
}

/// What the server hands a device when it enrolls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub cadre: CadreId,
    /// The plate authorities' public keys: several may be valid at once while keys rotate.
    pub authority_keys: Vec<AuthorityKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// The bearer token for sync calls; a secret kept only in the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// This device and, once enrolled, its cadre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub device: DeviceId,
    pub cadre: Option<CadreId>,
    pub server_url: Option<String>,
}

impl Store {
    /// Records the enrollment the server granted. Re-enrolling replaces the cadre, the token
    /// and the authority keys; the journal is kept.
    pub fn enroll(&self, enrollment: &Enrollment) -> Result<()> {
        self.write(|tx| write_enrollment(tx, enrollment))
    }

    pub fn identity(&self) -> Result<Identity> {
        self.read(|conn| {
            let cadre: Option<String> = meta_get(conn, "cadre_id")?;
            let cadre = cadre
                .map(CadreId::new)
                .transpose()
                .map_err(|e| Error::Corrupt(format!("stored cadre id: {e}")))?;
            Ok(Identity {
                device: self.device.id,
                cadre,
                server_url: meta_get(conn, "server_url")?,
            })
        })
    }

    /// The enrolled cadre, or [`Error::NotEnrolled`].
    pub(super) fn cadre(conn: &Connection) -> Result<CadreId> {
        let cadre: Option<String> = meta_get(conn, "cadre_id")?;
        let cadre = cadre.ok_or(Error::NotEnrolled)?;
        CadreId::new(cadre).map_err(|e| Error::Corrupt(format!("stored cadre id: {e}")))
    }
}

/// Writes an enrollment inside the caller's transaction.
pub(super) fn write_enrollment(conn: &Connection, enrollment: &Enrollment) -> Result<()> {
    meta_set(conn, "cadre_id", enrollment.cadre.as_str().to_string())?;
    match &enrollment.server_url {
        Some(url) => meta_set(conn, "server_url", url.clone())?,
        None => meta_delete(conn, "server_url")?,
    }
    match &enrollment.token {
        Some(token) => meta_set(conn, "token", token.clone())?,
        None => meta_delete(conn, "token")?,
    }
    conn.execute("DELETE FROM authority_key", [])?;
    for key in &enrollment.authority_keys {
        super::registry::put_authority_key(conn, key)?;
    }
    Ok(())
}

pub(super) fn meta_get<T: rusqlite::types::FromSql>(
    conn: &Connection,
    key: &str,
) -> Result<Option<T>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub(super) fn meta_set<T: rusqlite::types::ToSql>(
    conn: &Connection,
    key: &str,
    value: T,
) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub(super) fn meta_delete(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
    Ok(())
}
