//! The `overdue` report: follow-ups due before the last day of the period with no later
//! visit to the household. Amendments that clear a follow-up are not applied yet: the visit's
//! original due date counts.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::json;

use fieldvisit_core::clock::WallTime;
use fieldvisit_core::domain::visit::VisitRecord;
use fieldvisit_core::ids::HouseholdId;

use super::{CellKind, Column, Param, Registry, Rows, Spec, Table, start_of};
use crate::error::Result;
use crate::labels::{Label, Text};
use crate::storage::Tx;

pub const SPEC: Spec = Spec {
    title: Text::new("逾期未跟进", "Overdue follow-ups"),
    about: "follow-ups due before the period's last day with no later visit to the household",
    params: &[Param::Period],
    columns: &COLUMNS,
    run: |tx, opts| overdue(tx, opts.period.to),
};

const COLUMNS: [Column; 7] = [
    Column::plain("household", Label::ColHousehold.text()),
    Column::plain("village", Label::ColVillage.text()),
    Column::new("visit", Label::ColVisit.text(), CellKind::Visit),
    Column::plain("cadre", Label::ColCadre.text()),
    Column::plain("visited", Text::new("走访日期", "Visited on")),
    Column::plain("due", Label::VisitFollowUp.text()),
    Column::plain("days_overdue", Text::new("逾期天数", "Days overdue")),
];

/// Follow-ups due before `as_of` with no later visit to the household. Amendments that clear
/// a follow-up are not applied yet: the visit's original due date counts.
pub fn overdue(tx: &mut dyn Tx, as_of: NaiveDate) -> Result<Table> {
    let registry = Registry::load(tx, as_of)?;
    let village_of = registry.village_of();
    let visits = tx.visits_between(WallTime(i64::MIN), start_of(as_of))?;
    let mut latest: BTreeMap<&HouseholdId, WallTime> = BTreeMap::new();
    for v in &visits {
        let e = latest.entry(&v.household).or_insert(v.recorded_at);
        *e = (*e).max(v.recorded_at);
    }
    let mut t = Rows::new(&COLUMNS);
    for v in &visits {
        let Ok(record) = serde_json::from_str::<VisitRecord>(&v.record) else {
            continue;
        };
        let Some(due) = record.content.follow_up_due else {
            continue;
        };
        let followed = latest
            .get(&v.household)
            .is_some_and(|&at| at > v.recorded_at);
        if followed || due >= as_of {
            continue;
        }
        t.push([
            json!(v.household.as_str()),
            json!(village_of.get(&v.household).copied().unwrap_or_default()),
            json!(v.id.to_string()),
            json!(v.cadre.as_str()),
            json!(v.recorded_at.local_date().to_string()),
            json!(due.to_string()),
            json!((as_of - due).num_days()),
        ]);
    }
    Ok(t.into())
}
