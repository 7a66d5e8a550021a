//! The embedded backend: one SQLite file (`./fieldvisit.db` by default). One writer
//! connection, so write transactions are serialised and commit in the order they began; a few
//! read-only connections for concurrent reads (WAL).

mod checkpoint;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use fieldvisit_core::sqlite::Schema;

use super::{Storage, Tx, migrations, savepoint};
use crate::error::{Error, Result};

/// The server database's schema, as the one SQLite migration mechanism
/// (`fieldvisit_core::sqlite`) runs it: every step of [`migrations::STEPS`].
pub(super) const SERVER: Schema<Error> = Schema {
    name: "server database",
    version: migrations::VERSION,
    create: |tx| migrations::migrate(&On(tx), 0),
    upgrade_from: |tx, from| migrations::run_step(&On(tx), from + 1),
};

const READERS: usize = 4;

pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    // Declared last: dropped after the connections it checkpoints beside.
    _checkpointer: checkpoint::Checkpointer,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStorage {
    /// Opens (creating or upgrading) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStorage> {
        let path = path.as_ref().to_path_buf();
        let writer = fieldvisit_core::sqlite::open_writer(&path, &SERVER)?;
        writer.pragma_update(
            None,
            "wal_autocheckpoint",
            checkpoint::WRITER_BACKSTOP_PAGES,
        )?;
        let checkpointer = checkpoint::Checkpointer::start(&path)?;
        let readers = (0..READERS)
            .map(|_| fieldvisit_core::sqlite::open_reader(&path, &SERVER).map(Mutex::new))
            .collect::<fieldvisit_core::Result<Vec<_>>>()?;
        Ok(SqliteStorage {
            path,
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            _checkpointer: checkpointer,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic mid-transaction leaves SQLite to roll back; the connection stays usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Storage for SqliteStorage {
    fn write(&self) -> Result<Box<dyn Tx + '_>> {
        let conn = lock(&self.writer);
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Box::new(SqliteTx { conn, open: true }))
    }

    fn read(&self) -> Result<Box<dyn Tx + '_>> {
        // Any idle reader first (pages of many syncs are read at once); when all are busy,
        // wait on one in turn.
        let idle = self.readers.iter().find_map(|slot| match slot.try_lock() {
            Ok(conn) => Some(conn),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        });
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let i =
                    self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len().max(1);
                let slot = self
                    .readers
                    .get(i)
                    .ok_or_else(|| Error::Unavailable("no reader".into()))?;
                lock(slot)
            }
        };
        conn.prepare_cached("BEGIN")?.execute([])?;
        Ok(Box::new(SqliteTx { conn, open: true }))
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing useful can be done with a failed rollback here; SQLite rolls back an
            // unfinished transaction when the next BEGIN fails anyway.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Statements on a SQLite connection, with the server's error type.
pub(super) struct On<'a>(pub(super) &'a Connection);

fieldvisit_core::sqlite_conn!(On<'_>, Error, |on| on.0);
fieldvisit_core::sqlite_conn!(SqliteTx<'_>, Error, |tx| &tx.conn);

impl Tx for SqliteTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }

    fn savepoint(&mut self) -> Result<()> {
        savepoint::begin(self)
    }

    fn release_savepoint(&mut self) -> Result<()> {
        savepoint::release(self)
    }

    fn rollback_to_savepoint(&mut self) -> Result<()> {
        savepoint::rollback(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Vec<String> {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        stmt.query_map(params, |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<rusqlite::Result<_>>()
            .expect("plan rows")
    }

    /// Each accepted visit asks who is responsible for its household; in a province that must
    /// stay a few index seeks, never a pass over every assignment or village post.
    #[test]
    fn the_cadres_of_a_household_are_found_through_indexes_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("server.db");
        drop(SqliteStorage::open(&path).expect("open"));
        let conn = Connection::open(&path).expect("connection");
        let steps = plan(
            &conn,
            fieldvisit_core::rows::CADRES_IN_SCOPE,
            ["150781100001001", "2026-11-29"],
        );
        assert!(
            steps.iter().any(|s| s.contains("village_post_village")),
            "{steps:?}"
        );
        assert!(
            !steps
                .iter()
                .any(|s| s.starts_with("SCAN") && !s.contains("scope")),
            "{steps:?}"
        );
    }
}
