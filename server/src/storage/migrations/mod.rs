//! The server's schema, as one list of steps with one version number for both backends.
//! A new database runs every step in order; an older one runs the steps after its version.
//! Each step has the statements of each dialect ([`sqlite`], [`postgres`]) — the tables are
//! the same, their declared types are each dialect's own — and nothing else differs: the
//! backends only keep the version where their engine keeps such things (SQLite's
//! `user_version`, PostgreSQL's one-row `schema_version` table) and run the steps inside one
//! transaction under the writers' lock. A database written by newer code is refused and left
//! untouched.
//!
//! Released steps are never edited; a change is a new step at the end. The schema-comparison
//! test (server/tests/schema_parity.rs) creates both schemas and compares their tables,
//! columns, types, nullability and indexes, so the two columns of this list cannot drift.
//!
//! Before this list, PostgreSQL had a ladder of its own whose versions 1–4 hold what steps
//! 4–7 here hold (its first release already had steps 2, 3, 4 and 8); [`unified_version`]
//! reads those numbers.

pub mod postgres;
pub mod sqlite;

use fieldvisit_core::domain::codelist;
use fieldvisit_core::sql::Dialect;

use super::Db;
use crate::error::{Error, Result};

/// The schema version this build writes.
pub const VERSION: u32 = 9;

/// One step of the schema: what it adds, and its statements in each dialect (empty where
/// that dialect already had it).
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// The version a database is at once this step has run.
    pub version: u32,
    pub what: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// Every step, oldest first; step `n` is at index `n - 1`.
pub const STEPS: &[Step] = &[
    Step {
        version: 1,
        what: "the registry, devices, the journal of operations, visits, conflicts and feeds",
        sqlite: sqlite::FIRST,
        postgres: postgres::FIRST,
    },
    Step {
        version: 2,
        what: "compression dictionaries",
        sqlite: sqlite::DICTIONARIES,
        postgres: "",
    },
    Step {
        version: 3,
        what: "the append-only admin log",
        sqlite: sqlite::ADMIN_LOG,
        postgres: "",
    },
    Step {
        version: 4,
        what: "retiring devices",
        sqlite: sqlite::RETIRING,
        postgres: "",
    },
    Step {
        version: 5,
        what: "dashboard accounts and sessions",
        sqlite: sqlite::ACCOUNTS,
        postgres: postgres::ACCOUNTS,
    },
    Step {
        version: 6,
        what: "visit photos",
        sqlite: sqlite::PHOTOS,
        postgres: postgres::PHOTOS,
    },
    Step {
        version: 7,
        what: "exit notices and approvals",
        sqlite: sqlite::EXIT_EVENTS,
        postgres: postgres::EXIT_EVENTS,
    },
    Step {
        version: 8,
        what: "village posts indexed by village",
        sqlite: sqlite::POSTS_BY_VILLAGE,
        postgres: "",
    },
    Step {
        version: 9,
        what: "one schema for both backends",
        sqlite: sqlite::ONE_LADDER,
        postgres: "",
    },
];

impl Step {
    fn statements(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
        }
    }
}

/// Runs step `version` on `db` (inside the caller's transaction).
pub fn run_step(db: &impl Db, version: u32) -> Result<()> {
    let step = usize::try_from(version)
        .ok()
        .and_then(|v| v.checked_sub(1))
        .and_then(|i| STEPS.get(i))
        .filter(|s| s.version == version)
        .ok_or_else(|| Error::Corrupt(format!("no schema step {version}")))?;
    if step.version == 1 && db.dialect() == Dialect::Sqlite {
        // The registry tables are the phones' own layout, shared with the device store.
        db.batch(fieldvisit_core::rows::REGISTRY_TABLES)?;
    }
    let sql = step.statements(db.dialect());
    if !sql.trim().is_empty() {
        db.batch(sql)?;
    }
    if step.version == 1 {
        seed(db)?;
    }
    Ok(())
}

/// Brings `db` from version `found` (0: an empty database) to [`VERSION`], refusing a
/// database written by newer code. The caller holds the write lock and stores the new version.
pub fn migrate(db: &impl Db, found: u32) -> Result<()> {
    if found > VERSION {
        return Err(Error::Core(fieldvisit_core::Error::DatabaseTooNew {
            found,
            supported: VERSION,
        }));
    }
    for version in found + 1..=VERSION {
        run_step(db, version)?;
    }
    Ok(())
}

/// The code lists every new database starts with.
fn seed(db: &impl Db) -> Result<()> {
    for e in codelist::seed() {
        db.execute(
            "INSERT INTO code_list (list, code, label_zh, label_en, parent)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            &[&e.list, &e.code, &e.label_zh, &e.label_en, &e.parent],
        )?;
    }
    Ok(())
}

/// The version of this list that a PostgreSQL `schema_version` value stands for. Values 1–4
/// were written by the PostgreSQL ladder that came before this list and stand for steps 4–7;
/// this list writes only versions from 9 up there, so a value from 5 to 8 was never written
/// by any release.
pub fn unified_version(postgres_stored: u32) -> Result<u32> {
    match postgres_stored {
        0 => Ok(0),
        legacy @ 1..=4 => Ok(legacy + 3),
        5..=8 => Err(Error::Corrupt(format!(
            "schema_version {postgres_stored} was never written by any release"
        ))),
        v => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_numbered_in_order_up_to_the_version() {
        for (i, step) in STEPS.iter().enumerate() {
            assert_eq!(
                usize::try_from(step.version).ok(),
                Some(i + 1),
                "{}",
                step.what
            );
        }
        assert_eq!(STEPS.last().map(|s| s.version), Some(VERSION));
    }

    #[test]
    fn postgres_versions_of_the_old_ladder_map_to_their_steps() {
        let mapped: Vec<u32> = (0..=4).filter_map(|v| unified_version(v).ok()).collect();
        assert_eq!(mapped, [0, 4, 5, 6, 7]);
        assert!(unified_version(6).is_err());
        assert_eq!(unified_version(VERSION).ok(), Some(VERSION));
    }
}
