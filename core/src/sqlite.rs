//! The one way fieldvisit opens a SQLite database and brings its schema up to date, used by the
//! device store and by the server's embedded backend alike.
//!
//! The schema version lives in `PRAGMA user_version`. Opening brings it to the schema's
//! version inside one IMMEDIATE transaction: a new file gets the schema's `create`; an older
//! one runs `upgrade_from` step by step. A file written by newer code is refused and left
//! exactly as it is. Nothing here ever deletes a database: a phone's journal may hold visits
//! that exist nowhere else, and a server's is the county's record.

use std::path::Path;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, Result};

/// A database's schema: its current version, how to create it, and how to upgrade it one
/// version at a time. `E` is the error its steps return (the server's steps return the
/// server's error).
#[derive(Debug)]
pub struct Schema<E: 'static = Error> {
    /// What the database is, for error messages.
    pub name: &'static str,
    pub version: u32,
    /// Creates the current schema (and seeds it) in a new database.
    pub create: fn(&Transaction<'_>) -> Result<(), E>,
    /// Upgrades from `from` to `from + 1`.
    pub upgrade_from: fn(&Transaction<'_>, u32) -> Result<(), E>,
}

/// Connection settings every connection gets, writer or reader.
///
/// `synchronous = FULL`: a commit is on disk when it returns, because an acknowledged visit
/// must survive a power cut. `temp_store = 2` keeps temporary tables in memory (Android's temp
/// directory is not always writable).
pub fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Every hot statement is prepared once and kept; the default cache (16) is smaller than
    // the set a sync uses, and re-parsing SQL showed up as a tenth of the server's time.
    conn.set_prepared_statement_cache_capacity(256);
    // The query planner stability guarantee: without it SQLite marks a statement whose plan
    // could depend on a bound value (an ORDER BY or LIMIT beside `col = ?`) to be recompiled
    // whenever its bindings are cleared — which the statement cache does on every return — so
    // those statements were parsed and planned afresh on every use (a fifth of the server's
    // CPU in the backlog benchmark). Our plans never depend on values: no ANALYZE statistics.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA temp_store = 2;
         PRAGMA journal_size_limit = 4194304;
         PRAGMA synchronous = FULL;",
    )?;
    Ok(())
}

fn user_version(conn: &Connection) -> Result<u32> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(u32::try_from(v).unwrap_or(u32::MAX))
}

/// Opens the writer connection, creating or upgrading the schema.
pub fn open_writer<E: From<Error>>(path: &Path, schema: &Schema<E>) -> Result<Connection, E> {
    open_writer_keyed(path, schema, None)
}

/// Unlocks a SQLCipher database with `key`; it must be the first statement on a connection.
/// Only builds with the `sqlcipher` feature pass a key (plain SQLite ignores the pragma).
fn apply_key(conn: &Connection, key: Option<&str>) -> Result<()> {
    if let Some(key) = key {
        conn.pragma_update(None, "key", key)?;
    }
    Ok(())
}

/// [`open_writer`] for a database encrypted under `key` (or a plain one, with `None`).
pub(crate) fn open_writer_keyed<E: From<Error>>(
    path: &Path,
    schema: &Schema<E>,
    key: Option<&str>,
) -> Result<Connection, E> {
    let mut conn = Connection::open(path).map_err(Error::from)?;
    apply_key(&conn, key)?;
    configure(&conn)?;
    // Reading the version before switching to WAL surfaces "not a database" right away.
    let found = user_version(&conn)?;
    if found > schema.version {
        return Err(Error::DatabaseTooNew {
            found,
            supported: schema.version,
        }
        .into());
    }
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(Error::from)?;
    if found < schema.version {
        let tx =
            Transaction::new(&mut conn, TransactionBehavior::Immediate).map_err(Error::from)?;
        // Re-read inside the lock: another process may have upgraded meanwhile.
        let found = user_version(&tx)?;
        if found == 0 {
            (schema.create)(&tx)?;
        } else {
            for from in found..schema.version {
                (schema.upgrade_from)(&tx, from)?;
            }
        }
        tx.pragma_update(None, "user_version", schema.version)
            .map_err(Error::from)?;
        tx.commit().map_err(Error::from)?;
    }
    Ok(conn)
}

/// Opens a read-only connection on a database the writer has already brought up to date.
pub fn open_reader<E>(path: &Path, schema: &Schema<E>) -> Result<Connection> {
    open_reader_keyed(path, schema, None)
}

/// [`open_reader`] for a database encrypted under `key` (or a plain one, with `None`).
pub(crate) fn open_reader_keyed<E>(
    path: &Path,
    schema: &Schema<E>,
    key: Option<&str>,
) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    apply_key(&conn, key)?;
    configure(&conn)?;
    let found = user_version(&conn)?;
    if found != schema.version {
        return Err(Error::Corrupt(format!(
            "{} reader found schema {found}, expected {}",
            schema.name, schema.version
        )));
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;

    /// A cached statement whose plan SQLite could tie to a bound value (`ORDER BY`/`LIMIT`
    /// beside `col = ?`) is compiled once, not again after each reuse with new bindings.
    #[test]
    fn cached_statements_are_not_recompiled_when_reused_with_new_bindings() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        configure(&conn)?;
        conn.execute_batch(
            "CREATE TABLE member (id TEXT PRIMARY KEY, household TEXT NOT NULL, rel TEXT);
             CREATE INDEX member_household ON member (household);
             INSERT INTO member VALUES ('m1', 'h1', 'head'), ('m2', 'h1', 'child'),
                                       ('m3', 'h2', 'head');",
        )?;
        let sql = "SELECT id FROM member WHERE household = ?1 ORDER BY rel, id LIMIT ?2";
        let mut found = Vec::new();
        for (household, limit) in [("h1", 10), ("h2", 5), ("h1", 1), ("h2", 3)] {
            let mut stmt = conn.prepare_cached(sql)?;
            let ids = stmt
                .query_map(rusqlite::params![household, limit], |r| {
                    r.get::<_, String>(0)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            found.push(ids);
            assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
        }
        assert_eq!(
            found,
            [vec!["m2", "m1"], vec!["m3"], vec!["m2"], vec!["m3"]]
        );
        Ok(())
    }
}
