//! Storing pushed operations: idempotent by (device, sequence number) and operation id, every
//! operation's signature and chain link verified before it is stored, and every stored
//! operation either applied or kept as rejected with its reason. The phones' sync and the
//! admin's import of a phone's exported work (`crate::devices::import_unsynced`) both store
//! operations through [`push`], so they are verified and applied the same way; it never
//! stores an operation of a revoked device unless the admin import asks it to.

use ed25519_dalek::VerifyingKey;

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::journal::{BreakKind, ChainPoint, verify_chain};
use fieldvisit_core::sync::protocol::{PushAck, PushProblem, PushedOp, Rejection};

use super::apply::{self, Reference};
use crate::error::{Error, Result};
use crate::storage::{DeviceRecord, Outcome, Tx};

/// Who hands the operations over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The device itself, in `POST /v1/sync`: a revoked device is refused.
    Sync,
    /// A sync admin importing a file the device exported (it may be revoked: a lost or retired
    /// phone's last work is exactly what the import is for).
    AdminImport,
}

/// The outcome of [`precheck`]: starting from the chain point `from`, the pushed operations
/// with sequence numbers up to `through` continue the chain and carry valid signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prechecked {
    from: ChainPoint,
    through: u64,
}

/// Verifies a push's signatures and chain links against the device's head as read at
/// authentication, before the request reaches the writer. Ed25519 verification is the
/// costliest part of storing an operation and needs no database, so request handlers do it in
/// parallel on every core; the single writer then skips it when the head it reads inside the
/// write transaction is still `from` (it nearly always is: only another request of the same
/// phone moves it). Stops at the first operation that does not verify: the writer verifies
/// that one again and reports the problem exactly as it would without a precheck.
pub fn precheck(device: &DeviceRecord, ops: &[PushedOp]) -> Prechecked {
    let from = device.head;
    let mut through = from.seq;
    let Ok(key) = VerifyingKey::from_bytes(&device.public_key) else {
        return Prechecked { from, through };
    };
    let mut at = from;
    for pushed in ops.iter().filter(|p| p.seq > from.seq) {
        let op = pushed.clone().into_operation(device.id, at.hash);
        match verify_chain(&device.id, &key, at, [&op]) {
            Ok(next) => {
                at = next;
                through = op.seq;
            }
            Err(_) => break,
        }
    }
    Prechecked { from, through }
}

/// Stores and applies `ops` pushed by `device`. `prechecked`, when given, is [`precheck`]'s
/// verdict on these same operations; it is used only if the device's head is still the one it
/// started from.
pub fn push(
    tx: &mut dyn Tx,
    reference: &mut Reference,
    device: &DeviceRecord,
    ops: Vec<PushedOp>,
    prechecked: Option<Prechecked>,
    source: Source,
    now: ServerTime,
) -> Result<PushAck> {
    let verified_through = prechecked
        .filter(|p| p.from == device.head)
        .map_or(0, |p| p.through);
    if device.revoked.is_some() && source != Source::AdminImport {
        return Err(Error::Refused(format!("device {} is revoked", device.id)));
    }
    let key = VerifyingKey::from_bytes(&device.public_key)
        .map_err(|_| Error::Corrupt("stored device key is not a valid public key".into()))?;
    let mut at = device.head;
    let mut ack = PushAck {
        acked_seq: at.seq,
        rejected: Vec::new(),
        problem: None,
    };
    for pushed in ops {
        if pushed.seq <= at.seq {
            // Sent before (a lost response, a retry): answer as the first time, store nothing.
            match tx.op_at(&device.id, pushed.seq)? {
                Some((id, outcome)) if id == pushed.id => {
                    if let Outcome::Rejected { code, reason } = outcome {
                        ack.rejected.push(Rejection {
                            seq: pushed.seq,
                            op: id,
                            code,
                            reason,
                        });
                    }
                    continue;
                }
                _ => {
                    ack.problem = Some(PushProblem::Diverged { seq: pushed.seq });
                    break;
                }
            }
        }
        if pushed.seq != at.seq + 1 {
            ack.problem = Some(PushProblem::Gap {
                expected_seq: at.seq + 1,
            });
            break;
        }
        let op = pushed.into_operation(device.id, at.hash);
        // Verified before the write transaction: the same operations, from the same head, and
        // every earlier one in this loop linked to it exactly as the precheck linked them.
        if op.seq > verified_through {
            if let Err(broken) = verify_chain(&device.id, &key, at, [&op]) {
                ack.problem = Some(PushProblem::Broken {
                    seq: op.seq,
                    problem: broken.problem,
                });
                break;
            }
        }
        if tx.op_id_exists(&op.id)? {
            // A valid signature over an id already used elsewhere: a replay, never stored.
            ack.problem = Some(PushProblem::Broken {
                seq: op.seq,
                problem: BreakKind::ChainBroken,
            });
            break;
        }
        let checked = apply::check(tx, reference, device, &op, now)?;
        let outcome = match &checked {
            Ok(_) => Outcome::Accepted,
            Err(r) => Outcome::Rejected {
                code: r.code,
                reason: r.reason.clone(),
            },
        };
        let household = match &checked {
            Ok(plan) => plan.household().cloned(),
            Err(r) => r.household.clone(),
        };
        let server_seq = tx.insert_op(&op, &outcome, household.as_ref(), now)?;
        match checked {
            Ok(plan) => apply::commit(tx, device, &op, server_seq, plan, now)?,
            Err(r) => ack.rejected.push(Rejection {
                seq: op.seq,
                op: op.id,
                code: r.code,
                reason: r.reason,
            }),
        }
        at = ChainPoint {
            seq: op.seq,
            hash: op.digest(),
        };
    }
    if at != device.head {
        tx.set_device_head(&device.id, &at)?;
    }
    ack.acked_seq = at.seq;
    Ok(ack)
}
