//! The `coverage` report: households in scope and households visited in the period, per
//! village and per cadre. Responsibility (assignments and village posts) is taken as of the
//! last day of the period: a supervisor asks about the cadres responsible now.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use fieldvisit_core::ids::{CadreId, HouseholdId};

use super::{CellKind, Column, Param, Period, Registry, Rows, Spec, Table, share};
use crate::error::Result;
use crate::labels::{Label, Text};
use crate::storage::{ServerVisit, Tx};

pub const SPEC: Spec = Spec {
    title: Text::new("走访覆盖", "Coverage by village"),
    about: "households in scope and visited in the period, per village and per cadre",
    params: &[Param::Period],
    columns: &COLUMNS,
    run: |tx, opts| coverage(tx, opts.period),
};

/// The `level` of a village's row and of a cadre's.
const VILLAGE: &str = "village";
const CADRE: &str = "cadre";

const COLUMNS: [Column; 6] = [
    Column::new(
        "level",
        Text::new("层级", "Level"),
        CellKind::Code(&[
            (VILLAGE, Text::new("村", "village")),
            (CADRE, Text::new("干部", "cadre")),
        ]),
    ),
    Column::plain("id", Text::new("编号", "Id")),
    Column::plain("name", Label::ColName.text()),
    Column::plain("households", Text::new("户数", "Households")),
    Column::plain("visited", Text::new("已走访", "Visited")),
    Column::new("share", Text::new("覆盖率", "Share"), CellKind::Share),
];

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

    let mut t = Rows::new(&COLUMNS);
    for (code, (n, seen)) in villages {
        t.push([
            json!(VILLAGE),
            json!(code),
            json!(registry.village_name(code)),
            json!(n),
            json!(seen),
            json!(share(seen, n)),
        ]);
    }
    for (cadre, (n, seen)) in cadres {
        t.push([
            json!(CADRE),
            json!(cadre.as_str()),
            json!(registry.cadre_name(tx, cadre)?),
            json!(n),
            json!(seen),
            json!(share(seen, n)),
        ]);
    }
    Ok(t.into())
}
