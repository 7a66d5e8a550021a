//! Supervision reports (issue 7): coverage per village and per cadre, households not visited
//! in N days, visits per cadre per month against a required rate, overdue follow-ups, rejected
//! operations, the conflict log, and anomaly flags on visits that look fabricated.
//!
//! Every report reads the storage through a read transaction, using only plain reads
//! ([`Tx::visits_between`], [`Tx::household_ids`] and the registry lookups every backend
//! already has), and computes in Rust, so a new backend gets the reports for free. Reports
//! never write. Dates are local dates in China Standard Time, like every date in the system.
//!
//! Each report is one file here holding its [`Spec`] as `SPEC`: its title (the dashboard's
//! navigation and heading, in both languages), one line of CLI help, the parameters it reads,
//! its typed columns (CSV/JSON key, translated header, kind of cell) and the function that
//! computes it. [`Report`] lists them; the CLI's `report NAME`, the admin API's `{name}`, the
//! dashboard's pages and navigation, and [`run`] all come from that list. Adding a report is
//! one new file and one line in `reports!` (plus its `pub mod` line: modules declared inside
//! a macro are not seen by rustfmt, so the declarations stay outside it).

pub mod conflicts;
pub mod coverage;
pub mod exits;
pub mod flags;
pub mod overdue;
pub mod planted;
pub mod rejected;
pub mod table;
pub mod unvisited;
pub mod visit;
pub mod visit_rate;

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};

use fieldvisit_core::clock::WallTime;
use fieldvisit_core::domain::Household;
use fieldvisit_core::ids::{CadreId, HouseholdId};

use crate::error::Result;
use crate::labels::Text;
use crate::storage::{self, Tx};
pub use table::{CellKind, Column, Format, Rows, Table};

/// One line per report: `Variant = "name" => module,`. The module is the report's file, which
/// holds its [`Spec`] as `SPEC`; the name is how the CLI, the admin API and the dashboard's
/// URLs call it, and never changes once published. The order is the order of `report --help`,
/// of the dashboard's navigation and of the list an unknown name is answered with.
macro_rules! reports {
    ($( $variant:ident = $name:literal => $module:ident, )*) => {
        /// The supervision reports. Everything else is derived from this list and each report's
        /// [`Spec`]: the CLI's `report NAME` argument and its help, the admin API's `{name}`,
        /// the dashboard's pages and navigation, and dispatch ([`run`]).
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        pub enum Report {
            $( #[serde(rename = $name)] $variant, )*
        }

        impl Report {
            /// Every report, in the list's order.
            pub const ALL: &[Report] = &[$(Report::$variant),*];

            /// The name the CLI, the admin API and the dashboard's URLs use.
            pub fn name(self) -> &'static str {
                match self {
                    $( Report::$variant => $name, )*
                }
            }

            /// What the report is and how it runs, from its file.
            pub fn spec(self) -> &'static Spec {
                match self {
                    $( Report::$variant => &$module::SPEC, )*
                }
            }
        }
    };
}

reports! {
    Coverage = "coverage" => coverage,
    Unvisited = "unvisited" => unvisited,
    VisitRate = "visit-rate" => visit_rate,
    Overdue = "overdue" => overdue,
    Rejected = "rejected" => rejected,
    Conflicts = "conflicts" => conflicts,
    Flags = "flags" => flags,
    Exits = "exits" => exits,
}

/// What a report is, as its file declares it.
#[derive(Debug)]
pub struct Spec {
    /// Its title: the dashboard's navigation link and page heading.
    pub title: Text,
    /// One line for `report --help`.
    pub about: &'static str,
    /// The parts of [`ReportOptions`] it reads; it ignores the others.
    pub params: &'static [Param],
    /// Its columns, in order: every table it returns has exactly these.
    pub columns: &'static [Column],
    /// Computes it, reading the storage only.
    pub run: fn(&mut dyn Tx, &ReportOptions) -> Result<Table>,
}

impl Spec {
    /// Whether the report reads `param`.
    pub fn takes(&self, param: Param) -> bool {
        self.params.contains(&param)
    }
}

/// A part of [`ReportOptions`] a report may read. The dashboard offers a form field for the
/// ones it knows how to ask for (today the period).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// [`ReportOptions::period`].
    Period,
    /// [`ReportOptions::required_per_month`].
    RequiredPerMonth,
    /// [`ReportOptions::limit`].
    Limit,
}

impl Report {
    /// Every report's name, in order (for the OpenAPI document's `{name}` enum and for error
    /// messages).
    pub fn names() -> Vec<&'static str> {
        Report::ALL.iter().map(|r| r.name()).collect()
    }

    /// Runs the report.
    pub fn run(self, tx: &mut dyn Tx, opts: &ReportOptions) -> Result<Table> {
        (self.spec().run)(tx, opts)
    }
}

/// A name that is not a report's; its message lists the reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no report named {name}; reports: {}", Report::names().join(", "))]
pub struct UnknownReport {
    pub name: String,
}

impl std::str::FromStr for Report {
    type Err = UnknownReport;

    fn from_str(name: &str) -> std::result::Result<Report, UnknownReport> {
        Report::ALL
            .iter()
            .copied()
            .find(|r| r.name() == name)
            .ok_or_else(|| UnknownReport {
                name: name.to_string(),
            })
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `report NAME` on the command line: the names, each with its report's one line of help.
impl clap::ValueEnum for Report {
    fn value_variants<'a>() -> &'a [Self] {
        Report::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.spec().about))
    }
}

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

/// Runs `report`.
pub fn run(tx: &mut dyn Tx, report: Report, opts: &ReportOptions) -> Result<Table> {
    report.run(tx, opts)
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
    pub(crate) fn load(tx: &mut dyn storage::Registry, day: NaiveDate) -> Result<Registry> {
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

    pub(crate) fn cadre_name(
        &self,
        tx: &mut dyn storage::Registry,
        id: &CadreId,
    ) -> Result<String> {
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
