//! The registry as the server keeps it: households, members, cadres, areas, assignments,
//! village posts, measures, code lists, plate keys' public halves, field clocks, and the log
//! of values that lost a last-writer-wins merge. The rows and the scope rule are the ones the
//! phones use (`fieldvisit_core::rows`), so a phone and the server can never disagree on who
//! is responsible for a household.
//!
//! Conformance: server/tests/conformance/registry.rs.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use fieldvisit_core::clock::{Hlc, ServerTime};
use fieldvisit_core::codes::HumanCode;
use fieldvisit_core::domain::fields::Entity;
use fieldvisit_core::domain::{
    Area, Assignment, Cadre, CodeEntry, Household, Measure, Member, RegistryRecord, VillagePost,
};
use fieldvisit_core::ids::{AssignmentId, CadreId, HouseholdId, MeasureId, MemberId, PostId};
use fieldvisit_core::plate::AuthorityKey;
use fieldvisit_core::protocol::{FieldClock, FieldClocks};
use fieldvisit_core::rows;

use super::Db;
use super::decode::device_id;
use crate::error::{Error, Result};

/// A value that lost a last-writer-wins merge, kept for admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub entity: String,
    pub entity_id: String,
    pub field: String,
    pub losing_value: serde_json::Value,
    pub losing_clock: FieldClock,
    pub winning_value: serde_json::Value,
    pub winning_clock: FieldClock,
    pub at: ServerTime,
}

/// The registry's tables.
pub trait Registry {
    fn put_record(&mut self, record: &RegistryRecord) -> Result<()>;
    fn household(&mut self, id: &HouseholdId) -> Result<Option<Household>>;
    /// The household whose door plate carries `code`.
    fn household_by_code(&mut self, code: &HumanCode) -> Result<Option<Household>>;
    /// Every household of a village, in door-plate code order.
    fn households_of_village(&mut self, village: &str) -> Result<Vec<Household>>;
    /// The id of every household in the registry, by village and door-plate code.
    fn household_ids(&mut self) -> Result<Vec<HouseholdId>>;
    fn members_of(&mut self, household: &HouseholdId) -> Result<Vec<Member>>;
    fn member(&mut self, id: &MemberId) -> Result<Option<Member>>;
    /// The member whose person code (一人一码) is `code`.
    fn member_by_person_code(&mut self, code: &HumanCode) -> Result<Option<Member>>;
    fn measure(&mut self, id: &MeasureId) -> Result<Option<Measure>>;
    fn measures_of(&mut self, household: &HouseholdId) -> Result<Vec<Measure>>;
    fn cadre(&mut self, id: &CadreId) -> Result<Option<Cadre>>;
    fn area(&mut self, code: &str) -> Result<Option<Area>>;
    fn assignment(&mut self, id: &AssignmentId) -> Result<Option<Assignment>>;
    fn post(&mut self, id: &PostId) -> Result<Option<VillagePost>>;
    fn assignments_of_cadre(&mut self, cadre: &CadreId) -> Result<Vec<Assignment>>;
    fn assignments_of_household(&mut self, household: &HouseholdId) -> Result<Vec<Assignment>>;
    fn posts_of_cadre(&mut self, cadre: &CadreId) -> Result<Vec<VillagePost>>;
    fn code_entries(&mut self) -> Result<Vec<CodeEntry>>;
    fn authority_keys(&mut self) -> Result<Vec<AuthorityKey>>;
    /// The households `cadre` is responsible for on `day` (assignments and village posts).
    fn households_in_scope(&mut self, cadre: &CadreId, day: NaiveDate) -> Result<Vec<HouseholdId>>;
    fn in_scope(
        &mut self,
        cadre: &CadreId,
        household: &HouseholdId,
        day: NaiveDate,
    ) -> Result<bool>;
    /// The cadres responsible for `household` on `day`.
    fn cadres_in_scope(&mut self, household: &HouseholdId, day: NaiveDate) -> Result<Vec<CadreId>>;
    /// The clocks of the last writes to an entity's fields (`entity` is "household" or
    /// "member").
    fn field_clocks(&mut self, entity: &str, id: &str) -> Result<FieldClocks>;
    /// Writes one field's value and its clock. `field` is one of the editable fields of the
    /// entity; the column comes from the entity's own field table.
    fn set_field(
        &mut self,
        entity: &str,
        id: &str,
        field: &str,
        value: &serde_json::Value,
        clock: &FieldClock,
    ) -> Result<()>;
    /// The current value of one editable field, as JSON.
    fn field_value(&mut self, entity: &str, id: &str, field: &str) -> Result<serde_json::Value>;
    /// Sets a household's poverty status after an accepted exit step; `exit_year` is set with
    /// a step to exited and kept otherwise.
    fn set_poverty_status(
        &mut self,
        household: &HouseholdId,
        status: &str,
        exit_year: Option<i32>,
    ) -> Result<()>;
    fn log_conflict(&mut self, conflict: &Conflict) -> Result<()>;
    /// The newest `limit` conflicts, newest first.
    fn conflicts(&mut self, limit: usize) -> Result<Vec<Conflict>>;
}

fn entity_of(name: &str) -> Result<Entity> {
    match name {
        "household" => Ok(Entity::Household),
        "member" => Ok(Entity::Member),
        other => Err(Error::Corrupt(format!("unknown entity {other}"))),
    }
}

impl<D: Db + ?Sized> Registry for D {
    fn put_record(&mut self, record: &RegistryRecord) -> Result<()> {
        rows::put_record(self, record)
    }

    fn household(&mut self, id: &HouseholdId) -> Result<Option<Household>> {
        rows::household_by_id(self, id)
    }

    fn household_by_code(&mut self, code: &HumanCode) -> Result<Option<Household>> {
        rows::household_by_code(self, code)
    }

    fn households_of_village(&mut self, village: &str) -> Result<Vec<Household>> {
        rows::households_of_village(self, village)
    }

    fn household_ids(&mut self) -> Result<Vec<HouseholdId>> {
        rows::household_ids(self)
    }

    fn members_of(&mut self, household: &HouseholdId) -> Result<Vec<Member>> {
        rows::members_of(self, household)
    }

    fn member(&mut self, id: &MemberId) -> Result<Option<Member>> {
        rows::member_by_id(self, id)
    }

    fn member_by_person_code(&mut self, code: &HumanCode) -> Result<Option<Member>> {
        rows::member_by_person_code(self, code)
    }

    fn measure(&mut self, id: &MeasureId) -> Result<Option<Measure>> {
        rows::measure_by_id(self, id)
    }

    fn measures_of(&mut self, household: &HouseholdId) -> Result<Vec<Measure>> {
        rows::measures_of(self, household)
    }

    fn cadre(&mut self, id: &CadreId) -> Result<Option<Cadre>> {
        rows::cadre(self, id)
    }

    fn area(&mut self, code: &str) -> Result<Option<Area>> {
        rows::area(self, code)
    }

    fn assignment(&mut self, id: &AssignmentId) -> Result<Option<Assignment>> {
        rows::assignment(self, id)
    }

    fn post(&mut self, id: &PostId) -> Result<Option<VillagePost>> {
        rows::post(self, id)
    }

    fn assignments_of_cadre(&mut self, cadre: &CadreId) -> Result<Vec<Assignment>> {
        rows::assignments_of_cadre(self, cadre)
    }

    fn assignments_of_household(&mut self, household: &HouseholdId) -> Result<Vec<Assignment>> {
        rows::assignments_of_household(self, household)
    }

    fn posts_of_cadre(&mut self, cadre: &CadreId) -> Result<Vec<VillagePost>> {
        rows::posts_of_cadre(self, cadre)
    }

    fn code_entries(&mut self) -> Result<Vec<CodeEntry>> {
        rows::code_entries(self)
    }

    fn authority_keys(&mut self) -> Result<Vec<AuthorityKey>> {
        rows::authority_keys(self)
    }

    fn households_in_scope(&mut self, cadre: &CadreId, day: NaiveDate) -> Result<Vec<HouseholdId>> {
        rows::households_in_scope(self, cadre, day)
    }

    fn in_scope(
        &mut self,
        cadre: &CadreId,
        household: &HouseholdId,
        day: NaiveDate,
    ) -> Result<bool> {
        rows::in_scope(self, cadre, household, day)
    }

    fn cadres_in_scope(&mut self, household: &HouseholdId, day: NaiveDate) -> Result<Vec<CadreId>> {
        rows::cadres_in_scope(self, household, day)
    }

    fn field_clocks(&mut self, entity: &str, id: &str) -> Result<FieldClocks> {
        rows::field_clocks(self, entity_of(entity)?, id)
    }

    fn set_field(
        &mut self,
        entity: &str,
        id: &str,
        field: &str,
        value: &serde_json::Value,
        clock: &FieldClock,
    ) -> Result<()> {
        rows::set_field(self, entity_of(entity)?, id, field, value, clock)
    }

    fn field_value(&mut self, entity: &str, id: &str, field: &str) -> Result<serde_json::Value> {
        rows::field_value(self, entity_of(entity)?, id, field)
    }

    fn set_poverty_status(
        &mut self,
        household: &HouseholdId,
        status: &str,
        exit_year: Option<i32>,
    ) -> Result<()> {
        rows::set_poverty_status(self, household, status, exit_year)
    }

    fn log_conflict(&mut self, k: &Conflict) -> Result<()> {
        self.execute(
            "INSERT INTO conflict (entity, entity_id, field, losing_value, losing_hlc,
                 losing_device, winning_value, winning_hlc, winning_device, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            &[
                &k.entity,
                &k.entity_id,
                &k.field,
                &k.losing_value.to_string(),
                &k.losing_clock.hlc.as_i64(),
                &k.losing_clock.device.to_string(),
                &k.winning_value.to_string(),
                &k.winning_clock.hlc.as_i64(),
                &k.winning_clock.device.to_string(),
                &k.at.0,
            ],
        )?;
        Ok(())
    }

    fn conflicts(&mut self, limit: usize) -> Result<Vec<Conflict>> {
        self.query(
            "SELECT entity, entity_id, field, losing_value, losing_hlc, losing_device,
                    winning_value, winning_hlc, winning_device, at
             FROM conflict ORDER BY id DESC LIMIT ?1",
            &[&limit],
            |r| {
                let json = |i: usize| -> Result<serde_json::Value> {
                    Ok(serde_json::from_str(&r.get::<String>(i)?)?)
                };
                Ok(Conflict {
                    entity: r.get(0)?,
                    entity_id: r.get(1)?,
                    field: r.get(2)?,
                    losing_value: json(3)?,
                    losing_clock: FieldClock {
                        hlc: Hlc::from_i64(r.get(4)?),
                        device: device_id(&r.get::<String>(5)?)?,
                    },
                    winning_value: json(6)?,
                    winning_clock: FieldClock {
                        hlc: Hlc::from_i64(r.get(7)?),
                        device: device_id(&r.get::<String>(8)?)?,
                    },
                    at: ServerTime(r.get(9)?),
                })
            },
        )
    }
}
