//! The PostgreSQL backend's schema and its migrations: the same tables as the embedded backend
//! (the registry shared with the phones, plus devices, the journal, visits, feeds, conflicts,
//! dictionaries, the admin log and plate secrets) in PostgreSQL's types.
//!
//! Migrations have the same shape as the embedded backend's (`fieldvisit_core::sqlite::Schema`):
//! a [`VERSION`], a `create` that makes a new database at that version, and an `upgrade_from`
//! with one arm per step, `from => ...` upgrading to `from + 1`, never edited once released. The
//! version lives in the one-row table `schema_version` (PostgreSQL has no `user_version`).
//! [`migrate`] runs at connect time inside one transaction holding the writers' advisory lock,
//! so two server instances starting together cannot both create or upgrade; a database written
//! by newer code is refused and left untouched.
//!
//! Types: `BIGINT` for every i64 (times in ms, sequence numbers, counters), `INTEGER` where the
//! domain type is i32 or u16, `BYTEA` for keys, hashes and signatures, `DATE` for calendar days,
//! `DOUBLE PRECISION` for reals, `BOOLEAN` for flags, `JSONB` for the admin log's details and
//! conflict values. Operation payloads are `TEXT`, stored byte for byte: the device's signature
//! covers their exact bytes, and JSONB would re-encode them.

use postgres::Client;

use fieldvisit_core::domain::codelist;

use crate::error::{Error, Result};

/// Versions: 1 the first PostgreSQL release (equal in content to the embedded schema 3);
/// 2 dashboard accounts and sessions (`super::admin_user::SCHEMA`, the embedded schema 5);
/// 3 visit photos (`super::photos::SCHEMA`, the embedded schema 6);
/// 4 exit notices and approvals (`super::exit_event::SCHEMA`, the embedded schema 7).
pub const VERSION: u32 = 4;

const REGISTRY: &str = r#"
CREATE TABLE code_list (
    list     TEXT NOT NULL,
    code     TEXT NOT NULL,
    label_zh TEXT NOT NULL,
    label_en TEXT NOT NULL,
    parent   TEXT,
    PRIMARY KEY (list, code)
);

CREATE TABLE area (
    code            TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    parent          TEXT,
    is_poor_village BOOLEAN NOT NULL DEFAULT FALSE,
    lat             DOUBLE PRECISION,
    lon             DOUBLE PRECISION
);

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
    other_causes      JSONB NOT NULL DEFAULT '[]',
    poverty_status    TEXT NOT NULL,
    identified_year   INTEGER,
    exit_year         INTEGER,
    housing_area_m2   DOUBLE PRECISION,
    housing_structure TEXT,
    housing_safety    TEXT,
    drinking_water    TEXT,
    lat               DOUBLE PRECISION,
    lon               DOUBLE PRECISION
);
CREATE INDEX household_village ON household (village, code);

CREATE TABLE member (
    id                      TEXT PRIMARY KEY,
    household               TEXT NOT NULL REFERENCES household (id) ON DELETE CASCADE,
    person_code             TEXT UNIQUE,
    name                    TEXT NOT NULL,
    resident_id             TEXT,
    sex                     TEXT NOT NULL,
    birth_date              DATE,
    ethnicity               TEXT,
    relationship            TEXT NOT NULL,
    education               TEXT,
    school_status           TEXT,
    health                  TEXT,
    labour_skill            TEXT,
    work_status             TEXT,
    work_months             INTEGER,
    dibao                   BOOLEAN NOT NULL DEFAULT FALSE,
    wubao                   BOOLEAN NOT NULL DEFAULT FALSE,
    medical_insured         BOOLEAN NOT NULL DEFAULT FALSE,
    serious_illness_insured BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX member_household ON member (household);

CREATE TABLE cadre (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    phone     TEXT,
    work_unit TEXT,
    title     TEXT,
    rank      TEXT,
    role      TEXT NOT NULL
);

CREATE TABLE assignment (
    id        TEXT PRIMARY KEY,
    cadre     TEXT NOT NULL,
    household TEXT NOT NULL,
    from_date DATE NOT NULL,
    to_date   DATE
);
CREATE INDEX assignment_cadre ON assignment (cadre, household);
CREATE INDEX assignment_household ON assignment (household);

CREATE TABLE village_post (
    id        TEXT PRIMARY KEY,
    cadre     TEXT NOT NULL,
    village   TEXT NOT NULL,
    from_date DATE NOT NULL,
    to_date   DATE
);
CREATE INDEX village_post_cadre ON village_post (cadre);
CREATE INDEX village_post_village ON village_post (village);

CREATE TABLE measure (
    id           TEXT PRIMARY KEY,
    household    TEXT NOT NULL,
    category     TEXT NOT NULL,
    content      TEXT NOT NULL,
    date         DATE NOT NULL,
    cost_yuan    DOUBLE PRECISION,
    acknowledged BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX measure_household ON measure (household);

CREATE TABLE authority_key (
    key_id     INTEGER PRIMARY KEY,
    public_key BYTEA NOT NULL
);

CREATE TABLE field_clock (
    entity TEXT NOT NULL,
    id     TEXT NOT NULL,
    field  TEXT NOT NULL,
    hlc    BIGINT NOT NULL,
    device TEXT NOT NULL,
    PRIMARY KEY (entity, id, field)
);
"#;

const SERVER: &str = r#"
CREATE TABLE authority_secret (
    key_id     INTEGER PRIMARY KEY,
    secret     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE enrollment_code (
    code_hash  BYTEA PRIMARY KEY,
    cadre      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_by    TEXT,
    used_at    BIGINT
);

CREATE TABLE device (
    id               TEXT PRIMARY KEY,
    cadre            TEXT NOT NULL,
    public_key       BYTEA NOT NULL,
    token_hash       BYTEA NOT NULL UNIQUE,
    enrolled_at      BIGINT NOT NULL,
    revoked_at       BIGINT,
    revoked_reason   TEXT,
    head_seq         BIGINT NOT NULL DEFAULT 0,
    head_hash        BYTEA NOT NULL,
    feed_head        BIGINT NOT NULL DEFAULT 0,
    app_version      TEXT,
    last_sync_at     BIGINT,
    pending_reported BIGINT NOT NULL DEFAULT 0,
    clock_skew_ms    BIGINT NOT NULL DEFAULT 0,
    -- Set by `retire`: the next sync that leaves nothing pending revokes the device.
    retiring_at      BIGINT,
    retiring_reason  TEXT
);
CREATE INDEX device_cadre ON device (cadre);

-- Every operation every device pushed, accepted or rejected. server_seq comes from the
-- identity's sequence, drawn while the writers' advisory lock is held, so numbers increase in
-- commit order (a rolled-back transaction leaves a gap, which no reader depends on).
CREATE TABLE op (
    server_seq    BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    device        TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    op_id         BYTEA NOT NULL UNIQUE,
    hlc           BIGINT NOT NULL,
    wall          BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    prev_hash     BYTEA NOT NULL,
    signature     BYTEA NOT NULL,
    household     TEXT,
    received_at   BIGINT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('accepted', 'rejected')),
    reject_code   TEXT,
    reject_reason TEXT,
    UNIQUE (device, seq)
);
CREATE INDEX op_household ON op (household, server_seq) WHERE state = 'accepted';
CREATE INDEX op_rejected ON op (server_seq) WHERE state = 'rejected';
CREATE INDEX op_accepted ON op (server_seq) WHERE state = 'accepted';

CREATE TABLE visit (
    id          TEXT PRIMARY KEY,
    household   TEXT NOT NULL,
    cadre       TEXT NOT NULL,
    device      TEXT NOT NULL,
    server_seq  BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    manual      BOOLEAN NOT NULL,
    distance_m  DOUBLE PRECISION,
    record      TEXT NOT NULL
);
CREATE INDEX visit_household ON visit (household, recorded_at);
CREATE INDEX visit_cadre ON visit (cadre, recorded_at);

CREATE TABLE conflict (
    id             BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    entity         TEXT NOT NULL,
    entity_id      TEXT NOT NULL,
    field          TEXT NOT NULL,
    losing_value   JSONB NOT NULL,
    losing_hlc     BIGINT NOT NULL,
    losing_device  TEXT NOT NULL,
    winning_value  JSONB NOT NULL,
    winning_hlc    BIGINT NOT NULL,
    winning_device TEXT NOT NULL,
    at             BIGINT NOT NULL
);

CREATE TABLE feed (
    device TEXT NOT NULL,
    pos    BIGINT NOT NULL,
    kind   TEXT NOT NULL,
    ref    TEXT NOT NULL,
    PRIMARY KEY (device, pos)
);
CREATE INDEX feed_households ON feed (device, ref) WHERE kind = 'household';

-- Rows are never changed: a phone may hold any of them.
CREATE TABLE compression_dictionary (
    id         BIGINT PRIMARY KEY,
    bytes      BYTEA NOT NULL,
    samples    BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Every admin action, in the order committed. Append-only: the triggers refuse UPDATE,
-- DELETE (and so INSERT ... ON CONFLICT DO UPDATE) and TRUNCATE. They guard against mistakes,
-- not against the database's owner, who can drop a trigger.
CREATE TABLE admin_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  JSONB NOT NULL
);
CREATE FUNCTION admin_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'admin_log is append-only: % is refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER admin_log_no_change BEFORE UPDATE OR DELETE ON admin_log
    FOR EACH ROW EXECUTE FUNCTION admin_log_refuse();
CREATE TRIGGER admin_log_no_truncate BEFORE TRUNCATE ON admin_log
    FOR EACH STATEMENT EXECUTE FUNCTION admin_log_refuse();

CREATE TABLE schema_version (
    version INTEGER NOT NULL
);
"#;

/// Creates every table of [`VERSION`] and seeds the code lists.
fn create(client: &mut Client) -> Result<()> {
    client.batch_execute(REGISTRY)?;
    client.batch_execute(SERVER)?;
    client.batch_execute(super::admin_user::SCHEMA)?;
    client.batch_execute(super::photos::SCHEMA)?;
    client.batch_execute(super::exit_event::SCHEMA)?;
    let insert = client.prepare(
        "INSERT INTO code_list (list, code, label_zh, label_en, parent)
         VALUES ($1, $2, $3, $4, $5)",
    )?;
    for e in codelist::seed() {
        client.execute(
            &insert,
            &[&e.list, &e.code, &e.label_zh, &e.label_en, &e.parent],
        )?;
    }
    client.execute(
        "INSERT INTO schema_version (version) VALUES ($1)",
        &[&i32::try_from(VERSION).unwrap_or(i32::MAX)],
    )?;
    Ok(())
}

/// One arm per step, `from => ...` upgrading to `from + 1`. Old steps are never edited.
fn upgrade_from(client: &mut Client, from: u32) -> Result<()> {
    match from {
        // Dashboard accounts and sessions.
        1 => Ok(client.batch_execute(super::admin_user::SCHEMA)?),
        // Visit photos.
        2 => Ok(client.batch_execute(super::photos::SCHEMA)?),
        // Exit notices and approvals (self-contained: only this arm names its version).
        3 => Ok(client.batch_execute(super::exit_event::SCHEMA)?),
        _ => Err(Error::Corrupt(format!(
            "no upgrade step from PostgreSQL schema {from}"
        ))),
    }
}

/// The version stored in the current schema (0 when it has no tables yet).
fn stored_version(client: &mut Client) -> Result<u32> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let row = client.query_opt("SELECT max(version) FROM schema_version", &[])?;
    let version: Option<i32> = row.and_then(|r| r.get(0));
    Ok(version.and_then(|v| u32::try_from(v).ok()).unwrap_or(0))
}

/// Brings the schema to [`VERSION`] inside one transaction that holds the writers' advisory
/// lock `lock_key` (the caller's connection is outside any transaction).
pub fn migrate(client: &mut Client, lock_key: i64) -> Result<()> {
    client.batch_execute("BEGIN")?;
    let result = (|| -> Result<()> {
        client.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key])?;
        let found = stored_version(client)?;
        if found > VERSION {
            return Err(Error::Core(fieldvisit_core::Error::DatabaseTooNew {
                found,
                supported: VERSION,
            }));
        }
        if found == 0 {
            create(client)?;
        } else if found < VERSION {
            for from in found..VERSION {
                upgrade_from(client, from)?;
            }
            client.execute(
                "UPDATE schema_version SET version = $1",
                &[&i32::try_from(VERSION).unwrap_or(i32::MAX)],
            )?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(client.batch_execute("COMMIT")?),
        Err(e) => {
            // The original error matters more than a failed rollback on a broken connection.
            let _ = client.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}
