//! Enrolled phones and their enrollment codes. The device row holds the phone's public key,
//! the hash of its token, the end of its chain as stored here, its feed counter and its sync
//! health; an enrollment code is single-use and expires.
//!
//! Conformance: server/tests/conformance/devices.rs.

use serde::{Deserialize, Serialize};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::{CadreId, DeviceId};
use fieldvisit_core::journal::ChainPoint;
use fieldvisit_core::sql::Row;

use super::Db;
use super::decode::{corrupt, device_id};
use crate::error::Result;

/// An enrolled device as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub id: DeviceId,
    pub cadre: CadreId,
    pub public_key: [u8; 32],
    pub enrolled_at: ServerTime,
    pub revoked: Option<Revocation>,
    /// Set by `retire`: the device may still push its final upload, and is revoked by the first
    /// sync that leaves it with nothing pending (see `crate::devices`).
    #[serde(default)]
    pub retiring: Option<Revocation>,
    /// The end of the device's chain as stored here: every operation up to `head.seq`.
    pub head: ChainPoint,
    pub app_version: Option<String>,
    pub last_sync_at: Option<ServerTime>,
    /// Operations the device said were still waiting at its last sync.
    pub pending_reported: u32,
    pub clock_skew_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub at: ServerTime,
    pub reason: String,
}

/// The devices and enrollment codes tables.
pub trait Devices {
    fn insert_enrollment_code(
        &mut self,
        code_hash: &[u8; 32],
        cadre: &CadreId,
        created: ServerTime,
        expires: ServerTime,
    ) -> Result<()>;
    /// Marks an unused, unexpired code used by `device` and returns its cadre; `None` when
    /// the code is unknown, expired, or used by another device. The same device may redeem
    /// its code again until it expires (its first answer may have been lost on the way).
    fn redeem_enrollment_code(
        &mut self,
        code_hash: &[u8; 32],
        device: &DeviceId,
        now: ServerTime,
    ) -> Result<Option<CadreId>>;
    fn device(&mut self, id: &DeviceId) -> Result<Option<DeviceRecord>>;
    fn device_by_token(&mut self, token_hash: &[u8; 32]) -> Result<Option<DeviceRecord>>;
    /// Creates the device, or re-binds it to a cadre and a new token on re-enrollment.
    fn upsert_device(&mut self, device: &DeviceRecord, token_hash: &[u8; 32]) -> Result<()>;
    /// Every device, by cadre, enrollment time and id.
    fn devices(&mut self) -> Result<Vec<DeviceRecord>>;
    /// Active (not revoked) devices of these cadres.
    fn devices_of_cadres(&mut self, cadres: &[CadreId]) -> Result<Vec<DeviceId>>;
    fn record_sync(
        &mut self,
        device: &DeviceId,
        at: ServerTime,
        app_version: &str,
        pending: u32,
        clock_skew_ms: i64,
    ) -> Result<()>;
    /// Revokes a device; false when it does not exist.
    fn revoke_device(&mut self, device: &DeviceId, at: ServerTime, reason: &str) -> Result<bool>;
    /// Marks a device retiring (kept until it is revoked or re-enrolled); false when it does
    /// not exist.
    fn retire_device(&mut self, device: &DeviceId, at: ServerTime, reason: &str) -> Result<bool>;
    /// Moves the end of a device's chain as stored here.
    fn set_device_head(&mut self, device: &DeviceId, head: &ChainPoint) -> Result<()>;
}

const DEVICE_COLUMNS: &str = "id, cadre, public_key, enrolled_at, revoked_at, revoked_reason,
    head_seq, head_hash, app_version, last_sync_at, pending_reported, clock_skew_ms,
    retiring_at, retiring_reason";

/// A revocation or a retirement: its time in column `at` (none when NULL), its reason in the
/// next.
fn revocation(r: &dyn Row, at: usize) -> Result<Option<Revocation>> {
    let Some(when) = r.get::<Option<i64>>(at)? else {
        return Ok(None);
    };
    Ok(Some(Revocation {
        at: ServerTime(when),
        reason: r.get::<Option<String>>(at + 1)?.unwrap_or_default(),
    }))
}

fn device_from_row(r: &dyn Row) -> Result<DeviceRecord> {
    Ok(DeviceRecord {
        id: device_id(&r.get::<String>(0)?)?,
        cadre: CadreId::new(r.get::<String>(1)?).map_err(corrupt("cadre id"))?,
        public_key: r.get(2)?,
        enrolled_at: ServerTime(r.get(3)?),
        revoked: revocation(r, 4)?,
        head: ChainPoint {
            seq: r.get(6)?,
            hash: r.get(7)?,
        },
        app_version: r.get(8)?,
        last_sync_at: r.get::<Option<i64>>(9)?.map(ServerTime),
        pending_reported: r.get(10)?,
        clock_skew_ms: r.get(11)?,
        retiring: revocation(r, 12)?,
    })
}

impl<D: Db + ?Sized> Devices for D {
    fn insert_enrollment_code(
        &mut self,
        code_hash: &[u8; 32],
        cadre: &CadreId,
        created: ServerTime,
        expires: ServerTime,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO enrollment_code (code_hash, cadre, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            &[code_hash, &cadre.as_str(), &created.0, &expires.0],
        )?;
        Ok(())
    }

    fn redeem_enrollment_code(
        &mut self,
        code_hash: &[u8; 32],
        device: &DeviceId,
        now: ServerTime,
    ) -> Result<Option<CadreId>> {
        self.query_opt(
            "UPDATE enrollment_code SET used_by = ?2, used_at = ?3
             WHERE code_hash = ?1 AND (used_by IS NULL OR used_by = ?2) AND expires_at > ?3
             RETURNING cadre",
            &[code_hash, &device.to_string(), &now.0],
            |r| CadreId::new(r.get::<String>(0)?).map_err(corrupt("cadre id")),
        )
    }

    fn device(&mut self, id: &DeviceId) -> Result<Option<DeviceRecord>> {
        self.query_opt(
            &format!("SELECT {DEVICE_COLUMNS} FROM device WHERE id = ?1"),
            &[&id.to_string()],
            device_from_row,
        )
    }

    fn device_by_token(&mut self, token_hash: &[u8; 32]) -> Result<Option<DeviceRecord>> {
        self.query_opt(
            &format!("SELECT {DEVICE_COLUMNS} FROM device WHERE token_hash = ?1"),
            &[token_hash],
            device_from_row,
        )
    }

    fn upsert_device(&mut self, d: &DeviceRecord, token_hash: &[u8; 32]) -> Result<()> {
        self.execute(
            "INSERT INTO device (id, cadre, public_key, token_hash, enrolled_at, head_seq,
                 head_hash, app_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET cadre = excluded.cadre,
                 token_hash = excluded.token_hash, enrolled_at = excluded.enrolled_at,
                 app_version = excluded.app_version, revoked_at = NULL, revoked_reason = NULL,
                 retiring_at = NULL, retiring_reason = NULL",
            &[
                &d.id.to_string(),
                &d.cadre.as_str(),
                &d.public_key,
                token_hash,
                &d.enrolled_at.0,
                &d.head.seq,
                &d.head.hash,
                &d.app_version,
            ],
        )?;
        Ok(())
    }

    fn devices(&mut self) -> Result<Vec<DeviceRecord>> {
        self.query(
            &format!(
                "SELECT {DEVICE_COLUMNS} FROM device
                 ORDER BY cadre COLLATE BINARY, enrolled_at, id COLLATE BINARY"
            ),
            &[],
            device_from_row,
        )
    }

    fn devices_of_cadres(&mut self, cadres: &[CadreId]) -> Result<Vec<DeviceId>> {
        let mut out = Vec::new();
        for cadre in cadres {
            out.extend(self.query(
                "SELECT id FROM device WHERE cadre = ?1 AND revoked_at IS NULL
                 ORDER BY id COLLATE BINARY",
                &[&cadre.as_str()],
                |r| device_id(&r.get::<String>(0)?),
            )?);
        }
        Ok(out)
    }

    fn record_sync(
        &mut self,
        device: &DeviceId,
        at: ServerTime,
        app_version: &str,
        pending: u32,
        clock_skew_ms: i64,
    ) -> Result<()> {
        self.execute(
            "UPDATE device SET last_sync_at = ?2, app_version = ?3, pending_reported = ?4,
                 clock_skew_ms = ?5 WHERE id = ?1",
            &[
                &device.to_string(),
                &at.0,
                &app_version,
                &pending,
                &clock_skew_ms,
            ],
        )?;
        Ok(())
    }

    fn revoke_device(&mut self, device: &DeviceId, at: ServerTime, reason: &str) -> Result<bool> {
        let n = self.execute(
            "UPDATE device SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1",
            &[&device.to_string(), &at.0, &reason],
        )?;
        Ok(n > 0)
    }

    fn retire_device(&mut self, device: &DeviceId, at: ServerTime, reason: &str) -> Result<bool> {
        let n = self.execute(
            "UPDATE device SET retiring_at = ?2, retiring_reason = ?3 WHERE id = ?1",
            &[&device.to_string(), &at.0, &reason],
        )?;
        Ok(n > 0)
    }

    fn set_device_head(&mut self, device: &DeviceId, head: &ChainPoint) -> Result<()> {
        self.execute(
            "UPDATE device SET head_seq = ?2, head_hash = ?3 WHERE id = ?1",
            &[&device.to_string(), &head.seq, &head.hash],
        )?;
        Ok(())
    }
}
