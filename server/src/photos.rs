//! Visit photos on the server: the chunked, resumable upload behind `GET /v1/photos/{sha256}`
//! and `PUT /v1/photos/{sha256}/chunks/{index}` (docs/protocol.md, "Photos").
//!
//! The server stores a photo only as evidence of a visit: a device may upload a photo only
//! when one of its accepted visits names it (the link is written when the visit is applied,
//! with the size the visit declared). Photos are kept once per SHA-256 however many visits
//! name them, so a second device or visit naming a photo the server holds uploads nothing.
//! Chunks are kept until the last one arrives; the photo is then assembled and its SHA-256
//! checked in the same transaction. A mismatch discards every chunk (one of them was damaged,
//! and there is no telling which) and is answered `photo_hash_mismatch`, so the device sends
//! the photo again; nothing else the server holds is touched.

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::domain::photo::{
    self, CHUNK_BYTES, MAX_PHOTO_BYTES, chunk_count, chunk_len, sha256_hex,
};
use fieldvisit_core::protocol::PhotoStatus;

use crate::error::{Refusal, Result};
use crate::storage::{DeviceRecord, Photos, Storage, StoredPhoto};

/// The size `device`'s accepted visits declared for the photo; refused when none names it.
fn claimed_size(tx: &mut dyn Photos, device: &DeviceRecord, sha256: &str) -> Result<u64> {
    photo::check_hash("sha256", sha256).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let size = tx
        .photo_links(sha256)?
        .into_iter()
        .find(|l| l.device == device.id)
        .map(|l| l.size)
        .ok_or_else(|| {
            Refusal::PhotoNotReferenced(format!(
                "no accepted visit of this device names photo {sha256}; sync the visit first"
            ))
        })?;
    if size > MAX_PHOTO_BYTES {
        return Err(Refusal::PhotoTooLarge(format!(
            "the photo is {size} bytes; the largest accepted is {MAX_PHOTO_BYTES} bytes"
        ))
        .into());
    }
    Ok(size)
}

fn status_of(tx: &mut dyn Photos, sha256: &str, size: u64) -> Result<PhotoStatus> {
    if let Some(stored) = tx.photo(sha256)? {
        return Ok(PhotoStatus {
            sha256: sha256.to_string(),
            size: stored.size,
            chunk_bytes: CHUNK_BYTES,
            received: Vec::new(),
            complete: true,
        });
    }
    let count = chunk_count(size);
    let mut received = tx.photo_chunk_indexes(sha256)?;
    received.retain(|i| *i < count);
    Ok(PhotoStatus {
        sha256: sha256.to_string(),
        size,
        chunk_bytes: CHUNK_BYTES,
        received,
        complete: false,
    })
}

/// `GET /v1/photos/{sha256}`: which chunks the server holds, or that it holds the photo.
pub fn status(storage: &dyn Storage, device: &DeviceRecord, sha256: &str) -> Result<PhotoStatus> {
    let mut tx = storage.read()?;
    let size = claimed_size(tx.as_mut(), device, sha256)?;
    status_of(tx.as_mut(), sha256, size)
}

/// `PUT /v1/photos/{sha256}/chunks/{index}`: stores one chunk and, when it was the last one
/// missing, assembles and checks the photo.
pub fn put_chunk(
    storage: &dyn Storage,
    device: &DeviceRecord,
    sha256: &str,
    index: u32,
    bytes: &[u8],
    now: ServerTime,
) -> Result<PhotoStatus> {
    let mut tx = storage.write()?;
    let size = claimed_size(tx.as_mut(), device, sha256)?;
    if tx.photo(sha256)?.is_some() {
        // Another visit's upload got here first: nothing more is needed.
        return status_of(tx.as_mut(), sha256, size);
    }
    let count = chunk_count(size);
    if index >= count {
        return Err(Refusal::BadChunk(format!(
            "chunk {index} is past the end of a {size}-byte photo ({count} chunks)"
        ))
        .into());
    }
    let expected = chunk_len(size, index);
    if bytes.len() as u64 != expected {
        return Err(Refusal::BadChunk(format!(
            "chunk {index} of a {size}-byte photo must be {expected} bytes, not {}",
            bytes.len()
        ))
        .into());
    }
    tx.put_photo_chunk(sha256, index, bytes)?;
    let held = tx
        .photo_chunk_indexes(sha256)?
        .into_iter()
        .filter(|i| *i < count)
        .count();
    if held < usize::try_from(count).unwrap_or(usize::MAX) {
        let status = status_of(tx.as_mut(), sha256, size)?;
        tx.commit()?;
        return Ok(status);
    }
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    for (i, chunk) in tx.take_photo_chunks(sha256)? {
        if i < count {
            data.extend_from_slice(&chunk);
        }
    }
    if sha256_hex(&data) != sha256 {
        // The chunks are gone with this commit; the device starts the photo again.
        tx.commit()?;
        return Err(Refusal::PhotoHashMismatch(format!(
            "the {} bytes received do not hash to {sha256}; they were discarded — send the \
             photo again",
            data.len()
        ))
        .into());
    }
    let stored = StoredPhoto {
        sha256: sha256.to_string(),
        size: data.len() as u64,
        stored_at: now,
    };
    tx.put_photo(&stored, &data)?;
    let status = status_of(tx.as_mut(), sha256, size)?;
    tx.commit()?;
    Ok(status)
}
