//! The journal table: appending this device's operations in the transaction of the change they
//! describe, reading them back for sync, and verifying the whole chain.

use ed25519_dalek::VerifyingKey;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use super::Store;
use super::identity::{meta_get, meta_set};
use crate::clock::{Hlc, WallTime};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, OpId};
use crate::journal::{BreakKind, ChainPoint, JournalBreak, OpBody, Operation, UnsignedOperation};

/// Where an operation stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpState {
    Pending,
    Synced,
    Rejected,
}

impl OpState {
    pub(super) fn parse(text: &str) -> Result<OpState> {
        match text {
            "pending" => Ok(OpState::Pending),
            "synced" => Ok(OpState::Synced),
            "rejected" => Ok(OpState::Rejected),
            other => Err(Error::Corrupt(format!("unknown operation state {other:?}"))),
        }
    }
}

/// One operation as the cadre sees it in the "unsynced / refused" list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationStatus {
    pub seq: u64,
    pub id: OpId,
    pub kind: String,
    pub wall: WallTime,
    pub state: OpState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<String>,
}

/// Appends `body` as the next operation of this device, inside the caller's transaction.
pub(super) fn append(store: &Store, tx: &Transaction<'_>, body: &OpBody) -> Result<Operation> {
    append_as(store, tx, OpId::generate(store.clock.now()), body)
}

/// [`append`] under a given operation id (a new one: ids are unique across all devices).
pub(super) fn append_as(
    store: &Store,
    tx: &Transaction<'_>,
    id: OpId,
    body: &OpBody,
) -> Result<Operation> {
    let head = head(tx)?;
    let last_hlc: Option<i64> = meta_get(tx, "hlc")?;
    let now = store.clock.now();
    let hlc = Hlc::tick(Hlc::from_i64(last_hlc.unwrap_or(0)), now);
    let op = UnsignedOperation {
        id,
        device: store.device.id,
        seq: head.seq + 1,
        hlc,
        wall: now,
        kind: body.kind().to_string(),
        payload: body.to_payload()?,
        prev_hash: head.hash,
    }
    .sign(store.device.signing());
    let digest = op.digest();
    tx.execute(
        "INSERT INTO journal (seq, op_id, hlc, wall, kind, payload, prev_hash, hash, signature,
                              household)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            seq_to_sql(op.seq),
            op.id.as_bytes().as_slice(),
            op.hlc.as_i64(),
            op.wall.0,
            op.kind,
            op.payload,
            op.prev_hash.as_slice(),
            digest.as_slice(),
            op.signature.as_slice(),
            body.household().map(|h| h.as_str()),
        ],
    )?;
    meta_set(tx, "head_seq", seq_to_sql(op.seq))?;
    meta_set(tx, "head_hash", digest.to_vec())?;
    meta_set(tx, "hlc", op.hlc.as_i64())?;
    Ok(op)
}

/// The recorded end of the chain (kept beside the journal so that removing the newest
/// operations is detected, not mistaken for a shorter history).
pub(super) fn head(conn: &Connection) -> Result<ChainPoint> {
    let seq: Option<i64> = meta_get(conn, "head_seq")?;
    let hash: Option<Vec<u8>> = meta_get(conn, "head_hash")?;
    match (seq, hash) {
        (None, None) => Ok(ChainPoint::START),
        (Some(seq), Some(hash)) => Ok(ChainPoint {
            seq: seq_from_sql(seq)?,
            hash: hash
                .try_into()
                .map_err(|_| Error::Corrupt("journal head is not 32 bytes".into()))?,
        }),
        _ => Err(Error::Corrupt("journal head is half written".into())),
    }
}

/// The id of the journal operation at `seq`, if this device made one.
pub(super) fn own_op_id(conn: &Connection, seq: u64) -> Result<Option<OpId>> {
    let id: Option<Vec<u8>> = conn
        .query_row(
            "SELECT op_id FROM journal WHERE seq = ?1",
            [seq_to_sql(seq)],
            |r| r.get(0),
        )
        .optional()?;
    id.map(|bytes| {
        <[u8; 16]>::try_from(bytes)
            .map(OpId::from_bytes)
            .map_err(|_| Error::Corrupt("operation id is not 16 bytes".into()))
    })
    .transpose()
}

pub(super) fn seq_to_sql(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

pub(super) fn seq_from_sql(seq: i64) -> Result<u64> {
    u64::try_from(seq).map_err(|_| Error::Corrupt(format!("negative sequence number {seq}")))
}

fn blob<const N: usize>(bytes: Vec<u8>, what: &str) -> Result<[u8; N]> {
    bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("{what} is not {N} bytes")))
}

/// Reads stored operations with their stored digests.
pub(super) fn read_ops(
    conn: &Connection,
    device: DeviceId,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<(Operation, [u8; 32])>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, op_id, hlc, wall, kind, payload, prev_hash, signature, hash
         FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = stmt.query(params![seq_to_sql(after_seq), limit])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let op = Operation {
            seq: seq_from_sql(r.get(0)?)?,
            id: OpId::from_bytes(blob(r.get(1)?, "operation id")?),
            device,
            hlc: Hlc::from_i64(r.get(2)?),
            wall: WallTime(r.get(3)?),
            kind: r.get(4)?,
            payload: r.get(5)?,
            prev_hash: blob(r.get(6)?, "previous digest")?,
            signature: blob(r.get(7)?, "signature")?,
        };
        out.push((op, blob(r.get(8)?, "digest")?));
    }
    Ok(out)
}

impl Store {
    /// This device's operations after `after_seq`, oldest first, at most `limit`.
    pub fn operations(&self, after_seq: u64, limit: usize) -> Result<Vec<Operation>> {
        let device = self.device.id;
        self.read(|conn| {
            Ok(read_ops(conn, device, after_seq, limit)?
                .into_iter()
                .map(|(op, _)| op)
                .collect())
        })
    }

    /// The state of every operation not yet synced, plus every rejected one, oldest first.
    pub fn unsynced(&self) -> Result<Vec<OperationStatus>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT seq, op_id, kind, wall, state, reject_reason FROM journal
                 WHERE state != 'synced' ORDER BY seq",
            )?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(OperationStatus {
                    seq: seq_from_sql(r.get(0)?)?,
                    id: OpId::from_bytes(blob(r.get(1)?, "operation id")?),
                    kind: r.get(2)?,
                    wall: WallTime(r.get(3)?),
                    state: OpState::parse(&r.get::<_, String>(4)?)?,
                    reject_reason: r.get(5)?,
                });
            }
            Ok(out)
        })
    }

    /// The state of one operation.
    pub fn operation_state(&self, id: OpId) -> Result<Option<OpState>> {
        self.read(|conn| {
            let state: Option<String> = conn
                .query_row(
                    "SELECT state FROM journal WHERE op_id = ?1",
                    [id.as_bytes().as_slice()],
                    |r| r.get(0),
                )
                .optional()?;
            state.map(|s| OpState::parse(&s)).transpose()
        })
    }

    /// Checks the whole journal: gap-free sequence numbers, every digest as stored, the hash
    /// chain, every signature under this device's key, and the recorded head. Returns the end
    /// of the chain, or [`Error::JournalBroken`] naming the first broken operation.
    pub fn verify_journal(&self) -> Result<ChainPoint> {
        const PAGE: usize = 500;
        let device = self.device.id;
        let key = VerifyingKey::from_bytes(&self.device.public_key())
            .map_err(|_| Error::Corrupt("device public key".into()))?;
        self.read(|conn| {
            let mut at = ChainPoint::START;
            loop {
                let page = read_ops(conn, device, at.seq, PAGE)?;
                if page.is_empty() {
                    break;
                }
                for (op, stored) in &page {
                    if op.digest() != *stored {
                        // The chain check below would name this too, one operation later;
                        // naming it here points at the operation that was altered.
                        let next = crate::journal::verify_chain(&device, &key, at, [op]);
                        let problem = match next {
                            Err(e) => e.problem,
                            Ok(_) => BreakKind::HashMismatch,
                        };
                        return Err(JournalBreak {
                            seq: op.seq,
                            op: Some(op.id),
                            problem,
                        }
                        .into());
                    }
                    at = crate::journal::verify_chain(&device, &key, at, [op])?;
                }
            }
            let head = head(conn)?;
            if head != at {
                return Err(JournalBreak {
                    seq: at.seq,
                    op: None,
                    problem: BreakKind::Truncated {
                        expected: head.seq,
                        found: at.seq,
                    },
                }
                .into());
            }
            Ok(at)
        })
    }
}
