//! Storing pushed operations: idempotent by (device, sequence number) and operation id, every
//! operation's signature and chain link verified before it is stored, and every stored
//! operation either applied or kept as rejected with its reason. The phones' sync and the
//! admin's import of a phone's exported work (`crate::devices::import_unsynced`) both store
//! operations through [`push`], so they are verified and applied the same way; it never
//! stores an operation of a revoked device unless the admin import asks it to.

use ed25519_dalek::VerifyingKey;

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::OpId;
use fieldvisit_core::journal::{BodyError, BreakKind, ChainPoint, OpBody, verify_chain};
use fieldvisit_core::protocol::{PushAck, PushProblem, PushedOp, Rejection};

use super::apply;
use crate::error::{Error, Result};
use crate::feed::FeedBatch;
use crate::reference::Reference;
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
/// with sequence numbers up to `through` continue the chain and carry valid signatures; and
/// each pushed operation's body, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Prechecked {
    from: ChainPoint,
    through: u64,
    bodies: Vec<(OpId, Result<OpBody, BodyError>)>,
}

/// Verifies a push's signatures and chain links against the device's head as read at
/// authentication, before the request reaches the writer. Ed25519 verification is the
/// costliest part of storing an operation and needs no database, so request handlers do it in
/// parallel on every core; the single writer then skips it when the head it reads inside the
/// write transaction is still `from` (it nearly always is: only another request of the same
/// phone moves it). Stops at the first operation that does not verify: the writer verifies
/// that one again and reports the problem exactly as it would without a precheck. Decoding the
/// operations' JSON bodies needs no database either, so it is done here too, for every
/// operation (a body is what its kind and payload say, whoever signed it).
pub fn precheck(device: &DeviceRecord, ops: &[PushedOp]) -> Prechecked {
    let from = device.head;
    let mut through = from.seq;
    let bodies = ops
        .iter()
        .map(|p| (p.id, OpBody::decode(&p.kind, &p.payload)))
        .collect();
    let Ok(key) = VerifyingKey::from_bytes(&device.public_key) else {
        return Prechecked {
            from,
            through,
            bodies,
        };
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
    Prechecked {
        from,
        through,
        bodies,
    }
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
    let (verified_through, bodies) = match prechecked {
        Some(p) => (if p.from == device.head { p.through } else { 0 }, p.bodies),
        None => (0, Vec::new()),
    };
    // The precheck's bodies line up with the pushed operations; each is used only for the
    // operation whose id it was decoded from.
    let mut bodies = bodies.into_iter();
    if device.revoked.is_some() && source != Source::AdminImport {
        return Err(Error::refused(format!("device {} is revoked", device.id)));
    }
    let key = VerifyingKey::from_bytes(&device.public_key)
        .map_err(|_| Error::Corrupt("stored device key is not a valid public key".into()))?;
    let mut at = device.head;
    let mut ack = PushAck {
        acked_seq: at.seq,
        rejected: Vec::new(),
        problem: None,
    };
    let mut feed = FeedBatch::default();
    for pushed in ops {
        let decoded = bodies
            .next()
            .filter(|(id, _)| *id == pushed.id)
            .map(|(_, body)| body);
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
        let body = decoded.unwrap_or_else(|| op.body());
        let checked = apply::check(tx, reference, device, &op, body, now)?;
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
            Ok(plan) => {
                apply::commit(tx, reference, &mut feed, device, &op, server_seq, plan, now)?
            }
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
    feed.append(tx)?;
    if at != device.head {
        tx.set_device_head(&device.id, &at)?;
    }
    ack.acked_seq = at.seq;
    Ok(ack)
}
