//! The registry tables' SQLite layout, shared by the device store and the server's embedded
//! backend (the server's PostgreSQL schema declares the same columns in its own types).

/// The registry tables, shared by the device store and the server's embedded backend.
/// Statements are never edited once released (see `crate::sqlite`).
pub const REGISTRY_TABLES: &str = r#"
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
