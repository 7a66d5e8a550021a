//! The server side of `POST /v1/sync`: authenticate the device, store and apply its pushed
//! operations, and hand it the next page of its feed — all in one write transaction, so the
//! acknowledgement in the response is only ever sent for committed work.
//!
//! Plain synchronous functions over the storage that answer `crate::Result`: the HTTP handler
//! authenticates and runs them on blocking threads, [`batch`] groups concurrent syncs into one
//! commit. Feed entries are appended through `crate::feed`, and a retiring phone's final sync
//! revokes it ([`retirement`]).

mod apply;
pub mod batch;
mod pull;
mod push;
pub mod retirement;

pub use pull::expand;
pub use push::{Prechecked, Source, precheck, push};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::protocol::{PROTOCOL_VERSION, PushAck, SyncRequest, SyncResponse};

use crate::error::{Error, Refusal, Result};
use crate::reference::Reference;
use crate::storage::{DeviceRecord, Storage, Tx};

/// How far ahead of the server a device clock may run before its timestamps are clamped for
/// ordering (and the device is flagged through its recorded skew).
pub const MAX_CLOCK_AHEAD_MS: i64 = 5 * 60 * 1000;

/// Finds the device a bearer token belongs to; a revoked device is refused with its reason.
pub fn authenticate(storage: &dyn Storage, token: &str) -> Result<DeviceRecord> {
    let hash = crate::token::token_hash(token);
    let mut tx = storage.read()?;
    let device = tx.device_by_token(&hash)?.ok_or(Refusal::Unauthorized)?;
    if let Some(revoked) = &device.revoked {
        return Err(Refusal::Revoked(revoked.reason.clone()).into());
    }
    Ok(device)
}

/// Handles one sync request for an authenticated device in its own transaction.
pub fn handle(
    storage: &dyn Storage,
    device: &DeviceRecord,
    req: SyncRequest,
    now: ServerTime,
) -> Result<SyncResponse> {
    let pull = Pull::of(&req);
    let prechecked = precheck(device, &req.push);
    let mut tx = storage.write()?;
    let pushed = handle_in(
        tx.as_mut(),
        &mut Reference::default(),
        device,
        req,
        Some(prechecked),
        now,
    )?;
    tx.commit()?;
    respond(storage, device, pull, pushed, now)
}

/// What a sync asks to pull, kept apart from the request whose pushed operations move into the
/// write transaction.
#[derive(Debug, Clone, Copy)]
pub struct Pull {
    cursor: u64,
    page_bytes: u32,
}

impl Pull {
    pub fn of(req: &SyncRequest) -> Pull {
        Pull {
            cursor: req.cursor,
            page_bytes: req.page_bytes,
        }
    }
}

/// The write half of a sync, committed before anything is answered.
#[derive(Debug)]
pub struct Pushed {
    ack: PushAck,
    clock_skew_ms: i64,
}

/// Stores a sync request's pushed operations and records the sync inside the caller's write
/// transaction; the device's page is read by [`respond`] once that transaction has committed.
/// `reference` lives as long as the transaction; `prechecked` is [`precheck`] on `req.push`.
pub fn handle_in(
    tx: &mut dyn Tx,
    reference: &mut Reference,
    device: &DeviceRecord,
    req: SyncRequest,
    prechecked: Option<Prechecked>,
    now: ServerTime,
) -> Result<Pushed> {
    if req.protocol != PROTOCOL_VERSION {
        return Err(Refusal::UnsupportedProtocol(req.protocol).into());
    }
    if req.device != device.id {
        return Err(Refusal::WrongDevice.into());
    }
    // Re-read inside the write lock: another request of the same device may have moved its
    // head since authentication, or an admin may have revoked it.
    let device = tx
        .device(&device.id)?
        .ok_or_else(|| Error::Corrupt("authenticated device vanished".into()))?;
    if let Some(revoked) = &device.revoked {
        return Err(Refusal::Revoked(revoked.reason.clone()).into());
    }
    let ack = push::push(
        tx,
        reference,
        &device,
        req.push,
        prechecked,
        Source::Sync,
        now,
    )?;
    let clock_skew_ms = req.device_time.0.saturating_sub(now.0);
    tx.record_sync(
        &device.id,
        now,
        &req.app_version,
        req.pending,
        clock_skew_ms,
    )?;
    // A retiring device whose final upload is in: revoked now, in this transaction, so its
    // acknowledgement and its revocation commit together; its next call gets 401.
    if retirement::finish_retirement(tx, &device, req.pending, &ack, now)? {
        reference.forget_phones();
    }
    Ok(Pushed { ack, clock_skew_ms })
}

/// The answer to a sync whose write half has committed: the acknowledgement and the next page
/// of the device's feed, read on a snapshot taken after that commit. Reading the page outside
/// the single writer lets pages be built in parallel; the cursor stays gap-free because a
/// snapshot taken after a commit holds every feed position up to the highest it holds
/// (positions are drawn and committed in order under the write lock; docs/protocol.md).
pub fn respond(
    storage: &dyn Storage,
    device: &DeviceRecord,
    pull: Pull,
    pushed: Pushed,
    now: ServerTime,
) -> Result<SyncResponse> {
    let mut tx = storage.read()?;
    let page = pull::pull(tx.as_mut(), device, pull.cursor, pull.page_bytes)?;
    Ok(SyncResponse {
        protocol: PROTOCOL_VERSION,
        server_time: now,
        ack: pushed.ack,
        changes: page.changes,
        cursor: page.cursor,
        more: page.more,
        clock_skew_ms: pushed.clock_skew_ms,
        dictionary: tx.current_dictionary()?,
    })
}
