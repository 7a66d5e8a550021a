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

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::domain::codelist;
use crate::error::{Error, Result};

pub const VERSION: u32 = 1;

/// The current schema, as a fresh store gets it.
pub const CREATE: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value ANY NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE code_list (
    list     TEXT NOT NULL,
    code     TEXT NOT NULL,
    label_zh TEXT NOT NULL,
    label_en TEXT NOT NULL,
    parent   TEXT,
    PRIMARY KEY (list, code)
) STRICT, WITHOUT ROWID;

CREATE TABLE area (
    code            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    parent          TEXT,
    is_poor_village INTEGER NOT NULL DEFAULT 0,
    lat             REAL,
    lon             REAL
) STRICT;

CREATE TABLE household (
    id                TEXT PRIMARY KEY,
    code              TEXT NOT NULL UNIQUE,
    plate_issue       INTEGER NOT NULL DEFAULT 1,
    village           TEXT NOT NULL,
    group_name        TEXT,
    head              TEXT,
    phone             TEXT,
    ident_standard    TEXT,
    attribute         TEXT NOT NULL,
    main_cause        TEXT NOT NULL,
    other_causes      TEXT NOT NULL DEFAULT '[]',
    poverty_status    TEXT NOT NULL,
    identified_year   INTEGER,
    exit_year         INTEGER,
    housing_area_m2   REAL,
    housing_structure TEXT,
    housing_safety    TEXT,
    drinking_water    TEXT,
    lat               REAL,
    lon               REAL
) STRICT;
CREATE INDEX household_village ON household (village);

CREATE TABLE member (
    id                      TEXT PRIMARY KEY,
    household               TEXT NOT NULL REFERENCES household (id) ON DELETE CASCADE,
    person_code             TEXT UNIQUE,
    name                    TEXT NOT NULL,
    resident_id             TEXT,
    sex                     TEXT NOT NULL,
    birth_date              TEXT,
    ethnicity               TEXT,
    relationship            TEXT NOT NULL,
    education               TEXT,
    school_status           TEXT,
    health                  TEXT,
    labour_skill            TEXT,
    work_status             TEXT,
    work_months             INTEGER,
    dibao                   INTEGER NOT NULL DEFAULT 0,
    wubao                   INTEGER NOT NULL DEFAULT 0,
    medical_insured         INTEGER NOT NULL DEFAULT 0,
    serious_illness_insured INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX member_household ON member (household);

CREATE TABLE cadre (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    phone     TEXT,
    work_unit TEXT,
    title     TEXT,
    rank      TEXT,
    role      TEXT NOT NULL
) STRICT;

CREATE TABLE assignment (
    id        TEXT PRIMARY KEY,
    cadre     TEXT NOT NULL,
    household TEXT NOT NULL,
    from_date TEXT NOT NULL,
    to_date   TEXT
) STRICT;
CREATE INDEX assignment_cadre ON assignment (cadre, household);
CREATE INDEX assignment_household ON assignment (household);

CREATE TABLE village_post (
    id        TEXT PRIMARY KEY,
    cadre     TEXT NOT NULL,
    village   TEXT NOT NULL,
    from_date TEXT NOT NULL,
    to_date   TEXT
) STRICT;
CREATE INDEX village_post_cadre ON village_post (cadre);

CREATE TABLE measure (
    id           TEXT PRIMARY KEY,
    household    TEXT NOT NULL,
    category     TEXT NOT NULL,
    content      TEXT NOT NULL,
    date         TEXT NOT NULL,
    cost_yuan    REAL,
    acknowledged INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX measure_household ON measure (household);

CREATE TABLE authority_key (
    key_id     INTEGER PRIMARY KEY,
    public_key BLOB NOT NULL
) STRICT;

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

-- The clock of the last write to each household or member field, for per-field
-- last-writer-wins merging with what the server sends.
CREATE TABLE field_clock (
    entity TEXT NOT NULL,
    id     TEXT NOT NULL,
    field  TEXT NOT NULL,
    hlc    INTEGER NOT NULL,
    device TEXT NOT NULL,
    PRIMARY KEY (entity, id, field)
) STRICT, WITHOUT ROWID;
"#;

/// Connection settings every connection gets, writer or reader.
fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
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
pub fn open_writer(path: &std::path::Path) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    // Touching the file before WAL surfaces "not a database" as a typed error right away.
    let found = user_version(&conn)?;
    if found > VERSION {
        return Err(Error::DatabaseTooNew {
            found,
            supported: VERSION,
        });
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    if found < VERSION {
        let tx = Transaction::new(&mut conn, TransactionBehavior::Immediate)?;
        // Re-read inside the lock: another process may have upgraded meanwhile.
        let found = user_version(&tx)?;
        if found == 0 {
            create(&tx)?;
        } else {
            for from in found..VERSION {
                upgrade_from(&tx, from)?;
            }
        }
        tx.pragma_update(None, "user_version", VERSION)?;
        tx.commit()?;
    }
    Ok(conn)
}

/// Opens a reader connection on a store the writer has already brought up to date.
pub fn open_reader(path: &std::path::Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    let found = user_version(&conn)?;
    if found != VERSION {
        return Err(Error::Corrupt(format!(
            "reader found schema {found}, expected {VERSION}"
        )));
    }
    Ok(conn)
}

fn create(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(CREATE)?;
    let mut insert = tx.prepare(
        "INSERT INTO code_list (list, code, label_zh, label_en, parent) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for e in codelist::seed() {
        insert.execute(params![e.list, e.code, e.label_zh, e.label_en, e.parent])?;
    }
    Ok(())
}

/// One step from schema `from` to `from + 1`.
fn upgrade_from(_tx: &Transaction<'_>, from: u32) -> Result<()> {
    // Version 1 is the first released schema; steps are added here as `from => ...` arms.
    Err(Error::Corrupt(format!(
        "no upgrade step from schema version {from}"
    )))
}
