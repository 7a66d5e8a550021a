//! The server side of `POST /v1/sync`: authenticate the device, store and apply its pushed
//! operations, and hand it the next page of its feed — all in one write transaction, so the
//! acknowledgement in the response is only ever sent for committed work.

mod apply;
pub mod batch;
mod fanout;
mod pull;
mod push;

pub use fanout::{feed_household, household_changed, seed_device_feed};
pub use pull::expand;
pub use push::{Source, push};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::sync::protocol::{PROTOCOL_VERSION, SyncRequest, SyncResponse};

use crate::error::Error;
use crate::http::error::ApiError;
use crate::storage::{DeviceRecord, Storage, Tx};

/// How far ahead of the server a device clock may run before its timestamps are clamped for
/// ordering (and the device is flagged through its recorded skew).
pub const MAX_CLOCK_AHEAD_MS: i64 = 5 * 60 * 1000;

/// Finds the device a bearer token belongs to; a revoked device is refused with its reason.
pub fn authenticate(storage: &dyn Storage, token: &str) -> Result<DeviceRecord, ApiError> {
    let hash = crate::enroll::token_hash(token);
    let mut tx = storage.read()?;
    let device = tx.device_by_token(&hash)?.ok_or(ApiError::Unauthorized)?;
    if let Some(revoked) = &device.revoked {
        return Err(ApiError::Revoked(revoked.reason.clone()));
    }
    Ok(device)
}

/// Handles one sync request for an authenticated device in its own transaction.
pub fn handle(
    storage: &dyn Storage,
    device: &DeviceRecord,
    req: SyncRequest,
    now: ServerTime,
) -> Result<SyncResponse, ApiError> {
    let mut tx = storage.write()?;
    let response = handle_in(tx.as_mut(), device, req, now)?;
    tx.commit()?;
    Ok(response)
}

/// Handles one sync request inside the caller's write transaction; the response may be sent
/// only after that transaction commits.
pub fn handle_in(
    tx: &mut dyn Tx,
    device: &DeviceRecord,
    req: SyncRequest,
    now: ServerTime,
) -> Result<SyncResponse, ApiError> {
    if req.protocol != PROTOCOL_VERSION {
        return Err(ApiError::UnsupportedProtocol(req.protocol));
    }
    if req.device != device.id {
        return Err(ApiError::WrongDevice);
    }
    // Re-read inside the write lock: another request of the same device may have moved its
    // head since authentication, or an admin may have revoked it.
    let device = tx
        .device(&device.id)?
        .ok_or_else(|| Error::Corrupt("authenticated device vanished".into()))?;
    if let Some(revoked) = &device.revoked {
        return Err(ApiError::Revoked(revoked.reason.clone()));
    }
    let ack = push::push(tx, &device, req.push, Source::Sync, now)?;
    let page = pull::pull(tx, &device, req.cursor, req.page_bytes)?;
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
    crate::devices::finish_retirement(tx, &device, req.pending, &ack, now)?;
    Ok(SyncResponse {
        protocol: PROTOCOL_VERSION,
        server_time: now,
        ack,
        changes: page.changes,
        cursor: page.cursor,
        more: page.more,
        clock_skew_ms,
        dictionary: tx.current_dictionary()?,
    })
}
