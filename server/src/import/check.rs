//! Checks that need more than one row: ids unique across the import, door-plate and person
//! codes unique in the import and the database, and every reference (a member's household, an
//! assignment's cadre and household, a household's village and head, an area's parent) found
//! in the import or the database. Also compares each record with the stored one, which is
//! what makes the plan: new, updated or unchanged.
//!
//! It reads through the caller's transaction and writes nothing.

use std::collections::{BTreeMap, HashMap};

use fieldvisit_core::domain::{Area, Assignment, Cadre, Household, Measure, Member, VillagePost};
use fieldvisit_core::ids::{CadreId, HouseholdId};
use fieldvisit_core::validate::{self, AreaLevel};

use super::layout::Kind;
use super::parse::{FileInfo, Loc, Records};
use super::{Counts, RowError};
use crate::error::Result;
use crate::storage::Registry;

/// A record to write and the stored one it replaces.
#[derive(Debug)]
pub struct Planned<T> {
    pub record: T,
    pub old: Option<T>,
}

impl<T: PartialEq> Planned<T> {
    pub fn changed(&self) -> bool {
        self.old.as_ref() != Some(&self.record)
    }
}

/// Every record of the import, compared with the database.
#[derive(Debug, Default)]
pub struct Plan {
    pub areas: Vec<Planned<Area>>,
    pub cadres: Vec<Planned<Cadre>>,
    pub households: Vec<Planned<Household>>,
    pub members: Vec<Planned<Member>>,
    pub assignments: Vec<Planned<Assignment>>,
    pub posts: Vec<Planned<VillagePost>>,
    pub measures: Vec<Planned<Measure>>,
}

fn count<T: PartialEq>(list: &[Planned<T>]) -> Counts {
    let mut c = Counts {
        rows: list.len(),
        ..Counts::default()
    };
    for p in list {
        match &p.old {
            None => c.new += 1,
            Some(old) if old == &p.record => c.unchanged += 1,
            Some(_) => c.updated += 1,
        }
    }
    c
}

impl Plan {
    pub fn counts(&self) -> BTreeMap<&'static str, Counts> {
        BTreeMap::from([
            (Kind::Areas.name(), count(&self.areas)),
            (Kind::Cadres.name(), count(&self.cadres)),
            (Kind::Households.name(), count(&self.households)),
            (Kind::Members.name(), count(&self.members)),
            (Kind::Assignments.name(), count(&self.assignments)),
            (Kind::VillagePosts.name(), count(&self.posts)),
            (Kind::Measures.name(), count(&self.measures)),
        ])
    }

    /// How many records are new or changed (what a write does).
    pub fn changed(&self) -> usize {
        self.counts().values().map(|c| c.new + c.updated).sum()
    }
}

/// The import's rows by key, and what the database was asked already.
struct Known<'a> {
    tx: &'a mut dyn Registry,
    records: &'a Records,
    areas: HashMap<&'a str, usize>,
    households: HashMap<&'a str, usize>,
    members: HashMap<&'a str, usize>,
    cadres: HashMap<&'a str, usize>,
    db_areas: HashMap<String, bool>,
    db_households: HashMap<String, bool>,
    db_cadres: HashMap<String, bool>,
}

/// Whether a reference resolves: found, missing, or to a row that is itself bad (reported).
#[derive(PartialEq, Eq)]
enum Found {
    Yes,
    No,
    BadRow,
}

impl Known<'_> {
    fn bad(&self, kind: Kind, key: &str) -> bool {
        self.records.bad_keys.contains(&(kind, key.to_string()))
    }

    fn area(&mut self, code: &str) -> Result<Found> {
        if self.areas.contains_key(code) {
            return Ok(Found::Yes);
        }
        if self.bad(Kind::Areas, code) {
            return Ok(Found::BadRow);
        }
        if let Some(&known) = self.db_areas.get(code) {
            return Ok(if known { Found::Yes } else { Found::No });
        }
        let known = self.tx.area(code)?.is_some();
        self.db_areas.insert(code.to_string(), known);
        Ok(if known { Found::Yes } else { Found::No })
    }

    fn household(&mut self, id: &HouseholdId) -> Result<Found> {
        if self.households.contains_key(id.as_str()) {
            return Ok(Found::Yes);
        }
        if self.bad(Kind::Households, id.as_str()) {
            return Ok(Found::BadRow);
        }
        if let Some(&known) = self.db_households.get(id.as_str()) {
            return Ok(if known { Found::Yes } else { Found::No });
        }
        let known = self.tx.household(id)?.is_some();
        self.db_households.insert(id.as_str().to_string(), known);
        Ok(if known { Found::Yes } else { Found::No })
    }

    fn cadre(&mut self, id: &CadreId) -> Result<Found> {
        if self.cadres.contains_key(id.as_str()) {
            return Ok(Found::Yes);
        }
        if self.bad(Kind::Cadres, id.as_str()) {
            return Ok(Found::BadRow);
        }
        if let Some(&known) = self.db_cadres.get(id.as_str()) {
            return Ok(if known { Found::Yes } else { Found::No });
        }
        let known = self.tx.cadre(id)?.is_some();
        self.db_cadres.insert(id.as_str().to_string(), known);
        Ok(if known { Found::Yes } else { Found::No })
    }
}

/// Builds errors located in the files.
struct Report<'a> {
    infos: &'a [FileInfo],
    errors: &'a mut Vec<RowError>,
}

impl Report<'_> {
    fn at(&mut self, loc: Loc, column: &str, reason: String) {
        let info = self.infos.get(loc.file);
        let file = info.map_or("", |f| f.name.as_str());
        let index = info.and_then(|f| f.columns.get(column).copied());
        self.errors.push(
            RowError::new(file, loc.row, reason)
                .column(column)
                .index(index),
        );
    }

    fn missing(&mut self, found: Found, loc: Loc, column: &str, what: &str) {
        if found == Found::No {
            self.at(
                loc,
                column,
                format!("names {what} that is neither in the import nor in the database"),
            );
        }
    }

    fn place(&self, loc: Loc) -> String {
        let file = self.infos.get(loc.file).map_or("", |f| f.name.as_str());
        format!("row {} of {file}", loc.row)
    }
}

/// Indexes `items` by `key`, reporting every repeat of a key.
fn unique<'a, T>(
    items: &'a [(Loc, T)],
    key: impl Fn(&'a T) -> Option<&'a str>,
    column: &str,
    report: &mut Report<'_>,
) -> HashMap<&'a str, usize> {
    let mut seen: HashMap<&'a str, usize> = HashMap::with_capacity(items.len());
    for (i, (loc, item)) in items.iter().enumerate() {
        let Some(k) = key(item) else {
            continue;
        };
        if let Some(&first) = seen.get(k) {
            let place = items.get(first).map(|(l, _)| report.place(*l));
            let reason = format!(
                "repeats the {column} of {} (each must be unique in the import)",
                place.unwrap_or_default()
            );
            report.at(*loc, column, reason);
        } else {
            seen.insert(k, i);
        }
    }
    seen
}

fn person_code(m: &Member) -> Option<&str> {
    m.person_code.as_ref().map(|c| c.as_str())
}

/// Checks `records` against each other and the database, and plans the write.
pub fn check(
    tx: &mut dyn Registry,
    records: &Records,
    infos: &[FileInfo],
    errors: &mut Vec<RowError>,
) -> Result<Plan> {
    let mut report = Report { infos, errors };
    let r = records;
    let areas = unique(
        &r.areas,
        |a| Some(a.code.as_str()),
        "area_code",
        &mut report,
    );
    let households = unique(
        &r.households,
        |h| Some(h.id.as_str()),
        "household_id",
        &mut report,
    );
    let members = unique(
        &r.members,
        |m| Some(m.id.as_str()),
        "member_id",
        &mut report,
    );
    let cadres = unique(&r.cadres, |c| Some(c.id.as_str()), "cadre_id", &mut report);
    unique(
        &r.assignments,
        |a| Some(a.id.as_str()),
        "assignment_id",
        &mut report,
    );
    unique(&r.posts, |p| Some(p.id.as_str()), "post_id", &mut report);
    unique(
        &r.measures,
        |m| Some(m.id.as_str()),
        "measure_id",
        &mut report,
    );
    unique(
        &r.households,
        |h| Some(h.code.as_str()),
        "household_code",
        &mut report,
    );
    unique(&r.members, person_code, "person_code", &mut report);
    unique(
        &r.members,
        |m| m.resident_id.as_deref(),
        "resident_id",
        &mut report,
    );

    let mut known = Known {
        tx,
        records,
        areas,
        households,
        members,
        cadres,
        db_areas: HashMap::new(),
        db_households: HashMap::new(),
        db_cadres: HashMap::new(),
    };
    let mut plan = Plan::default();

    for (loc, area) in &r.areas {
        let level = validate::area_code("area_code", &area.code).map(|c| c.level());
        // Provinces and cities are not kept: a city names its province without it being here.
        let needs_parent = level.is_ok_and(|l| l > AreaLevel::City);
        if let (true, Some(parent)) = (needs_parent, &area.parent) {
            let found = known.area(parent)?;
            report.missing(found, *loc, "parent_code", "a parent area");
        }
        let old = known.tx.area(&area.code)?;
        plan.areas.push(Planned {
            record: area.clone(),
            old,
        });
    }

    for (_, cadre) in &r.cadres {
        let old = known.tx.cadre(&cadre.id)?;
        plan.cadres.push(Planned {
            record: cadre.clone(),
            old,
        });
    }

    for (loc, household) in &r.households {
        let mut record = household.clone();
        let found = known.area(&record.village)?;
        report.missing(found, *loc, "village_code", "a village");
        if let Some(head) = &record.head {
            let in_import = known
                .members
                .get(head.as_str())
                .and_then(|&i| r.members.get(i));
            let belongs = match in_import {
                Some((_, m)) => Some(m.household == record.id),
                None if known.bad(Kind::Members, head.as_str()) => None,
                None => Some(
                    known
                        .tx
                        .member(head)?
                        .is_some_and(|m| m.household == record.id),
                ),
            };
            if belongs == Some(false) {
                report.at(
                    *loc,
                    "head_member_id",
                    "is not a member of this household (in the import or the database)".into(),
                );
            }
        }
        let old = known.tx.household(&record.id)?;
        if let Some(old) = &old {
            // Reissues on this server raise the issue; an import never lowers it again.
            record.plate_issue = record.plate_issue.max(old.plate_issue);
            if old.code != record.code {
                report.at(
                    *loc,
                    "household_code",
                    "differs from the door-plate code this household already has; a door-plate \
                     code never changes"
                        .into(),
                );
            }
        } else if let Some(other) = known.tx.household_by_code(&record.code)? {
            if other.id != record.id {
                report.at(
                    *loc,
                    "household_code",
                    "is already the door-plate code of another household in the database".into(),
                );
            }
        }
        plan.households.push(Planned { record, old });
    }

    for (loc, member) in &r.members {
        let found = known.household(&member.household)?;
        report.missing(found, *loc, "household_id", "a household");
        if let Some(code) = &member.person_code {
            if let Some(other) = known.tx.member_by_person_code(code)? {
                if other.id != member.id {
                    report.at(
                        *loc,
                        "person_code",
                        "is already the person code of another member in the database".into(),
                    );
                }
            }
        }
        let old = known.tx.member(&member.id)?;
        plan.members.push(Planned {
            record: member.clone(),
            old,
        });
    }

    for (loc, assignment) in &r.assignments {
        let found = known.cadre(&assignment.cadre)?;
        report.missing(found, *loc, "cadre_id", "a cadre");
        let found = known.household(&assignment.household)?;
        report.missing(found, *loc, "household_id", "a household");
        let old = known.tx.assignment(&assignment.id)?;
        plan.assignments.push(Planned {
            record: assignment.clone(),
            old,
        });
    }

    for (loc, post) in &r.posts {
        let found = known.cadre(&post.cadre)?;
        report.missing(found, *loc, "cadre_id", "a cadre");
        let found = known.area(&post.village)?;
        report.missing(found, *loc, "village_code", "a village");
        let old = known.tx.post(&post.id)?;
        plan.posts.push(Planned {
            record: post.clone(),
            old,
        });
    }

    for (loc, measure) in &r.measures {
        let found = known.household(&measure.household)?;
        report.missing(found, *loc, "household_id", "a household");
        let old = known.tx.measure(&measure.id)?;
        plan.measures.push(Planned {
            record: measure.clone(),
            old,
        });
    }
    Ok(plan)
}
