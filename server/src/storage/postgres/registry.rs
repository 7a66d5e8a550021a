//! The registry on PostgreSQL: the same rows and answers as `fieldvisit_core::rows` gives the
//! embedded backend and the phones, in PostgreSQL's SQL and types (dates are `DATE`, flags
//! `BOOLEAN`, `other_causes` JSONB).

use chrono::NaiveDate;
use postgres::Row;
use postgres::types::ToSql;
use serde_json::Value;

use fieldvisit_core::clock::Hlc;
use fieldvisit_core::codes::HumanCode;
use fieldvisit_core::domain::fields::Entity;
use fieldvisit_core::domain::{
    Area, Assignment, Cadre, CodeEntry, GeoPoint, Household, Measure, Member, RegistryRecord,
    VillagePost,
};
use fieldvisit_core::ids::{AssignmentId, CadreId, HouseholdId, MeasureId, MemberId, PostId};
use fieldvisit_core::plate::AuthorityKey;
use fieldvisit_core::protocol::{FieldClock, FieldClocks};

use super::{Conn, blob, corrupt, device_id};
use crate::error::{Error, Result};

fn opt_point(lat: Option<f64>, lon: Option<f64>) -> Option<GeoPoint> {
    match (lat, lon) {
        (Some(lat), Some(lon)) => Some(GeoPoint { lat, lon }),
        _ => None,
    }
}

fn u16_of(v: i32, what: &'static str) -> Result<u16> {
    u16::try_from(v).map_err(corrupt(what))
}

/// Writes one registry row: inserts it, or replaces every column but the `key` of the row
/// with the same key. `columns` (comma-separated, as in SQL) and `values` pair up in order and
/// name all of the table's columns, so a replaced row keeps nothing of the old one. A column
/// written `name::type…` has its parameter cast so (`other_causes::text::jsonb`: JSON sent as
/// text).
fn upsert(
    c: &mut Conn,
    table: &str,
    key: &str,
    columns: &str,
    values: &[&(dyn ToSql + Sync)],
) -> Result<()> {
    let key: Vec<&str> = key.split(',').map(str::trim).collect();
    let mut names = Vec::new();
    let mut placeholders = Vec::new();
    let mut replaced = Vec::new();
    for (n, column) in (1..).zip(columns.split(',').map(str::trim)) {
        let (name, cast) = column
            .split_once("::")
            .map_or((column, None), |(name, cast)| (name, Some(cast)));
        names.push(name);
        placeholders.push(match cast {
            Some(cast) => format!("${n}::{cast}"),
            None => format!("${n}"),
        });
        if !key.contains(&name) {
            replaced.push(format!("{name} = excluded.{name}"));
        }
    }
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        names.join(", "),
        placeholders.join(", "),
        key.join(", "),
        replaced.join(", ")
    );
    c.execute(&sql, values)?;
    Ok(())
}

pub(super) fn put_record(c: &mut Conn, record: &RegistryRecord) -> Result<()> {
    match record {
        RegistryRecord::Code(e) => upsert(
            c,
            "code_list",
            "list, code",
            "list, code, label_zh, label_en, parent",
            &[&e.list, &e.code, &e.label_zh, &e.label_en, &e.parent],
        ),
        RegistryRecord::Area(a) => upsert(
            c,
            "area",
            "code",
            "code, name, parent, is_poor_village, lat, lon",
            &[
                &a.code,
                &a.name,
                &a.parent,
                &a.is_poor_village,
                &a.location.map(|p| p.lat),
                &a.location.map(|p| p.lon),
            ],
        ),
        RegistryRecord::Household(h) => put_household(c, h),
        RegistryRecord::Member(m) => put_member(c, m),
        RegistryRecord::Cadre(k) => upsert(
            c,
            "cadre",
            "id",
            "id, name, phone, work_unit, title, rank, role",
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
        RegistryRecord::Assignment(a) => upsert(
            c,
            "assignment",
            "id",
            "id, cadre, household, from_date, to_date",
            &[
                &a.id.as_str(),
                &a.cadre.as_str(),
                &a.household.as_str(),
                &a.from,
                &a.to,
            ],
        ),
        RegistryRecord::VillagePost(p) => upsert(
            c,
            "village_post",
            "id",
            "id, cadre, village, from_date, to_date",
            &[
                &p.id.as_str(),
                &p.cadre.as_str(),
                &p.village,
                &p.from,
                &p.to,
            ],
        ),
        RegistryRecord::Measure(m) => upsert(
            c,
            "measure",
            "id",
            "id, household, category, content, date, cost_yuan, acknowledged",
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
        RegistryRecord::AuthorityKey(k) => upsert(
            c,
            "authority_key",
            "key_id",
            "key_id, public_key",
            &[&i32::from(k.key_id), &k.public_key.as_slice()],
        ),
    }
}

fn put_household(c: &mut Conn, h: &Household) -> Result<()> {
    let causes = serde_json::to_string(&h.other_causes)?;
    upsert(
        c,
        "household",
        "id",
        "id, code, plate_issue, village, group_name, head, phone, ident_standard, attribute,
         main_cause, other_causes::text::jsonb, poverty_status, identified_year, exit_year,
         housing_area_m2, housing_structure, housing_safety, drinking_water, lat, lon",
        &[
            &h.id.as_str(),
            &h.code.as_str(),
            &i32::from(h.plate_issue),
            &h.village,
            &h.group_name,
            &h.head.as_ref().map(MemberId::as_str),
            &h.phone,
            &h.ident_standard,
            &h.attribute,
            &h.main_cause,
            &causes,
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
    )
}

fn put_member(c: &mut Conn, m: &Member) -> Result<()> {
    upsert(
        c,
        "member",
        "id",
        "id, household, person_code, name, resident_id, sex, birth_date, ethnicity, relationship,
         education, school_status, health, labour_skill, work_status, work_months, dibao, wubao,
         medical_insured, serious_illness_insured",
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
    )
}

const HOUSEHOLD_COLUMNS: &str = "id, code, plate_issue, village, group_name, head, phone,
    ident_standard, attribute, main_cause, other_causes::text, poverty_status, identified_year,
    exit_year, housing_area_m2, housing_structure, housing_safety, drinking_water, lat, lon";

fn household_from_row(r: &Row) -> Result<Household> {
    let causes: String = r.try_get(10)?;
    Ok(Household {
        id: HouseholdId::new(r.try_get::<_, String>(0)?).map_err(corrupt("household id"))?,
        code: HumanCode::parse(r.try_get::<_, &str>(1)?).map_err(corrupt("household code"))?,
        plate_issue: u16_of(r.try_get(2)?, "plate issue")?,
        village: r.try_get(3)?,
        group_name: r.try_get(4)?,
        head: r
            .try_get::<_, Option<String>>(5)?
            .map(MemberId::new)
            .transpose()
            .map_err(corrupt("head"))?,
        phone: r.try_get(6)?,
        ident_standard: r.try_get(7)?,
        attribute: r.try_get(8)?,
        main_cause: r.try_get(9)?,
        other_causes: serde_json::from_str(&causes).map_err(corrupt("other causes"))?,
        poverty_status: r.try_get(11)?,
        identified_year: r.try_get(12)?,
        exit_year: r.try_get(13)?,
        housing_area_m2: r.try_get(14)?,
        housing_structure: r.try_get(15)?,
        housing_safety: r.try_get(16)?,
        drinking_water: r.try_get(17)?,
        location: opt_point(r.try_get(18)?, r.try_get(19)?),
    })
}

/// The household whose `column` (`id` or `code`, both unique) is `value`.
pub(super) fn household_where(
    c: &mut Conn,
    column: &'static str,
    value: &str,
) -> Result<Option<Household>> {
    let sql = format!("SELECT {HOUSEHOLD_COLUMNS} FROM household WHERE {column} = $1");
    c.query_opt(&sql, &[&value])?
        .map(|r| household_from_row(&r))
        .transpose()
}

pub(super) fn households_of_village(c: &mut Conn, village: &str) -> Result<Vec<Household>> {
    let sql = format!(
        "SELECT {HOUSEHOLD_COLUMNS} FROM household WHERE village = $1 ORDER BY code COLLATE \"C\""
    );
    c.query(&sql, &[&village])?
        .iter()
        .map(household_from_row)
        .collect()
}

const MEMBER_COLUMNS: &str = "id, household, person_code, name, resident_id, sex, birth_date,
    ethnicity, relationship, education, school_status, health, labour_skill, work_status,
    work_months, dibao, wubao, medical_insured, serious_illness_insured";

fn member_from_row(r: &Row) -> Result<Member> {
    Ok(Member {
        id: MemberId::new(r.try_get::<_, String>(0)?).map_err(corrupt("member id"))?,
        household: HouseholdId::new(r.try_get::<_, String>(1)?).map_err(corrupt("household id"))?,
        person_code: r
            .try_get::<_, Option<&str>>(2)?
            .map(HumanCode::parse)
            .transpose()
            .map_err(corrupt("person code"))?,
        name: r.try_get(3)?,
        resident_id: r.try_get(4)?,
        sex: r.try_get(5)?,
        birth_date: r.try_get(6)?,
        ethnicity: r.try_get(7)?,
        relationship: r.try_get(8)?,
        education: r.try_get(9)?,
        school_status: r.try_get(10)?,
        health: r.try_get(11)?,
        labour_skill: r.try_get(12)?,
        work_status: r.try_get(13)?,
        work_months: r.try_get(14)?,
        dibao: r.try_get(15)?,
        wubao: r.try_get(16)?,
        medical_insured: r.try_get(17)?,
        serious_illness_insured: r.try_get(18)?,
    })
}

/// Members whose `column` (`id` or `household`) is `value`, by relationship then id.
pub(super) fn members_where(
    c: &mut Conn,
    column: &'static str,
    value: &str,
) -> Result<Vec<Member>> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM member WHERE {column} = $1
         ORDER BY relationship COLLATE \"C\", id COLLATE \"C\""
    );
    c.query(&sql, &[&value])?
        .iter()
        .map(member_from_row)
        .collect()
}

pub(super) fn measures_of(c: &mut Conn, household: &HouseholdId) -> Result<Vec<Measure>> {
    c.query(
        "SELECT id, category, content, date, cost_yuan, acknowledged
         FROM measure WHERE household = $1 ORDER BY date, id COLLATE \"C\"",
        &[&household.as_str()],
    )?
    .iter()
    .map(|r| {
        Ok(Measure {
            id: MeasureId::new(r.try_get::<_, String>(0)?).map_err(corrupt("measure id"))?,
            household: household.clone(),
            category: r.try_get(1)?,
            content: r.try_get(2)?,
            date: r.try_get(3)?,
            cost_yuan: r.try_get(4)?,
            acknowledged: r.try_get(5)?,
        })
    })
    .collect()
}

pub(super) fn cadre(c: &mut Conn, id: &CadreId) -> Result<Option<Cadre>> {
    c.query_opt(
        "SELECT name, phone, work_unit, title, rank, role FROM cadre WHERE id = $1",
        &[&id.as_str()],
    )?
    .map(|r| {
        Ok(Cadre {
            id: id.clone(),
            name: r.try_get(0)?,
            phone: r.try_get(1)?,
            work_unit: r.try_get(2)?,
            title: r.try_get(3)?,
            rank: r.try_get(4)?,
            role: r.try_get(5)?,
        })
    })
    .transpose()
}

pub(super) fn area(c: &mut Conn, code: &str) -> Result<Option<Area>> {
    c.query_opt(
        "SELECT name, parent, is_poor_village, lat, lon FROM area WHERE code = $1",
        &[&code],
    )?
    .map(|r| {
        Ok(Area {
            code: code.to_string(),
            name: r.try_get(0)?,
            parent: r.try_get(1)?,
            is_poor_village: r.try_get(2)?,
            location: opt_point(r.try_get(3)?, r.try_get(4)?),
        })
    })
    .transpose()
}

fn cadre_id(s: String) -> Result<CadreId> {
    CadreId::new(s).map_err(corrupt("cadre id"))
}

fn household_id(s: String) -> Result<HouseholdId> {
    HouseholdId::new(s).map_err(corrupt("household id"))
}

/// Assignments whose `column` (`id`, `cadre` or `household`) is `value`, by id.
pub(super) fn assignments_where(
    c: &mut Conn,
    column: &'static str,
    value: &str,
) -> Result<Vec<Assignment>> {
    let sql = format!(
        "SELECT id, cadre, household, from_date, to_date FROM assignment WHERE {column} = $1
         ORDER BY id COLLATE \"C\""
    );
    c.query(&sql, &[&value])?
        .iter()
        .map(|r| {
            Ok(Assignment {
                id: AssignmentId::new(r.try_get::<_, String>(0)?)
                    .map_err(corrupt("assignment id"))?,
                cadre: cadre_id(r.try_get(1)?)?,
                household: household_id(r.try_get(2)?)?,
                from: r.try_get(3)?,
                to: r.try_get(4)?,
            })
        })
        .collect()
}

/// Village posts whose `column` (`id` or `cadre`) is `value`, by id.
pub(super) fn posts_where(
    c: &mut Conn,
    column: &'static str,
    value: &str,
) -> Result<Vec<VillagePost>> {
    let sql = format!(
        "SELECT id, cadre, village, from_date, to_date FROM village_post WHERE {column} = $1
         ORDER BY id COLLATE \"C\""
    );
    c.query(&sql, &[&value])?
        .iter()
        .map(|r| {
            Ok(VillagePost {
                id: PostId::new(r.try_get::<_, String>(0)?).map_err(corrupt("post id"))?,
                cadre: cadre_id(r.try_get(1)?)?,
                village: r.try_get(2)?,
                from: r.try_get(3)?,
                to: r.try_get(4)?,
            })
        })
        .collect()
}

pub(super) fn code_entries(c: &mut Conn) -> Result<Vec<CodeEntry>> {
    c.query(
        "SELECT list, code, label_zh, label_en, parent FROM code_list
         ORDER BY list COLLATE \"C\", code COLLATE \"C\"",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(CodeEntry {
            list: r.try_get(0)?,
            code: r.try_get(1)?,
            label_zh: r.try_get(2)?,
            label_en: r.try_get(3)?,
            parent: r.try_get(4)?,
        })
    })
    .collect()
}

pub(super) fn authority_keys(c: &mut Conn) -> Result<Vec<AuthorityKey>> {
    c.query(
        "SELECT key_id, public_key FROM authority_key ORDER BY key_id",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(AuthorityKey {
            key_id: u16_of(r.try_get(0)?, "authority key id")?,
            public_key: blob(r.try_get(1)?, "authority key")?,
        })
    })
    .collect()
}

pub(super) fn in_scope(
    c: &mut Conn,
    cadre: &CadreId,
    household: &HouseholdId,
    day: NaiveDate,
) -> Result<bool> {
    Ok(c.query_one(
        "SELECT EXISTS (SELECT 1 FROM assignment
                        WHERE cadre = $1 AND household = $2 AND from_date <= $3
                          AND (to_date IS NULL OR to_date >= $3))
             OR EXISTS (SELECT 1 FROM village_post p JOIN household h ON h.village = p.village
                        WHERE p.cadre = $1 AND h.id = $2 AND p.from_date <= $3
                          AND (p.to_date IS NULL OR p.to_date >= $3))",
        &[&cadre.as_str(), &household.as_str(), &day],
    )?
    .try_get(0)?)
}

pub(super) fn households_in_scope(
    c: &mut Conn,
    cadre: &CadreId,
    day: NaiveDate,
) -> Result<Vec<HouseholdId>> {
    c.query(
        "SELECT id FROM (
             SELECT household AS id FROM assignment
                 WHERE cadre = $1 AND from_date <= $2 AND (to_date IS NULL OR to_date >= $2)
             UNION
             SELECT h.id FROM village_post p JOIN household h ON h.village = p.village
                 WHERE p.cadre = $1 AND p.from_date <= $2
                   AND (p.to_date IS NULL OR p.to_date >= $2)
         ) scope ORDER BY id COLLATE \"C\"",
        &[&cadre.as_str(), &day],
    )?
    .iter()
    .map(|r| household_id(r.try_get(0)?))
    .collect()
}

pub(super) fn cadres_in_scope(
    c: &mut Conn,
    household: &HouseholdId,
    day: NaiveDate,
) -> Result<Vec<CadreId>> {
    c.query(
        "SELECT cadre FROM (
             SELECT cadre FROM assignment
                 WHERE household = $1 AND from_date <= $2 AND (to_date IS NULL OR to_date >= $2)
             UNION
             SELECT p.cadre FROM village_post p JOIN household h ON h.village = p.village
                 WHERE h.id = $1 AND p.from_date <= $2
                   AND (p.to_date IS NULL OR p.to_date >= $2)
         ) scope ORDER BY cadre COLLATE \"C\"",
        &[&household.as_str(), &day],
    )?
    .iter()
    .map(|r| cadre_id(r.try_get(0)?))
    .collect()
}

fn entity_of(name: &str) -> Result<Entity> {
    match name {
        "household" => Ok(Entity::Household),
        "member" => Ok(Entity::Member),
        other => Err(Error::Corrupt(format!("unknown entity {other}"))),
    }
}

/// How an editable field's column is typed here.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Date,
    Int,
    Real,
    Flag,
}

fn kind_of(column: &str) -> Kind {
    match column {
        "birth_date" => Kind::Date,
        "work_months" => Kind::Int,
        "housing_area_m2" => Kind::Real,
        "dibao" | "wubao" | "medical_insured" | "serious_illness_insured" => Kind::Flag,
        _ => Kind::Text,
    }
}

fn wrong(column: &str, value: &Value) -> Error {
    Error::Corrupt(format!("{value} cannot be stored in {column}"))
}

/// A JSON value as a parameter for a column of `kind` (`null` is SQL NULL).
fn param(column: &str, kind: Kind, value: &Value) -> Result<Box<dyn ToSql + Sync>> {
    Ok(match kind {
        Kind::Text => Box::new(match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }),
        Kind::Date => Box::new(match value {
            Value::Null => None,
            Value::String(s) => Some(s.parse::<NaiveDate>().map_err(|_| wrong(column, value))?),
            _ => return Err(wrong(column, value)),
        }),
        Kind::Int => Box::new(match value {
            Value::Null => None,
            v => Some(
                v.as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| wrong(column, value))?,
            ),
        }),
        Kind::Real => Box::new(match value {
            Value::Null => None,
            v => Some(v.as_f64().ok_or_else(|| wrong(column, value))?),
        }),
        Kind::Flag => Box::new(match value {
            Value::Null => None,
            Value::Bool(b) => Some(*b),
            v => Some(v.as_i64().ok_or_else(|| wrong(column, value))? != 0),
        }),
    })
}

pub(super) fn set_field(
    c: &mut Conn,
    entity: &str,
    id: &str,
    field: &str,
    value: &Value,
    clock: &FieldClock,
) -> Result<()> {
    let entity = entity_of(entity)?;
    let column = entity
        .field(field)
        .ok_or_else(|| fieldvisit_core::Error::FieldNotEditable {
            field: field.into(),
        })?;
    let table = entity.table();
    let value = param(column, kind_of(column), value)?;
    let sql = format!("UPDATE {table} SET {column} = $2 WHERE id = $1");
    c.execute(&sql, &[&id, value.as_ref()])?;
    c.execute(
        "INSERT INTO field_clock (entity, id, field, hlc, device) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (entity, id, field) DO UPDATE SET hlc = excluded.hlc,
             device = excluded.device",
        &[
            &table,
            &id,
            &column,
            &clock.hlc.as_i64(),
            &clock.device.to_string(),
        ],
    )?;
    Ok(())
}

pub(super) fn field_value(c: &mut Conn, entity: &str, id: &str, field: &str) -> Result<Value> {
    let entity = entity_of(entity)?;
    let column = entity
        .field(field)
        .ok_or_else(|| fieldvisit_core::Error::FieldNotEditable {
            field: field.into(),
        })?;
    let table = entity.table();
    let sql = format!("SELECT {column} FROM {table} WHERE id = $1");
    let Some(r) = c.query_opt(&sql, &[&id])? else {
        return Ok(Value::Null);
    };
    // The same JSON the embedded backend gives: reals as floats, flags as booleans, dates as
    // their ISO text.
    Ok(match kind_of(column) {
        Kind::Text => r.try_get::<_, Option<String>>(0)?.map(Value::from),
        Kind::Date => r
            .try_get::<_, Option<NaiveDate>>(0)?
            .map(|d| Value::from(d.to_string())),
        Kind::Int => r.try_get::<_, Option<i32>>(0)?.map(Value::from),
        Kind::Real => r.try_get::<_, Option<f64>>(0)?.map(Value::from),
        Kind::Flag => r.try_get::<_, Option<bool>>(0)?.map(Value::from),
    }
    .unwrap_or(Value::Null))
}

pub(super) fn field_clocks(c: &mut Conn, entity: &str, id: &str) -> Result<FieldClocks> {
    let entity = entity_of(entity)?;
    let mut out = FieldClocks::new();
    for r in c.query(
        "SELECT field, hlc, device FROM field_clock WHERE entity = $1 AND id = $2",
        &[&entity.table(), &id],
    )? {
        out.insert(
            r.try_get(0)?,
            FieldClock {
                hlc: Hlc::from_i64(r.try_get(1)?),
                device: device_id(r.try_get(2)?)?,
            },
        );
    }
    Ok(out)
}
