//! Supervision reports (issue 7): coverage per village and per cadre, households not visited
//! in N days, visits per cadre per month against a required rate, overdue follow-ups, rejected
//! operations, the conflict log, and anomaly flags on visits that look fabricated.
//!
//! Every report reads the storage through a read transaction, using only plain reads
//! ([`Tx::visits_between`], [`Tx::household_ids`] and the registry lookups every backend
//! already has), and computes in Rust, so a new backend gets the reports for free. Reports
//! never write. Dates are local dates in China Standard Time, like every date in the system.

pub mod coverage;
pub mod exits;
pub mod flags;
pub mod logs;
pub mod planted;
pub mod table;
pub mod visit;

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};

use fieldvisit_core::clock::WallTime;
use fieldvisit_core::domain::Household;
use fieldvisit_core::ids::{CadreId, HouseholdId};

use crate::error::{Error, Result};
use crate::storage::Tx;
pub use table::{Format, Table};

/// The reports by name, as the CLI and the admin API call them.
pub const NAMES: &[&str] = &[
    "coverage",
    "unvisited",
    "visit-rate",
    "overdue",
    "rejected",
    "conflicts",
    "flags",
    "exits",
];

/// China Standard Time, the zone of every local date.
const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// A period of whole local days, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// The `days` local days that end on `to` (a period of at least one day).
    pub fn last_days(to: NaiveDate, days: u32) -> Period {
        let back = i64::from(days.max(1)) - 1;
        Period {
            from: to - Duration::days(back),
            to,
        }
    }

    /// The first instant of the period and the first instant after it.
    pub fn bounds(&self) -> (WallTime, WallTime) {
        (
            start_of(self.from),
            WallTime(start_of(self.to).0.saturating_add(DAY_MS)),
        )
    }
}

/// The first instant of a local (CST) day.
pub fn start_of(day: NaiveDate) -> WallTime {
    let utc_midnight = day
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis());
    WallTime(utc_midnight - CST_OFFSET_MS)
}

/// A wall time as a local (CST) date and time to the second, for people reading a report.
pub fn local_time(at: WallTime) -> String {
    chrono::DateTime::from_timestamp_millis(at.0.saturating_add(CST_OFFSET_MS)).map_or_else(
        || at.0.to_string(),
        |t| t.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

/// What a report is asked for.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub period: Period,
    /// Visits a cadre must make in a month (`visit-rate`; some counties require 4).
    pub required_per_month: u32,
    /// Rows of the `rejected` and `conflicts` logs, newest first.
    pub limit: usize,
}

/// Runs the report `name`.
pub fn run(tx: &mut dyn Tx, name: &str, opts: &ReportOptions) -> Result<Table> {
    match name {
        "coverage" => coverage::coverage(tx, opts.period),
        "unvisited" => coverage::unvisited(tx, opts.period),
        "visit-rate" => coverage::visit_rate(tx, opts.period, opts.required_per_month),
        "overdue" => coverage::overdue(tx, opts.period.to),
        "rejected" => logs::rejected(tx, opts.limit),
        "conflicts" => logs::conflicts(tx, opts.limit),
        "flags" => flags::report(tx, opts.period),
        "exits" => exits::report(tx, opts.period),
        other => Err(Error::NotFound(format!(
            "no report named {other}; reports: {}",
            NAMES.join(", ")
        ))),
    }
}

/// The registry as reports see it: every household with the cadres responsible for it on one
/// day, and display names of villages and cadres.
#[derive(Debug)]
pub(crate) struct Registry {
    pub households: Vec<(Household, Vec<CadreId>)>,
    pub village_names: BTreeMap<String, String>,
    pub cadre_names: BTreeMap<CadreId, String>,
}

impl Registry {
    /// Loads the registry with responsibility as of `day`.
    pub(crate) fn load(tx: &mut dyn Tx, day: NaiveDate) -> Result<Registry> {
        let mut households = Vec::new();
        let mut village_names = BTreeMap::new();
        let mut cadre_names = BTreeMap::new();
        for id in tx.household_ids()? {
            let Some(h) = tx.household(&id)? else {
                continue;
            };
            let cadres = tx.cadres_in_scope(&id, day)?;
            if !village_names.contains_key(&h.village) {
                let name = tx.area(&h.village)?.map(|a| a.name).unwrap_or_default();
                village_names.insert(h.village.clone(), name);
            }
            for c in &cadres {
                if !cadre_names.contains_key(c) {
                    let name = tx.cadre(c)?.map(|c| c.name).unwrap_or_default();
                    cadre_names.insert(c.clone(), name);
                }
            }
            households.push((h, cadres));
        }
        Ok(Registry {
            households,
            village_names,
            cadre_names,
        })
    }

    pub(crate) fn village_name(&self, code: &str) -> String {
        self.village_names.get(code).cloned().unwrap_or_default()
    }

    pub(crate) fn cadre_name(&self, tx: &mut dyn Tx, id: &CadreId) -> Result<String> {
        match self.cadre_names.get(id) {
            Some(n) => Ok(n.clone()),
            None => Ok(tx.cadre(id)?.map(|c| c.name).unwrap_or_default()),
        }
    }

    pub(crate) fn village_of(&self) -> BTreeMap<&HouseholdId, &str> {
        self.households
            .iter()
            .map(|(h, _)| (&h.id, h.village.as_str()))
            .collect()
    }
}

/// `part / whole`, rounded to four places; 0 when there is no whole.
pub(crate) fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    let s = part as f64 / whole as f64;
    (s * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests;
