//! Pages of a device's feed. The device sends the last position it applied; the page holds the
//! entries after it, up to a byte budget (at least one entry, however large), and the position
//! after the last entry sent. Entries are built from current rows, so a household arrives as
//! it is now, with its field clocks for merging.

use fieldvisit_core::journal::{OpBody, OpKind};
use fieldvisit_core::protocol::{Change, ChangeBody, MemberState};

use crate::error::Result;
use crate::storage::{DeviceRecord, FeedItem, Tx};

/// How many feed entries are read at once before the byte budget is applied.
const ENTRIES_PER_READ: usize = 256;
/// A floor under the page budget a device may ask for.
const MIN_PAGE_BYTES: u32 = 4 * 1024;

pub struct Page {
    pub changes: Vec<Change>,
    pub cursor: u64,
    pub more: bool,
}

pub fn pull(tx: &mut dyn Tx, device: &DeviceRecord, cursor: u64, page_bytes: u32) -> Result<Page> {
    let head = tx.feed_head(&device.id)?;
    // A cursor beyond the feed means the server was restored from an older backup: send the
    // feed again from the start; every entry is safe to apply twice.
    let start = if cursor > head { 0 } else { cursor };
    let budget = usize::try_from(page_bytes.max(MIN_PAGE_BYTES)).unwrap_or(usize::MAX);
    let mut changes = Vec::new();
    let mut used = 0usize;
    let mut at = start;
    'page: loop {
        let entries = tx.feed_after(&device.id, at, ENTRIES_PER_READ)?;
        if entries.is_empty() {
            break;
        }
        for (pos, item) in entries {
            let Some(body) = expand(tx, &item)? else {
                // The row is gone (a household deleted from the registry): nothing to send.
                at = pos;
                continue;
            };
            let change = Change { pos, body };
            let size = serde_json::to_vec(&change)?.len();
            if !changes.is_empty() && used + size > budget {
                break 'page;
            }
            used += size;
            changes.push(change);
            at = pos;
        }
    }
    Ok(Page {
        changes,
        cursor: at,
        more: at < head,
    })
}

/// The change a feed entry stands for, built from the current rows.
pub fn expand(tx: &mut dyn Tx, item: &FeedItem) -> Result<Option<ChangeBody>> {
    Ok(match item {
        FeedItem::Op(seq) => tx
            .op_by_server_seq(*seq)?
            .map(|op| ChangeBody::Visit { op }),
        FeedItem::Household(id) => {
            let Some(household) = tx.household(id)? else {
                return Ok(None);
            };
            let clocks = tx.field_clocks("household", id.as_str())?;
            let mut members = Vec::new();
            for member in tx.members_of(id)? {
                let clocks = tx.field_clocks("member", member.id.as_str())?;
                members.push(MemberState { member, clocks });
            }
            let measures = tx.measures_of(id)?;
            let visits = tx
                .ops_of_household(id, &[OpKind::VisitRecord, OpKind::VisitAmend])?
                .into_iter()
                .map(|(op, _)| op)
                .filter(|op| {
                    matches!(
                        op.body(),
                        Ok(OpBody::VisitRecorded(_) | OpBody::VisitAmended(_))
                    )
                })
                .collect();
            Some(ChangeBody::Household {
                household,
                clocks,
                members,
                measures,
                visits,
            })
        }
        FeedItem::Purge(household) => Some(ChangeBody::Purge {
            household: household.clone(),
        }),
        FeedItem::Cadre(id) => tx.cadre(id)?.map(|cadre| ChangeBody::Cadre { cadre }),
        FeedItem::Area(code) => tx.area(code)?.map(|area| ChangeBody::Area { area }),
        FeedItem::Assignment(id) => tx
            .assignment(id)?
            .map(|assignment| ChangeBody::Assignment { assignment }),
        FeedItem::Post(id) => tx.post(id)?.map(|post| ChangeBody::VillagePost { post }),
        FeedItem::AuthorityKey(key_id) => tx
            .authority_keys()?
            .into_iter()
            .find(|k| k.key_id == *key_id)
            .map(|key| ChangeBody::AuthorityKey { key }),
    })
}
