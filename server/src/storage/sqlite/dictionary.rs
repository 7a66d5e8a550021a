//! The embedded backend's compression dictionaries (schema version 2).

use rusqlite::{Connection, OptionalExtension, Row, params};

use fieldvisit_core::clock::ServerTime;

use super::seq_of;
use crate::error::{Error, Result};
use crate::storage::StoredDictionary;

const COLUMNS: &str = "id, bytes, samples, created_at";

fn from_row(r: &Row<'_>) -> Result<StoredDictionary> {
    let id: i64 = r.get(0)?;
    Ok(StoredDictionary {
        id: u32::try_from(id).map_err(|_| Error::Corrupt(format!("dictionary id {id}")))?,
        bytes: r.get(1)?,
        samples: seq_of(r.get(2)?),
        created_at: ServerTime(r.get(3)?),
    })
}

pub(super) fn put(conn: &Connection, d: &StoredDictionary) -> Result<()> {
    conn.execute(
        "INSERT INTO compression_dictionary (id, bytes, samples, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            i64::from(d.id),
            d.bytes,
            i64::try_from(d.samples).unwrap_or(i64::MAX),
            d.created_at.0
        ],
    )?;
    Ok(())
}

pub(super) fn get(conn: &Connection, id: u32) -> Result<Option<StoredDictionary>> {
    let sql = format!("SELECT {COLUMNS} FROM compression_dictionary WHERE id = ?1");
    conn.query_row(&sql, [i64::from(id)], |r| Ok(from_row(r)))
        .optional()?
        .transpose()
}

pub(super) fn current(conn: &Connection) -> Result<Option<u32>> {
    let id: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM compression_dictionary ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )?
        .query_row([], |r| r.get(0))
        .optional()?;
    id.map(|id| u32::try_from(id).map_err(|_| Error::Corrupt(format!("dictionary id {id}"))))
        .transpose()
}

pub(super) fn all(conn: &Connection) -> Result<Vec<StoredDictionary>> {
    let sql = format!("SELECT {COLUMNS} FROM compression_dictionary ORDER BY created_at, rowid");
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(from_row(r)?);
    }
    Ok(out)
}
