//! Applying pulled feed entries to the device's tables, inside the transaction that
//! [`super::sync_state`] opened for the whole page.
//!
//! Households arrive in full and are merged field by field against this device's own edits,
//! last writer wins by (HLC, device): an edit the server has not seen yet is never overwritten
//! by an older snapshot. Visits from other devices become history. Purges wait until this
//! device's pending operations for the household are through, so nothing the cadre recorded
//! vanishes from the phone before it has reached the server.

use std::collections::BTreeSet;

use rusqlite::{Connection, params};
use serde_json::Value;

use super::journal_log::own_op_id;
use super::visits::{insert_amendment, insert_visit, refresh_content};
use crate::domain::fields::Entity;
use crate::domain::{Household, Measure, RegistryRecord};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, HouseholdId};
use crate::journal::{OpBody, Operation};
use crate::protocol::{ChangeBody, FieldClock, FieldClocks, MemberState};
use crate::rows::{self, household_by_id, put_record};

/// What the changes of one page add up to, carried through the page.
pub(super) struct Pulled {
    /// This device, to recognise its own operations coming back as history.
    pub(super) device: DeviceId,
    pub(super) purge_pending: BTreeSet<String>,
    pub(super) conflicts: u64,
    pub(super) purged: u64,
}

pub(super) fn apply_change(
    conn: &Connection,
    change: &ChangeBody,
    pulled: &mut Pulled,
) -> Result<()> {
    match change {
        ChangeBody::Household {
            household,
            clocks,
            members,
            measures,
            visits,
        } => apply_household(conn, household, clocks, members, measures, visits, pulled),
        ChangeBody::Visit { op } => apply_visit_op(conn, op, pulled.device),
        ChangeBody::Purge { household } => {
            if has_pending(conn, household)? {
                pulled.purge_pending.insert(household.as_str().to_string());
            } else {
                pulled.purged += purge(conn, household)?;
            }
            Ok(())
        }
        ChangeBody::Cadre { cadre } => put_record(conn, &RegistryRecord::Cadre(cadre.clone())),
        ChangeBody::Area { area } => put_record(conn, &RegistryRecord::Area(area.clone())),
        ChangeBody::Assignment { assignment } => {
            put_record(conn, &RegistryRecord::Assignment(assignment.clone()))
        }
        ChangeBody::VillagePost { post } => {
            put_record(conn, &RegistryRecord::VillagePost(post.clone()))
        }
        ChangeBody::Code { code } => put_record(conn, &RegistryRecord::Code(code.clone())),
        ChangeBody::AuthorityKey { key } => put_record(conn, &RegistryRecord::AuthorityKey(*key)),
    }
}

fn apply_household(
    conn: &Connection,
    household: &Household,
    clocks: &FieldClocks,
    members: &[MemberState],
    measures: &[Measure],
    visits: &[Operation],
    pulled: &mut Pulled,
) -> Result<()> {
    let id = household.id.as_str();
    // Back in scope (or never out of it): a purge still waiting is void.
    pulled.purge_pending.remove(id);

    let local = local_fields(conn, Entity::Household, id)?;
    put_record(conn, &RegistryRecord::Household(household.clone()))?;
    pulled.conflicts += settle(conn, Entity::Household, id, local, clocks)?;

    // The snapshot is the household in full: members and measures it no longer lists are gone.
    let mut listed = BTreeSet::new();
    for state in members {
        let member = &state.member;
        if member.household != household.id {
            return Err(Error::Protocol(
                "a household's snapshot lists a member of another household".into(),
            ));
        }
        let member_id = member.id.as_str();
        listed.insert(member_id.to_string());
        let local = local_fields(conn, Entity::Member, member_id)?;
        put_record(conn, &RegistryRecord::Member(member.clone()))?;
        pulled.conflicts += settle(conn, Entity::Member, member_id, local, &state.clocks)?;
    }
    let held: Vec<String> = {
        let mut stmt = conn.prepare_cached("SELECT id FROM member WHERE household = ?1")?;
        let rows = stmt.query_map([id], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for gone in held.iter().filter(|m| !listed.contains(*m)) {
        conn.execute(
            "DELETE FROM field_clock WHERE entity = ?1 AND id = ?2",
            params![Entity::Member.table(), gone],
        )?;
        conn.execute("DELETE FROM member WHERE id = ?1", [gone])?;
    }

    let mut listed = BTreeSet::new();
    for measure in measures {
        if measure.household != household.id {
            return Err(Error::Protocol(
                "a household's snapshot lists a measure of another household".into(),
            ));
        }
        listed.insert(measure.id.as_str().to_string());
        put_record(conn, &RegistryRecord::Measure(measure.clone()))?;
    }
    let held: Vec<String> = {
        let mut stmt = conn.prepare_cached("SELECT id FROM measure WHERE household = ?1")?;
        let rows = stmt.query_map([id], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for gone in held.iter().filter(|m| !listed.contains(*m)) {
        conn.execute("DELETE FROM measure WHERE id = ?1", [gone])?;
    }

    // Records before amendments, whatever order they came in: an amendment of a visit not
    // yet held would be skipped.
    let is_record = |op: &&Operation| op.kind == crate::journal::OpKind::VisitRecord.as_str();
    for op in visits.iter().filter(is_record) {
        apply_visit_op(conn, op, pulled.device)?;
    }
    for op in visits.iter().filter(|op| !is_record(op)) {
        apply_visit_op(conn, op, pulled.device)?;
    }
    Ok(())
}

/// A field this device has a clock for, with its value before the snapshot was written.
struct LocalField {
    field: &'static str,
    clock: FieldClock,
    value: Value,
}

/// The locally clocked fields of an entity and their values; empty when the row is not held
/// (there is then no local value to keep).
fn local_fields(conn: &Connection, entity: Entity, id: &str) -> Result<Vec<LocalField>> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE id = ?1)",
        entity.table()
    );
    let held: bool = conn.query_row(&sql, [id], |r| r.get(0))?;
    if !held {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (name, clock) in rows::field_clocks(conn, entity, id)? {
        // Only editable fields get clocks; anything else is not this merge's business.
        let Some(field) = entity.field(&name) else {
            continue;
        };
        out.push(LocalField {
            field,
            clock,
            value: rows::field_value(conn, entity, id, field)?,
        });
    }
    Ok(out)
}

/// Decides every locally clocked field after the snapshot was written: the newer of the local
/// clock and the incoming one wins (a field without an incoming clock is older than any local
/// edit). Returns how many fields had differing values to decide between.
fn settle(
    conn: &Connection,
    entity: Entity,
    id: &str,
    local: Vec<LocalField>,
    incoming: &FieldClocks,
) -> Result<u64> {
    let mut conflicts = 0;
    for mine in local {
        let after = rows::field_value(conn, entity, id, mine.field)?;
        let differs = after != mine.value;
        match incoming.get(mine.field) {
            Some(theirs) if (theirs.hlc, theirs.device) >= (mine.clock.hlc, mine.clock.device) => {
                // Rewriting the value the snapshot just wrote, to record its clock beside it.
                rows::set_field(conn, entity, id, mine.field, &after, theirs)?;
            }
            _ if differs => {
                rows::set_field(conn, entity, id, mine.field, &mine.value, &mine.clock)?;
            }
            _ => {}
        }
        if differs {
            conflicts += 1;
        }
    }
    Ok(conflicts)
}

/// Adds another device's visit or amendment to the history, once. Operations of unknown
/// kinds (a newer app elsewhere) are passed over rather than blocking the feed.
fn apply_visit_op(conn: &Connection, op: &Operation, this_device: DeviceId) -> Result<()> {
    match op.body() {
        Ok(OpBody::VisitRecorded(record)) => {
            let known: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM visit WHERE id = ?1)",
                [record.id.to_string()],
                |r| r.get(0),
            )?;
            if known {
                return Ok(());
            }
            let home = household_by_id(conn, &record.household)?.and_then(|h| h.location);
            let distance_m = match (&record.location, home) {
                (Some(fix), Some(home)) => Some(fix.point.distance_m(&home)),
                _ => None,
            };
            // This device's own visit coming back (after a purge and a return to scope) is
            // linked to its journal row again, so its sync state shows.
            let local_seq = if op.device == this_device && own_op_id(conn, op.seq)? == Some(op.id) {
                Some(op.seq)
            } else {
                None
            };
            insert_visit(conn, &record, op.hlc, op.device, local_seq, distance_m)
        }
        Ok(OpBody::VisitAmended(amendment)) => {
            let (known_op, known_visit): (bool, bool) = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM visit_amendment WHERE op_id = ?1),
                        EXISTS (SELECT 1 FROM visit WHERE id = ?2)",
                params![op.id.as_bytes().as_slice(), amendment.visit.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if known_op || !known_visit {
                return Ok(());
            }
            insert_amendment(conn, op.id, &amendment, op.hlc, op.device)?;
            refresh_content(conn, amendment.visit)
        }
        Ok(OpBody::HouseholdUpdated(_) | OpBody::MemberUpdated(_) | OpBody::StatusChanged(_))
        | Err(_) => Ok(()),
    }
}

/// Whether this device still has operations to deliver about the household: its visits and
/// edits (journal.household), and amendments of its visits (which name only the visit).
fn has_pending(conn: &Connection, household: &HouseholdId) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (
             SELECT 1 FROM journal j
             WHERE j.state = 'pending'
               AND (j.household = ?1
                    OR (j.kind = ?2
                        AND json_extract(j.payload, '$.visit') IN
                            (SELECT id FROM visit WHERE household = ?1))))",
        [
            household.as_str(),
            crate::journal::OpKind::VisitAmend.as_str(),
        ],
        |r| r.get(0),
    )?)
}

/// Purges the waiting households that no longer have pending operations.
pub(super) fn purge_waiting(conn: &Connection, waiting: &mut BTreeSet<String>) -> Result<u64> {
    let mut purged = 0;
    let ids: Vec<String> = waiting.iter().cloned().collect();
    for id in ids {
        let household = HouseholdId::new(id.clone())
            .map_err(|e| Error::Corrupt(format!("waiting purge: {e}")))?;
        if !has_pending(conn, &household)? {
            purged += purge(conn, &household)?;
            waiting.remove(&id);
        }
    }
    Ok(purged)
}

/// Removes a household and everything held about it; the journal keeps this device's own
/// operations. Returns 1 if the household was held.
fn purge(conn: &Connection, household: &HouseholdId) -> Result<u64> {
    let id = household.as_str();
    conn.execute(
        "DELETE FROM visit_amendment WHERE visit IN (SELECT id FROM visit WHERE household = ?1)",
        [id],
    )?;
    conn.execute("DELETE FROM visit WHERE household = ?1", [id])?;
    conn.execute(
        "DELETE FROM field_clock
         WHERE (entity = 'household' AND id = ?1)
            OR (entity = 'member' AND id IN (SELECT id FROM member WHERE household = ?1))",
        [id],
    )?;
    conn.execute("DELETE FROM member WHERE household = ?1", [id])?;
    conn.execute("DELETE FROM measure WHERE household = ?1", [id])?;
    conn.execute("DELETE FROM assignment WHERE household = ?1", [id])?;
    let removed = conn.execute("DELETE FROM household WHERE id = ?1", [id])?;
    Ok(u64::try_from(removed).unwrap_or(0))
}
