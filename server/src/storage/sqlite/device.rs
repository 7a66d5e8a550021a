//! Devices and their enrollment codes: the device row holds the phone's key, token hash, chain
//! head, feed counter and sync health; codes are single-use and expire.

use rusqlite::{Connection, OptionalExtension, Row, params};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::{CadreId, DeviceId};
use fieldvisit_core::journal::ChainPoint;

use super::{blob, corrupt, device_id, seq_of, seq_sql};
use crate::error::Result;
use crate::storage::{DeviceRecord, Revocation};

pub(super) const DEVICE_COLUMNS: &str =
    "id, cadre, public_key, enrolled_at, revoked_at, revoked_reason,
    head_seq, head_hash, app_version, last_sync_at, pending_reported, clock_skew_ms,
    retiring_at, retiring_reason";

/// A revocation or a retirement: its time in column `at` (none when NULL), its reason in the next.
fn revocation(r: &Row<'_>, at: usize) -> Result<Option<Revocation>> {
    let Some(when) = r.get::<_, Option<i64>>(at)? else {
        return Ok(None);
    };
    Ok(Some(Revocation {
        at: ServerTime(when),
        reason: r.get::<_, Option<String>>(at + 1)?.unwrap_or_default(),
    }))
}

pub(super) fn device_from_row(r: &Row<'_>) -> Result<DeviceRecord> {
    Ok(DeviceRecord {
        id: device_id(&r.get::<_, String>(0)?)?,
        cadre: CadreId::new(r.get::<_, String>(1)?).map_err(corrupt("cadre id"))?,
        public_key: blob(r.get(2)?, "public key")?,
        enrolled_at: ServerTime(r.get(3)?),
        revoked: revocation(r, 4)?,
        head: ChainPoint {
            seq: seq_of(r.get(6)?),
            hash: blob(r.get(7)?, "head hash")?,
        },
        app_version: r.get(8)?,
        last_sync_at: r.get::<_, Option<i64>>(9)?.map(ServerTime),
        pending_reported: r.get(10)?,
        clock_skew_ms: r.get(11)?,
        retiring: revocation(r, 12)?,
    })
}

pub(super) fn insert_enrollment_code(
    conn: &Connection,
    code_hash: &[u8; 32],
    cadre: &CadreId,
    created: ServerTime,
    expires: ServerTime,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO enrollment_code (code_hash, cadre, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        code_hash.as_slice(),
        cadre.as_str(),
        created.0,
        expires.0
    ])?;
    Ok(())
}

pub(super) fn redeem_enrollment_code(
    conn: &Connection,
    code_hash: &[u8; 32],
    device: &DeviceId,
    now: ServerTime,
) -> Result<Option<CadreId>> {
    let cadre: Option<String> = conn
        .query_row(
            "UPDATE enrollment_code SET used_by = ?2, used_at = ?3
             WHERE code_hash = ?1 AND (used_by IS NULL OR used_by = ?2) AND expires_at > ?3
             RETURNING cadre",
            params![code_hash.as_slice(), device.to_string(), now.0],
            |r| r.get(0),
        )
        .optional()?;
    cadre
        .map(|c| CadreId::new(c).map_err(corrupt("cadre id")))
        .transpose()
}

pub(super) fn device(conn: &Connection, id: &DeviceId) -> Result<Option<DeviceRecord>> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM device WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.to_string()])?;
    rows.next()?.map(device_from_row).transpose()
}

pub(super) fn device_by_token(
    conn: &Connection,
    token_hash: &[u8; 32],
) -> Result<Option<DeviceRecord>> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM device WHERE token_hash = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([token_hash.as_slice()])?;
    rows.next()?.map(device_from_row).transpose()
}

pub(super) fn upsert_device(
    conn: &Connection,
    d: &DeviceRecord,
    token_hash: &[u8; 32],
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO device (id, cadre, public_key, token_hash, enrolled_at, head_seq,
             head_hash, app_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET cadre = excluded.cadre,
             token_hash = excluded.token_hash, enrolled_at = excluded.enrolled_at,
             app_version = excluded.app_version, revoked_at = NULL, revoked_reason = NULL,
             retiring_at = NULL, retiring_reason = NULL",
    )?
    .execute(params![
        d.id.to_string(),
        d.cadre.as_str(),
        d.public_key.as_slice(),
        token_hash.as_slice(),
        d.enrolled_at.0,
        seq_sql(d.head.seq),
        d.head.hash.as_slice(),
        d.app_version,
    ])?;
    Ok(())
}

pub(super) fn devices(conn: &Connection) -> Result<Vec<DeviceRecord>> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM device ORDER BY cadre, enrolled_at");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(device_from_row(r)?);
    }
    Ok(out)
}

pub(super) fn devices_of_cadres(conn: &Connection, cadres: &[CadreId]) -> Result<Vec<DeviceId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM device WHERE cadre = ?1 AND revoked_at IS NULL ORDER BY id",
    )?;
    let mut out = Vec::new();
    for cadre in cadres {
        let mut rows = stmt.query([cadre.as_str()])?;
        while let Some(r) = rows.next()? {
            out.push(device_id(&r.get::<_, String>(0)?)?);
        }
    }
    Ok(out)
}

pub(super) fn record_sync(
    conn: &Connection,
    device: &DeviceId,
    at: ServerTime,
    app_version: &str,
    pending: u32,
    clock_skew_ms: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE device SET last_sync_at = ?2, app_version = ?3, pending_reported = ?4,
             clock_skew_ms = ?5 WHERE id = ?1",
    )?
    .execute(params![
        device.to_string(),
        at.0,
        app_version,
        pending,
        clock_skew_ms
    ])?;
    Ok(())
}

pub(super) fn revoke_device(
    conn: &Connection,
    device: &DeviceId,
    at: ServerTime,
    reason: &str,
) -> Result<bool> {
    let n = conn
        .prepare_cached("UPDATE device SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1")?
        .execute(params![device.to_string(), at.0, reason])?;
    Ok(n > 0)
}

pub(super) fn retire_device(
    conn: &Connection,
    device: &DeviceId,
    at: ServerTime,
    reason: &str,
) -> Result<bool> {
    let n = conn
        .prepare_cached("UPDATE device SET retiring_at = ?2, retiring_reason = ?3 WHERE id = ?1")?
        .execute(params![device.to_string(), at.0, reason])?;
    Ok(n > 0)
}

pub(super) fn set_device_head(
    conn: &Connection,
    device: &DeviceId,
    head: &ChainPoint,
) -> Result<()> {
    conn.prepare_cached("UPDATE device SET head_seq = ?2, head_hash = ?3 WHERE id = ?1")?
        .execute(params![
            device.to_string(),
            seq_sql(head.seq),
            head.hash.as_slice()
        ])?;
    Ok(())
}
