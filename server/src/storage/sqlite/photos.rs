//! The embedded backend's visit photos: complete photos by hash, chunks of uploads in
//! progress, and which visits name which photo (schema step `SCHEMA`).

use rusqlite::{Connection, OptionalExtension, params};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::VisitId;

use super::{corrupt, device_id, seq_of, seq_sql};
use crate::error::Result;
use crate::storage::{PhotoLink, StoredPhoto};

/// Self-contained, so that it can be renumbered if another step lands first: only its arm in
/// `schema::upgrade_from` names a version.
pub(super) const SCHEMA: &str = r#"
-- Complete, hash-checked photos, one row per hash however many visits name it.
CREATE TABLE photo (
    sha256    TEXT PRIMARY KEY,
    size      INTEGER NOT NULL,
    bytes     BLOB NOT NULL,
    stored_at INTEGER NOT NULL
) STRICT;

-- Chunks of photos being uploaded, until the photo is assembled or discarded.
CREATE TABLE photo_chunk (
    sha256 TEXT NOT NULL,
    idx    INTEGER NOT NULL,
    bytes  BLOB NOT NULL,
    PRIMARY KEY (sha256, idx)
) STRICT, WITHOUT ROWID;

-- Which accepted visits name which photo, from which device, with the size each declared.
CREATE TABLE visit_photo (
    visit  TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    device TEXT NOT NULL,
    size   INTEGER NOT NULL,
    PRIMARY KEY (visit, sha256)
) STRICT, WITHOUT ROWID;
CREATE INDEX visit_photo_hash ON visit_photo (sha256, device);
"#;

pub(super) fn link(conn: &Connection, l: &PhotoLink) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO visit_photo (visit, sha256, device, size) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        l.visit.to_string(),
        l.sha256,
        l.device.to_string(),
        seq_sql(l.size)
    ])?;
    Ok(())
}

pub(super) fn links(conn: &Connection, sha256: &str) -> Result<Vec<PhotoLink>> {
    let mut stmt = conn.prepare_cached(
        "SELECT visit, sha256, device, size FROM visit_photo WHERE sha256 = ?1
         ORDER BY visit, device",
    )?;
    let mut rows = stmt.query([sha256])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(PhotoLink {
            visit: VisitId::parse(&r.get::<_, String>(0)?).map_err(corrupt("visit id"))?,
            sha256: r.get(1)?,
            device: device_id(&r.get::<_, String>(2)?)?,
            size: seq_of(r.get(3)?),
        });
    }
    Ok(out)
}

pub(super) fn get(conn: &Connection, sha256: &str) -> Result<Option<StoredPhoto>> {
    Ok(conn
        .prepare_cached("SELECT sha256, size, stored_at FROM photo WHERE sha256 = ?1")?
        .query_row([sha256], |r| {
            Ok(StoredPhoto {
                sha256: r.get(0)?,
                size: seq_of(r.get(1)?),
                stored_at: ServerTime(r.get(2)?),
            })
        })
        .optional()?)
}

pub(super) fn bytes(conn: &Connection, sha256: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT bytes FROM photo WHERE sha256 = ?1")?
        .query_row([sha256], |r| r.get(0))
        .optional()?)
}

pub(super) fn put(conn: &Connection, photo: &StoredPhoto, bytes: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO photo (sha256, size, bytes, stored_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        photo.sha256,
        seq_sql(photo.size),
        bytes,
        photo.stored_at.0
    ])?;
    Ok(())
}

pub(super) fn put_chunk(conn: &Connection, sha256: &str, index: u32, bytes: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO photo_chunk (sha256, idx, bytes) VALUES (?1, ?2, ?3)
         ON CONFLICT (sha256, idx) DO UPDATE SET bytes = excluded.bytes",
    )?
    .execute(params![sha256, i64::from(index), bytes])?;
    Ok(())
}

pub(super) fn chunk_indexes(conn: &Connection, sha256: &str) -> Result<Vec<u32>> {
    let mut stmt =
        conn.prepare_cached("SELECT idx FROM photo_chunk WHERE sha256 = ?1 ORDER BY idx")?;
    let rows = stmt.query_map([sha256], |r| r.get::<_, i64>(0))?;
    let mut out = Vec::new();
    for idx in rows {
        out.push(u32::try_from(idx?).map_err(corrupt("chunk index"))?);
    }
    Ok(out)
}

pub(super) fn take_chunks(conn: &Connection, sha256: &str) -> Result<Vec<(u32, Vec<u8>)>> {
    let mut out = Vec::new();
    {
        let mut stmt = conn
            .prepare_cached("SELECT idx, bytes FROM photo_chunk WHERE sha256 = ?1 ORDER BY idx")?;
        let mut rows = stmt.query([sha256])?;
        while let Some(r) = rows.next()? {
            let idx = u32::try_from(r.get::<_, i64>(0)?).map_err(corrupt("chunk index"))?;
            out.push((idx, r.get(1)?));
        }
    }
    conn.prepare_cached("DELETE FROM photo_chunk WHERE sha256 = ?1")?
        .execute([sha256])?;
    Ok(out)
}
