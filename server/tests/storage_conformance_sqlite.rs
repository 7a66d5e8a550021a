//! The storage conformance suite (`conformance/mod.rs`) on the embedded SQLite backend, each
//! test on a new database file in its own temporary folder.

#![allow(clippy::unwrap_used)]

mod conformance;

use fieldvisit_server::storage::Storage;
use fieldvisit_server::storage::sqlite::SqliteStorage;

fn with_sqlite(check: impl FnOnce(&dyn Storage)) {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path().join("server.db")).unwrap();
    check(&storage);
}

conformance_suite!(with_sqlite);

/// The admin log's rows cannot be changed or removed, even by SQL that bypasses the trait.
#[test]
fn admin_log_refuses_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    let storage = SqliteStorage::open(&path).unwrap();
    conformance::admin_log_is_append_only(&storage);
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert!(
        conn.execute("UPDATE admin_log SET actor = 'someone else'", [])
            .is_err()
    );
    assert!(conn.execute("DELETE FROM admin_log", []).is_err());
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM admin_log WHERE actor = 'admin'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 4);
}
