//! The `visit-rate` report: visits per cadre per calendar month of the period against the
//! number a cadre must make, for every cadre responsible for a household at the end of the
//! period and every cadre who visited in it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Datelike;
use serde_json::json;

use fieldvisit_core::ids::CadreId;

use super::{CellKind, Column, Param, Period, Registry, Rows, Spec, Table};
use crate::error::Result;
use crate::labels::{Label, Text};
use crate::storage::Tx;

pub const SPEC: Spec = Spec {
    title: Text::new("走访频次", "Visits per cadre per month"),
    about: "visits per cadre per month of the period against the required number (--required)",
    params: &[Param::Period, Param::RequiredPerMonth],
    columns: &COLUMNS,
    run: |tx, opts| visit_rate(tx, opts.period, opts.required_per_month),
};

const COLUMNS: [Column; 6] = [
    Column::plain("cadre", Label::ColCadre.text()),
    Column::plain("name", Label::ColName.text()),
    Column::plain("month", Text::new("月份", "Month")),
    Column::plain("visits", Text::new("走访次数", "Visits")),
    Column::plain("required", Text::new("要求次数", "Required")),
    Column::new(
        "meets",
        Text::new("达标", "Meets the rate"),
        CellKind::YesNo,
    ),
];

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

    let mut t = Rows::new(&COLUMNS);
    for c in &cadres {
        let name = registry.cadre_name(tx, c)?;
        for &(y, m) in &months {
            let n = counts.get(&(c, (y, m))).copied().unwrap_or(0);
            t.push([
                json!(c.as_str()),
                json!(name),
                json!(format!("{y:04}-{m:02}")),
                json!(n),
                json!(required),
                json!(n >= required),
            ]);
        }
    }
    Ok(t.into())
}
