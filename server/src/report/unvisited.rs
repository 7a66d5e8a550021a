//! The `unvisited` report: households with no visit in the period (the last N days), with
//! their village, the cadres responsible for them at the end of the period, and their last
//! visit before the period if any.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use fieldvisit_core::clock::WallTime;
use fieldvisit_core::ids::{CadreId, HouseholdId};

use super::{Column, Param, Period, Registry, Rows, Spec, Table};
use crate::error::Result;
use crate::labels::{Label, Text};
use crate::storage::Tx;

pub const SPEC: Spec = Spec {
    title: Text::new("未走访农户", "Unvisited households"),
    about: "households with no visit in the period, with their last visit and cadres",
    params: &[Param::Period],
    columns: &COLUMNS,
    run: |tx, opts| unvisited(tx, opts.period),
};

const COLUMNS: [Column; 7] = [
    Column::plain("household", Label::ColHousehold.text()),
    Column::plain("code", Label::ColCode.text()),
    Column::plain("village", Label::ColVillage.text()),
    Column::plain("village_name", Label::ColVillageName.text()),
    Column::plain("last_visit", Text::new("最近走访", "Last visit")),
    Column::plain("days_since", Text::new("距今天数", "Days since")),
    Column::plain("cadres", Text::new("责任干部", "Responsible cadres")),
];

/// Households with no visit in the period (the last N days), with their village, the cadres
/// responsible for them, and their last visit before the period if any.
pub fn unvisited(tx: &mut dyn Tx, period: Period) -> Result<Table> {
    let registry = Registry::load(tx, period.to)?;
    let (_, to) = period.bounds();
    let visits = tx.visits_between(WallTime(i64::MIN), to)?;
    let mut last: BTreeMap<&HouseholdId, WallTime> = BTreeMap::new();
    for v in &visits {
        let e = last.entry(&v.household).or_insert(v.recorded_at);
        *e = (*e).max(v.recorded_at);
    }
    let (from, _) = period.bounds();
    let mut t = Rows::new(&COLUMNS);
    for (h, responsible) in &registry.households {
        let last_visit = last.get(&h.id).copied();
        if last_visit.is_some_and(|at| at >= from) {
            continue;
        }
        let (last_day, days_since) = match last_visit {
            Some(at) => {
                let day = at.local_date();
                (json!(day.to_string()), json!((period.to - day).num_days()))
            }
            None => (Value::Null, Value::Null),
        };
        let cadres: Vec<&str> = responsible.iter().map(CadreId::as_str).collect();
        t.push([
            json!(h.id.as_str()),
            json!(h.code.as_str()),
            json!(h.village),
            json!(registry.village_name(&h.village)),
            last_day,
            days_since,
            json!(cadres.join(";")),
        ]);
    }
    Ok(t.into())
}
