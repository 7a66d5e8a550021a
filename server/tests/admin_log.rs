//! The admin log is append-only and arrives with the schema upgrade that introduced it: a
//! version 1 database (frozen in fixtures/server_v1.sql) upgrades to exactly the schema of a new
//! database, and SQLite itself refuses to change or delete a logged entry.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use fieldvisit_core::clock::ServerTime;
use fieldvisit_server::storage::sqlite::SqliteStorage;
use fieldvisit_server::storage::{AdminLogEntry, Storage};
use rusqlite::Connection;

const V1: &str = include_str!("fixtures/server_v1.sql");

fn schema_of(path: &Path) -> Vec<(String, String, String)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT type, name, COALESCE(sql, '') FROM sqlite_master
             WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn user_version(path: &Path) -> u32 {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn entry(action: &str) -> AdminLogEntry {
    AdminLogEntry {
        id: 0,
        at: ServerTime(1_700_000_000_000),
        actor: "tester".into(),
        action: action.into(),
        subject: "h-1".into(),
        detail: serde_json::json!({ "reason": "lost" }),
    }
}

#[test]
fn a_version_1_database_upgrades_to_the_schema_of_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("v1.db");
    Connection::open(&old).unwrap().execute_batch(V1).unwrap();
    assert_eq!(user_version(&old), 1);
    assert!(
        !schema_of(&old)
            .iter()
            .any(|(_, name, _)| name == "admin_log")
    );

    let upgraded = SqliteStorage::open(&old).unwrap();
    let fresh_path = dir.path().join("new.db");
    drop(SqliteStorage::open(&fresh_path).unwrap());
    assert_eq!(user_version(&old), fieldvisit_server::storage::VERSION);
    assert_eq!(schema_of(&old), schema_of(&fresh_path));

    // The upgraded log works.
    let mut tx = upgraded.write().unwrap();
    assert_eq!(tx.append_admin_log(&entry("plate.reissue")).unwrap(), 1);
    tx.commit().unwrap();
    let log = upgraded.read().unwrap().admin_log(10).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].detail["reason"], "lost");
}

#[test]
fn the_admin_log_lists_newest_first_and_refuses_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("county.db");
    let storage = SqliteStorage::open(&path).unwrap();
    let mut tx = storage.write().unwrap();
    for action in ["region.load", "enroll.code", "plate.reissue"] {
        tx.append_admin_log(&entry(action)).unwrap();
    }
    tx.commit().unwrap();
    let listed: Vec<String> = storage
        .read()
        .unwrap()
        .admin_log(2)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(listed, ["plate.reissue", "enroll.code"]);

    // Any connection, not only this code, is refused.
    let conn = Connection::open(&path).unwrap();
    for sql in [
        "UPDATE admin_log SET actor = 'someone else' WHERE id = 1",
        "UPDATE admin_log SET detail = '{}'",
        "DELETE FROM admin_log WHERE id = 2",
        "DELETE FROM admin_log",
        "INSERT OR REPLACE INTO admin_log (id, at, actor, action, subject, detail)
         VALUES (1, 0, 'x', 'x', 'x', '{}')",
    ] {
        let err = conn.execute(sql, []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let count: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM admin_log WHERE actor = 'tester'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 3);

    // An entry whose detail is not JSON is refused too.
    let err = conn
        .execute(
            "INSERT INTO admin_log (at, actor, action, subject, detail) VALUES (0, 'a', 'b', 'c', 'not json')",
            [],
        )
        .unwrap_err();
    assert!(err.to_string().contains("CHECK"), "{err}");
}
