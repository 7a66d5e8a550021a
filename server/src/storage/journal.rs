//! The journal of every device's operations (`op`): each stored once per (device, sequence
//! number) with its outcome — accepted, or rejected with its code and reason — under a server
//! sequence number that increases in commit order, and read back by household and kind, by
//! device and in server order. Payloads are stored byte for byte: signatures cover them.
//!
//! Conformance: server/tests/conformance/journal.rs.

use fieldvisit_core::clock::{Hlc, ServerTime, WallTime};
use fieldvisit_core::ids::{DeviceId, HouseholdId, OpId};
use fieldvisit_core::journal::{OpKind, Operation};
use fieldvisit_core::protocol::{RejectCode, Rejection};
use fieldvisit_core::sql::{Row, ToValue};

use super::Db;
use super::decode::{corrupt, device_id};
use crate::error::{Error, Result};

/// What became of a stored operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Rejected { code: RejectCode, reason: String },
}

/// The journal's table.
pub trait Journal {
    /// The id and outcome of the operation stored under (device, seq).
    fn op_at(&mut self, device: &DeviceId, seq: u64) -> Result<Option<(OpId, Outcome)>>;
    fn op_id_exists(&mut self, id: &OpId) -> Result<bool>;
    /// Stores an operation (accepted or rejected) and returns its server sequence number.
    fn insert_op(
        &mut self,
        op: &Operation,
        outcome: &Outcome,
        household: Option<&HouseholdId>,
        received: ServerTime,
    ) -> Result<u64>;
    fn op_by_server_seq(&mut self, server_seq: u64) -> Result<Option<Operation>>;
    /// The accepted operations of these kinds about a household, oldest first, each with the
    /// time it was received: a household's visits and amendments, its exit history, …
    fn ops_of_household(
        &mut self,
        household: &HouseholdId,
        kinds: &[OpKind],
    ) -> Result<Vec<(Operation, ServerTime)>>;
    /// A device's stored operations after `after_seq`, in order (for audits).
    fn ops_of_device(
        &mut self,
        device: &DeviceId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Operation>>;
    /// Rejected operations, newest first.
    fn rejections(&mut self, limit: usize) -> Result<Vec<(DeviceId, Rejection)>>;
    /// How many rejected operations each device has stored (devices with none are absent).
    fn rejected_counts(&mut self) -> Result<Vec<(DeviceId, u64)>>;
    /// How many operations are stored (accepted, rejected).
    fn op_counts(&mut self) -> Result<(u64, u64)>;
    /// The most recently accepted operations, newest first (training samples).
    fn recent_accepted_ops(&mut self, limit: usize) -> Result<Vec<Operation>>;
}

const OP_COLUMNS: &str = "device, seq, op_id, hlc, wall, kind, payload, prev_hash, signature";
/// How many columns [`OP_COLUMNS`] selects (the next column's index).
const OP_COLUMN_COUNT: usize = 9;

fn op_from_row(r: &dyn Row) -> Result<Operation> {
    Ok(Operation {
        device: device_id(&r.get::<String>(0)?)?,
        seq: r.get(1)?,
        id: OpId::from_bytes(r.get(2)?),
        hlc: Hlc::from_i64(r.get(3)?),
        wall: WallTime(r.get(4)?),
        kind: r.get(5)?,
        payload: r.get(6)?,
        prev_hash: r.get(7)?,
        signature: r.get(8)?,
    })
}

/// A reject code as stored: its name on the wire.
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

/// `?first, ?first+1, …` for `n` values: the placeholders of an `IN (…)` list.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<D: Db + ?Sized> Journal for D {
    fn op_at(&mut self, device: &DeviceId, seq: u64) -> Result<Option<(OpId, Outcome)>> {
        self.query_opt(
            "SELECT op_id, state, reject_code, reject_reason FROM op WHERE device = ?1 AND seq = ?2",
            &[&device.to_string(), &seq],
            |r| {
                let id = OpId::from_bytes(r.get(0)?);
                let outcome = if r.get::<String>(1)? == "accepted" {
                    Outcome::Accepted
                } else {
                    Outcome::Rejected {
                        code: reject_code_of(r.get(2)?)?,
                        reason: r.get::<Option<String>>(3)?.unwrap_or_default(),
                    }
                };
                Ok((id, outcome))
            },
        )
    }

    fn op_id_exists(&mut self, id: &OpId) -> Result<bool> {
        self.query_value(
            "SELECT EXISTS (SELECT 1 FROM op WHERE op_id = ?1)",
            &[id.as_bytes()],
        )
    }

    fn insert_op(
        &mut self,
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
        // The number is drawn by the insert, inside the write lock, so numbers increase in
        // commit order (docs/protocol.md, "Why the cursor never skips").
        self.query_value(
            "INSERT INTO op (device, seq, op_id, hlc, wall, kind, payload, prev_hash, signature,
                 household, received_at, state, reject_code, reject_reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             RETURNING server_seq",
            &[
                &op.device.to_string(),
                &op.seq,
                op.id.as_bytes(),
                &op.hlc.as_i64(),
                &op.wall.0,
                &op.kind,
                &op.payload,
                &op.prev_hash,
                &op.signature,
                &household.map(HouseholdId::as_str),
                &received.0,
                &state,
                &code,
                &reason,
            ],
        )
    }

    fn op_by_server_seq(&mut self, server_seq: u64) -> Result<Option<Operation>> {
        self.query_opt(
            &format!("SELECT {OP_COLUMNS} FROM op WHERE server_seq = ?1"),
            &[&server_seq],
            op_from_row,
        )
    }

    fn ops_of_household(
        &mut self,
        household: &HouseholdId,
        kinds: &[OpKind],
    ) -> Result<Vec<(Operation, ServerTime)>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {OP_COLUMNS}, received_at FROM op
             WHERE household = ?1 AND state = 'accepted' AND kind IN ({})
             ORDER BY server_seq",
            placeholders(2, kinds.len())
        );
        let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let id = household.as_str();
        let mut params: Vec<&dyn ToValue> = vec![&id];
        params.extend(names.iter().map(|n| n as &dyn ToValue));
        self.query(&sql, &params, |r| {
            Ok((op_from_row(r)?, ServerTime(r.get(OP_COLUMN_COUNT)?)))
        })
    }

    fn ops_of_device(
        &mut self,
        device: &DeviceId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Operation>> {
        self.query(
            &format!(
                "SELECT {OP_COLUMNS} FROM op WHERE device = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
            ),
            &[&device.to_string(), &after_seq, &limit],
            op_from_row,
        )
    }

    fn rejections(&mut self, limit: usize) -> Result<Vec<(DeviceId, Rejection)>> {
        self.query(
            "SELECT device, seq, op_id, reject_code, reject_reason FROM op
             WHERE state = 'rejected' ORDER BY server_seq DESC LIMIT ?1",
            &[&limit],
            |r| {
                Ok((
                    device_id(&r.get::<String>(0)?)?,
                    Rejection {
                        seq: r.get(1)?,
                        op: OpId::from_bytes(r.get(2)?),
                        code: reject_code_of(r.get(3)?)?,
                        reason: r.get::<Option<String>>(4)?.unwrap_or_default(),
                    },
                ))
            },
        )
    }

    fn rejected_counts(&mut self) -> Result<Vec<(DeviceId, u64)>> {
        self.query(
            "SELECT device, count(*) FROM op WHERE state = 'rejected'
             GROUP BY device ORDER BY device COLLATE BINARY",
            &[],
            |r| Ok((device_id(&r.get::<String>(0)?)?, r.get(1)?)),
        )
    }

    fn op_counts(&mut self) -> Result<(u64, u64)> {
        self.query_one(
            "SELECT count(*) FILTER (WHERE state = 'accepted'),
                    count(*) FILTER (WHERE state = 'rejected') FROM op",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn recent_accepted_ops(&mut self, limit: usize) -> Result<Vec<Operation>> {
        self.query(
            &format!(
                "SELECT {OP_COLUMNS} FROM op WHERE state = 'accepted'
                 ORDER BY server_seq DESC LIMIT ?1"
            ),
            &[&limit],
            op_from_row,
        )
    }
}
