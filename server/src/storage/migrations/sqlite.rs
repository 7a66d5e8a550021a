//! The embedded backend's schema steps, in SQLite's types (`STRICT` tables: INTEGER for
//! every integer, flag and time in ms, TEXT for ids, dates and JSON, BLOB for keys, hashes and
//! signatures). Released steps are never edited; [`super::STEPS`] says which step each is.

/// Step 1 beside the registry tables (`fieldvisit_core::rows::REGISTRY_TABLES`): devices,
/// the journal of every device's operations, visits, conflicts and feeds.
pub const FIRST: &str = r#"
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
/// Step 2: compression dictionaries the server trained from accepted operations; the newest
/// is the one advertised to phones. Rows are never changed: a phone may hold any of them.
pub const DICTIONARIES: &str = r#"
CREATE TABLE compression_dictionary (
    id         INTEGER PRIMARY KEY,
    bytes      BLOB NOT NULL,
    samples    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
"#;
/// Step 3: the append-only admin log.
pub const ADMIN_LOG: &str = r#"
-- Every admin action (load a region, issue an enrollment code, revoke a device, reassign a
-- household, print or reissue plates), in the order they were committed. Append-only.
CREATE TABLE admin_log (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL CHECK (json_valid(detail))
) STRICT;
CREATE TRIGGER admin_log_no_update BEFORE UPDATE ON admin_log
BEGIN
    SELECT RAISE(ABORT, 'admin_log is append-only: an entry cannot be changed');
END;
CREATE TRIGGER admin_log_no_delete BEFORE DELETE ON admin_log
BEGIN
    SELECT RAISE(ABORT, 'admin_log is append-only: an entry cannot be deleted');
END;
-- INSERT OR REPLACE deletes the old row without firing delete triggers (unless recursive
-- triggers are on), so an insert that names an existing id is refused before it gets there.
CREATE TRIGGER admin_log_no_replace BEFORE INSERT ON admin_log
WHEN EXISTS (SELECT 1 FROM admin_log WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'admin_log is append-only: an entry cannot be replaced');
END;
"#;
/// Step 4: a device being retired (`fieldvisit-server retire`) still syncs until its final
/// upload leaves nothing pending, and is then revoked.
pub const RETIRING: &str = r#"
ALTER TABLE device ADD COLUMN retiring_at INTEGER;
ALTER TABLE device ADD COLUMN retiring_reason TEXT;
"#;
/// Step 5: dashboard accounts and sessions.
pub const ACCOUNTS: &str = r#"
-- Dashboard accounts. The password is kept only as an Argon2id PHC string.
CREATE TABLE admin_user (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('sync-admin', 'supervisor')),
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER
) STRICT;

-- Logged-in sessions, by the SHA-256 hash of the cookie token (the token is never stored).
CREATE TABLE admin_session (
    token_hash BLOB PRIMARY KEY,
    admin      TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
) STRICT;
CREATE INDEX admin_session_admin ON admin_session (admin);
CREATE INDEX admin_session_seen ON admin_session (last_seen);
"#;
/// Step 6: visit photos.
pub const PHOTOS: &str = r#"
-- Complete, hash-checked photos, one row per hash however many visits name it.
CREATE TABLE photo (
    sha256    TEXT PRIMARY KEY,
    size      INTEGER NOT NULL,
    bytes     BLOB NOT NULL,
    stored_at INTEGER NOT NULL
) STRICT;

-- Chunks of photos being uploaded, until the photo is assembled or discarded.
CREATE TABLE photo_chunk (
    sha256 TEXT NOT NULL,
    idx    INTEGER NOT NULL,
    bytes  BLOB NOT NULL,
    PRIMARY KEY (sha256, idx)
) STRICT, WITHOUT ROWID;

-- Which accepted visits name which photo, from which device, with the size each declared.
CREATE TABLE visit_photo (
    visit  TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    device TEXT NOT NULL,
    size   INTEGER NOT NULL,
    PRIMARY KEY (visit, sha256)
) STRICT, WITHOUT ROWID;
CREATE INDEX visit_photo_hash ON visit_photo (sha256, device);
"#;
/// Step 7: exit notices and approvals.
pub const EXIT_EVENTS: &str = r#"
-- The admin steps of a household's exit procedure (退出), in the order they were recorded:
-- the village notice (公示, `day` is its first day) and the county approval. Never changed.
CREATE TABLE exit_event (
    id        INTEGER PRIMARY KEY,
    household TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('notice', 'approval')),
    day       TEXT NOT NULL,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL
) STRICT;
CREATE INDEX exit_event_household ON exit_event (household, id);
"#;
/// Step 8: every accepted visit looks up the cadres responsible for its household, and village
/// posts are found by the household's village: without this index each lookup scanned every
/// post in the region (a fifth of the writer's time in the backlog benchmark; a province has
/// 100x the posts).
pub const POSTS_BY_VILLAGE: &str = r#"
CREATE INDEX village_post_village ON village_post (village);
"#;
/// Step 9: the two backends' schemas made equal, so one list of steps serves both from here
/// on (the schema-comparison test checks them): the indexes PostgreSQL's first release had
/// and this schema lacked.
pub const ONE_LADDER: &str = r#"
-- The server never used the device store's key-value table.
DROP TABLE meta;
-- A village's households are read in door-plate order.
DROP INDEX household_village;
CREATE INDEX household_village ON household (village, code);
-- Training samples are the newest accepted operations.
CREATE INDEX op_accepted ON op (server_seq) WHERE state = 'accepted';
-- A device's households sent in full, for a retirement's purge list.
CREATE INDEX feed_households ON feed (device, ref) WHERE kind = 'household';
"#;
