//! Photo upload: after a sync's visits are acknowledged, the photos those visits name go up in
//! a separate, chunked and resumable transfer (docs/protocol.md, "Photos").
//!
//! For each photo the engine asks `GET /v1/photos/{sha256}` which chunks the server already
//! holds, then sends only the missing ones with `PUT /v1/photos/{sha256}/chunks/{index}`. A
//! dropped connection costs the chunk in flight: the retry (or the next sync) asks again and
//! goes on from there. The server assembles the photo when every chunk is in, checks its
//! SHA-256 and answers `complete`; on a mismatch it discards what it had and the engine sends
//! the photo once more. Only then does the phone apply its storage policy to the photo.

use super::options::{PhotoSync, SyncOptions};
use super::transport::{Exchange, NetworkKind, Transport, TransportError, send_with_retries};
use crate::domain::photo::{self, CHUNK_BYTES};
use crate::error::{Error, Result};
use crate::protocol::PhotoStatus;
use crate::report::SyncReport;
use crate::store::Store;

/// Uploads the photos whose visits the server accepted, as `options.photos` allows, counting
/// into `report`. A photo the server refuses is counted and left on the phone; a missing
/// connection ends the upload with the error (what was sent stays sent).
pub(super) fn upload(
    store: &Store,
    transport: &dyn Transport,
    token: &str,
    options: &SyncOptions,
    report: &mut SyncReport,
) -> Result<()> {
    let queue = store.photos_to_upload()?;
    let allowed = match options.photos {
        PhotoSync::Always => true,
        PhotoSync::UnmeteredOnly => options.network == NetworkKind::Unmetered,
        PhotoSync::Never => false,
    };
    report.photos_pending = queue.len() as u64;
    if !allowed || queue.is_empty() || token.is_empty() {
        return Ok(());
    }
    for (sha256, size) in queue {
        match upload_one(store, transport, token, options, report, &sha256, size) {
            Ok(true) => {
                store.photo_uploaded(&sha256)?;
                report.photos_uploaded += 1;
                report.photos_pending = report.photos_pending.saturating_sub(1);
            }
            Ok(false) | Err(Error::PhotoRefused { .. } | Error::PhotoHashMismatch) => {
                report.photos_failed += 1
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends one photo; `Ok(false)` when the phone's own copy no longer matches its name (it is
/// kept, never sent as something it is not).
fn upload_one(
    store: &Store,
    transport: &dyn Transport,
    token: &str,
    options: &SyncOptions,
    report: &mut SyncReport,
    sha256: &str,
    size: u64,
) -> Result<bool> {
    let Some(bytes) = store.photo_bytes(sha256)? else {
        return Ok(false);
    };
    if photo::sha256_hex(&bytes) != sha256 || bytes.len() as u64 != size {
        return Ok(false);
    }
    // A second round only after the server found the assembled photo corrupt (a chunk
    // damaged on the way) and discarded it.
    for round in 0..2 {
        let status = call(options, report, 0, || transport.photo_status(token, sha256))?;
        check_status(&status, sha256, size)?;
        if status.complete {
            return Ok(true);
        }
        let mut complete = false;
        for index in 0..photo::chunk_count(size) {
            if status.received.binary_search(&index).is_ok() {
                continue;
            }
            let start = usize::try_from(u64::from(index) * u64::from(CHUNK_BYTES))
                .map_err(|_| Error::Corrupt("photo offset".into()))?;
            let len = usize::try_from(photo::chunk_len(size, index))
                .map_err(|_| Error::Corrupt("photo chunk".into()))?;
            let chunk = &bytes[start..start + len];
            let answer = call(options, report, chunk.len() as u64, || {
                transport.put_photo_chunk(token, sha256, index, chunk)
            });
            match answer {
                Ok(status) => complete = status.complete,
                Err(Error::PhotoHashMismatch) if round == 0 => break,
                Err(e) => return Err(e),
            }
        }
        if complete {
            return Ok(true);
        }
    }
    Err(Error::PhotoRefused {
        sha256: sha256.to_string(),
        reason: "the server could not assemble it with the right hash twice".into(),
    })
}

/// One call with the engine's retries. `payload` bytes (a chunk's) count as sent on every
/// attempt, answered or not: a cut connection spent them.
fn call(
    options: &SyncOptions,
    report: &mut SyncReport,
    payload: u64,
    mut send: impl FnMut() -> Result<Exchange<PhotoStatus>, TransportError>,
) -> Result<PhotoStatus> {
    let exchange = send_with_retries(&options.retry, options.sleeper.as_ref(), report, |report| {
        report.photo_bytes_up += payload;
        Ok(send())
    })?;
    report.bytes_up += exchange.bytes_up;
    report.bytes_down += exchange.bytes_down;
    Ok(exchange.body)
}

fn check_status(status: &PhotoStatus, sha256: &str, size: u64) -> Result<()> {
    if status.sha256 != sha256 || status.size != size || status.chunk_bytes != CHUNK_BYTES {
        return Err(Error::Protocol(format!(
            "the server describes photo {sha256} as {} bytes in chunks of {}; the phone has \
             {size} bytes in chunks of {CHUNK_BYTES}",
            status.size, status.chunk_bytes
        )));
    }
    Ok(())
}
