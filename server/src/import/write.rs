//! Writing a checked import inside the caller's write transaction: the new and changed records
//! (upserts by id, so a re-import adds nothing), the feed entries that bring the changes to the
//! phones, and the `registry.import` admin-log entry.
//!
//! Phones are reached by comparing, for every active device, what its cadre is responsible for
//! before and after the write: a household that left the scope is purged, one that entered it
//! is sent in full with its areas, and one that stayed and changed (its record, a member or a
//! measure) is sent again. Changed assignments, posts, cadres and areas go to the phones they
//! concern. Unchanged records are not written and cause no feed entry.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use indicatif::ProgressBar;

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::domain::RegistryRecord;
use fieldvisit_core::ids::{CadreId, DeviceId, HouseholdId};
use fieldvisit_core::validate;

use super::Counts;
use super::check::{Plan, Planned};
use crate::admin_log::{self, Action, Actor};
use crate::error::Result;
use crate::feed::feed_household;
use crate::storage::{FeedItem, Registry, Tx};

/// Writes `plan`'s new and changed records, feeds the phones concerned and logs the import.
/// Returns the number of feed entries appended.
pub fn apply(
    tx: &mut dyn Tx,
    plan: &Plan,
    files: &[String],
    counts: &BTreeMap<&'static str, Counts>,
    actor: &Actor,
    now: ServerTime,
    progress: &ProgressBar,
) -> Result<usize> {
    let day = WallTime(now.0).local_date();
    let devices: Vec<(DeviceId, CadreId)> = tx
        .devices()?
        .into_iter()
        .filter(|d| d.revoked.is_none())
        .map(|d| (d.id, d.cadre))
        .collect();
    let cadres: BTreeSet<CadreId> = devices.iter().map(|(_, c)| c.clone()).collect();
    let mut before = HashMap::new();
    for cadre in &cadres {
        let scope: BTreeSet<HouseholdId> =
            tx.households_in_scope(cadre, day)?.into_iter().collect();
        before.insert(cadre.clone(), scope);
    }

    fn put<T: PartialEq + Clone>(
        tx: &mut dyn Registry,
        list: &[Planned<T>],
        wrap: fn(T) -> RegistryRecord,
        progress: &ProgressBar,
    ) -> Result<()> {
        for p in list.iter().filter(|p| p.changed()) {
            tx.put_record(&wrap(p.record.clone()))?;
            progress.inc(1);
        }
        Ok(())
    }
    // Parents before the rows that name them: 12-digit area codes sort parents first.
    let mut areas: Vec<&Planned<_>> = plan.areas.iter().collect();
    areas.sort_by(|a, b| a.record.code.cmp(&b.record.code));
    for p in areas.into_iter().filter(|p| p.changed()) {
        tx.put_record(&RegistryRecord::Area(p.record.clone()))?;
        progress.inc(1);
    }
    put(tx, &plan.cadres, RegistryRecord::Cadre, progress)?;
    put(tx, &plan.households, RegistryRecord::Household, progress)?;
    put(tx, &plan.members, RegistryRecord::Member, progress)?;
    put(tx, &plan.assignments, RegistryRecord::Assignment, progress)?;
    put(tx, &plan.posts, RegistryRecord::VillagePost, progress)?;
    put(tx, &plan.measures, RegistryRecord::Measure, progress)?;

    let feed_entries = if devices.is_empty() {
        0
    } else {
        feed(tx, plan, &devices, &before, day)?
    };

    let names: Vec<&str> = files.iter().map(|f| file_name(f)).collect();
    admin_log::record(
        tx,
        actor,
        now,
        Action::RegistryImport,
        "registry",
        serde_json::json!({
            "files": names,
            "counts": counts,
            "feed_entries": feed_entries,
        }),
    )?;
    Ok(feed_entries)
}

/// The file's own name, without its folders (which may name people).
fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Appends the feed entries for every device whose households or scope the import changed.
fn feed(
    tx: &mut dyn Tx,
    plan: &Plan,
    devices: &[(DeviceId, CadreId)],
    before: &HashMap<CadreId, BTreeSet<HouseholdId>>,
    day: chrono::NaiveDate,
) -> Result<usize> {
    // Households whose snapshot changed: their record, or a member or measure in or out.
    let mut changed: HashSet<HouseholdId> = HashSet::new();
    for p in plan.households.iter().filter(|p| p.changed()) {
        changed.insert(p.record.id.clone());
    }
    for p in plan.members.iter().filter(|p| p.changed()) {
        changed.insert(p.record.household.clone());
        changed.extend(p.old.as_ref().map(|m| m.household.clone()));
    }
    for p in plan.measures.iter().filter(|p| p.changed()) {
        changed.insert(p.record.household.clone());
        changed.extend(p.old.as_ref().map(|m| m.household.clone()));
    }
    let changed_areas: Vec<validate::AreaCode> = plan
        .areas
        .iter()
        .filter(|p| p.changed())
        .filter_map(|p| validate::area_code("area_code", &p.record.code).ok())
        .collect();
    let changed_cadres: HashSet<&CadreId> = plan
        .cadres
        .iter()
        .filter(|p| p.changed())
        .map(|p| &p.record.id)
        .collect();

    let mut after: HashMap<CadreId, BTreeSet<HouseholdId>> = HashMap::new();
    let mut entries = 0usize;
    for (device, cadre) in devices {
        if !after.contains_key(cadre) {
            let scope = tx.households_in_scope(cadre, day)?.into_iter().collect();
            after.insert(cadre.clone(), scope);
        }
        let empty = BTreeSet::new();
        let was = before.get(cadre).unwrap_or(&empty);
        let now = after.get(cadre).unwrap_or(&empty);
        let mut items = Vec::new();
        if changed_cadres.contains(cadre) {
            items.push(FeedItem::Cadre(cadre.clone()));
        }
        if !changed_areas.is_empty() {
            let mut villages = BTreeSet::new();
            for household in was.intersection(now) {
                if let Some(h) = tx.household(household)? {
                    villages.extend(validate::area_code("village", &h.village).ok());
                }
            }
            for area in &changed_areas {
                if villages.iter().any(|v| v.is_within(area)) {
                    items.push(FeedItem::Area(area.as_str().to_string()));
                }
            }
        }
        for p in plan.assignments.iter().filter(|p| p.changed()) {
            let old_cadre = p.old.as_ref().map(|a| &a.cadre);
            if &p.record.cadre == cadre || old_cadre == Some(cadre) {
                items.push(FeedItem::Assignment(p.record.id.clone()));
            }
        }
        for p in plan.posts.iter().filter(|p| p.changed()) {
            let old_cadre = p.old.as_ref().map(|a| &a.cadre);
            if &p.record.cadre == cadre || old_cadre == Some(cadre) {
                items.push(FeedItem::Post(p.record.id.clone()));
            }
        }
        for household in was.difference(now) {
            items.push(FeedItem::Purge(household.clone()));
        }
        for item in &items {
            tx.append_feed(device, item)?;
        }
        entries += items.len();
        for household in now.difference(was) {
            let head = tx.feed_head(device)?;
            feed_household(tx, device, household)?;
            let added = tx.feed_head(device)?.saturating_sub(head);
            entries += usize::try_from(added).unwrap_or(usize::MAX);
        }
        for household in was.intersection(now).filter(|h| changed.contains(*h)) {
            tx.append_feed(device, &FeedItem::Household(household.clone()))?;
            entries += 1;
        }
    }
    Ok(entries)
}
