//! The device store's schema and its one migration mechanism.
//!
//! The schema version lives in `PRAGMA user_version`. Opening a store brings it to [`VERSION`]
//! inside one IMMEDIATE transaction: a new file gets [`CREATE`] and the seeded code lists; an
//! older one runs `upgrade_from` step by step. A file written by a newer app is refused and
//! left exactly as it is. Nothing here ever deletes a store: on a phone the journal may hold
//! visits that exist nowhere else.
//!
//! Rules for changing the schema: never edit a released step. Add `upgrade_from(N)`, bump
//! [`VERSION`], and update [`CREATE`] so that a fresh store equals an upgraded one —
//! `tests/migration.rs` upgrades the frozen v1 fixture and compares the two.

use rusqlite::{Transaction, params};

use crate::domain::codelist;
use crate::error::{Error, Result};
use crate::sqlite::Schema;

/// Versions: 1 the first release; 2 visit photos.
pub const VERSION: u32 = 2;

/// The device store's schema, for [`crate::sqlite::open_writer`].
pub const DEVICE: Schema = Schema {
    name: "device store",
    version: VERSION,
    create,
    upgrade_from,
};

/// The device's own tables; a fresh store gets [`crate::rows::REGISTRY_TABLES`] and these.
pub const CREATE: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value ANY NOT NULL
) STRICT, WITHOUT ROWID;

-- This device's operations, in the order they were made. The row is written in the same
-- transaction as the change it describes.
CREATE TABLE journal (
    seq           INTEGER PRIMARY KEY,
    op_id         BLOB NOT NULL UNIQUE,
    hlc           INTEGER NOT NULL,
    wall          INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    prev_hash     BLOB NOT NULL,
    hash          BLOB NOT NULL,
    signature     BLOB NOT NULL,
    household     TEXT,
    state         TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'synced', 'rejected')),
    reject_reason TEXT
) STRICT;
CREATE INDEX journal_state ON journal (state, seq);

-- Visits as shown: this device's own and the history the server sends for households in
-- scope. `original` is the content as first recorded; `content` has amendments applied.
CREATE TABLE visit (
    id            TEXT PRIMARY KEY,
    household     TEXT NOT NULL,
    cadre         TEXT NOT NULL,
    device        TEXT NOT NULL,
    local_seq     INTEGER REFERENCES journal (seq),
    hlc           INTEGER NOT NULL,
    recorded_at   INTEGER NOT NULL,
    identified    TEXT NOT NULL,
    location      TEXT,
    distance_m    REAL,
    kind          TEXT NOT NULL,
    follow_up_due TEXT,
    original      TEXT NOT NULL,
    content       TEXT NOT NULL
) STRICT;
CREATE INDEX visit_household ON visit (household, recorded_at);
CREATE INDEX visit_follow_up ON visit (follow_up_due) WHERE follow_up_due IS NOT NULL;

CREATE TABLE visit_amendment (
    op_id   BLOB PRIMARY KEY,
    visit   TEXT NOT NULL REFERENCES visit (id) ON DELETE CASCADE,
    hlc     INTEGER NOT NULL,
    device  TEXT NOT NULL,
    reason  TEXT NOT NULL,
    changes TEXT NOT NULL
) STRICT;
CREATE INDEX visit_amendment_visit ON visit_amendment (visit, hlc);
"#;

fn create(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(crate::rows::REGISTRY_TABLES)?;
    tx.execute_batch(CREATE)?;
    tx.execute_batch(super::photos::SCHEMA)?;
    let mut insert = tx.prepare(
        "INSERT INTO code_list (list, code, label_zh, label_en, parent) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for e in codelist::seed() {
        insert.execute(params![e.list, e.code, e.label_zh, e.label_en, e.parent])?;
    }
    Ok(())
}

/// One step from schema `from` to `from + 1`.
fn upgrade_from(tx: &Transaction<'_>, from: u32) -> Result<()> {
    // One arm per step, `from => ...` upgrading to `from + 1`. Old steps are never edited.
    match from {
        // Visit photos.
        1 => Ok(tx.execute_batch(super::photos::SCHEMA)?),
        _ => Err(Error::Corrupt(format!(
            "no upgrade step from schema version {from}"
        ))),
    }
}
