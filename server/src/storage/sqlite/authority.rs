//! The private halves of the plate-issuing keys (`authority_secret`), which only the county
//! server holds: it signs door plates with them. The public halves are registry rows
//! (`authority_key`) that reach every device.
//!
//! A secret never leaves this module except inside a [`PlateAuthority`], whose `Debug` shows
//! only public facts; nothing here logs or formats one.

use rusqlite::{Connection, OptionalExtension, params};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::plate::PlateAuthority;

use crate::error::{Error, Result};

/// Stores (or replaces) the secret of key `key_id`.
pub fn put_secret(conn: &Connection, key_id: u16, secret: &[u8; 32], at: ServerTime) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO authority_secret (key_id, secret, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key_id) DO UPDATE SET secret = excluded.secret,
             created_at = excluded.created_at",
    )?
    .execute(params![key_id, secret.as_slice(), at.0])?;
    Ok(())
}

/// The authority that signs new plates: the held secret with the highest key id (the newest
/// key while keys rotate). `None` when this server holds no secret.
pub fn newest(conn: &Connection) -> Result<Option<PlateAuthority>> {
    let row: Option<(u16, Vec<u8>)> = conn
        .prepare_cached("SELECT key_id, secret FROM authority_secret ORDER BY key_id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(key_id, secret)| {
        let secret: [u8; 32] = secret.try_into().map_err(|_| {
            Error::Corrupt(format!("the secret of plate key {key_id} is not 32 bytes"))
        })?;
        Ok(PlateAuthority::from_secret(key_id, secret))
    })
    .transpose()
}
