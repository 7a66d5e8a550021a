//! Field edits to households and members made on the phone (a new phone number, a child back
//! in school, a house renovated). Each edit is validated against the field's rule, written with
//! its journal operation, and stamped with its clock per field so that the server can merge
//! concurrent edits field by field, last writer wins.
//!
//! Only the fields listed here can be edited from a phone. Status, attribute and the plate
//! belong to the county's procedures and are refused with [`Error::FieldNotEditable`].

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde_json::Value;

use super::journal_log::append;
use super::registry::{household_by_id, in_scope, member_by_id};
use super::{CodeCache, Store};
use crate::domain::fields::{self, Entity, FieldError};
use crate::error::{Error, Result};
use crate::ids::{HouseholdId, MemberId};
use crate::journal::{HouseholdUpdate, MemberUpdate, OpBody};
use crate::protocol::FieldClock;
use crate::rows;
use crate::validate::{Invalid, Reason};

type Checked = BTreeMap<&'static str, Value>;

fn check_all(
    entity: Entity,
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
        let canonical = match fields::check(entity, &field, &value, codes) {
            Ok(v) => v,
            Err(FieldError::NotEditable) => return Err(Error::FieldNotEditable { field }),
            Err(FieldError::Invalid(i)) => return Err(i.into()),
        };
        let name = entity
            .field(&field)
            .ok_or(Error::FieldNotEditable { field })?;
        out.insert(name, canonical);
    }
    Ok(out)
}

fn write_fields(
    conn: &Connection,
    entity: Entity,
    id: &str,
    checked: &Checked,
    clock: &FieldClock,
) -> Result<()> {
    for (field, value) in checked {
        rows::set_field(conn, entity, id, field, value, clock)?;
    }
    Ok(())
}

fn canonical(checked: &Checked) -> BTreeMap<String, Value> {
    checked
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
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
        let checked = self.with_codes(|codes| check_all(Entity::Household, fields, codes))?;
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
            let clock = FieldClock {
                hlc: op.hlc,
                device: self.device.id,
            };
            write_fields(tx, Entity::Household, household.as_str(), &checked, &clock)
        })
    }

    /// Edits fields of a member of a household in the cadre's scope.
    pub fn update_member(&self, member: &MemberId, fields: BTreeMap<String, Value>) -> Result<()> {
        let day = self.clock.now().local_date();
        let checked = self.with_codes(|codes| check_all(Entity::Member, fields, codes))?;
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
            let clock = FieldClock {
                hlc: op.hlc,
                device: self.device.id,
            };
            write_fields(tx, Entity::Member, member.as_str(), &checked, &clock)
        })
    }
}
