//! The registry's rows (areas, households, members, cadres, assignments, village posts,
//! measures, code lists, authority keys and field clocks), written once for every store that
//! keeps them: the phone's store, the server's embedded SQLite and the server's PostgreSQL all
//! read and write them through these functions, over [`crate::sql::Conn`]. The scope rule
//! (which households a cadre is responsible for on a day) lives here and nowhere else.
//!
//! [`REGISTRY_TABLES`] is the tables' SQLite layout, shared by the device store and the
//! server's embedded backend; the server's PostgreSQL schema declares the same columns in its
//! own types (its schema-comparison test keeps them in step).

use serde::Serialize;

use chrono::NaiveDate;

use crate::codes::HumanCode;
use crate::domain::{
    Area, Assignment, Cadre, CodeEntry, GeoPoint, Household, Measure, Member, RegistryRecord,
    VillagePost,
};
use crate::error::Error;
use crate::ids::{AssignmentId, CadreId, HouseholdId, MeasureId, MemberId, PostId};
use crate::plate::AuthorityKey;
use crate::sql::{Conn, Row};

mod fields;
mod tables;

pub use fields::{field_clocks, field_value, set_field, set_poverty_status};
pub use tables::REGISTRY_TABLES;

type Result<T, C> = std::result::Result<T, <C as Conn>::Error>;

fn corrupt<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Corrupt(format!("{what}: {e}"))
}

fn json<T: Serialize>(value: &T) -> std::result::Result<String, Error> {
    Ok(serde_json::to_string(value)?)
}

/// Writes one registry row: inserts it, or replaces every column of the row with the same key
/// (an upsert, not a delete and insert: a household's members stay).
pub fn put_record<C: Conn + ?Sized>(c: &C, record: &RegistryRecord) -> Result<(), C> {
    match record {
        RegistryRecord::Code(e) => c.execute(
            "INSERT INTO code_list (list, code, label_zh, label_en, parent)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (list, code) DO UPDATE SET label_zh = excluded.label_zh,
                 label_en = excluded.label_en, parent = excluded.parent",
            &[&e.list, &e.code, &e.label_zh, &e.label_en, &e.parent],
        ),
        RegistryRecord::Area(a) => c.execute(
            "INSERT INTO area (code, name, parent, is_poor_village, lat, lon)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent = excluded.parent,
                 is_poor_village = excluded.is_poor_village, lat = excluded.lat,
                 lon = excluded.lon",
            &[
                &a.code,
                &a.name,
                &a.parent,
                &a.is_poor_village,
                &a.location.map(|p| p.lat),
                &a.location.map(|p| p.lon),
            ],
        ),
        RegistryRecord::Household(h) => c.execute(
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
            &[
                &h.id.as_str(),
                &h.code.as_str(),
                &h.plate_issue,
                &h.village,
                &h.group_name,
                &h.head.as_ref().map(MemberId::as_str),
                &h.phone,
                &h.ident_standard,
                &h.attribute,
                &h.main_cause,
                &json(&h.other_causes)?,
                &h.poverty_status,
                &h.identified_year,
                &h.exit_year,
                &h.housing_area_m2,
                &h.housing_structure,
                &h.housing_safety,
                &h.drinking_water,
                &h.location.map(|p| p.lat),
                &h.location.map(|p| p.lon),
            ],
        ),
        RegistryRecord::Member(m) => c.execute(
            "INSERT INTO member (id, household, person_code, name, resident_id, sex,
                 birth_date, ethnicity, relationship, education, school_status, health,
                 labour_skill, work_status, work_months, dibao, wubao, medical_insured,
                 serious_illness_insured)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                 ?17, ?18, ?19)
             ON CONFLICT (id) DO UPDATE SET household = excluded.household,
                 person_code = excluded.person_code, name = excluded.name,
                 resident_id = excluded.resident_id, sex = excluded.sex,
                 birth_date = excluded.birth_date, ethnicity = excluded.ethnicity,
                 relationship = excluded.relationship, education = excluded.education,
                 school_status = excluded.school_status, health = excluded.health,
                 labour_skill = excluded.labour_skill, work_status = excluded.work_status,
                 work_months = excluded.work_months, dibao = excluded.dibao,
                 wubao = excluded.wubao, medical_insured = excluded.medical_insured,
                 serious_illness_insured = excluded.serious_illness_insured",
            &[
                &m.id.as_str(),
                &m.household.as_str(),
                &m.person_code.as_ref().map(HumanCode::as_str),
                &m.name,
                &m.resident_id,
                &m.sex,
                &m.birth_date,
                &m.ethnicity,
                &m.relationship,
                &m.education,
                &m.school_status,
                &m.health,
                &m.labour_skill,
                &m.work_status,
                &m.work_months,
                &m.dibao,
                &m.wubao,
                &m.medical_insured,
                &m.serious_illness_insured,
            ],
        ),
        RegistryRecord::Cadre(k) => c.execute(
            "INSERT INTO cadre (id, name, phone, work_unit, title, rank, role)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, phone = excluded.phone,
                 work_unit = excluded.work_unit, title = excluded.title,
                 rank = excluded.rank, role = excluded.role",
            &[
                &k.id.as_str(),
                &k.name,
                &k.phone,
                &k.work_unit,
                &k.title,
                &k.rank,
                &k.role,
            ],
        ),
        RegistryRecord::Assignment(a) => c.execute(
            "INSERT INTO assignment (id, cadre, household, from_date, to_date)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET cadre = excluded.cadre,
                 household = excluded.household, from_date = excluded.from_date,
                 to_date = excluded.to_date",
            &[
                &a.id.as_str(),
                &a.cadre.as_str(),
                &a.household.as_str(),
                &a.from,
                &a.to,
            ],
        ),
        RegistryRecord::VillagePost(p) => c.execute(
            "INSERT INTO village_post (id, cadre, village, from_date, to_date)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET cadre = excluded.cadre,
                 village = excluded.village, from_date = excluded.from_date,
                 to_date = excluded.to_date",
            &[
                &p.id.as_str(),
                &p.cadre.as_str(),
                &p.village,
                &p.from,
                &p.to,
            ],
        ),
        RegistryRecord::Measure(m) => c.execute(
            "INSERT INTO measure (id, household, category, content, date, cost_yuan,
                 acknowledged)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET household = excluded.household,
                 category = excluded.category, content = excluded.content,
                 date = excluded.date, cost_yuan = excluded.cost_yuan,
                 acknowledged = excluded.acknowledged",
            &[
                &m.id.as_str(),
                &m.household.as_str(),
                &m.category,
                &m.content,
                &m.date,
                &m.cost_yuan,
                &m.acknowledged,
            ],
        ),
        RegistryRecord::AuthorityKey(k) => return put_authority_key(c, k),
    }?;
    Ok(())
}

pub fn put_authority_key<C: Conn + ?Sized>(c: &C, key: &AuthorityKey) -> Result<(), C> {
    c.execute(
        "INSERT INTO authority_key (key_id, public_key) VALUES (?1, ?2)
         ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key",
        &[&key.key_id, &key.public_key],
    )?;
    Ok(())
}

fn opt_point(lat: Option<f64>, lon: Option<f64>) -> Option<GeoPoint> {
    match (lat, lon) {
        (Some(lat), Some(lon)) => Some(GeoPoint { lat, lon }),
        _ => None,
    }
}

fn household_id(r: &dyn Row, i: usize) -> std::result::Result<HouseholdId, Error> {
    HouseholdId::new(r.get::<String>(i)?).map_err(corrupt("household id"))
}

fn cadre_id(r: &dyn Row, i: usize) -> std::result::Result<CadreId, Error> {
    CadreId::new(r.get::<String>(i)?).map_err(corrupt("cadre id"))
}

const HOUSEHOLD_COLUMNS: &str = "id, code, plate_issue, village, group_name, head, phone,
    ident_standard, attribute, main_cause, other_causes, poverty_status, identified_year,
    exit_year, housing_area_m2, housing_structure, housing_safety, drinking_water, lat, lon";

fn household_from_row(r: &dyn Row) -> std::result::Result<Household, Error> {
    let causes: String = r.get(10)?;
    Ok(Household {
        id: household_id(r, 0)?,
        code: HumanCode::parse(&r.get::<String>(1)?).map_err(corrupt("household code"))?,
        plate_issue: r.get(2)?,
        village: r.get(3)?,
        group_name: r.get(4)?,
        head: r
            .get::<Option<String>>(5)?
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

fn member_from_row(r: &dyn Row) -> std::result::Result<Member, Error> {
    Ok(Member {
        id: MemberId::new(r.get::<String>(0)?).map_err(corrupt("member id"))?,
        household: household_id(r, 1)?,
        person_code: r
            .get::<Option<String>>(2)?
            .map(|c| HumanCode::parse(&c))
            .transpose()
            .map_err(corrupt("person code"))?,
        name: r.get(3)?,
        resident_id: r.get(4)?,
        sex: r.get(5)?,
        birth_date: r.get(6)?,
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

/// The household with this id.
pub fn household_by_id<C: Conn + ?Sized>(c: &C, id: &HouseholdId) -> Result<Option<Household>, C> {
    c.query_opt(
        &format!("SELECT {HOUSEHOLD_COLUMNS} FROM household WHERE id = ?1"),
        &[&id.as_str()],
        |r| Ok(household_from_row(r)?),
    )
}

/// The household whose door plate carries `code`.
pub fn household_by_code<C: Conn + ?Sized>(
    c: &C,
    code: &HumanCode,
) -> Result<Option<Household>, C> {
    c.query_opt(
        &format!("SELECT {HOUSEHOLD_COLUMNS} FROM household WHERE code = ?1"),
        &[&code.as_str()],
        |r| Ok(household_from_row(r)?),
    )
}

/// Every household of a village, in door-plate code order (the order plates are printed in).
pub fn households_of_village<C: Conn + ?Sized>(c: &C, village: &str) -> Result<Vec<Household>, C> {
    c.query(
        &format!(
            "SELECT {HOUSEHOLD_COLUMNS} FROM household WHERE village = ?1
             ORDER BY code COLLATE BINARY"
        ),
        &[&village],
        |r| Ok(household_from_row(r)?),
    )
}

/// The id of every household, by village and door-plate code.
pub fn household_ids<C: Conn + ?Sized>(c: &C) -> Result<Vec<HouseholdId>, C> {
    c.query(
        "SELECT id FROM household ORDER BY village COLLATE BINARY, code COLLATE BINARY",
        &[],
        |r| Ok(household_id(r, 0)?),
    )
}

pub fn member_by_id<C: Conn + ?Sized>(c: &C, id: &MemberId) -> Result<Option<Member>, C> {
    c.query_opt(
        &format!("SELECT {MEMBER_COLUMNS} FROM member WHERE id = ?1"),
        &[&id.as_str()],
        |r| Ok(member_from_row(r)?),
    )
}

/// The member whose person code (一人一码) is `code`.
pub fn member_by_person_code<C: Conn + ?Sized>(
    c: &C,
    code: &HumanCode,
) -> Result<Option<Member>, C> {
    c.query_opt(
        &format!("SELECT {MEMBER_COLUMNS} FROM member WHERE person_code = ?1"),
        &[&code.as_str()],
        |r| Ok(member_from_row(r)?),
    )
}

/// A household's members, by relationship then id.
pub fn members_of<C: Conn + ?Sized>(c: &C, household: &HouseholdId) -> Result<Vec<Member>, C> {
    c.query(
        &format!(
            "SELECT {MEMBER_COLUMNS} FROM member WHERE household = ?1
             ORDER BY relationship COLLATE BINARY, id COLLATE BINARY"
        ),
        &[&household.as_str()],
        |r| Ok(member_from_row(r)?),
    )
}

const MEASURE_COLUMNS: &str = "id, household, category, content, date, cost_yuan, acknowledged";

fn measure_from_row(r: &dyn Row) -> std::result::Result<Measure, Error> {
    Ok(Measure {
        id: MeasureId::new(r.get::<String>(0)?).map_err(corrupt("measure id"))?,
        household: household_id(r, 1)?,
        category: r.get(2)?,
        content: r.get(3)?,
        date: r.get(4)?,
        cost_yuan: r.get(5)?,
        acknowledged: r.get(6)?,
    })
}

/// One help measure by id.
pub fn measure_by_id<C: Conn + ?Sized>(c: &C, id: &MeasureId) -> Result<Option<Measure>, C> {
    c.query_opt(
        &format!("SELECT {MEASURE_COLUMNS} FROM measure WHERE id = ?1"),
        &[&id.as_str()],
        |r| Ok(measure_from_row(r)?),
    )
}

/// A household's help measures, by date then id.
pub fn measures_of<C: Conn + ?Sized>(c: &C, household: &HouseholdId) -> Result<Vec<Measure>, C> {
    c.query(
        &format!(
            "SELECT {MEASURE_COLUMNS} FROM measure WHERE household = ?1
             ORDER BY date, id COLLATE BINARY"
        ),
        &[&household.as_str()],
        |r| Ok(measure_from_row(r)?),
    )
}

/// Whether `cadre` is responsible for `household` on `day`: through an assignment, or a
/// village post covering the household's village.
pub fn in_scope<C: Conn + ?Sized>(
    c: &C,
    cadre: &CadreId,
    household: &HouseholdId,
    day: NaiveDate,
) -> Result<bool, C> {
    c.query_value(
        "SELECT EXISTS (SELECT 1 FROM assignment
                        WHERE cadre = ?1 AND household = ?2 AND from_date <= ?3
                          AND (to_date IS NULL OR to_date >= ?3))
             OR EXISTS (SELECT 1 FROM village_post p JOIN household h ON h.village = p.village
                        WHERE p.cadre = ?1 AND h.id = ?2 AND p.from_date <= ?3
                          AND (p.to_date IS NULL OR p.to_date >= ?3))",
        &[&cadre.as_str(), &household.as_str(), &day],
    )
}

/// The households `cadre` is responsible for on `day`, ordered by id.
pub fn households_in_scope<C: Conn + ?Sized>(
    c: &C,
    cadre: &CadreId,
    day: NaiveDate,
) -> Result<Vec<HouseholdId>, C> {
    c.query(
        "SELECT id FROM (
             SELECT household AS id FROM assignment
                 WHERE cadre = ?1 AND from_date <= ?2 AND (to_date IS NULL OR to_date >= ?2)
             UNION
             SELECT h.id FROM village_post p JOIN household h ON h.village = p.village
                 WHERE p.cadre = ?1 AND p.from_date <= ?2
                   AND (p.to_date IS NULL OR p.to_date >= ?2)
         ) scope ORDER BY id COLLATE BINARY",
        &[&cadre.as_str(), &day],
        |r| Ok(household_id(r, 0)?),
    )
}

/// The SQL that selects the cadres responsible for household `?1` on day `?2`, by id.
pub const CADRES_IN_SCOPE: &str = "SELECT cadre FROM (
        SELECT cadre FROM assignment
            WHERE household = ?1 AND from_date <= ?2 AND (to_date IS NULL OR to_date >= ?2)
        UNION
        SELECT p.cadre FROM village_post p JOIN household h ON h.village = p.village
            WHERE h.id = ?1 AND p.from_date <= ?2 AND (p.to_date IS NULL OR p.to_date >= ?2)
    ) scope ORDER BY cadre COLLATE BINARY";

/// The cadres responsible for `household` on `day`: by assignment or by a post in its village.
pub fn cadres_in_scope<C: Conn + ?Sized>(
    c: &C,
    household: &HouseholdId,
    day: NaiveDate,
) -> Result<Vec<CadreId>, C> {
    c.query(CADRES_IN_SCOPE, &[&household.as_str(), &day], |r| {
        Ok(cadre_id(r, 0)?)
    })
}

pub fn cadre<C: Conn + ?Sized>(c: &C, id: &CadreId) -> Result<Option<Cadre>, C> {
    c.query_opt(
        "SELECT name, phone, work_unit, title, rank, role FROM cadre WHERE id = ?1",
        &[&id.as_str()],
        |r| {
            Ok(Cadre {
                id: id.clone(),
                name: r.get(0)?,
                phone: r.get(1)?,
                work_unit: r.get(2)?,
                title: r.get(3)?,
                rank: r.get(4)?,
                role: r.get(5)?,
            })
        },
    )
}

pub fn area<C: Conn + ?Sized>(c: &C, code: &str) -> Result<Option<Area>, C> {
    c.query_opt(
        "SELECT name, parent, is_poor_village, lat, lon FROM area WHERE code = ?1",
        &[&code],
        |r| {
            Ok(Area {
                code: code.to_string(),
                name: r.get(0)?,
                parent: r.get(1)?,
                is_poor_village: r.get(2)?,
                location: opt_point(r.get(3)?, r.get(4)?),
            })
        },
    )
}

fn assignment_from_row(r: &dyn Row) -> std::result::Result<Assignment, Error> {
    Ok(Assignment {
        id: AssignmentId::new(r.get::<String>(0)?).map_err(corrupt("assignment id"))?,
        cadre: cadre_id(r, 1)?,
        household: household_id(r, 2)?,
        from: r.get(3)?,
        to: r.get(4)?,
    })
}

const ASSIGNMENT_COLUMNS: &str = "SELECT id, cadre, household, from_date, to_date FROM assignment";

fn assignments_where<C: Conn + ?Sized>(
    c: &C,
    sql: &str,
    value: &str,
) -> Result<Vec<Assignment>, C> {
    c.query(sql, &[&value], |r| Ok(assignment_from_row(r)?))
}

pub fn assignment<C: Conn + ?Sized>(c: &C, id: &AssignmentId) -> Result<Option<Assignment>, C> {
    let sql = format!("{ASSIGNMENT_COLUMNS} WHERE id = ?1");
    Ok(assignments_where(c, &sql, id.as_str())?.into_iter().next())
}

pub fn assignments_of_cadre<C: Conn + ?Sized>(
    c: &C,
    cadre: &CadreId,
) -> Result<Vec<Assignment>, C> {
    let sql = format!("{ASSIGNMENT_COLUMNS} WHERE cadre = ?1 ORDER BY id COLLATE BINARY");
    assignments_where(c, &sql, cadre.as_str())
}

pub fn assignments_of_household<C: Conn + ?Sized>(
    c: &C,
    household: &HouseholdId,
) -> Result<Vec<Assignment>, C> {
    let sql = format!("{ASSIGNMENT_COLUMNS} WHERE household = ?1 ORDER BY id COLLATE BINARY");
    assignments_where(c, &sql, household.as_str())
}

const POST_COLUMNS: &str = "SELECT id, cadre, village, from_date, to_date FROM village_post";

fn posts_where<C: Conn + ?Sized>(c: &C, sql: &str, value: &str) -> Result<Vec<VillagePost>, C> {
    c.query(sql, &[&value], |r| {
        Ok(VillagePost {
            id: PostId::new(r.get::<String>(0)?).map_err(corrupt("post id"))?,
            cadre: cadre_id(r, 1)?,
            village: r.get(2)?,
            from: r.get(3)?,
            to: r.get(4)?,
        })
    })
}

pub fn post<C: Conn + ?Sized>(c: &C, id: &PostId) -> Result<Option<VillagePost>, C> {
    let sql = format!("{POST_COLUMNS} WHERE id = ?1");
    Ok(posts_where(c, &sql, id.as_str())?.into_iter().next())
}

pub fn posts_of_cadre<C: Conn + ?Sized>(c: &C, cadre: &CadreId) -> Result<Vec<VillagePost>, C> {
    let sql = format!("{POST_COLUMNS} WHERE cadre = ?1 ORDER BY id COLLATE BINARY");
    posts_where(c, &sql, cadre.as_str())
}

pub fn code_entries<C: Conn + ?Sized>(c: &C) -> Result<Vec<CodeEntry>, C> {
    c.query(
        "SELECT list, code, label_zh, label_en, parent FROM code_list
         ORDER BY list COLLATE BINARY, code COLLATE BINARY",
        &[],
        |r| {
            Ok(CodeEntry {
                list: r.get(0)?,
                code: r.get(1)?,
                label_zh: r.get(2)?,
                label_en: r.get(3)?,
                parent: r.get(4)?,
            })
        },
    )
}

pub fn authority_keys<C: Conn + ?Sized>(c: &C) -> Result<Vec<AuthorityKey>, C> {
    c.query(
        "SELECT key_id, public_key FROM authority_key ORDER BY key_id",
        &[],
        |r| {
            Ok(AuthorityKey {
                key_id: r.get(0)?,
                public_key: r.get(1)?,
            })
        },
    )
}
