//! Feed entries: which devices must hear of a change, and what a newly enrolled device (or one
//! whose scope grew) must receive. A device's feed is its own ordered list; entries name rows,
//! and the page sent is built from those rows' current state. Sync (a pushed operation),
//! enrollment, the registry import, admin moves, exits and plates all feed phones through
//! here; this module calls none of them.

use std::collections::{BTreeMap, BTreeSet};

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::ids::{DeviceId, HouseholdId};

use crate::error::Result;
use crate::reference::Reference;
use crate::storage::{DeviceRecord, FeedItem, Feeds, Registry, Tx};

fn today(now: ServerTime) -> chrono::NaiveDate {
    WallTime(now.0).local_date()
}

/// Feed entries gathered while operations are applied, appended when they are all done: each
/// phone's entries as one run, so a push of twenty visits to one village moves each colleague's
/// feed counter once rather than twenty times. Each phone's entries keep the order they were
/// gathered in; nothing orders one phone's feed against another's.
#[derive(Debug, Default)]
pub struct FeedBatch {
    runs: BTreeMap<DeviceId, Vec<FeedItem>>,
}

impl FeedBatch {
    fn add(&mut self, device: DeviceId, item: FeedItem) {
        self.runs.entry(device).or_default().push(item);
    }

    /// Appends every gathered entry to its phone's feed, in the order it was gathered.
    pub fn append(self, tx: &mut dyn Feeds) -> Result<()> {
        for (device, items) in &self.runs {
            tx.append_feed_run(device, items)?;
        }
        Ok(())
    }
}

/// An accepted visit or amendment: every other device responsible for the household hears of it.
pub fn visit(
    tx: &mut dyn Tx,
    reference: &mut Reference,
    feed: &mut FeedBatch,
    pusher: &DeviceRecord,
    household: &HouseholdId,
    server_seq: u64,
    now: ServerTime,
) -> Result<()> {
    for device in reference.phones_in_scope(tx, household, today(now))? {
        if *device != pusher.id {
            feed.add(*device, FeedItem::Op(server_seq));
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
    let mut feed = FeedBatch::default();
    household_changed_in(
        tx,
        &mut Reference::default(),
        &mut feed,
        household,
        except,
        now,
    )?;
    feed.append(tx)
}

/// [`household_changed`] within a push: the entries join the push's [`FeedBatch`].
pub(crate) fn household_changed_in(
    tx: &mut dyn Tx,
    reference: &mut Reference,
    feed: &mut FeedBatch,
    household: &HouseholdId,
    except: Option<&DeviceId>,
    now: ServerTime,
) -> Result<()> {
    for device in reference.phones_in_scope(tx, household, today(now))? {
        if Some(device) != except {
            feed.add(*device, FeedItem::Household(household.clone()));
        }
    }
    Ok(())
}

/// The areas from a village up to the city, so the phone can name them.
fn area_chain(tx: &mut dyn Registry, village: &str) -> Result<Vec<String>> {
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
    let mut items = Vec::new();
    for household in tx.households_sent(&id)? {
        if !in_scope.contains(&household) {
            items.push(FeedItem::Purge(household));
        }
    }
    items.push(FeedItem::Cadre(device.cadre.clone()));
    for key in tx.authority_keys()? {
        items.push(FeedItem::AuthorityKey(key.key_id));
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
                items.push(FeedItem::Area(area));
            }
        }
    }
    for assignment in tx.assignments_of_cadre(&device.cadre)? {
        items.push(FeedItem::Assignment(assignment.id));
    }
    for post in tx.posts_of_cadre(&device.cadre)? {
        items.push(FeedItem::Post(post.id));
    }
    items.extend(in_scope.into_iter().map(FeedItem::Household));
    tx.append_feed_run(&id, &items)?;
    Ok(())
}
