//! The storage conformance suite (`conformance/mod.rs`) on the PostgreSQL backend.
//!
//! Needs a PostgreSQL server: its URL comes from `FIELDVISIT_TEST_POSTGRES_URL` (`.ci/run`
//! sets it to `postgres://postgres@127.0.0.1:5432/test`). When the variable is unset every test
//! here prints "skipped: FIELDVISIT_TEST_POSTGRES_URL is unset" and passes. Each test gets its
//! own throwaway schema (`ScratchSchema`: `CREATE SCHEMA conf_<random>`, every connection's
//! `search_path` set to it, dropped with its contents at the end), so tests run in parallel
//! on one database without seeing each other's rows or waiting on each other's write lock.

#![allow(clippy::unwrap_used)]

mod conformance;

use fieldvisit_server::storage::Storage;
use fieldvisit_server::storage::postgres::ScratchSchema;

const URL_VAR: &str = "FIELDVISIT_TEST_POSTGRES_URL";

fn url() -> Option<String> {
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        println!("skipped: {URL_VAR} is unset");
    }
    url
}

fn with_postgres(check: impl FnOnce(&dyn Storage)) {
    let Some(url) = url() else { return };
    let schema = ScratchSchema::new(&url, "conf").unwrap();
    let storage = schema.storage().unwrap();
    check(&storage);
    drop(storage);
    drop(schema);
}

conformance_suite!(with_postgres);

/// The admin log's rows cannot be changed or removed, even by SQL that bypasses the trait:
/// the triggers refuse UPDATE, DELETE and TRUNCATE.
#[test]
fn admin_log_refuses_update_delete_and_truncate() {
    let Some(url) = url() else { return };
    let schema = ScratchSchema::new(&url, "conf").unwrap();
    let storage = schema.storage().unwrap();
    conformance::admin_log_is_append_only(&storage);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("SET search_path TO {}", schema.name()))
        .unwrap();
    for sql in [
        "UPDATE admin_log SET actor = 'someone else'",
        "DELETE FROM admin_log",
        "TRUNCATE admin_log",
        "INSERT INTO admin_log (id, at, actor, action, subject, detail)
         OVERRIDING SYSTEM VALUE
         SELECT id, at, actor, action, subject, detail FROM admin_log
         ON CONFLICT (id) DO UPDATE SET actor = 'someone else'",
    ] {
        let err = client.batch_execute(sql).unwrap_err();
        assert!(
            err.to_string().contains("append-only") || format!("{err:?}").contains("append-only"),
            "{sql}: {err:?}"
        );
    }
    let n: i64 = client
        .query_one("SELECT count(*) FROM admin_log WHERE actor = 'admin'", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 4);
    drop(client);
    drop(storage);
}

/// A second connection (another server instance) waits for the first writer's advisory lock.
#[test]
fn the_write_lock_holds_across_instances() {
    let Some(url) = url() else { return };
    let schema = ScratchSchema::new(&url, "conf").unwrap();
    let one = schema.storage().unwrap();
    let two = schema.storage().unwrap();
    let tx = one.write().unwrap();
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            let tx = two.write().unwrap();
            let waited = started.elapsed();
            tx.commit().unwrap();
            waited
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        tx.commit().unwrap();
        let waited = waiter.join().unwrap();
        assert!(
            waited >= std::time::Duration::from_millis(250),
            "the second instance's writer waited {waited:?}"
        );
    });
}

/// Reconnecting to an existing schema keeps its data and version; a newer schema is refused.
#[test]
fn schema_version_is_checked_on_connect() {
    let Some(url) = url() else { return };
    let schema = ScratchSchema::new(&url, "conf").unwrap();
    let first = schema.storage().unwrap();
    conformance::authority_secrets(&first);
    drop(first);
    let again = schema.storage().unwrap();
    assert!(again.read().unwrap().plate_authority().unwrap().is_some());
    drop(again);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "UPDATE {}.schema_version SET version = version + 1",
            schema.name()
        ))
        .unwrap();
    let err = schema.storage().unwrap_err();
    assert!(
        err.to_string().contains("newer") || format!("{err:?}").contains("TooNew"),
        "{err:?}"
    );
}

/// A database at PostgreSQL schema 1 (before dashboard accounts, photos and exit events) is
/// upgraded to the current version at connect time, by the one migration mechanism, step by
/// step, and its accounts, photos and exit events work afterwards.
#[test]
fn a_version_1_database_gains_every_later_table() {
    let Some(url) = url() else { return };
    let schema = ScratchSchema::new(&url, "conf").unwrap();
    drop(schema.storage().unwrap());
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "SET search_path TO {};
             DROP TABLE admin_session; DROP TABLE admin_user;
             DROP TABLE visit_photo; DROP TABLE photo_chunk; DROP TABLE photo;
             DROP TABLE exit_event;
             UPDATE schema_version SET version = 1;",
            schema.name()
        ))
        .unwrap();
    let storage = schema.storage().unwrap();
    let version: i32 = client
        .query_one("SELECT max(version) FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        u32::try_from(version).unwrap(),
        fieldvisit_server::storage::VERSION
    );
    conformance::admin_users_are_unique_and_listed_by_name(&storage);
    conformance::photos_are_stored_once_per_hash(&storage);
    conformance::exit_events_round_trip_per_household_in_recorded_order(&storage);
}

/// A server's last reference to its storage may be dropped on a runtime thread at shutdown;
/// closing the PostgreSQL connections there must not panic (the client blocks on close).
#[test]
fn the_storage_can_be_dropped_inside_an_async_task() {
    let Some(url) = url() else { return };
    let schema = ScratchSchema::new(&url, "conf").unwrap();
    let storage = schema.storage().unwrap();
    assert!(storage.read().unwrap().visit_count().is_ok());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let dropped = runtime.block_on(async move { tokio::spawn(async move { drop(storage) }).await });
    assert!(dropped.is_ok(), "dropping the storage in a task panicked");
}
