//! Checkpointing the write-ahead log beside the writer instead of inside it. SQLite's automatic
//! checkpoint runs in the committing connection right after its commit: with one writer
//! connection for the whole server, every sync queued behind that commit waited while the log
//! was copied into the database file and the file was synced (a tenth of the writer's time in
//! the backlog benchmark). A thread with its own connection copies the log every
//! [`EVERY`] instead — a passive checkpoint never blocks the writer or the readers, and the
//! writer starts the log afresh once it has all been copied. The writer keeps SQLite's
//! automatic checkpoint only as a backstop, at a size the thread leaves behind only if it
//! stops keeping up.

use std::path::Path;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::SERVER;
use crate::error::Result;

/// How often the background thread copies the log into the database file.
const EVERY: Duration = Duration::from_millis(200);

/// The writer checkpoints by itself only when the log holds this many pages (64 MiB of
/// 4 KiB pages): the thread has fallen far behind, or is gone.
pub(super) const WRITER_BACKSTOP_PAGES: i64 = 16_384;

/// The background checkpoint thread; dropping it stops the thread and waits for it.
pub(super) struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`, which the writer has already opened.
    pub(super) fn start(path: &Path) -> Result<Checkpointer> {
        let conn = fieldvisit_core::sqlite::open_writer(path, &SERVER)?;
        let (stop, stopped) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name("fieldvisit-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    if let Err(e) = checkpoint(&conn) {
                        tracing::warn!(error = %e, "background checkpoint failed; the writer's backstop still applies");
                    }
                }
            })?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    // Returns (busy, pages in the log, pages copied); nothing to act on either way.
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel wakes the thread at once.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Instant;

    use super::super::{SqliteStorage, lock};

    #[test]
    fn the_log_is_copied_into_the_database_file_without_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let storage = SqliteStorage::open(&path).unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        // About 2 MB of new pages: far below the writer's own backstop, so only the background
        // thread can bring them into the database file while the connections stay open.
        lock(&storage.writer)
            .execute_batch(
                "CREATE TABLE filler (x BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
                 INSERT INTO filler SELECT randomblob(100) FROM n;",
            )
            .unwrap();
        let deadline = Instant::now() + std::time::Duration::from_secs(20);
        let mut size = before;
        while size < before + 1_000_000 && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
            size = std::fs::metadata(&path).unwrap().len();
        }
        assert!(
            size >= before + 1_000_000,
            "the database file stayed at {size} bytes (was {before})"
        );
    }
}
