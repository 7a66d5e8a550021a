//! The journal of every device's operations (`op`): stored once per (device, sequence number)
//! with the outcome — accepted, or rejected with its code and reason — and read back by
//! household, by device and in server order.

use rusqlite::{Connection, Row, params};

use fieldvisit_core::clock::{Hlc, ServerTime, WallTime};
use fieldvisit_core::ids::{DeviceId, HouseholdId, OpId};
use fieldvisit_core::journal::Operation;
use fieldvisit_core::protocol::{RejectCode, Rejection};

use super::{blob, corrupt, device_id, seq_of, seq_sql};
use crate::error::{Error, Result};
use crate::storage::Outcome;

pub(super) const OP_COLUMNS: &str =
    "device, seq, op_id, hlc, wall, kind, payload, prev_hash, signature";
/// How many columns [`OP_COLUMNS`] selects (the next column index after them).
pub(super) const OP_COLUMN_COUNT: usize = 9;

pub(super) fn op_from_row(r: &Row<'_>) -> Result<Operation> {
    Ok(Operation {
        device: device_id(&r.get::<_, String>(0)?)?,
        seq: seq_of(r.get(1)?),
        id: OpId::from_bytes(blob(r.get(2)?, "operation id")?),
        hlc: Hlc::from_i64(r.get(3)?),
        wall: WallTime(r.get(4)?),
        kind: r.get(5)?,
        payload: r.get(6)?,
        prev_hash: blob(r.get(7)?, "previous digest")?,
        signature: blob(r.get(8)?, "signature")?,
    })
}

pub(super) fn reject_code_text(code: RejectCode) -> Result<String> {
    match serde_json::to_value(code)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(Error::Corrupt(format!("reject code encodes as {other}"))),
    }
}

pub(super) fn reject_code_of(text: &str) -> Result<RejectCode> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(corrupt("reject code"))
}

pub(super) fn op_at(
    conn: &Connection,
    device: &DeviceId,
    seq: u64,
) -> Result<Option<(OpId, Outcome)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT op_id, state, reject_code, reject_reason FROM op WHERE device = ?1 AND seq = ?2",
    )?;
    let mut rows = stmt.query(params![device.to_string(), seq_sql(seq)])?;
    let Some(r) = rows.next()? else {
        return Ok(None);
    };
    let id = OpId::from_bytes(blob(r.get(0)?, "operation id")?);
    let state: String = r.get(1)?;
    let outcome = if state == "accepted" {
        Outcome::Accepted
    } else {
        Outcome::Rejected {
            code: reject_code_of(&r.get::<_, Option<String>>(2)?.unwrap_or_default())?,
            reason: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        }
    };
    Ok(Some((id, outcome)))
}

pub(super) fn op_id_exists(conn: &Connection, id: &OpId) -> Result<bool> {
    let mut stmt = conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM op WHERE op_id = ?1)")?;
    Ok(stmt.query_row([id.as_bytes().as_slice()], |r| r.get(0))?)
}

pub(super) fn insert_op(
    conn: &Connection,
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
    let mut stmt = conn.prepare_cached(
        "INSERT INTO op (device, seq, op_id, hlc, wall, kind, payload, prev_hash, signature,
             household, received_at, state, reject_code, reject_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    stmt.execute(params![
        op.device.to_string(),
        seq_sql(op.seq),
        op.id.as_bytes().as_slice(),
        op.hlc.as_i64(),
        op.wall.0,
        op.kind,
        op.payload,
        op.prev_hash.as_slice(),
        op.signature.as_slice(),
        household.map(HouseholdId::as_str),
        received.0,
        state,
        code,
        reason,
    ])?;
    Ok(seq_of(conn.last_insert_rowid()))
}

pub(super) fn op_by_server_seq(conn: &Connection, server_seq: u64) -> Result<Option<Operation>> {
    let sql = format!("SELECT {OP_COLUMNS} FROM op WHERE server_seq = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([seq_sql(server_seq)])?;
    rows.next()?.map(op_from_row).transpose()
}

pub(super) fn visit_ops_of_household(
    conn: &Connection,
    household: &HouseholdId,
) -> Result<Vec<Operation>> {
    let sql = format!(
        "SELECT {OP_COLUMNS} FROM op WHERE household = ?1 AND state = 'accepted'
           AND kind IN ('visit.record', 'visit.amend') ORDER BY server_seq"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([household.as_str()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(op_from_row(r)?);
    }
    Ok(out)
}

pub(super) fn status_ops_of_household(
    conn: &Connection,
    household: &HouseholdId,
) -> Result<Vec<(Operation, ServerTime)>> {
    let sql = format!(
        "SELECT {OP_COLUMNS}, received_at FROM op WHERE household = ?1
           AND state = 'accepted' AND kind = 'household.status' ORDER BY server_seq"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([household.as_str()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let received = ServerTime(r.get(OP_COLUMN_COUNT)?);
        out.push((op_from_row(r)?, received));
    }
    Ok(out)
}

pub(super) fn ops_of_device(
    conn: &Connection,
    device: &DeviceId,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<Operation>> {
    let sql =
        format!("SELECT {OP_COLUMNS} FROM op WHERE device = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![
        device.to_string(),
        seq_sql(after_seq),
        i64::try_from(limit).unwrap_or(i64::MAX)
    ])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(op_from_row(r)?);
    }
    Ok(out)
}

pub(super) fn rejections(conn: &Connection, limit: usize) -> Result<Vec<(DeviceId, Rejection)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT device, seq, op_id, reject_code, reject_reason FROM op
         WHERE state = 'rejected' ORDER BY server_seq DESC LIMIT ?1",
    )?;
    let mut rows = stmt.query([i64::try_from(limit).unwrap_or(i64::MAX)])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push((
            device_id(&r.get::<_, String>(0)?)?,
            Rejection {
                seq: seq_of(r.get(1)?),
                op: OpId::from_bytes(blob(r.get(2)?, "operation id")?),
                code: reject_code_of(&r.get::<_, Option<String>>(3)?.unwrap_or_default())?,
                reason: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
            },
        ));
    }
    Ok(out)
}

pub(super) fn rejected_counts(conn: &Connection) -> Result<Vec<(DeviceId, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT device, COUNT(*) FROM op WHERE state = 'rejected' GROUP BY device ORDER BY device",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let n: i64 = r.get(1)?;
        out.push((
            device_id(&r.get::<_, String>(0)?)?,
            u64::try_from(n).map_err(corrupt("rejected count"))?,
        ));
    }
    Ok(out)
}

pub(super) fn op_counts(conn: &Connection) -> Result<(u64, u64)> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(state = 'accepted'), 0), COALESCE(SUM(state = 'rejected'), 0) FROM op",
        [],
        |r| Ok((seq_of(r.get(0)?), seq_of(r.get(1)?))),
    )?)
}

pub(super) fn recent_accepted_ops(conn: &Connection, limit: usize) -> Result<Vec<Operation>> {
    let sql = format!(
        "SELECT {OP_COLUMNS} FROM op WHERE state = 'accepted' ORDER BY server_seq DESC LIMIT ?1"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([i64::try_from(limit).unwrap_or(i64::MAX)])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(op_from_row(r)?);
    }
    Ok(out)
}
