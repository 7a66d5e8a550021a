//! Where PostgreSQL keeps the schema version, and the one place the steps of
//! [`migrations::STEPS`] are run on it: at connect time, inside one write transaction that
//! holds the writers' advisory lock, so two server instances starting together cannot both
//! create or upgrade. The version lives in the one-row table `schema_version` (PostgreSQL has no
//! `user_version`); values written before the two backends shared one list of steps are read
//! by [`migrations::unified_version`].

use fieldvisit_core::sql::Conn;

use super::PgTx;
use crate::error::Result;
use crate::storage::migrations;

/// The version stored in the current schema (0 when it has no tables yet).
fn stored_version(tx: &PgTx<'_>) -> Result<u32> {
    let exists: bool = tx.query_value("SELECT to_regclass('schema_version') IS NOT NULL", &[])?;
    if !exists {
        return Ok(0);
    }
    let version: Option<u32> = tx.query_value("SELECT max(version) FROM schema_version", &[])?;
    migrations::unified_version(version.unwrap_or(0))
}

/// Brings the schema to [`migrations::VERSION`] inside `tx` (a write transaction, which holds
/// the writers' lock) and records the version; a database written by newer code is refused
/// and left untouched.
pub(super) fn migrate(tx: &PgTx<'_>) -> Result<()> {
    let found = stored_version(tx)?;
    if found == migrations::VERSION {
        return Ok(());
    }
    migrations::migrate(tx, found)?;
    tx.batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    tx.execute("DELETE FROM schema_version", &[])?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        &[&migrations::VERSION],
    )?;
    Ok(())
}
