//! Field edits to households and members made on the phone (a new phone number, a child back
//! in school, a house renovated). Each edit is validated against the field's rule, written with
//! its journal operation, and stamped with its clock per field so that the server can merge
//! concurrent edits field by field, last writer wins.
//!
//! Only the fields listed here can be edited from a phone. Status, attribute and the plate
//! belong to the county's procedures and are refused with [`Error::FieldNotEditable`].

use std::collections::BTreeMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params};
use serde_json::Value;

use super::journal_log::append;
use super::registry::{household_by_id, in_scope, member_by_id};
use super::{CodeCache, Store};
use crate::domain::{CodeLists, lists};
use crate::error::{Error, Result};
use crate::ids::{HouseholdId, MemberId};
use crate::journal::{HouseholdUpdate, MemberUpdate, OpBody};
use crate::validate::{self, Invalid, Reason, TextRule};

/// How one editable field is checked and stored. Column names come only from these tables,
/// never from input.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Text(usize),
    Code(&'static str),
    Phone,
    ResidentId,
    Date,
    Int(i64, i64),
    Real(f64, f64),
    Flag,
}

const HOUSEHOLD_FIELDS: &[(&str, Rule)] = &[
    ("group_name", Rule::Text(40)),
    ("phone", Rule::Phone),
    ("housing_area_m2", Rule::Real(0.0, 10_000.0)),
    ("housing_structure", Rule::Text(40)),
    ("housing_safety", Rule::Code(lists::HOUSING_SAFETY)),
    ("drinking_water", Rule::Text(40)),
];

const MEMBER_FIELDS: &[(&str, Rule)] = &[
    ("name", Rule::Text(40)),
    ("resident_id", Rule::ResidentId),
    ("birth_date", Rule::Date),
    ("ethnicity", Rule::Code(lists::ETHNICITY)),
    ("education", Rule::Code(lists::EDUCATION)),
    ("school_status", Rule::Text(40)),
    ("health", Rule::Code(lists::HEALTH)),
    ("labour_skill", Rule::Code(lists::LABOUR_SKILL)),
    ("work_status", Rule::Code(lists::WORK_STATUS)),
    ("work_months", Rule::Int(0, 12)),
    ("dibao", Rule::Flag),
    ("wubao", Rule::Flag),
    ("medical_insured", Rule::Flag),
    ("serious_illness_insured", Rule::Flag),
];

/// Fields that must always hold a value (the rest may be cleared with `null`).
const NOT_NULL: &[&str] = &[
    "name",
    "dibao",
    "wubao",
    "medical_insured",
    "serious_illness_insured",
];

fn wrong_type(field: &str) -> Invalid {
    Invalid {
        field: field.to_string(),
        reason: Reason::WrongType,
    }
}

/// Checks one value and returns it in canonical form, with what SQLite stores.
fn check(
    field: &str,
    rule: Rule,
    value: &Value,
    codes: &CodeCache,
) -> Result<(Value, SqlValue), Invalid> {
    if value.is_null() {
        if NOT_NULL.contains(&field) {
            return Err(Invalid {
                field: field.to_string(),
                reason: Reason::Required,
            });
        }
        return Ok((Value::Null, SqlValue::Null));
    }
    let text = || value.as_str().ok_or_else(|| wrong_type(field));
    let string = |s: String| (Value::String(s.clone()), SqlValue::Text(s));
    Ok(match rule {
        Rule::Text(max) => string(validate::text(field, text()?, TextRule::required(1, max))?),
        Rule::Code(list) => {
            let code = text()?;
            codes.check(field, list, code)?;
            string(code.to_string())
        }
        Rule::Phone => string(validate::phone(field, text()?)?),
        Rule::ResidentId => string(validate::resident_id(field, text()?)?),
        Rule::Date => string(validate::date(field, text()?)?.to_string()),
        Rule::Int(min, max) => {
            let n = value.as_i64().ok_or_else(|| wrong_type(field))?;
            let n = validate::int_range(field, n, min, max)?;
            (Value::from(n), SqlValue::Integer(n))
        }
        Rule::Real(min, max) => {
            let x = value.as_f64().ok_or_else(|| wrong_type(field))?;
            let x = validate::number_range(field, x, min, max)?;
            (Value::from(x), SqlValue::Real(x))
        }
        Rule::Flag => {
            let b = value.as_bool().ok_or_else(|| wrong_type(field))?;
            (Value::Bool(b), SqlValue::Integer(i64::from(b)))
        }
    })
}

type Checked = BTreeMap<String, (Value, SqlValue)>;

fn check_all(
    table: &[(&'static str, Rule)],
    fields: BTreeMap<String, Value>,
    codes: &CodeCache,
) -> Result<Checked> {
    if fields.is_empty() {
        return Err(Invalid {
            field: "fields".into(),
            reason: Reason::Required,
        }
        .into());
    }
    let mut out = Checked::new();
    for (field, value) in fields {
        let Some((name, rule)) = table.iter().find(|(name, _)| *name == field) else {
            return Err(Error::FieldNotEditable { field });
        };
        out.insert((*name).to_string(), check(name, *rule, &value, codes)?);
    }
    Ok(out)
}

fn write_fields(
    conn: &Connection,
    entity: &str,
    id: &str,
    table: &[(&'static str, Rule)],
    checked: &Checked,
    hlc: i64,
    device: &str,
) -> Result<()> {
    for (field, (_, sql_value)) in checked {
        // The column name is one of the table's own entries, never the caller's text.
        let Some((column, _)) = table.iter().find(|(name, _)| name == field) else {
            return Err(Error::FieldNotEditable {
                field: field.clone(),
            });
        };
        let sql = format!("UPDATE {entity} SET {column} = ?2 WHERE id = ?1");
        conn.execute(&sql, params![id, sql_value])?;
        conn.execute(
            "INSERT INTO field_clock (entity, id, field, hlc, device) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (entity, id, field) DO UPDATE SET hlc = excluded.hlc,
                 device = excluded.device",
            params![entity, id, field, hlc, device],
        )?;
    }
    Ok(())
}

fn canonical(checked: &Checked) -> BTreeMap<String, Value> {
    checked
        .iter()
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect()
}

impl Store {
    /// Edits fields of a household in the cadre's scope. `fields` maps field names to new
    /// values (`null` clears an optional field).
    pub fn update_household(
        &self,
        household: &HouseholdId,
        fields: BTreeMap<String, Value>,
    ) -> Result<()> {
        let day = self.clock.now().local_date();
        let checked = self.with_codes(|codes| check_all(HOUSEHOLD_FIELDS, fields, codes))?;
        self.write(|tx| {
            let cadre = Store::cadre(tx)?;
            household_by_id(tx, household)?.ok_or(Error::UnknownHousehold)?;
            if !in_scope(tx, &cadre, household, day)? {
                return Err(Error::NotAssigned);
            }
            let update = HouseholdUpdate {
                household: household.clone(),
                fields: canonical(&checked),
            };
            let op = append(self, tx, &OpBody::HouseholdUpdated(update))?;
            let device = self.device.id.to_string();
            write_fields(
                tx,
                "household",
                household.as_str(),
                HOUSEHOLD_FIELDS,
                &checked,
                op.hlc.as_i64(),
                &device,
            )
        })
    }

    /// Edits fields of a member of a household in the cadre's scope.
    pub fn update_member(&self, member: &MemberId, fields: BTreeMap<String, Value>) -> Result<()> {
        let day = self.clock.now().local_date();
        let checked = self.with_codes(|codes| check_all(MEMBER_FIELDS, fields, codes))?;
        self.write(|tx| {
            let cadre = Store::cadre(tx)?;
            let found = member_by_id(tx, member)?.ok_or(Error::UnknownMember)?;
            if !in_scope(tx, &cadre, &found.household, day)? {
                return Err(Error::NotAssigned);
            }
            let update = MemberUpdate {
                member: member.clone(),
                household: found.household.clone(),
                fields: canonical(&checked),
            };
            let op = append(self, tx, &OpBody::MemberUpdated(update))?;
            let device = self.device.id.to_string();
            write_fields(
                tx,
                "member",
                member.as_str(),
                MEMBER_FIELDS,
                &checked,
                op.hlc.as_i64(),
                &device,
            )
        })
    }
}
