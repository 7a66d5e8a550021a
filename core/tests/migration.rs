//! The one migration mechanism: a frozen store of every released schema version opens with
//! the current code, keeps its data, and ends with exactly the schema a fresh store gets; a
//! store from a newer app, or a file that is not a store, is refused and left untouched.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use fieldvisit_core::ids::HouseholdId;
use fieldvisit_core::store::schema::VERSION;
use fieldvisit_core::{Error, Store};
use rusqlite::Connection;

const V1: &str = include_str!("fixtures/store_v1.sql");

/// (type, name, table, normalised SQL) of every schema object.
type SchemaRow = (String, String, String, Option<String>);

fn schema_of(path: &Path) -> (i64, Vec<SchemaRow>) {
    let conn = Connection::open(path).unwrap();
    let version = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT type, name, tbl_name, sql FROM sqlite_master
             WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap();
    let mut rows: Vec<SchemaRow> = rows.map(Result::unwrap).collect();
    // The dump re-quotes table names; compare the statements, not their quoting.
    for row in &mut rows {
        row.3 = row.3.as_ref().map(|sql| {
            sql.replace('"', "")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        });
    }
    (version, rows)
}

#[test]
fn a_frozen_v1_store_upgrades_to_the_fresh_schema_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("v1.db");
    Connection::open(&old).unwrap().execute_batch(V1).unwrap();

    let store = Store::open(&old).unwrap();
    let end = store
        .verify_journal()
        .expect("the v1 journal still verifies");
    assert_eq!(end.seq, 2);
    let household = store
        .household(&HouseholdId::new("hh-1").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(household.household.phone.as_deref(), Some("13900001234"));
    assert_eq!(store.visits_for(&household.household.id).unwrap().len(), 1);
    store.close();

    let fresh = dir.path().join("fresh.db");
    Store::open(&fresh).unwrap().close();
    let (old_version, old_schema) = schema_of(&old);
    let (new_version, new_schema) = schema_of(&fresh);
    assert_eq!(old_version, i64::from(VERSION));
    assert_eq!(new_version, i64::from(VERSION));
    assert_eq!(old_schema, new_schema);
}

#[test]
fn a_store_from_a_newer_app_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    Store::open(&path).unwrap().close();
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", VERSION + 1)
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    match Store::open(&path) {
        Err(Error::DatabaseTooNew { found, supported }) => {
            assert_eq!((found, supported), (VERSION + 1, VERSION));
        }
        other => panic!("expected DatabaseTooNew, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_file_that_is_not_a_store_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    let garbage = b"this is a photo, not a database; ".repeat(200);
    std::fs::write(&path, &garbage).unwrap();
    assert!(matches!(Store::open(&path), Err(Error::NotADatabase(_))));
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}
