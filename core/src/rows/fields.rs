//! Editable fields one at a time: a household's or member's field written with the clock of
//! the write (for per-field last-writer-wins merges), read back as JSON; and the poverty status
//! an accepted exit step sets.

use serde_json::Value as Json;

use crate::clock::Hlc;
use crate::domain::fields::Entity;
use crate::error::Error;
use crate::ids::{DeviceId, HouseholdId};
use crate::protocol::{FieldClock, FieldClocks};
use crate::sql::{Conn, Value};

use super::{Result, corrupt};

/// A JSON field value as the value stored in its column: flags as 0/1, numbers as integers
/// or reals, text as text. Editable fields hold scalars only; anything else is stored as its
/// JSON text.
fn stored(value: &Json) -> Value<'_> {
    match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Int(i64::from(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Real(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => Value::Text(s.as_str().into()),
        other => Value::Text(other.to_string().into()),
    }
}

/// A stored column value as JSON; `flag` columns are booleans.
fn as_json(value: Value<'_>, flag: bool) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Int(i) if flag => Json::Bool(i != 0),
        Value::Int(i) => Json::from(i),
        Value::Real(x) => Json::from(x),
        Value::Text(s) => Json::String(s.into_owned()),
        Value::Blob(b) => Json::from(b.into_owned()),
    }
}

fn is_flag(column: &str) -> bool {
    matches!(
        column,
        "dibao" | "wubao" | "medical_insured" | "serious_illness_insured"
    )
}

fn editable_column(entity: Entity, field: &str) -> std::result::Result<&'static str, Error> {
    entity.field(field).ok_or_else(|| Error::FieldNotEditable {
        field: field.into(),
    })
}

/// Writes one editable field and the clock of the write. The column name comes from the
/// entity's own field table, never from the caller's text.
pub fn set_field<C: Conn + ?Sized>(
    c: &C,
    entity: Entity,
    id: &str,
    field: &str,
    value: &Json,
    clock: &FieldClock,
) -> Result<(), C> {
    let column = editable_column(entity, field)?;
    let table = entity.table();
    c.execute(
        &format!("UPDATE {table} SET {column} = ?2 WHERE id = ?1"),
        &[&id, &stored(value)],
    )?;
    c.execute(
        "INSERT INTO field_clock (entity, id, field, hlc, device) VALUES (?1, ?2, ?3, ?4, ?5)
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

/// Sets a household's poverty status (a checked exit step, [`crate::domain::exit`]); the exit
/// year is set with a step to exited and left as it was otherwise.
pub fn set_poverty_status<C: Conn + ?Sized>(
    c: &C,
    household: &HouseholdId,
    status: &str,
    exit_year: Option<i32>,
) -> Result<(), C> {
    c.execute(
        "UPDATE household SET poverty_status = ?2, exit_year = COALESCE(?3, exit_year)
         WHERE id = ?1",
        &[&household.as_str(), &status, &exit_year],
    )?;
    Ok(())
}

/// The current value of one editable field, as JSON (`null` when the row does not exist).
pub fn field_value<C: Conn + ?Sized>(
    c: &C,
    entity: Entity,
    id: &str,
    field: &str,
) -> Result<Json, C> {
    let column = editable_column(entity, field)?;
    let table = entity.table();
    let value = c.query_opt(
        &format!("SELECT {column} FROM {table} WHERE id = ?1"),
        &[&id],
        |r| Ok(as_json(r.value(0)?, is_flag(column))),
    )?;
    Ok(value.unwrap_or(Json::Null))
}

/// The clocks of the last writes to an entity's fields.
pub fn field_clocks<C: Conn + ?Sized>(c: &C, entity: Entity, id: &str) -> Result<FieldClocks, C> {
    let rows = c.query(
        "SELECT field, hlc, device FROM field_clock WHERE entity = ?1 AND id = ?2",
        &[&entity.table(), &id],
        |r| {
            let device: String = r.get(2)?;
            Ok((
                r.get::<String>(0)?,
                FieldClock {
                    hlc: Hlc::from_i64(r.get(1)?),
                    device: DeviceId::parse(&device).map_err(corrupt("field clock device"))?,
                },
            ))
        },
    )?;
    Ok(rows.into_iter().collect())
}
