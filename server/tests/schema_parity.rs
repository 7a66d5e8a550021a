//! The two backends' schemas are one schema (`storage::migrations`): a fresh SQLite database
//! and a fresh PostgreSQL schema have the same tables, columns, column types (as SQLite's
//! storage classes: PostgreSQL's BOOLEAN is an integer there, DATE and JSONB are text),
//! nullability, primary keys, unique constraints and indexes. And a database written by the
//! release before the two ladders were joined — SQLite schema 8, PostgreSQL schema 4, frozen in
//! tests/fixtures from real syncs — is upgraded to exactly that schema with its data intact.
//!
//! The PostgreSQL half reads `FIELDVISIT_TEST_POSTGRES_URL` (`.ci/run` sets it) and prints
//! "skipped" when it is unset.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use fieldvisit_core::journal::OpKind;
use fieldvisit_server::storage::postgres::ScratchSchema;
use fieldvisit_server::storage::sqlite::SqliteStorage;
use fieldvisit_server::storage::{Storage, VERSION};

const URL_VAR: &str = "FIELDVISIT_TEST_POSTGRES_URL";
const SQLITE_8: &str = include_str!("fixtures/sqlite-schema-8.sql");
const POSTGRES_4: &str = include_str!("fixtures/postgres-schema-4.sql");
/// The photo the fixtures' phone uploaded (a 1×1 PNG), by its SHA-256.
const FIXTURE_PHOTO: &str = "b1ff9c8ea3a780bad09b346c423d2d0e46815926879b18e841d928376a946640";

fn postgres_url() -> Option<String> {
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        println!("skipped: {URL_VAR} is unset");
    }
    url
}

/// A column as both dialects can state it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    class: &'static str,
    not_null: bool,
}

/// An index a migration created (not one that backs a key or a unique constraint).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    table: String,
    columns: Vec<String>,
    unique: bool,
    partial: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Model {
    columns: BTreeMap<String, BTreeMap<String, Column>>,
    primary_keys: BTreeMap<String, Vec<String>>,
    uniques: BTreeSet<(String, Vec<String>)>,
    indexes: BTreeMap<String, Index>,
}

impl Model {
    /// Where two models differ, one line per difference.
    fn differences(&self, other: &Model) -> Vec<String> {
        let mut out = Vec::new();
        let tables: BTreeSet<&String> = self.columns.keys().chain(other.columns.keys()).collect();
        for t in tables {
            match (self.columns.get(t), other.columns.get(t)) {
                (Some(a), Some(b)) => {
                    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
                    for c in names {
                        if a.get(c) != b.get(c) {
                            out.push(format!("{t}.{c}: {:?} vs {:?}", a.get(c), b.get(c)));
                        }
                    }
                }
                (a, b) => out.push(format!("table {t}: {} vs {}", a.is_some(), b.is_some())),
            }
        }
        if self.primary_keys != other.primary_keys {
            out.push(format!(
                "primary keys: {:?} vs {:?}",
                self.primary_keys, other.primary_keys
            ));
        }
        for u in self.uniques.symmetric_difference(&other.uniques) {
            out.push(format!("unique constraint {u:?} on one side only"));
        }
        let names: BTreeSet<&String> = self.indexes.keys().chain(other.indexes.keys()).collect();
        for n in names {
            if self.indexes.get(n) != other.indexes.get(n) {
                out.push(format!(
                    "index {n}: {:?} vs {:?}",
                    self.indexes.get(n),
                    other.indexes.get(n)
                ));
            }
        }
        out
    }
}

fn sqlite_class(declared: &str) -> &'static str {
    match declared.to_ascii_uppercase().as_str() {
        "INTEGER" => "integer",
        "REAL" => "real",
        "TEXT" => "text",
        "BLOB" => "blob",
        "ANY" => "any",
        other => panic!("a SQLite column declared {other}"),
    }
}

fn postgres_class(declared: &str) -> &'static str {
    match declared {
        "smallint" | "integer" | "bigint" | "boolean" => "integer",
        "double precision" | "real" => "real",
        "text" | "character varying" | "date" | "jsonb" | "json" => "text",
        "bytea" => "blob",
        other => panic!("a PostgreSQL column of type {other}"),
    }
}

fn sqlite_model(path: &Path) -> Model {
    let conn = Connection::open(path).unwrap();
    let mut model = Model::default();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in tables {
        let mut pk: Vec<(i64, String)> = Vec::new();
        let mut columns = BTreeMap::new();
        let mut stmt = conn.prepare(&format!("PRAGMA table_info('{t}')")).unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (name, declared, not_null, pk_pos) = row.unwrap();
            if pk_pos > 0 {
                pk.push((pk_pos, name.clone()));
            }
            columns.insert(
                name,
                Column {
                    class: sqlite_class(&declared),
                    not_null: not_null || pk_pos > 0,
                },
            );
        }
        pk.sort();
        model
            .primary_keys
            .insert(t.clone(), pk.into_iter().map(|(_, n)| n).collect());
        model.columns.insert(t.clone(), columns);
        let indexes: Vec<(String, bool, String, bool)> = conn
            .prepare(&format!("PRAGMA index_list('{t}')"))
            .unwrap()
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (name, unique, origin, partial) in indexes {
            let cols: Vec<String> = conn
                .prepare(&format!("PRAGMA index_info('{name}')"))
                .unwrap()
                .query_map([], |r| r.get(2))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            match origin.as_str() {
                "c" => {
                    model.indexes.insert(
                        name,
                        Index {
                            table: t.clone(),
                            columns: cols,
                            unique,
                            partial,
                        },
                    );
                }
                "u" => {
                    model.uniques.insert((t.clone(), cols));
                }
                _ => {}
            }
        }
    }
    model
}

fn postgres_model(client: &mut postgres::Client) -> Model {
    let mut model = Model::default();
    for r in client
        .query(
            "SELECT c.table_name::text, c.column_name::text, c.data_type::text,
                    c.is_nullable = 'NO'
             FROM information_schema.columns c
             JOIN information_schema.tables t USING (table_schema, table_name)
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
               AND c.table_name <> 'schema_version'",
            &[],
        )
        .unwrap()
    {
        let table: String = r.get(0);
        let declared: String = r.get(2);
        model.columns.entry(table).or_default().insert(
            r.get(1),
            Column {
                class: postgres_class(&declared),
                not_null: r.get(3),
            },
        );
    }
    for r in client
        .query(
            "SELECT cl.relname::text, con.contype::text,
                    array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, ord)
                          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                          ORDER BY k.ord)
             FROM pg_constraint con
             JOIN pg_class cl ON cl.oid = con.conrelid
             JOIN pg_namespace ns ON ns.oid = cl.relnamespace
             WHERE ns.nspname = current_schema() AND con.contype IN ('p', 'u')",
            &[],
        )
        .unwrap()
    {
        let table: String = r.get(0);
        let kind: String = r.get(1);
        let cols: Vec<String> = r.get(2);
        if kind == "p" {
            model.primary_keys.insert(table, cols);
        } else {
            model.uniques.insert((table, cols));
        }
    }
    for t in model.columns.keys() {
        model.primary_keys.entry(t.clone()).or_default();
    }
    for r in client
        .query(
            "SELECT t.relname::text, i.relname::text, ix.indisunique, ix.indpred IS NOT NULL,
                    array(SELECT a.attname::text
                          FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(n, ord)
                          JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.n
                          ORDER BY k.ord)
             FROM pg_index ix
             JOIN pg_class i ON i.oid = ix.indexrelid
             JOIN pg_class t ON t.oid = ix.indrelid
             JOIN pg_namespace ns ON ns.oid = t.relnamespace
             WHERE ns.nspname = current_schema()
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)",
            &[],
        )
        .unwrap()
    {
        model.indexes.insert(
            r.get(1),
            Index {
                table: r.get(0),
                columns: r.get(4),
                unique: r.get(2),
                partial: r.get(3),
            },
        );
    }
    model
}

fn client_in(url: &str, schema: &str) -> postgres::Client {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("SET search_path TO {schema}"))
        .unwrap();
    client
}

fn assert_same(what: &str, a: &Model, b: &Model) {
    let differences = a.differences(b);
    assert!(
        differences.is_empty(),
        "{what}:\n{}",
        differences.join("\n")
    );
}

fn fresh_sqlite(dir: &Path) -> Model {
    let path = dir.join("fresh.db");
    drop(SqliteStorage::open(&path).unwrap());
    sqlite_model(&path)
}

/// What the fixtures hold, read and written through the storage after the upgrade.
fn fixture_data_survives(storage: &dyn Storage) {
    let report = fieldvisit_server::audit::audit(storage).unwrap();
    assert_eq!((report.devices, report.operations), (1, 4));
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);

    let mut tx = storage.read().unwrap();
    let households = tx.household_ids().unwrap();
    assert_eq!(households.len(), 40);
    assert_eq!(tx.visit_count().unwrap(), 3);
    assert_eq!(tx.op_counts().unwrap(), (4, 0));
    let amended: Vec<_> = households
        .iter()
        .filter(|h| {
            !tx.ops_of_household(h, &[OpKind::VisitAmend])
                .unwrap()
                .is_empty()
        })
        .collect();
    assert_eq!(amended.len(), 1, "one household's visit was amended");
    let journal = tx
        .ops_of_household(amended[0], &[OpKind::VisitRecord, OpKind::VisitAmend])
        .unwrap();
    assert_eq!(journal.len(), 2);
    let devices = tx.devices().unwrap();
    assert_eq!(devices.len(), 1);
    let device = &devices[0];
    assert_eq!(device.head.seq, 4);
    let feed = tx.feed_after(&device.id, 0, 1000).unwrap();
    assert_eq!(
        u64::try_from(feed.len()).unwrap(),
        tx.feed_head(&device.id).unwrap()
    );
    let photo = tx.photo_bytes(FIXTURE_PHOTO).unwrap().unwrap();
    assert_eq!(
        data_encoding::HEXLOWER.encode(&Sha256::digest(&photo)),
        FIXTURE_PHOTO
    );
    assert_eq!(tx.photo_links(FIXTURE_PHOTO).unwrap().len(), 1);
    assert!(tx.admin_user("wang").unwrap().is_some());
    let log = tx.admin_log(100).unwrap();
    assert!(log.len() >= 3, "{log:?}");
    let newest_log = log[0].id;
    let code_lists = tx.code_entries().unwrap().len();
    assert!(code_lists > 0);
    drop(tx);

    // And it takes new writes where the old release left off.
    let mut tx = storage.write().unwrap();
    let id = tx
        .append_admin_log(&fieldvisit_server::storage::AdminLogEntry {
            id: 0,
            at: fieldvisit_core::clock::ServerTime(1_800_000_000_000),
            actor: "tester".into(),
            action: "schema.upgrade".into(),
            subject: "fixture".into(),
            detail: serde_json::json!({}),
        })
        .unwrap();
    assert!(id > newest_log);
    let head = tx
        .append_feed_run(
            &device.id,
            &[fieldvisit_server::storage::FeedItem::Household(
                households[0].clone(),
            )],
        )
        .unwrap();
    assert_eq!(head, u64::try_from(feed.len()).unwrap() + 1);
    tx.commit().unwrap();
}

#[test]
fn a_sqlite_schema_8_database_upgrades_to_the_fresh_schema_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let old = Connection::open(&path).unwrap();
    old.execute_batch(SQLITE_8).unwrap();
    old.pragma_update(None, "user_version", 8).unwrap();
    drop(old);
    let storage = SqliteStorage::open(&path).unwrap();
    let version: u32 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, VERSION);
    assert_same(
        "upgraded SQLite vs fresh SQLite",
        &sqlite_model(&path),
        &fresh_sqlite(dir.path()),
    );
    fixture_data_survives(&storage);
}

#[test]
fn fresh_sqlite_and_postgresql_schemas_are_the_same_schema() {
    let Some(url) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = fresh_sqlite(dir.path());
    let schema = ScratchSchema::new(&url, "parity").unwrap();
    drop(schema.storage().unwrap());
    let postgres = postgres_model(&mut client_in(&url, schema.name()));
    assert!(sqlite.columns.len() > 20, "{:?}", sqlite.columns.keys());
    assert_same("SQLite vs PostgreSQL", &sqlite, &postgres);
}

#[test]
fn a_postgresql_schema_4_database_upgrades_to_the_fresh_schema_with_its_data() {
    let Some(url) = postgres_url() else { return };
    let old = ScratchSchema::new(&url, "parity").unwrap();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(&POSTGRES_4.replace("fx_legacy", old.name()))
        .unwrap();
    let mut client = client_in(&url, old.name());
    let legacy: i32 = client
        .query_one("SELECT version FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(legacy, 4);
    let storage = old.storage().unwrap();
    let version: i32 = client
        .query_one("SELECT max(version) FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(u32::try_from(version).unwrap(), VERSION);
    let fresh = ScratchSchema::new(&url, "parity").unwrap();
    drop(fresh.storage().unwrap());
    assert_same(
        "upgraded PostgreSQL vs fresh PostgreSQL",
        &postgres_model(&mut client),
        &postgres_model(&mut client_in(&url, fresh.name())),
    );
    fixture_data_survives(&storage);
}
