//! The PostgreSQL backend's visit photos: complete photos by hash, chunks of uploads in
//! progress, and which visits name which photo (schema step `SCHEMA`).

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::VisitId;

use super::{Conn, corrupt, device_id, seq_of, seq_sql};
use crate::error::Result;
use crate::storage::{PhotoLink, StoredPhoto};

/// Self-contained, so that it can be renumbered if another step lands first: only its arm in
/// `schema::upgrade_from` names a version.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE photo (
    sha256    TEXT PRIMARY KEY,
    size      BIGINT NOT NULL,
    bytes     BYTEA NOT NULL,
    stored_at BIGINT NOT NULL
);

CREATE TABLE photo_chunk (
    sha256 TEXT NOT NULL,
    idx    INTEGER NOT NULL,
    bytes  BYTEA NOT NULL,
    PRIMARY KEY (sha256, idx)
);

CREATE TABLE visit_photo (
    visit  TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    device TEXT NOT NULL,
    size   BIGINT NOT NULL,
    PRIMARY KEY (visit, sha256)
);
CREATE INDEX visit_photo_hash ON visit_photo (sha256, device);
"#;

fn index_sql(index: u32) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

pub(super) fn link(c: &mut Conn, l: &PhotoLink) -> Result<()> {
    c.execute(
        "INSERT INTO visit_photo (visit, sha256, device, size) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
        &[
            &l.visit.to_string(),
            &l.sha256,
            &l.device.to_string(),
            &seq_sql(l.size),
        ],
    )?;
    Ok(())
}

pub(super) fn links(c: &mut Conn, sha256: &str) -> Result<Vec<PhotoLink>> {
    let rows = c.query(
        "SELECT visit, sha256, device, size FROM visit_photo WHERE sha256 = $1
         ORDER BY visit, device",
        &[&sha256],
    )?;
    rows.iter()
        .map(|r| {
            Ok(PhotoLink {
                visit: VisitId::parse(&r.try_get::<_, String>(0)?).map_err(corrupt("visit id"))?,
                sha256: r.try_get(1)?,
                device: device_id(&r.try_get::<_, String>(2)?)?,
                size: seq_of(r.try_get(3)?),
            })
        })
        .collect()
}

pub(super) fn get(c: &mut Conn, sha256: &str) -> Result<Option<StoredPhoto>> {
    c.query_opt(
        "SELECT sha256, size, stored_at FROM photo WHERE sha256 = $1",
        &[&sha256],
    )?
    .map(|r| {
        Ok(StoredPhoto {
            sha256: r.try_get(0)?,
            size: seq_of(r.try_get(1)?),
            stored_at: ServerTime(r.try_get(2)?),
        })
    })
    .transpose()
}

pub(super) fn bytes(c: &mut Conn, sha256: &str) -> Result<Option<Vec<u8>>> {
    c.query_opt("SELECT bytes FROM photo WHERE sha256 = $1", &[&sha256])?
        .map(|r| Ok(r.try_get(0)?))
        .transpose()
}

pub(super) fn put(c: &mut Conn, photo: &StoredPhoto, bytes: &[u8]) -> Result<()> {
    c.execute(
        "INSERT INTO photo (sha256, size, bytes, stored_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
        &[
            &photo.sha256,
            &seq_sql(photo.size),
            &bytes,
            &photo.stored_at.0,
        ],
    )?;
    Ok(())
}

pub(super) fn put_chunk(c: &mut Conn, sha256: &str, index: u32, bytes: &[u8]) -> Result<()> {
    c.execute(
        "INSERT INTO photo_chunk (sha256, idx, bytes) VALUES ($1, $2, $3)
         ON CONFLICT (sha256, idx) DO UPDATE SET bytes = excluded.bytes",
        &[&sha256, &index_sql(index), &bytes],
    )?;
    Ok(())
}

pub(super) fn chunk_indexes(c: &mut Conn, sha256: &str) -> Result<Vec<u32>> {
    let rows = c.query(
        "SELECT idx FROM photo_chunk WHERE sha256 = $1 ORDER BY idx",
        &[&sha256],
    )?;
    rows.iter()
        .map(|r| u32::try_from(r.try_get::<_, i32>(0)?).map_err(corrupt("chunk index")))
        .collect()
}

pub(super) fn take_chunks(c: &mut Conn, sha256: &str) -> Result<Vec<(u32, Vec<u8>)>> {
    let rows = c.query(
        "DELETE FROM photo_chunk WHERE sha256 = $1 RETURNING idx, bytes",
        &[&sha256],
    )?;
    let mut out = rows
        .iter()
        .map(|r| {
            let idx = u32::try_from(r.try_get::<_, i32>(0)?).map_err(corrupt("chunk index"))?;
            Ok((idx, r.try_get(1)?))
        })
        .collect::<Result<Vec<(u32, Vec<u8>)>>>()?;
    out.sort_by_key(|(idx, _)| *idx);
    Ok(out)
}
