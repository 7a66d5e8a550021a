//! Feed entries: which devices must hear of a change, and what a newly enrolled device (or one
//! whose scope grew) must receive. A device's feed is its own ordered list; entries name rows,
//! and the page sent is built from those rows' current state.

use std::collections::BTreeSet;

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::ids::{DeviceId, HouseholdId};

use crate::error::Result;
use crate::storage::{DeviceRecord, FeedItem, Tx};

fn today(now: ServerTime) -> chrono::NaiveDate {
    WallTime(now.0).local_date()
}

/// The active devices of every cadre responsible for `household` today.
fn devices_in_scope(
    tx: &mut dyn Tx,
    household: &HouseholdId,
    now: ServerTime,
) -> Result<Vec<DeviceId>> {
    let cadres = tx.cadres_in_scope(household, today(now))?;
    tx.devices_of_cadres(&cadres)
}

/// An accepted visit or amendment: every other device responsible for the household hears of it.
pub fn visit(
    tx: &mut dyn Tx,
    pusher: &DeviceRecord,
    household: &HouseholdId,
    server_seq: u64,
    now: ServerTime,
) -> Result<()> {
    for device in devices_in_scope(tx, household, now)? {
        if device != pusher.id {
            tx.append_feed(&device, &FeedItem::Op(server_seq))?;
        }
    }
    Ok(())
}

/// A household or member changed: every device responsible for it (but `except`, the device
/// whose edit already holds the merged values) receives the household afresh.
pub fn household_changed(
    tx: &mut dyn Tx,
    household: &HouseholdId,
    except: Option<&DeviceId>,
    now: ServerTime,
) -> Result<()> {
    for device in devices_in_scope(tx, household, now)? {
        if Some(&device) != except {
            tx.append_feed(&device, &FeedItem::Household(household.clone()))?;
        }
    }
    Ok(())
}

/// The areas from a village up to the city, so the phone can name them.
fn area_chain(tx: &mut dyn Tx, village: &str) -> Result<Vec<String>> {
    let mut chain = Vec::new();
    let mut next = Some(village.to_string());
    while let Some(code) = next.take() {
        if chain.contains(&code) {
            break;
        }
        let Some(area) = tx.area(&code)? else {
            break;
        };
        chain.push(code);
        next = area.parent;
    }
    chain.reverse();
    Ok(chain)
}

/// Appends what a device needs to hold a household that entered its scope.
pub fn feed_household(tx: &mut dyn Tx, device: &DeviceId, household: &HouseholdId) -> Result<()> {
    if let Some(h) = tx.household(household)? {
        for area in area_chain(tx, &h.village)? {
            tx.append_feed(device, &FeedItem::Area(area))?;
        }
    }
    tx.append_feed(device, &FeedItem::Household(household.clone()))?;
    Ok(())
}

/// Everything a freshly enrolled device must receive: its cadre, the plate keys, the cadre's
/// assignments and posts, and every household in scope with its areas. A device enrolled
/// before (found again after a revocation, or handed to another cadre) is also told to purge
/// every household it was sent that is no longer in its scope: no purge reached it meanwhile.
pub fn seed_device_feed(tx: &mut dyn Tx, device: &DeviceRecord, now: ServerTime) -> Result<()> {
    let id = device.id;
    let in_scope: BTreeSet<HouseholdId> = tx
        .households_in_scope(&device.cadre, today(now))?
        .into_iter()
        .collect();
    for household in tx.households_sent(&id)? {
        if !in_scope.contains(&household) {
            tx.append_feed(&id, &FeedItem::Purge(household))?;
        }
    }
    tx.append_feed(&id, &FeedItem::Cadre(device.cadre.clone()))?;
    for key in tx.authority_keys()? {
        tx.append_feed(&id, &FeedItem::AuthorityKey(key.key_id))?;
    }
    let mut areas = BTreeSet::new();
    for household in &in_scope {
        if let Some(h) = tx.household(household)? {
            areas.insert(h.village);
        }
    }
    let mut sent = BTreeSet::new();
    for village in areas {
        for area in area_chain(tx, &village)? {
            if sent.insert(area.clone()) {
                tx.append_feed(&id, &FeedItem::Area(area))?;
            }
        }
    }
    for assignment in tx.assignments_of_cadre(&device.cadre)? {
        tx.append_feed(&id, &FeedItem::Assignment(assignment.id))?;
    }
    for post in tx.posts_of_cadre(&device.cadre)? {
        tx.append_feed(&id, &FeedItem::Post(post.id))?;
    }
    for household in in_scope {
        tx.append_feed(&id, &FeedItem::Household(household))?;
    }
    Ok(())
}
