//! The embedded backend's schema: the registry tables shared with the device store, plus the
//! server's own (devices, the journal of every device's operations, visits, feeds, conflicts).
//! Brought up to date by the one migration mechanism, `fieldvisit_core::sqlite`.

use rusqlite::{Transaction, params};

use fieldvisit_core::Result;
use fieldvisit_core::domain::codelist;
use fieldvisit_core::sqlite::Schema;

/// Versions: 1 the first release; 2 compression dictionaries; 3 the append-only admin log;
/// 4 retiring devices; 5 dashboard accounts and sessions; 6 visit photos; 7 exit notices and
/// approvals; 8 village posts indexed by village.
pub const VERSION: u32 = 8;

pub const SERVER: Schema = Schema {
    name: "server database",
    version: VERSION,
    create,
    upgrade_from,
};

pub const CREATE: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value ANY NOT NULL
) STRICT, WITHOUT ROWID;

-- Private halves of the plate-issuing keys (public halves are in authority_key).
CREATE TABLE authority_secret (
    key_id     INTEGER PRIMARY KEY,
    secret     BLOB NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE enrollment_code (
    code_hash  BLOB PRIMARY KEY,
    cadre      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_by    TEXT,
    used_at    INTEGER
) STRICT;

CREATE TABLE device (
    id               TEXT PRIMARY KEY,
    cadre            TEXT NOT NULL,
    public_key       BLOB NOT NULL,
    token_hash       BLOB NOT NULL UNIQUE,
    enrolled_at      INTEGER NOT NULL,
    revoked_at       INTEGER,
    revoked_reason   TEXT,
    head_seq         INTEGER NOT NULL DEFAULT 0,
    head_hash        BLOB NOT NULL,
    feed_head        INTEGER NOT NULL DEFAULT 0,
    app_version      TEXT,
    last_sync_at     INTEGER,
    pending_reported INTEGER NOT NULL DEFAULT 0,
    clock_skew_ms    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX device_cadre ON device (cadre);

-- Every operation every device pushed, accepted or rejected, in commit order.
CREATE TABLE op (
    server_seq    INTEGER PRIMARY KEY,
    device        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    op_id         BLOB NOT NULL UNIQUE,
    hlc           INTEGER NOT NULL,
    wall          INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    prev_hash     BLOB NOT NULL,
    signature     BLOB NOT NULL,
    household     TEXT,
    received_at   INTEGER NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('accepted', 'rejected')),
    reject_code   TEXT,
    reject_reason TEXT,
    UNIQUE (device, seq)
) STRICT;
CREATE INDEX op_household ON op (household, server_seq) WHERE state = 'accepted';
CREATE INDEX op_rejected ON op (server_seq) WHERE state = 'rejected';

CREATE TABLE visit (
    id          TEXT PRIMARY KEY,
    household   TEXT NOT NULL,
    cadre       TEXT NOT NULL,
    device      TEXT NOT NULL,
    server_seq  INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    manual      INTEGER NOT NULL,
    distance_m  REAL,
    record      TEXT NOT NULL
) STRICT;
CREATE INDEX visit_household ON visit (household, recorded_at);
CREATE INDEX visit_cadre ON visit (cadre, recorded_at);

CREATE TABLE conflict (
    id             INTEGER PRIMARY KEY,
    entity         TEXT NOT NULL,
    entity_id      TEXT NOT NULL,
    field          TEXT NOT NULL,
    losing_value   TEXT NOT NULL,
    losing_hlc     INTEGER NOT NULL,
    losing_device  TEXT NOT NULL,
    winning_value  TEXT NOT NULL,
    winning_hlc    INTEGER NOT NULL,
    winning_device TEXT NOT NULL,
    at             INTEGER NOT NULL
) STRICT;

-- What each device has yet to pull, in order; entries refer to rows.
CREATE TABLE feed (
    device TEXT NOT NULL,
    pos    INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    ref    TEXT NOT NULL,
    PRIMARY KEY (device, pos)
) STRICT, WITHOUT ROWID;
"#;

/// Version 2: compression dictionaries the server trained from accepted operations; the
/// newest is the one advertised to phones. Rows are never changed: a phone may hold any of them.
const V2: &str = r#"
CREATE TABLE compression_dictionary (
    id         INTEGER PRIMARY KEY,
    bytes      BLOB NOT NULL,
    samples    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
"#;

/// Version 4: a device being retired (`fieldvisit-server retire`) still syncs until its final
/// upload leaves nothing pending, and is then revoked. Self-contained, so that it can be
/// renumbered if another step lands first: only its arm in `upgrade_from` names a version.
const RETIRING: &str = r#"
ALTER TABLE device ADD COLUMN retiring_at INTEGER;
ALTER TABLE device ADD COLUMN retiring_reason TEXT;
"#;

/// Every accepted visit looks up the cadres responsible for its household, and village posts
/// are found by the household's village: without this index each lookup scanned every post in
/// the region (a fifth of the writer's time in the backlog benchmark; a province has 100x the
/// posts). The device store holds one cadre's few posts and needs no such index.
const POSTS_BY_VILLAGE: &str = r#"
CREATE INDEX village_post_village ON village_post (village);
"#;

fn create(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(fieldvisit_core::rows::REGISTRY_TABLES)?;
    tx.execute_batch(CREATE)?;
    tx.execute_batch(V2)?;
    tx.execute_batch(super::admin_log::SCHEMA)?;
    tx.execute_batch(RETIRING)?;
    tx.execute_batch(super::admin_user::SCHEMA)?;
    tx.execute_batch(super::photos::SCHEMA)?;
    tx.execute_batch(super::exit_event::SCHEMA)?;
    tx.execute_batch(POSTS_BY_VILLAGE)?;
    for e in codelist::seed() {
        tx.execute(
            "INSERT INTO code_list (list, code, label_zh, label_en, parent)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![e.list, e.code, e.label_zh, e.label_en, e.parent],
        )?;
    }
    Ok(())
}

fn upgrade_from(tx: &Transaction<'_>, from: u32) -> Result<()> {
    // One arm per step, `from => ...` upgrading to `from + 1`. Old steps are never edited.
    match from {
        // Compression dictionaries.
        1 => Ok(tx.execute_batch(V2)?),
        // The append-only admin log.
        2 => Ok(tx.execute_batch(super::admin_log::SCHEMA)?),
        // Retiring devices.
        3 => Ok(tx.execute_batch(RETIRING)?),
        // Dashboard accounts and sessions.
        4 => Ok(tx.execute_batch(super::admin_user::SCHEMA)?),
        // Visit photos.
        5 => Ok(tx.execute_batch(super::photos::SCHEMA)?),
        // Exit notices and approvals (self-contained: only this arm names its version).
        6 => Ok(tx.execute_batch(super::exit_event::SCHEMA)?),
        // Village posts indexed by village.
        7 => Ok(tx.execute_batch(POSTS_BY_VILLAGE)?),
        _ => Err(fieldvisit_core::Error::Corrupt(format!(
            "no upgrade step from server schema {from}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

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
        let mut conn = Connection::open_in_memory().expect("open");
        let tx = conn.transaction().expect("transaction");
        create(&tx).expect("create");
        tx.commit().expect("commit");
        let steps = plan(
            &conn,
            fieldvisit_core::rows::CADRES_IN_SCOPE,
            ["150781100001001", "2026-11-29"],
        );
        assert!(
            steps.iter().any(|s| s.contains("village_post_village")),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.starts_with("SCAN")), "{steps:?}");
    }
}
