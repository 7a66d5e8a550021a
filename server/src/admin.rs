//! What a sync admin does to the registry and the devices from the county: load a region,
//! revoke a device, move a household from one cadre to another. Each change reaches the phones
//! concerned through their feeds, and each appends an entry to the admin log in the same
//! transaction (`crate::admin_log`). Door plates have their own module (`crate::plates`).

use chrono::NaiveDate;

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::domain::{Assignment, RegistryRecord};
use fieldvisit_core::ids::{AssignmentId, CadreId, DeviceId, HouseholdId};
use fieldvisit_core::synth::Region;

use crate::admin_log::{self, Action, Actor};
use crate::error::{Error, Result};
use crate::feed::feed_household;
use crate::storage::{FeedItem, Storage};

/// Loads a synthetic region's registry (areas, households, members, cadres, assignments,
/// posts, measures, plate keys) in one transaction, with the secret of its plate key so this
/// server can print its plates.
pub fn load_region(
    storage: &dyn Storage,
    region: &Region,
    actor: &Actor,
    now: ServerTime,
) -> Result<usize> {
    let records = region
        .areas
        .iter()
        .cloned()
        .map(RegistryRecord::Area)
        .chain(region.cadres.iter().cloned().map(RegistryRecord::Cadre))
        .chain(
            region
                .households
                .iter()
                .cloned()
                .map(RegistryRecord::Household),
        )
        .chain(region.members.iter().cloned().map(RegistryRecord::Member))
        .chain(
            region
                .assignments
                .iter()
                .cloned()
                .map(RegistryRecord::Assignment),
        )
        .chain(
            region
                .posts
                .iter()
                .cloned()
                .map(RegistryRecord::VillagePost),
        )
        .chain(region.measures.iter().cloned().map(RegistryRecord::Measure))
        .chain(
            region
                .authority_keys()
                .into_iter()
                .map(RegistryRecord::AuthorityKey),
        );
    let mut tx = storage.write()?;
    let mut n = 0;
    for record in records {
        tx.put_record(&record)?;
        n += 1;
    }
    let (key_id, secret) = region.authority_secret();
    tx.put_authority_secret(key_id, &secret, now)?;
    admin_log::record(
        tx.as_mut(),
        actor,
        now,
        Action::RegionLoad,
        &format!("synthetic-region:{}", region.spec.seed),
        serde_json::json!({
            "records": n,
            "households": region.households.len(),
            "villages": region.spec.villages,
            "plate_key": key_id,
        }),
    )?;
    tx.commit()?;
    Ok(n)
}

/// Revokes a device: its next call gets 401 with `reason`; what it holds stays on the phone.
pub fn revoke(
    storage: &dyn Storage,
    device: &DeviceId,
    reason: &str,
    actor: &Actor,
    now: ServerTime,
) -> Result<()> {
    let mut tx = storage.write()?;
    if !tx.revoke_device(device, now, reason)? {
        return Err(Error::NotFound(format!("no device {device}")));
    }
    admin_log::record(
        tx.as_mut(),
        actor,
        now,
        Action::DeviceRevoke,
        &device.to_string(),
        serde_json::json!({ "reason": reason }),
    )?;
    tx.commit()
}

/// Moves `household` to cadre `to` from `day` on: assignments of other cadres end the day
/// before. Phones that lose the household are told to purge it; the new cadre's phones receive
/// it in full.
pub fn reassign(
    storage: &dyn Storage,
    household: &HouseholdId,
    to: &CadreId,
    day: NaiveDate,
    actor: &Actor,
    now: ServerTime,
) -> Result<AssignmentId> {
    let mut tx = storage.write()?;
    if tx.household(household)?.is_none() {
        return Err(Error::NotFound(format!("no household {household}")));
    }
    if tx.cadre(to)?.is_none() {
        return Err(Error::NotFound(format!("no cadre {to}")));
    }
    let before = tx.cadres_in_scope(household, day)?;
    let yesterday = day.pred_opt().unwrap_or(day);
    let mut ended = Vec::new();
    for mut a in tx.assignments_of_household(household)? {
        let active = a.from <= day && a.to.is_none_or(|t| t >= day);
        if active && &a.cadre != to {
            a.to = Some(yesterday.max(a.from));
            let cadre = a.cadre.clone();
            let id = a.id.clone();
            ended.push(id.to_string());
            tx.put_record(&RegistryRecord::Assignment(a))?;
            for device in tx.devices_of_cadres(std::slice::from_ref(&cadre))? {
                tx.append_feed(&device, &FeedItem::Assignment(id.clone()))?;
            }
        }
    }
    let id = AssignmentId::new(format!("a-{}", uuid::Uuid::now_v7().simple()))?;
    tx.put_record(&RegistryRecord::Assignment(Assignment {
        id: id.clone(),
        cadre: to.clone(),
        household: household.clone(),
        from: day,
        to: None,
    }))?;
    let after = tx.cadres_in_scope(household, day)?;
    for cadre in before.iter().filter(|c| !after.contains(c)) {
        for device in tx.devices_of_cadres(std::slice::from_ref(cadre))? {
            tx.append_feed(&device, &FeedItem::Purge(household.clone()))?;
        }
    }
    for device in tx.devices_of_cadres(std::slice::from_ref(to))? {
        tx.append_feed(&device, &FeedItem::Assignment(id.clone()))?;
        if !before.contains(to) {
            feed_household(tx.as_mut(), &device, household)?;
        }
    }
    admin_log::record(
        tx.as_mut(),
        actor,
        now,
        Action::HouseholdReassign,
        household.as_str(),
        serde_json::json!({
            "to": to.as_str(),
            "from_day": day.to_string(),
            "assignment": id.to_string(),
            "ended": ended,
        }),
    )?;
    tx.commit()?;
    Ok(id)
}

/// The server's today, in China Standard Time.
pub fn today(now: ServerTime) -> NaiveDate {
    WallTime(now.0).local_date()
}
