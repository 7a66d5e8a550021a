//! The private halves of the plate-issuing keys (`authority_secret`), which only the county
//! server holds: it signs door plates with them. The public halves are registry rows
//! (`authority_key`) that reach every device.
//!
//! A secret never leaves this module except inside a [`PlateAuthority`], whose `Debug` shows
//! only public facts; nothing here logs or formats one.
//!
//! Conformance: server/tests/conformance/plate_keys.rs.

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::plate::PlateAuthority;

use super::Db;
use crate::error::{Error, Result};

/// The plate secrets table.
pub trait PlateKeys {
    /// The authority that signs new plates: the held secret with the highest key id (the
    /// newest key while keys rotate), or `None` when this server holds no plate secret.
    fn plate_authority(&mut self) -> Result<Option<PlateAuthority>>;
    /// Stores (or replaces) the secret of a plate key; its public half is a registry record.
    fn put_authority_secret(
        &mut self,
        key_id: u16,
        secret: &[u8; 32],
        at: ServerTime,
    ) -> Result<()>;
}

impl<D: Db + ?Sized> PlateKeys for D {
    fn plate_authority(&mut self) -> Result<Option<PlateAuthority>> {
        let row = self.query_opt(
            "SELECT key_id, secret FROM authority_secret ORDER BY key_id DESC LIMIT 1",
            &[],
            |r| Ok((r.get::<u16>(0)?, r.get::<Vec<u8>>(1)?)),
        )?;
        row.map(|(key_id, secret)| {
            let secret: [u8; 32] = secret.try_into().map_err(|_| {
                Error::Corrupt(format!("the secret of plate key {key_id} is not 32 bytes"))
            })?;
            Ok(PlateAuthority::from_secret(key_id, secret))
        })
        .transpose()
    }

    fn put_authority_secret(
        &mut self,
        key_id: u16,
        secret: &[u8; 32],
        at: ServerTime,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO authority_secret (key_id, secret, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key_id) DO UPDATE SET secret = excluded.secret,
                 created_at = excluded.created_at",
            &[&key_id, secret, &at.0],
        )?;
        Ok(())
    }
}
