//! The PostgreSQL backend's schema steps, in PostgreSQL's types: `BIGINT` for every i64
//! (times in ms, sequence numbers, counters), `INTEGER` where the domain type is i32 or u16,
//! `BYTEA` for keys, hashes and signatures, `DATE` for calendar days, `DOUBLE PRECISION` for
//! reals, `BOOLEAN` for flags, `JSONB` for the admin log's details, conflict values and a
//! household's other causes. Operation payloads are `TEXT`, stored byte for byte: the device's
//! signature covers their exact bytes, and JSONB would re-encode them.
//!
//! PostgreSQL's first release (step 1 here) already held what the embedded schema gained in
//! steps 2, 3, 4 and 8, so those steps are empty on this side. Released steps are never edited.

/// Step 1: the registry, devices, the journal, visits, conflicts, feeds, dictionaries, the
/// admin log and plate secrets.
pub const FIRST: &str = r#"
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
"#;
/// Step 5: dashboard accounts and sessions.
pub const ACCOUNTS: &str = r#"
CREATE TABLE admin_user (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('sync-admin', 'supervisor')),
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  BIGINT
);

CREATE TABLE admin_session (
    token_hash BYTEA PRIMARY KEY,
    admin      TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
CREATE INDEX admin_session_admin ON admin_session (admin);
CREATE INDEX admin_session_seen ON admin_session (last_seen);
"#;
/// Step 6: visit photos.
pub const PHOTOS: &str = r#"
CREATE TABLE photo (
    sha256    TEXT PRIMARY KEY,
    size      BIGINT NOT NULL,
    bytes     BYTEA NOT NULL,
    stored_at BIGINT NOT NULL
);

CREATE TABLE photo_chunk (
    sha256 TEXT NOT NULL,
    idx    INTEGER NOT NULL,
    bytes  BYTEA NOT NULL,
    PRIMARY KEY (sha256, idx)
);

CREATE TABLE visit_photo (
    visit  TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    device TEXT NOT NULL,
    size   BIGINT NOT NULL,
    PRIMARY KEY (visit, sha256)
);
CREATE INDEX visit_photo_hash ON visit_photo (sha256, device);
"#;
/// Step 7: exit notices and approvals.
pub const EXIT_EVENTS: &str = r#"
CREATE TABLE exit_event (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    household TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('notice', 'approval')),
    day       TEXT NOT NULL,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL
);
CREATE INDEX exit_event_household ON exit_event (household, id);
"#;
