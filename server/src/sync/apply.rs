//! What a pushed operation means on the server: checks that decide accept or reject (scope at
//! the time of the visit, permissions by role, validation with the county's code lists), and
//! the effects of an accepted operation (the visit row, per-field merges with the conflict log,
//! feed entries for the other devices concerned).

use std::collections::BTreeMap;

use serde_json::Value;

use fieldvisit_core::clock::{Hlc, ServerTime, WallTime};
use fieldvisit_core::domain::exit::{self, StatusStep, StepRefusal, Verification};
use fieldvisit_core::domain::fields::{self, Entity, FieldError};
use fieldvisit_core::domain::photo::{MAX_PHOTOS_PER_VISIT, PhotoRef};
use fieldvisit_core::domain::visit::{IdentifiedBy, VisitAmendment, VisitContent, VisitRecord};
use fieldvisit_core::ids::{HouseholdId, VisitId};
use fieldvisit_core::journal::{BodyError, OpBody, Operation};
use fieldvisit_core::protocol::{FieldClock, RejectCode};
use fieldvisit_core::validate::{Invalid, Reason};

use super::MAX_CLOCK_AHEAD_MS;
use crate::error::Result;
use crate::feed::{self, FeedBatch};
use crate::reference::Reference;
use crate::storage::{Conflict, DeviceRecord, PhotoLink, Registry, ServerVisit, Tx};

/// Why an operation is refused; stored with it and reported to the device.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub code: RejectCode,
    pub reason: String,
    pub household: Option<HouseholdId>,
}

fn refuse(code: RejectCode, reason: impl Into<String>, household: Option<&HouseholdId>) -> Refusal {
    Refusal {
        code,
        reason: reason.into(),
        household: household.cloned(),
    }
}

/// What an accepted operation will do.
#[derive(Debug, Clone)]
pub enum Plan {
    Visit {
        record: Box<VisitRecord>,
        distance_m: Option<f64>,
    },
    Amend {
        household: HouseholdId,
    },
    Fields {
        entity: Entity,
        id: String,
        household: HouseholdId,
        fields: BTreeMap<String, Value>,
    },
    Status {
        household: HouseholdId,
        to: String,
        exit_year: Option<i32>,
    },
}

impl Plan {
    pub fn household(&self) -> Option<&HouseholdId> {
        match self {
            Plan::Visit { record, .. } => Some(&record.household),
            Plan::Amend { household, .. }
            | Plan::Fields { household, .. }
            | Plan::Status { household, .. } => Some(household),
        }
    }
}

/// A device clock running ahead does not get to win merges with the future: its clock is
/// capped at the server's time plus the allowed skew.
pub fn clamp(hlc: Hlc, now: ServerTime) -> Hlc {
    let cap = u64::try_from(now.0.saturating_add(MAX_CLOCK_AHEAD_MS)).unwrap_or(0);
    hlc.min(Hlc::new(cap, u16::MAX))
}

/// The local date a timestamp from the device stands for, not later than the server's today.
fn day_of(wall: WallTime, now: ServerTime) -> chrono::NaiveDate {
    WallTime(wall.0.min(now.0.saturating_add(MAX_CLOCK_AHEAD_MS))).local_date()
}

/// Decides whether `op`, whose decoded body is `body`, is accepted, and what it will do.
pub fn check(
    tx: &mut dyn Tx,
    reference: &mut Reference,
    device: &DeviceRecord,
    op: &Operation,
    body: Result<OpBody, BodyError>,
    now: ServerTime,
) -> Result<Result<Plan, Refusal>> {
    let body = match body {
        Ok(body) => body,
        Err(BodyError::UnknownKind) => {
            return Ok(Err(refuse(
                RejectCode::UnknownKind,
                format!("unknown operation kind '{}'", op.kind),
                None,
            )));
        }
        Err(BodyError::Payload(e)) => return Ok(Err(refuse(RejectCode::Invalid, e, None))),
    };
    match body {
        OpBody::VisitRecorded(record) => check_visit(tx, reference, device, op, record, now),
        OpBody::VisitAmended(amendment) => {
            check_amendment(tx, reference, device, op, amendment, now)
        }
        OpBody::HouseholdUpdated(u) => {
            let id = u.household.to_string();
            check_fields(
                tx,
                reference,
                device,
                op,
                Entity::Household,
                id,
                u.household,
                u.fields,
                now,
            )
        }
        OpBody::StatusChanged(step) => check_status(tx, device, op, step, now),
        OpBody::MemberUpdated(u) => {
            let Some(member) = tx.member(&u.member)? else {
                return Ok(Err(refuse(
                    RejectCode::UnknownEntity,
                    "the member is not in the registry",
                    Some(&u.household),
                )));
            };
            if member.household != u.household {
                return Ok(Err(refuse(
                    RejectCode::Invalid,
                    "the member belongs to another household",
                    Some(&u.household),
                )));
            }
            check_fields(
                tx,
                reference,
                device,
                op,
                Entity::Member,
                u.member.to_string(),
                u.household,
                u.fields,
                now,
            )
        }
    }
}

fn check_visit(
    tx: &mut dyn Tx,
    reference: &mut Reference,
    device: &DeviceRecord,
    op: &Operation,
    record: VisitRecord,
    now: ServerTime,
) -> Result<Result<Plan, Refusal>> {
    let household = record.household.clone();
    let h = Some(&household);
    if record.cadre != device.cadre {
        return Ok(Err(refuse(
            RejectCode::Forbidden,
            "the visit names another cadre than this device's",
            h,
        )));
    }
    let Some(registered) = tx.household(&household)? else {
        return Ok(Err(refuse(
            RejectCode::UnknownEntity,
            "the household is not in the registry",
            h,
        )));
    };
    if tx.visit_owner(&record.id)?.is_some() {
        return Ok(Err(refuse(
            RejectCode::Invalid,
            "a visit with this id was already recorded",
            h,
        )));
    }
    let day = day_of(record.recorded_at, now);
    if !tx.in_scope(&device.cadre, &household, day)? {
        return Ok(Err(refuse(
            RejectCode::NotAssigned,
            format!("the household was not assigned to this cadre on {day}"),
            h,
        )));
    }
    let content = match record.content.clone().checked(reference.codes(tx)?, day) {
        Ok(c) => c,
        Err(invalid) => return Ok(Err(refuse(RejectCode::Invalid, invalid.to_string(), h))),
    };
    if let Some(location) = &record.location {
        let reference = WallTime(now.0.max(op.wall.0));
        if let Err(invalid) = location.validate(reference) {
            return Ok(Err(refuse(RejectCode::Invalid, invalid.to_string(), h)));
        }
    }
    if let IdentifiedBy::Scan { key_id, .. } = &record.identified {
        if !reference.key_known(tx, *key_id)? {
            return Ok(Err(refuse(
                RejectCode::Invalid,
                format!("unknown plate authority key {key_id}"),
                h,
            )));
        }
    }
    if let Err(invalid) = check_photos(&record.photos) {
        return Ok(Err(refuse(RejectCode::Invalid, invalid.to_string(), h)));
    }
    let distance_m = match (&record.location, &registered.location) {
        (Some(fix), Some(home)) => Some(fix.point.distance_m(home)),
        _ => None,
    };
    Ok(Ok(Plan::Visit {
        record: Box::new(VisitRecord { content, ..record }),
        distance_m,
    }))
}

/// A visit's photo references: well-formed names and sizes, each photo named once, no more
/// than a visit may carry (the phone checks the same before recording).
fn check_photos(photos: &[PhotoRef]) -> Result<(), Invalid> {
    if photos.len() > MAX_PHOTOS_PER_VISIT {
        return Err(Invalid::new(
            "photos",
            Reason::TooMany {
                max: MAX_PHOTOS_PER_VISIT,
                found: photos.len(),
            },
        ));
    }
    for (i, p) in photos.iter().enumerate() {
        let field = format!("photos[{i}]");
        p.validate(&field)?;
        if photos[..i].iter().any(|q| q.sha256 == p.sha256) {
            return Err(Invalid::new(&field, Reason::Duplicate));
        }
    }
    Ok(())
}

fn check_amendment(
    tx: &mut dyn Tx,
    reference: &mut Reference,
    device: &DeviceRecord,
    op: &Operation,
    amendment: VisitAmendment,
    now: ServerTime,
) -> Result<Result<Plan, Refusal>> {
    let Some((cadre, household)) = tx.visit_owner(&amendment.visit)? else {
        return Ok(Err(refuse(
            RejectCode::UnknownEntity,
            "the amended visit is not on the server",
            None,
        )));
    };
    if cadre != device.cadre {
        return Ok(Err(refuse(
            RejectCode::Forbidden,
            "only the cadre who recorded a visit may amend it",
            Some(&household),
        )));
    }
    match amendment.checked(reference.codes(tx)?, day_of(op.wall, now)) {
        Ok(_) => Ok(Ok(Plan::Amend { household })),
        Err(invalid) => Ok(Err(refuse(
            RejectCode::Invalid,
            invalid.to_string(),
            Some(&household),
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
fn check_fields(
    tx: &mut dyn Registry,
    reference: &mut Reference,
    device: &DeviceRecord,
    op: &Operation,
    entity: Entity,
    id: String,
    household: HouseholdId,
    fields: BTreeMap<String, Value>,
    now: ServerTime,
) -> Result<Result<Plan, Refusal>> {
    let h = Some(&household);
    if tx.household(&household)?.is_none() {
        return Ok(Err(refuse(
            RejectCode::UnknownEntity,
            "the household is not in the registry",
            h,
        )));
    }
    let day = day_of(op.wall, now);
    if !tx.in_scope(&device.cadre, &household, day)? {
        return Ok(Err(refuse(
            RejectCode::NotAssigned,
            format!("the household was not assigned to this cadre on {day}"),
            h,
        )));
    }
    if fields.is_empty() {
        return Ok(Err(refuse(
            RejectCode::Invalid,
            "the update changes no field",
            h,
        )));
    }
    let codes = reference.codes(tx)?;
    let mut checked = BTreeMap::new();
    for (field, value) in fields {
        match fields::check(entity, &field, &value, codes) {
            Ok(v) => {
                checked.insert(field, v);
            }
            Err(FieldError::NotEditable) => {
                return Ok(Err(refuse(
                    RejectCode::Forbidden,
                    format!(
                        "the field '{field}' of a {} cannot be changed from a phone",
                        entity.table()
                    ),
                    h,
                )));
            }
            Err(FieldError::Invalid(invalid)) => {
                return Ok(Err(refuse(RejectCode::Invalid, invalid.to_string(), h)));
            }
        }
    }
    Ok(Ok(Plan::Fields {
        entity,
        id,
        household,
        fields: checked,
    }))
}

/// A poverty-status step: the same rules as on the phone ([`exit`]), checked again here against
/// the server's registry, so a modified app cannot skip a step or act out of its role. A role
/// failure is `forbidden`, anything else about the step `invalid`.
fn check_status(
    tx: &mut dyn Tx,
    device: &DeviceRecord,
    op: &Operation,
    step: StatusStep,
    now: ServerTime,
) -> Result<Result<Plan, Refusal>> {
    let h = Some(&step.household);
    let Some(registered) = tx.household(&step.household)? else {
        return Ok(Err(refuse(
            RejectCode::UnknownEntity,
            "the household is not in the registry",
            h,
        )));
    };
    let day = day_of(op.wall, now);
    let Some(cadre) = tx.cadre(&device.cadre)? else {
        return Ok(Err(refuse(
            RejectCode::Forbidden,
            "the device's cadre is not in the registry",
            h,
        )));
    };
    let posts = tx.posts_of_cadre(&device.cadre)?;
    let verification = match step.verification {
        Some(id) => verification_visit(tx, &step.household, id)?,
        None => None,
    };
    let checked = verification.as_ref().map(|(record, content)| Verification {
        household: &record.household,
        cadre: &record.cadre,
        day: day_of(record.recorded_at, now),
        content,
    });
    let outcome = exit::check_role(&cadre, &posts, &registered.village, day).and_then(|()| {
        exit::check_step(
            &step,
            &registered.poverty_status,
            day,
            &device.cadre,
            checked,
        )
    });
    Ok(match outcome {
        Ok(()) => Ok(Plan::Status {
            exit_year: (step.to == exit::EXITED).then(|| chrono::Datelike::year(&day)),
            household: step.household,
            to: step.to,
        }),
        Err(StepRefusal::Forbidden(reason)) => Err(refuse(RejectCode::Forbidden, reason, h)),
        Err(StepRefusal::Invalid(reason)) => Err(refuse(RejectCode::Invalid, reason, h)),
    })
}

/// A visit of `household` as it stands on the server: the accepted record with its accepted
/// amendments applied in clock order.
fn verification_visit(
    tx: &mut dyn Tx,
    household: &HouseholdId,
    id: VisitId,
) -> Result<Option<(VisitRecord, VisitContent)>> {
    Ok(crate::visits::find(tx, household, id)?.map(|visit| {
        let content = visit.content();
        (visit.record, content)
    }))
}

/// Carries out an accepted operation stored under `server_seq`; the feed entries it makes join
/// `feed`, which the caller appends once its operations are applied.
#[allow(clippy::too_many_arguments)]
pub fn commit(
    tx: &mut dyn Tx,
    reference: &mut Reference,
    feed: &mut FeedBatch,
    device: &DeviceRecord,
    op: &Operation,
    server_seq: u64,
    plan: Plan,
    now: ServerTime,
) -> Result<()> {
    match plan {
        Plan::Visit { record, distance_m } => {
            tx.insert_visit(&ServerVisit {
                id: record.id,
                household: record.household.clone(),
                cadre: record.cadre.clone(),
                device: device.id,
                server_seq,
                recorded_at: record.recorded_at,
                received_at: now,
                kind: record.content.kind.clone(),
                manual: matches!(record.identified, IdentifiedBy::Manual { .. }),
                distance_m,
                record: op.payload.clone(),
            })?;
            for photo in &record.photos {
                tx.link_photo(&PhotoLink {
                    visit: record.id,
                    sha256: photo.sha256.clone(),
                    device: device.id,
                    size: photo.size,
                })?;
            }
            feed::visit(
                tx,
                reference,
                feed,
                device,
                &record.household,
                server_seq,
                now,
            )
        }
        Plan::Amend { household, .. } => {
            feed::visit(tx, reference, feed, device, &household, server_seq, now)
        }
        Plan::Status {
            household,
            to,
            exit_year,
        } => {
            tx.set_poverty_status(&household, &to, exit_year)?;
            feed::household_changed_in(tx, reference, feed, &household, Some(&device.id), now)
        }
        Plan::Fields {
            entity,
            id,
            household,
            fields,
        } => {
            let incoming = FieldClock {
                hlc: clamp(op.hlc, now),
                device: device.id,
            };
            let mut pusher_lost = false;
            let clocks = tx.field_clocks(entity.table(), &id)?;
            for (field, value) in fields {
                let current = tx.field_value(entity.table(), &id, &field)?;
                let stored = clocks.get(&field);
                let newer =
                    stored.is_none_or(|s| (incoming.hlc, incoming.device) > (s.hlc, s.device));
                if newer {
                    if let Some(s) =
                        stored.filter(|s| s.device != incoming.device && current != value)
                    {
                        tx.log_conflict(&Conflict {
                            entity: entity.table().into(),
                            entity_id: id.clone(),
                            field: field.clone(),
                            losing_value: current,
                            losing_clock: s.clone(),
                            winning_value: value.clone(),
                            winning_clock: incoming.clone(),
                            at: now,
                        })?;
                    }
                    tx.set_field(entity.table(), &id, &field, &value, &incoming)?;
                } else if current != value {
                    pusher_lost = true;
                    tx.log_conflict(&Conflict {
                        entity: entity.table().into(),
                        entity_id: id.clone(),
                        field,
                        losing_value: value,
                        losing_clock: incoming.clone(),
                        winning_value: current,
                        winning_clock: stored.cloned().unwrap_or_else(|| incoming.clone()),
                        at: now,
                    })?;
                }
            }
            feed::household_changed_in(
                tx,
                reference,
                feed,
                &household,
                (!pusher_lost).then_some(&device.id),
                now,
            )
        }
    }
}
