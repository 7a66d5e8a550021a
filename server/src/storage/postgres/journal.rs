//! Enrollment codes, devices and the journal of every device's operations on PostgreSQL.
//! Operation payloads are `TEXT` and come back byte for byte: signatures cover them.

use postgres::Row;

use fieldvisit_core::clock::{Hlc, ServerTime, WallTime};
use fieldvisit_core::ids::{CadreId, DeviceId, HouseholdId, OpId};
use fieldvisit_core::journal::{ChainPoint, Operation};
use fieldvisit_core::protocol::{RejectCode, Rejection};

use super::{Conn, blob, corrupt, device_id, limit_sql, seq_of, seq_sql};
use crate::error::{Error, Result};
use crate::storage::{DeviceRecord, Outcome, Revocation};

pub(super) fn insert_enrollment_code(
    c: &mut Conn,
    code_hash: &[u8; 32],
    cadre: &CadreId,
    created: ServerTime,
    expires: ServerTime,
) -> Result<()> {
    c.execute(
        "INSERT INTO enrollment_code (code_hash, cadre, created_at, expires_at)
         VALUES ($1, $2, $3, $4)",
        &[
            &code_hash.as_slice(),
            &cadre.as_str(),
            &created.0,
            &expires.0,
        ],
    )?;
    Ok(())
}

pub(super) fn redeem_enrollment_code(
    c: &mut Conn,
    code_hash: &[u8; 32],
    device: &DeviceId,
    now: ServerTime,
) -> Result<Option<CadreId>> {
    let row = c.query_opt(
        "UPDATE enrollment_code SET used_by = $2, used_at = $3
         WHERE code_hash = $1 AND (used_by IS NULL OR used_by = $2) AND expires_at > $3
         RETURNING cadre",
        &[&code_hash.as_slice(), &device.to_string(), &now.0],
    )?;
    row.map(|r| CadreId::new(r.try_get::<_, String>(0)?).map_err(corrupt("cadre id")))
        .transpose()
}

const DEVICE_COLUMNS: &str = "id, cadre, public_key, enrolled_at, revoked_at, revoked_reason,
    head_seq, head_hash, app_version, last_sync_at, pending_reported, clock_skew_ms,
    retiring_at, retiring_reason";

/// A revocation or a retirement: its time in column `at` (none when NULL), its reason in the next.
fn revocation(r: &Row, at: usize) -> Result<Option<Revocation>> {
    let Some(when) = r.try_get::<_, Option<i64>>(at)? else {
        return Ok(None);
    };
    Ok(Some(Revocation {
        at: ServerTime(when),
        reason: r.try_get::<_, Option<String>>(at + 1)?.unwrap_or_default(),
    }))
}

fn device_from_row(r: &Row) -> Result<DeviceRecord> {
    let pending: i64 = r.try_get(10)?;
    Ok(DeviceRecord {
        id: device_id(r.try_get(0)?)?,
        cadre: CadreId::new(r.try_get::<_, String>(1)?).map_err(corrupt("cadre id"))?,
        public_key: blob(r.try_get(2)?, "public key")?,
        enrolled_at: ServerTime(r.try_get(3)?),
        revoked: revocation(r, 4)?,
        head: ChainPoint {
            seq: seq_of(r.try_get(6)?),
            hash: blob(r.try_get(7)?, "head hash")?,
        },
        app_version: r.try_get(8)?,
        last_sync_at: r.try_get::<_, Option<i64>>(9)?.map(ServerTime),
        pending_reported: u32::try_from(pending).map_err(corrupt("pending count"))?,
        clock_skew_ms: r.try_get(11)?,
        retiring: revocation(r, 12)?,
    })
}

/// The device matching `filter` (a condition on `$1`, a text parameter).
pub(super) fn device_where(
    c: &mut Conn,
    filter: &'static str,
    value: &str,
) -> Result<Option<DeviceRecord>> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM device WHERE {filter}");
    c.query_opt(&sql, &[&value])?
        .map(|r| device_from_row(&r))
        .transpose()
}

pub(super) fn device_by_token(c: &mut Conn, token_hash: &[u8; 32]) -> Result<Option<DeviceRecord>> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM device WHERE token_hash = $1");
    c.query_opt(&sql, &[&token_hash.as_slice()])?
        .map(|r| device_from_row(&r))
        .transpose()
}

pub(super) fn upsert_device(c: &mut Conn, d: &DeviceRecord, token_hash: &[u8; 32]) -> Result<()> {
    c.execute(
        "INSERT INTO device (id, cadre, public_key, token_hash, enrolled_at, head_seq,
             head_hash, app_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET cadre = excluded.cadre,
             token_hash = excluded.token_hash, enrolled_at = excluded.enrolled_at,
             app_version = excluded.app_version, revoked_at = NULL, revoked_reason = NULL,
             retiring_at = NULL, retiring_reason = NULL",
        &[
            &d.id.to_string(),
            &d.cadre.as_str(),
            &d.public_key.as_slice(),
            &token_hash.as_slice(),
            &d.enrolled_at.0,
            &seq_sql(d.head.seq),
            &d.head.hash.as_slice(),
            &d.app_version,
        ],
    )?;
    Ok(())
}

pub(super) fn devices(c: &mut Conn) -> Result<Vec<DeviceRecord>> {
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM device ORDER BY cadre COLLATE \"C\", enrolled_at, id"
    );
    c.query(&sql, &[])?.iter().map(device_from_row).collect()
}

pub(super) fn devices_of_cadres(c: &mut Conn, cadres: &[CadreId]) -> Result<Vec<DeviceId>> {
    let mut out = Vec::new();
    for cadre in cadres {
        for r in c.query(
            "SELECT id FROM device WHERE cadre = $1 AND revoked_at IS NULL
             ORDER BY id COLLATE \"C\"",
            &[&cadre.as_str()],
        )? {
            out.push(device_id(r.try_get(0)?)?);
        }
    }
    Ok(out)
}

pub(super) fn record_sync(
    c: &mut Conn,
    device: &DeviceId,
    at: ServerTime,
    app_version: &str,
    pending: u32,
    clock_skew_ms: i64,
) -> Result<()> {
    c.execute(
        "UPDATE device SET last_sync_at = $2, app_version = $3, pending_reported = $4,
             clock_skew_ms = $5 WHERE id = $1",
        &[
            &device.to_string(),
            &at.0,
            &app_version,
            &i64::from(pending),
            &clock_skew_ms,
        ],
    )?;
    Ok(())
}

pub(super) fn revoke_device(
    c: &mut Conn,
    device: &DeviceId,
    at: ServerTime,
    reason: &str,
) -> Result<bool> {
    let n = c.execute(
        "UPDATE device SET revoked_at = $2, revoked_reason = $3 WHERE id = $1",
        &[&device.to_string(), &at.0, &reason],
    )?;
    Ok(n > 0)
}

pub(super) fn set_device_head(c: &mut Conn, device: &DeviceId, head: &ChainPoint) -> Result<()> {
    c.execute(
        "UPDATE device SET head_seq = $2, head_hash = $3 WHERE id = $1",
        &[
            &device.to_string(),
            &seq_sql(head.seq),
            &head.hash.as_slice(),
        ],
    )?;
    Ok(())
}

fn reject_code_text(code: RejectCode) -> Result<String> {
    match serde_json::to_value(code)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(Error::Corrupt(format!("reject code encodes as {other}"))),
    }
}

fn reject_code_of(text: Option<String>) -> Result<RejectCode> {
    serde_json::from_value(serde_json::Value::String(text.unwrap_or_default()))
        .map_err(corrupt("reject code"))
}

const OP_COLUMNS: &str = "device, seq, op_id, hlc, wall, kind, payload, prev_hash, signature";

fn op_from_row(r: &Row) -> Result<Operation> {
    Ok(Operation {
        device: device_id(r.try_get(0)?)?,
        seq: seq_of(r.try_get(1)?),
        id: OpId::from_bytes(blob(r.try_get(2)?, "operation id")?),
        hlc: Hlc::from_i64(r.try_get(3)?),
        wall: WallTime(r.try_get(4)?),
        kind: r.try_get(5)?,
        payload: r.try_get(6)?,
        prev_hash: blob(r.try_get(7)?, "previous digest")?,
        signature: blob(r.try_get(8)?, "signature")?,
    })
}

fn ops(rows: &[Row]) -> Result<Vec<Operation>> {
    rows.iter().map(op_from_row).collect()
}

pub(super) fn op_at(c: &mut Conn, device: &DeviceId, seq: u64) -> Result<Option<(OpId, Outcome)>> {
    let Some(r) = c.query_opt(
        "SELECT op_id, state, reject_code, reject_reason FROM op WHERE device = $1 AND seq = $2",
        &[&device.to_string(), &seq_sql(seq)],
    )?
    else {
        return Ok(None);
    };
    let id = OpId::from_bytes(blob(r.try_get(0)?, "operation id")?);
    let state: &str = r.try_get(1)?;
    let outcome = if state == "accepted" {
        Outcome::Accepted
    } else {
        Outcome::Rejected {
            code: reject_code_of(r.try_get(2)?)?,
            reason: r.try_get::<_, Option<String>>(3)?.unwrap_or_default(),
        }
    };
    Ok(Some((id, outcome)))
}

pub(super) fn op_id_exists(c: &mut Conn, id: &OpId) -> Result<bool> {
    Ok(c.query_one(
        "SELECT EXISTS (SELECT 1 FROM op WHERE op_id = $1)",
        &[&id.as_bytes().as_slice()],
    )?
    .try_get(0)?)
}

pub(super) fn insert_op(
    c: &mut Conn,
    op: &Operation,
    outcome: &Outcome,
    household: Option<&HouseholdId>,
    received: ServerTime,
) -> Result<u64> {
    let (state, code, reason) = match outcome {
        Outcome::Accepted => ("accepted", None, None),
        Outcome::Rejected { code, reason } => (
            "rejected",
            Some(reject_code_text(*code)?),
            Some(reason.as_str()),
        ),
    };
    // The identity's sequence is drawn here, inside the writers' advisory lock.
    let r = c.query_one(
        "INSERT INTO op (device, seq, op_id, hlc, wall, kind, payload, prev_hash, signature,
             household, received_at, state, reject_code, reject_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         RETURNING server_seq",
        &[
            &op.device.to_string(),
            &seq_sql(op.seq),
            &op.id.as_bytes().as_slice(),
            &op.hlc.as_i64(),
            &op.wall.0,
            &op.kind,
            &op.payload,
            &op.prev_hash.as_slice(),
            &op.signature.as_slice(),
            &household.map(HouseholdId::as_str),
            &received.0,
            &state,
            &code,
            &reason,
        ],
    )?;
    Ok(seq_of(r.try_get(0)?))
}

pub(super) fn op_by_server_seq(c: &mut Conn, server_seq: u64) -> Result<Option<Operation>> {
    let sql = format!("SELECT {OP_COLUMNS} FROM op WHERE server_seq = $1");
    c.query_opt(&sql, &[&seq_sql(server_seq)])?
        .map(|r| op_from_row(&r))
        .transpose()
}

pub(super) fn visit_ops_of_household(
    c: &mut Conn,
    household: &HouseholdId,
) -> Result<Vec<Operation>> {
    let sql = format!(
        "SELECT {OP_COLUMNS} FROM op WHERE household = $1 AND state = 'accepted'
           AND kind IN ('visit.record', 'visit.amend') ORDER BY server_seq"
    );
    ops(&c.query(&sql, &[&household.as_str()])?)
}

/// Accepted exit steps (`household.status`) for a household, with when each was received.
pub(super) fn status_ops_of_household(
    c: &mut Conn,
    household: &HouseholdId,
) -> Result<Vec<(Operation, ServerTime)>> {
    let sql = format!(
        "SELECT {OP_COLUMNS}, received_at FROM op WHERE household = $1 AND state = 'accepted'
           AND kind = 'household.status' ORDER BY server_seq"
    );
    c.query(&sql, &[&household.as_str()])?
        .iter()
        .map(|r| {
            let received: i64 = r.try_get(9)?;
            Ok((op_from_row(r)?, ServerTime(received)))
        })
        .collect()
}

pub(super) fn ops_of_device(
    c: &mut Conn,
    device: &DeviceId,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<Operation>> {
    let sql =
        format!("SELECT {OP_COLUMNS} FROM op WHERE device = $1 AND seq > $2 ORDER BY seq LIMIT $3");
    ops(&c.query(
        &sql,
        &[&device.to_string(), &seq_sql(after_seq), &limit_sql(limit)],
    )?)
}

pub(super) fn rejections(c: &mut Conn, limit: usize) -> Result<Vec<(DeviceId, Rejection)>> {
    c.query(
        "SELECT device, seq, op_id, reject_code, reject_reason FROM op
         WHERE state = 'rejected' ORDER BY server_seq DESC LIMIT $1",
        &[&limit_sql(limit)],
    )?
    .iter()
    .map(|r| {
        Ok((
            device_id(r.try_get(0)?)?,
            Rejection {
                seq: seq_of(r.try_get(1)?),
                op: OpId::from_bytes(blob(r.try_get(2)?, "operation id")?),
                code: reject_code_of(r.try_get(3)?)?,
                reason: r.try_get::<_, Option<String>>(4)?.unwrap_or_default(),
            },
        ))
    })
    .collect()
}

pub(super) fn op_counts(c: &mut Conn) -> Result<(u64, u64)> {
    let r = c.query_one(
        "SELECT count(*) FILTER (WHERE state = 'accepted'),
                count(*) FILTER (WHERE state = 'rejected') FROM op",
        &[],
    )?;
    Ok((seq_of(r.try_get(0)?), seq_of(r.try_get(1)?)))
}

pub(super) fn recent_accepted_ops(c: &mut Conn, limit: usize) -> Result<Vec<Operation>> {
    let sql = format!(
        "SELECT {OP_COLUMNS} FROM op WHERE state = 'accepted' ORDER BY server_seq DESC LIMIT $1"
    );
    ops(&c.query(&sql, &[&limit_sql(limit)])?)
}

pub(super) fn retire_device(
    c: &mut Conn,
    device: &DeviceId,
    at: ServerTime,
    reason: &str,
) -> Result<bool> {
    let n = c.execute(
        "UPDATE device SET retiring_at = $2, retiring_reason = $3 WHERE id = $1",
        &[&device.to_string(), &at.0, &reason],
    )?;
    Ok(n > 0)
}

/// Rejected operations per device.
pub(super) fn rejected_counts(c: &mut Conn) -> Result<Vec<(DeviceId, u64)>> {
    c.query(
        "SELECT device, count(*) FROM op WHERE state = 'rejected'
         GROUP BY device ORDER BY device COLLATE \"C\"",
        &[],
    )?
    .iter()
    .map(|r| {
        let n: i64 = r.try_get(1)?;
        Ok((
            device_id(r.try_get(0)?)?,
            u64::try_from(n).map_err(corrupt("rejected count"))?,
        ))
    })
    .collect()
}
