//! Coverage, households not visited, visit rate and overdue follow-ups: who was seen, who
//! was not, and which cadres fall short. Responsibility (assignments and village posts) is
//! taken as of the last day of the period: a supervisor asks about the cadres responsible now.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};

use fieldvisit_core::clock::WallTime;
use fieldvisit_core::domain::visit::VisitRecord;
use fieldvisit_core::ids::{CadreId, HouseholdId};

use super::{Period, Registry, Table, share, start_of};
use crate::error::Result;
use crate::storage::{ServerVisit, Tx};

/// Households in scope and households visited in the period, per village and per cadre.
/// A village counts a visit by anyone; a cadre counts only their own visits to households
/// they are responsible for.
pub fn coverage(tx: &mut dyn Tx, period: Period) -> Result<Table> {
    let registry = Registry::load(tx, period.to)?;
    let (from, to) = period.bounds();
    let visits = tx.visits_between(from, to)?;
    coverage_table(tx, &registry, &visits)
}

fn coverage_table(tx: &mut dyn Tx, registry: &Registry, visits: &[ServerVisit]) -> Result<Table> {
    let visited: BTreeSet<&HouseholdId> = visits.iter().map(|v| &v.household).collect();
    let visited_by: BTreeSet<(&CadreId, &HouseholdId)> =
        visits.iter().map(|v| (&v.cadre, &v.household)).collect();

    let mut villages: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut cadres: BTreeMap<&CadreId, (usize, usize)> = BTreeMap::new();
    for (h, responsible) in &registry.households {
        let v = villages.entry(h.village.as_str()).or_default();
        v.0 += 1;
        v.1 += usize::from(visited.contains(&h.id));
        for c in responsible {
            let e = cadres.entry(c).or_default();
            e.0 += 1;
            e.1 += usize::from(visited_by.contains(&(c, &h.id)));
        }
    }

    let mut t = Table::new(vec![
        "level",
        "id",
        "name",
        "households",
        "visited",
        "share",
    ]);
    for (code, (n, seen)) in villages {
        t.push(vec![
            json!("village"),
            json!(code),
            json!(registry.village_name(code)),
            json!(n),
            json!(seen),
            json!(share(seen, n)),
        ]);
    }
    for (cadre, (n, seen)) in cadres {
        t.push(vec![
            json!("cadre"),
            json!(cadre.as_str()),
            json!(registry.cadre_name(tx, cadre)?),
            json!(n),
            json!(seen),
            json!(share(seen, n)),
        ]);
    }
    Ok(t)
}

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
    let mut t = Table::new(vec![
        "household",
        "code",
        "village",
        "village_name",
        "last_visit",
        "days_since",
        "cadres",
    ]);
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
        t.push(vec![
            json!(h.id.as_str()),
            json!(h.code.as_str()),
            json!(h.village),
            json!(registry.village_name(&h.village)),
            last_day,
            days_since,
            json!(cadres.join(";")),
        ]);
    }
    Ok(t)
}

/// Visits per cadre per calendar month of the period against `required`, for every cadre
/// responsible for a household at the end of the period and every cadre who visited in it.
/// A month only partly inside the period is counted over its part.
pub fn visit_rate(tx: &mut dyn Tx, period: Period, required: u32) -> Result<Table> {
    let registry = Registry::load(tx, period.to)?;
    let (from, to) = period.bounds();
    let visits = tx.visits_between(from, to)?;

    let mut months: Vec<(i32, u32)> = Vec::new();
    let mut day = period.from;
    while day <= period.to {
        let m = (day.year(), day.month());
        if months.last() != Some(&m) {
            months.push(m);
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    let mut cadres: BTreeSet<CadreId> = registry
        .households
        .iter()
        .flat_map(|(_, c)| c.iter().cloned())
        .collect();
    cadres.extend(visits.iter().map(|v| v.cadre.clone()));
    let mut counts: BTreeMap<(&CadreId, (i32, u32)), u32> = BTreeMap::new();
    for v in &visits {
        let d = v.recorded_at.local_date();
        *counts.entry((&v.cadre, (d.year(), d.month()))).or_default() += 1;
    }

    let mut t = Table::new(vec![
        "cadre", "name", "month", "visits", "required", "meets",
    ]);
    for c in &cadres {
        let name = registry.cadre_name(tx, c)?;
        for &(y, m) in &months {
            let n = counts.get(&(c, (y, m))).copied().unwrap_or(0);
            t.push(vec![
                json!(c.as_str()),
                json!(name),
                json!(format!("{y:04}-{m:02}")),
                json!(n),
                json!(required),
                json!(n >= required),
            ]);
        }
    }
    Ok(t)
}

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
    let mut t = Table::new(vec![
        "household",
        "village",
        "visit",
        "cadre",
        "visited",
        "due",
        "days_overdue",
    ]);
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
        t.push(vec![
            json!(v.household.as_str()),
            json!(village_of.get(&v.household).copied().unwrap_or_default()),
            json!(v.id.to_string()),
            json!(v.cadre.as_str()),
            json!(v.recorded_at.local_date().to_string()),
            json!(due.to_string()),
            json!((as_of - due).num_days()),
        ]);
    }
    Ok(t)
}
