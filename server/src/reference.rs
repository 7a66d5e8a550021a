//! The reference data of one write transaction ([`Reference`]): what applying pushed
//! operations and fanning them out to the feeds read again and again but no pushed operation
//! changes. Below both `sync` (which applies) and `feed` (which fans out), so that neither
//! reaches the other for it.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use fieldvisit_core::ids::{DeviceId, HouseholdId};

use crate::error::Result;
use crate::storage::{Registry, Tx};

/// Reference data that applying pushed operations reads but no pushed operation changes — the
/// county's code lists, the plate authority keys, and which phones are responsible for a
/// household on a day (assignments, village posts and enrolled devices) — read at most once
/// per write transaction (a group commit holds up to [`crate::sync::batch::MAX_BATCH`] syncs) instead
/// of once per operation. Only an import or an admin command changes them, always in a
/// transaction of its own, so a cache that lives no longer than one transaction is never
/// stale; the one exception, a retiring phone revoked by its final sync, calls
/// [`Reference::forget_phones`].
#[derive(Debug, Default)]
pub struct Reference {
    codes: Option<HashSet<(String, String)>>,
    key_ids: Option<HashSet<u16>>,
    phones: HashMap<(HouseholdId, NaiveDate), Vec<DeviceId>>,
}

impl Reference {
    /// The active devices of every cadre responsible for `household` on `day`.
    pub(crate) fn phones_in_scope(
        &mut self,
        tx: &mut dyn Tx,
        household: &HouseholdId,
        day: NaiveDate,
    ) -> Result<&[DeviceId]> {
        Ok(match self.phones.entry((household.clone(), day)) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => {
                let cadres = tx.cadres_in_scope(household, day)?;
                slot.insert(tx.devices_of_cadres(&cadres)?)
            }
        })
    }

    /// Drops the phones read so far: a device was revoked inside the transaction.
    pub(crate) fn forget_phones(&mut self) {
        self.phones.clear();
    }

    pub(crate) fn codes(&mut self, tx: &mut dyn Registry) -> Result<&HashSet<(String, String)>> {
        if self.codes.is_none() {
            let entries = tx.code_entries()?;
            self.codes = Some(entries.into_iter().map(|e| (e.list, e.code)).collect());
        }
        Ok(self.codes.get_or_insert_default())
    }

    pub(crate) fn key_known(&mut self, tx: &mut dyn Registry, key_id: u16) -> Result<bool> {
        if self.key_ids.is_none() {
            let keys = tx.authority_keys()?;
            self.key_ids = Some(keys.into_iter().map(|k| k.key_id).collect());
        }
        Ok(self.key_ids.get_or_insert_default().contains(&key_id))
    }
}
