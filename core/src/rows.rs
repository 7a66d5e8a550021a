//! SQL for the registry tables (areas, households, members, cadres, assignments, village posts,
//! measures, code lists, authority keys and field clocks). The device store and the server's
//! embedded backend keep these tables in the same layout ([`REGISTRY_TABLES`]), so both read
//! and write them through these functions.

use chrono::NaiveDate;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;

use crate::clock::Hlc;
use crate::codes::HumanCode;
use crate::domain::fields::Entity;
use crate::domain::{
    Area, Assignment, Cadre, CodeEntry, GeoPoint, Household, Measure, Member, RegistryRecord,
    VillagePost,
};
use crate::error::{Error, Result};
use crate::ids::{AssignmentId, CadreId, DeviceId, HouseholdId, MeasureId, MemberId, PostId};
use crate::plate::AuthorityKey;
use crate::protocol::{FieldClock, FieldClocks};

pub fn put_authority_key(conn: &Connection, key: &AuthorityKey) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO authority_key (key_id, public_key) VALUES (?1, ?2)
         ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key",
    )?
    .execute(params![key.key_id, key.public_key.as_slice()])?;
    Ok(())
}

fn json<T: Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

fn date_text(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.to_string())
}

pub fn put_record(conn: &Connection, record: &RegistryRecord) -> Result<()> {
    match record {
        RegistryRecord::Code(c) => {
            conn.prepare_cached(
                "INSERT INTO code_list (list, code, label_zh, label_en, parent)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (list, code) DO UPDATE SET label_zh = excluded.label_zh,
                     label_en = excluded.label_en, parent = excluded.parent",
            )?
            .execute(params![c.list, c.code, c.label_zh, c.label_en, c.parent])?;
        }
        RegistryRecord::Area(a) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO area (code, name, parent, is_poor_village, lat, lon)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                a.code,
                a.name,
                a.parent,
                a.is_poor_village,
                a.location.map(|p| p.lat),
                a.location.map(|p| p.lon)
            ])?;
        }
        RegistryRecord::Household(h) => {
            conn.prepare_cached(
                "INSERT INTO household (id, code, plate_issue, village, group_name, head, phone,
                     ident_standard, attribute, main_cause, other_causes, poverty_status,
                     identified_year, exit_year, housing_area_m2, housing_structure,
                     housing_safety, drinking_water, lat, lon)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                     ?17, ?18, ?19, ?20)
                 ON CONFLICT (id) DO UPDATE SET code = excluded.code,
                     plate_issue = excluded.plate_issue, village = excluded.village,
                     group_name = excluded.group_name, head = excluded.head,
                     phone = excluded.phone, ident_standard = excluded.ident_standard,
                     attribute = excluded.attribute, main_cause = excluded.main_cause,
                     other_causes = excluded.other_causes,
                     poverty_status = excluded.poverty_status,
                     identified_year = excluded.identified_year, exit_year = excluded.exit_year,
                     housing_area_m2 = excluded.housing_area_m2,
                     housing_structure = excluded.housing_structure,
                     housing_safety = excluded.housing_safety,
                     drinking_water = excluded.drinking_water, lat = excluded.lat,
                     lon = excluded.lon",
            )?
            .execute(params![
                h.id.as_str(),
                h.code.as_str(),
                h.plate_issue,
                h.village,
                h.group_name,
                h.head.as_ref().map(MemberId::as_str),
                h.phone,
                h.ident_standard,
                h.attribute,
                h.main_cause,
                json(&h.other_causes)?,
                h.poverty_status,
                h.identified_year,
                h.exit_year,
                h.housing_area_m2,
                h.housing_structure,
                h.housing_safety,
                h.drinking_water,
                h.location.map(|p| p.lat),
                h.location.map(|p| p.lon),
            ])?;
        }
        RegistryRecord::Member(m) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO member (id, household, person_code, name, resident_id, sex,
                     birth_date, ethnicity, relationship, education, school_status, health,
                     labour_skill, work_status, work_months, dibao, wubao, medical_insured,
                     serious_illness_insured)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                     ?17, ?18, ?19)",
            )?
            .execute(params![
                m.id.as_str(),
                m.household.as_str(),
                m.person_code.as_ref().map(HumanCode::as_str),
                m.name,
                m.resident_id,
                m.sex,
                date_text(m.birth_date),
                m.ethnicity,
                m.relationship,
                m.education,
                m.school_status,
                m.health,
                m.labour_skill,
                m.work_status,
                m.work_months,
                m.dibao,
                m.wubao,
                m.medical_insured,
                m.serious_illness_insured,
            ])?;
        }
        RegistryRecord::Cadre(c) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO cadre (id, name, phone, work_unit, title, rank, role)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                c.id.as_str(),
                c.name,
                c.phone,
                c.work_unit,
                c.title,
                c.rank,
                c.role
            ])?;
        }
        RegistryRecord::Assignment(a) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO assignment (id, cadre, household, from_date, to_date)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                a.id.as_str(),
                a.cadre.as_str(),
                a.household.as_str(),
                a.from.to_string(),
                date_text(a.to)
            ])?;
        }
        RegistryRecord::VillagePost(p) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO village_post (id, cadre, village, from_date, to_date)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                p.id.as_str(),
                p.cadre.as_str(),
                p.village,
                p.from.to_string(),
                date_text(p.to)
            ])?;
        }
        RegistryRecord::Measure(m) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO measure (id, household, category, content, date,
                     cost_yuan, acknowledged)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                m.id.as_str(),
                m.household.as_str(),
                m.category,
                m.content,
                m.date.to_string(),
                m.cost_yuan,
                m.acknowledged
            ])?;
        }
        RegistryRecord::AuthorityKey(k) => put_authority_key(conn, k)?,
    }
    Ok(())
}

fn opt_point(lat: Option<f64>, lon: Option<f64>) -> Option<GeoPoint> {
    match (lat, lon) {
        (Some(lat), Some(lon)) => Some(GeoPoint { lat, lon }),
        _ => None,
    }
}

fn corrupt<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Corrupt(format!("{what}: {e}"))
}

fn parse_date(text: Option<String>) -> Result<Option<NaiveDate>> {
    text.map(|t| t.parse::<NaiveDate>().map_err(corrupt("stored date")))
        .transpose()
}

const HOUSEHOLD_COLUMNS: &str = "id, code, plate_issue, village, group_name, head, phone,
    ident_standard, attribute, main_cause, other_causes, poverty_status, identified_year,
    exit_year, housing_area_m2, housing_structure, housing_safety, drinking_water, lat, lon";

fn household_from_row(r: &Row<'_>) -> Result<Household> {
    let causes: String = r.get(10)?;
    Ok(Household {
        id: HouseholdId::new(r.get::<_, String>(0)?).map_err(corrupt("household id"))?,
        code: HumanCode::parse(&r.get::<_, String>(1)?).map_err(corrupt("household code"))?,
        plate_issue: r.get(2)?,
        village: r.get(3)?,
        group_name: r.get(4)?,
        head: r
            .get::<_, Option<String>>(5)?
            .map(MemberId::new)
            .transpose()
            .map_err(corrupt("head"))?,
        phone: r.get(6)?,
        ident_standard: r.get(7)?,
        attribute: r.get(8)?,
        main_cause: r.get(9)?,
        other_causes: serde_json::from_str(&causes).map_err(corrupt("other causes"))?,
        poverty_status: r.get(11)?,
        identified_year: r.get(12)?,
        exit_year: r.get(13)?,
        housing_area_m2: r.get(14)?,
        housing_structure: r.get(15)?,
        housing_safety: r.get(16)?,
        drinking_water: r.get(17)?,
        location: opt_point(r.get(18)?, r.get(19)?),
    })
}

const MEMBER_COLUMNS: &str = "id, household, person_code, name, resident_id, sex, birth_date,
    ethnicity, relationship, education, school_status, health, labour_skill, work_status,
    work_months, dibao, wubao, medical_insured, serious_illness_insured";

fn member_from_row(r: &Row<'_>) -> Result<Member> {
    Ok(Member {
        id: MemberId::new(r.get::<_, String>(0)?).map_err(corrupt("member id"))?,
        household: HouseholdId::new(r.get::<_, String>(1)?).map_err(corrupt("household id"))?,
        person_code: r
            .get::<_, Option<String>>(2)?
            .map(|c| HumanCode::parse(&c))
            .transpose()
            .map_err(corrupt("person code"))?,
        name: r.get(3)?,
        resident_id: r.get(4)?,
        sex: r.get(5)?,
        birth_date: parse_date(r.get(6)?)?,
        ethnicity: r.get(7)?,
        relationship: r.get(8)?,
        education: r.get(9)?,
        school_status: r.get(10)?,
        health: r.get(11)?,
        labour_skill: r.get(12)?,
        work_status: r.get(13)?,
        work_months: r.get(14)?,
        dibao: r.get(15)?,
        wubao: r.get(16)?,
        medical_insured: r.get(17)?,
        serious_illness_insured: r.get(18)?,
    })
}

pub fn household_by_id(conn: &Connection, id: &HouseholdId) -> Result<Option<Household>> {
    let sql = format!("SELECT {HOUSEHOLD_COLUMNS} FROM household WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.as_str()])?;
    rows.next()?.map(household_from_row).transpose()
}

pub fn household_by_code(conn: &Connection, code: &HumanCode) -> Result<Option<Household>> {
    let sql = format!("SELECT {HOUSEHOLD_COLUMNS} FROM household WHERE code = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([code.as_str()])?;
    rows.next()?.map(household_from_row).transpose()
}

/// Every household of a village, in door-plate code order (the order plates are printed in).
pub fn households_of_village(conn: &Connection, village: &str) -> Result<Vec<Household>> {
    let sql = format!("SELECT {HOUSEHOLD_COLUMNS} FROM household WHERE village = ?1 ORDER BY code");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([village])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(household_from_row(r)?);
    }
    Ok(out)
}

pub fn member_by_id(conn: &Connection, id: &MemberId) -> Result<Option<Member>> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM member WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.as_str()])?;
    rows.next()?.map(member_from_row).transpose()
}

/// The member whose person code (一人一码) is `code`.
pub fn member_by_person_code(conn: &Connection, code: &HumanCode) -> Result<Option<Member>> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM member WHERE person_code = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([code.as_str()])?;
    rows.next()?.map(member_from_row).transpose()
}

/// One help measure by id.
pub fn measure_by_id(conn: &Connection, id: &MeasureId) -> Result<Option<Measure>> {
    let household: Option<String> = conn
        .prepare_cached("SELECT household FROM measure WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?;
    let Some(household) = household else {
        return Ok(None);
    };
    let household = HouseholdId::new(household).map_err(corrupt("measure household"))?;
    Ok(measures_of(conn, &household)?
        .into_iter()
        .find(|m| &m.id == id))
}

/// Whether `cadre` is responsible for `household` on `day`: through an assignment, or a
/// village post covering the household's village.
pub fn in_scope(
    conn: &Connection,
    cadre: &CadreId,
    household: &HouseholdId,
    day: NaiveDate,
) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM assignment
                        WHERE cadre = ?1 AND household = ?2 AND from_date <= ?3
                          AND (to_date IS NULL OR to_date >= ?3))
             OR EXISTS (SELECT 1 FROM village_post p JOIN household h ON h.village = p.village
                        WHERE p.cadre = ?1 AND h.id = ?2 AND p.from_date <= ?3
                          AND (p.to_date IS NULL OR p.to_date >= ?3))",
    )?;
    Ok(stmt.query_row(
        params![cadre.as_str(), household.as_str(), day.to_string()],
        |r| r.get(0),
    )?)
}

/// The SQL that selects the ids of the households in scope for cadre `?1` on day `?2`.
pub const SCOPE_IDS: &str = "SELECT household FROM assignment
        WHERE cadre = ?1 AND from_date <= ?2 AND (to_date IS NULL OR to_date >= ?2)
    UNION
    SELECT h.id FROM village_post p JOIN household h ON h.village = p.village
        WHERE p.cadre = ?1 AND p.from_date <= ?2 AND (p.to_date IS NULL OR p.to_date >= ?2)";

fn ids<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    make: fn(String) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(make(r.get(0)?)?);
    }
    Ok(out)
}

fn household_id(s: String) -> Result<HouseholdId> {
    HouseholdId::new(s).map_err(corrupt("household id"))
}

fn cadre_id(s: String) -> Result<CadreId> {
    CadreId::new(s).map_err(corrupt("cadre id"))
}

/// The households `cadre` is responsible for on `day`, ordered by id.
pub fn households_in_scope(
    conn: &Connection,
    cadre: &CadreId,
    day: NaiveDate,
) -> Result<Vec<HouseholdId>> {
    let sql = format!("SELECT household FROM ({SCOPE_IDS}) ORDER BY 1");
    ids(
        conn,
        &sql,
        params![cadre.as_str(), day.to_string()],
        household_id,
    )
}

/// The SQL that selects the cadres responsible for household `?1` on day `?2`.
pub const CADRES_IN_SCOPE: &str = "SELECT cadre FROM assignment
        WHERE household = ?1 AND from_date <= ?2 AND (to_date IS NULL OR to_date >= ?2)
    UNION
    SELECT p.cadre FROM village_post p JOIN household h ON h.village = p.village
        WHERE h.id = ?1 AND p.from_date <= ?2 AND (p.to_date IS NULL OR p.to_date >= ?2)
    ORDER BY 1";

/// The cadres responsible for `household` on `day`: by assignment or by a post in its village.
pub fn cadres_in_scope(
    conn: &Connection,
    household: &HouseholdId,
    day: NaiveDate,
) -> Result<Vec<CadreId>> {
    ids(
        conn,
        CADRES_IN_SCOPE,
        params![household.as_str(), day.to_string()],
        cadre_id,
    )
}

pub fn members_of(conn: &Connection, household: &HouseholdId) -> Result<Vec<Member>> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM member WHERE household = ?1 ORDER BY relationship, id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([household.as_str()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(member_from_row(r)?);
    }
    Ok(out)
}

pub fn measures_of(conn: &Connection, household: &HouseholdId) -> Result<Vec<Measure>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, category, content, date, cost_yuan, acknowledged
         FROM measure WHERE household = ?1 ORDER BY date, id",
    )?;
    let mut rows = stmt.query([household.as_str()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(Measure {
            id: MeasureId::new(r.get::<_, String>(0)?).map_err(corrupt("measure id"))?,
            household: household.clone(),
            category: r.get(1)?,
            content: r.get(2)?,
            date: parse_date(Some(r.get(3)?))?.unwrap_or_default(),
            cost_yuan: r.get(4)?,
            acknowledged: r.get(5)?,
        });
    }
    Ok(out)
}

pub fn cadre(conn: &Connection, id: &CadreId) -> Result<Option<Cadre>> {
    conn.prepare_cached(
        "SELECT name, phone, work_unit, title, rank, role FROM cadre WHERE id = ?1",
    )?
    .query_row([id.as_str()], |r| {
        Ok(Cadre {
            id: id.clone(),
            name: r.get(0)?,
            phone: r.get(1)?,
            work_unit: r.get(2)?,
            title: r.get(3)?,
            rank: r.get(4)?,
            role: r.get(5)?,
        })
    })
    .optional()
    .map_err(Error::from)
}

pub fn area(conn: &Connection, code: &str) -> Result<Option<Area>> {
    conn.prepare_cached("SELECT name, parent, is_poor_village, lat, lon FROM area WHERE code = ?1")?
        .query_row([code], |r| {
            Ok(Area {
                code: code.to_string(),
                name: r.get(0)?,
                parent: r.get(1)?,
                is_poor_village: r.get(2)?,
                location: opt_point(r.get(3)?, r.get(4)?),
            })
        })
        .optional()
        .map_err(Error::from)
}

fn assignment_from_row(r: &Row<'_>) -> Result<Assignment> {
    Ok(Assignment {
        id: AssignmentId::new(r.get::<_, String>(0)?).map_err(corrupt("assignment id"))?,
        cadre: cadre_id(r.get(1)?)?,
        household: household_id(r.get(2)?)?,
        from: parse_date(Some(r.get(3)?))?.unwrap_or_default(),
        to: parse_date(r.get(4)?)?,
    })
}

fn assignments_where(conn: &Connection, filter: &str, value: &str) -> Result<Vec<Assignment>> {
    let sql = format!(
        "SELECT id, cadre, household, from_date, to_date FROM assignment WHERE {filter} = ?1 ORDER BY id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([value])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(assignment_from_row(r)?);
    }
    Ok(out)
}

pub fn assignment(conn: &Connection, id: &AssignmentId) -> Result<Option<Assignment>> {
    Ok(assignments_where(conn, "id", id.as_str())?
        .into_iter()
        .next())
}

pub fn assignments_of_cadre(conn: &Connection, cadre: &CadreId) -> Result<Vec<Assignment>> {
    assignments_where(conn, "cadre", cadre.as_str())
}

pub fn assignments_of_household(
    conn: &Connection,
    household: &HouseholdId,
) -> Result<Vec<Assignment>> {
    assignments_where(conn, "household", household.as_str())
}

fn posts_where(conn: &Connection, filter: &str, value: &str) -> Result<Vec<VillagePost>> {
    let sql = format!(
        "SELECT id, cadre, village, from_date, to_date FROM village_post WHERE {filter} = ?1 ORDER BY id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([value])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(VillagePost {
            id: PostId::new(r.get::<_, String>(0)?).map_err(corrupt("post id"))?,
            cadre: cadre_id(r.get(1)?)?,
            village: r.get(2)?,
            from: parse_date(Some(r.get(3)?))?.unwrap_or_default(),
            to: parse_date(r.get(4)?)?,
        });
    }
    Ok(out)
}

pub fn post(conn: &Connection, id: &PostId) -> Result<Option<VillagePost>> {
    Ok(posts_where(conn, "id", id.as_str())?.into_iter().next())
}

pub fn posts_of_cadre(conn: &Connection, cadre: &CadreId) -> Result<Vec<VillagePost>> {
    posts_where(conn, "cadre", cadre.as_str())
}

pub fn code_entries(conn: &Connection) -> Result<Vec<CodeEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT list, code, label_zh, label_en, parent FROM code_list ORDER BY list, code",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(CodeEntry {
            list: r.get(0)?,
            code: r.get(1)?,
            label_zh: r.get(2)?,
            label_en: r.get(3)?,
            parent: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn authority_keys(conn: &Connection) -> Result<Vec<AuthorityKey>> {
    let mut stmt = conn.prepare_cached("SELECT key_id, public_key FROM authority_key")?;
    let mut rows = stmt.query([])?;
    let mut keys = Vec::new();
    while let Some(r) = rows.next()? {
        let public: Vec<u8> = r.get(1)?;
        keys.push(AuthorityKey {
            key_id: r.get(0)?,
            public_key: public
                .try_into()
                .map_err(|_| Error::Corrupt("authority key length".into()))?,
        });
    }
    Ok(keys)
}

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

fn sql_value(value: &Value) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        // Editable fields hold scalars only; anything else is stored as its JSON text.
        other => SqlValue::Text(other.to_string()),
    }
}

fn json_value(value: SqlValue, flag: bool) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) if flag => Value::Bool(i != 0),
        SqlValue::Integer(i) => Value::from(i),
        SqlValue::Real(x) => Value::from(x),
        SqlValue::Text(s) => Value::String(s),
        SqlValue::Blob(b) => Value::from(b),
    }
}

/// Writes one editable field and the clock of the write. The column name comes from the
/// entity's own field table, never from the caller's text.
pub fn set_field(
    conn: &Connection,
    entity: Entity,
    id: &str,
    field: &str,
    value: &Value,
    clock: &FieldClock,
) -> Result<()> {
    let column = entity.field(field).ok_or_else(|| Error::FieldNotEditable {
        field: field.into(),
    })?;
    let table = entity.table();
    let sql = format!("UPDATE {table} SET {column} = ?2 WHERE id = ?1");
    conn.execute(&sql, params![id, sql_value(value)])?;
    conn.prepare_cached(
        "INSERT INTO field_clock (entity, id, field, hlc, device) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (entity, id, field) DO UPDATE SET hlc = excluded.hlc,
             device = excluded.device",
    )?
    .execute(params![
        table,
        id,
        column,
        clock.hlc.as_i64(),
        clock.device.to_string()
    ])?;
    Ok(())
}

/// Sets a household's poverty status (a checked exit step, [`crate::domain::exit`]); the exit
/// year is set with a step to exited and left as it was otherwise.
pub fn set_poverty_status(
    conn: &Connection,
    household: &HouseholdId,
    status: &str,
    exit_year: Option<i32>,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE household SET poverty_status = ?2, exit_year = COALESCE(?3, exit_year)
         WHERE id = ?1",
    )?
    .execute(params![household.as_str(), status, exit_year])?;
    Ok(())
}

/// The current value of one editable field, as JSON.
pub fn field_value(conn: &Connection, entity: Entity, id: &str, field: &str) -> Result<Value> {
    let column = entity.field(field).ok_or_else(|| Error::FieldNotEditable {
        field: field.into(),
    })?;
    let table = entity.table();
    let sql = format!("SELECT {column} FROM {table} WHERE id = ?1");
    let value: Option<SqlValue> = conn.query_row(&sql, [id], |r| r.get(0)).optional()?;
    let flag = matches!(
        column,
        "dibao" | "wubao" | "medical_insured" | "serious_illness_insured"
    );
    Ok(value.map(|v| json_value(v, flag)).unwrap_or(Value::Null))
}

/// The clocks of the last writes to an entity's fields.
pub fn field_clocks(conn: &Connection, entity: Entity, id: &str) -> Result<FieldClocks> {
    let mut stmt = conn.prepare_cached(
        "SELECT field, hlc, device FROM field_clock WHERE entity = ?1 AND id = ?2",
    )?;
    let mut rows = stmt.query(params![entity.table(), id])?;
    let mut out = FieldClocks::new();
    while let Some(r) = rows.next()? {
        let device: String = r.get(2)?;
        out.insert(
            r.get(0)?,
            FieldClock {
                hlc: Hlc::from_i64(r.get(1)?),
                device: DeviceId::parse(&device).map_err(corrupt("field clock device"))?,
            },
        );
    }
    Ok(out)
}
