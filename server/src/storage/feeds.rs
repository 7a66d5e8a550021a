//! Each device's feed: what it has yet to pull, in order. An entry ([`FeedItem`]) is a
//! (kind, ref) pair of text columns naming a row of another table, never a copy of its data, so
//! a device always receives the row as it is when it pulls. A device's positions are drawn from
//! its row's counter under the write lock, so they commit in order and a cursor never skips
//! (docs/protocol.md).
//!
//! Conformance: server/tests/conformance/feeds.rs.

use fieldvisit_core::ids::{AssignmentId, CadreId, DeviceId, HouseholdId, PostId};
use fieldvisit_core::sql::Dialect;

use super::Db;
use super::decode::corrupt;
use crate::error::{Error, Result};

/// One entry of a device's feed. Entries refer to rows; the change sent is built from the
/// row's state when the device pulls, so a device always receives the current household.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedItem {
    /// An accepted operation, by server sequence number.
    Op(u64),
    Household(HouseholdId),
    Purge(HouseholdId),
    Cadre(CadreId),
    Area(String),
    Assignment(AssignmentId),
    Post(PostId),
    AuthorityKey(u16),
}

impl FeedItem {
    /// The entry as stored: its kind and the text of the row it names.
    fn parts(&self) -> (&'static str, String) {
        match self {
            FeedItem::Op(seq) => ("op", seq.to_string()),
            FeedItem::Household(h) => ("household", h.to_string()),
            FeedItem::Purge(h) => ("purge", h.to_string()),
            FeedItem::Cadre(c) => ("cadre", c.to_string()),
            FeedItem::Area(a) => ("area", a.clone()),
            FeedItem::Assignment(a) => ("assignment", a.to_string()),
            FeedItem::Post(p) => ("post", p.to_string()),
            FeedItem::AuthorityKey(k) => ("authority_key", k.to_string()),
        }
    }

    /// The entry stored as `kind` and `reference`.
    fn from_parts(kind: &str, reference: String) -> Result<FeedItem> {
        let bad = |_| Error::Corrupt(format!("feed entry {kind}"));
        Ok(match kind {
            "op" => FeedItem::Op(reference.parse().map_err(corrupt("feed op"))?),
            "household" => FeedItem::Household(HouseholdId::new(reference).map_err(bad)?),
            "purge" => FeedItem::Purge(HouseholdId::new(reference).map_err(bad)?),
            "cadre" => FeedItem::Cadre(CadreId::new(reference).map_err(bad)?),
            "area" => FeedItem::Area(reference),
            "assignment" => FeedItem::Assignment(AssignmentId::new(reference).map_err(bad)?),
            "post" => FeedItem::Post(PostId::new(reference).map_err(bad)?),
            "authority_key" => {
                FeedItem::AuthorityKey(reference.parse().map_err(corrupt("feed key"))?)
            }
            other => return Err(Error::Corrupt(format!("unknown feed entry kind {other}"))),
        })
    }
}

/// The feed table.
pub trait Feeds {
    /// Appends `items`, in order, to a device's feed and returns the position of the last
    /// (the feed's head; with no items, the head as it was). The device row's counter is moved
    /// once for the whole run: a fanout costs one row update per phone, not one per entry.
    fn append_feed_run(&mut self, device: &DeviceId, items: &[FeedItem]) -> Result<u64>;
    /// Appends one entry to a device's feed and returns its position.
    fn append_feed(&mut self, device: &DeviceId, item: &FeedItem) -> Result<u64> {
        self.append_feed_run(device, std::slice::from_ref(item))
    }
    /// Entries of a device's feed after `after`, in order, at most `limit`.
    fn feed_after(
        &mut self,
        device: &DeviceId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, FeedItem)>>;
    /// The position of a device's last feed entry (0 when empty).
    fn feed_head(&mut self, device: &DeviceId) -> Result<u64>;
    /// Every household a device's feed has ever sent it in full.
    fn households_sent(&mut self, device: &DeviceId) -> Result<Vec<HouseholdId>>;
}

impl<D: Db + ?Sized> Feeds for D {
    fn append_feed_run(&mut self, device: &DeviceId, items: &[FeedItem]) -> Result<u64> {
        if items.is_empty() {
            return self.feed_head(device);
        }
        let count = items.len() as u64;
        let id = device.to_string();
        // The device row's counter allocates positions: a writer holds it until commit, so
        // positions of one device's feed become visible in order (see docs/protocol.md).
        let head: u64 = self.query_value(
            "UPDATE device SET feed_head = feed_head + ?2 WHERE id = ?1 RETURNING feed_head",
            &[&id, &count],
        )?;
        let first = head + 1 - count;
        match self.dialect() {
            // In-process statements cost microseconds: one cached insert per entry.
            Dialect::Sqlite => {
                for (pos, item) in (first..).zip(items) {
                    let (kind, reference) = item.parts();
                    self.execute(
                        "INSERT INTO feed (device, pos, kind, ref) VALUES (?1, ?2, ?3, ?4)",
                        &[&id, &pos, &kind, &reference],
                    )?;
                }
            }
            // Over the network each statement is a round trip: the whole run in one, as a
            // JSON array of [kind, ref] pairs numbered from the first position.
            Dialect::Postgres => {
                let run: Vec<(&str, String)> = items.iter().map(FeedItem::parts).collect();
                let run = serde_json::to_string(&run)?;
                self.execute(
                    "INSERT INTO feed (device, pos, kind, ref)
                     SELECT ?1, ?2 + e.ord - 1, e.entry ->> 0, e.entry ->> 1
                     FROM jsonb_array_elements(CAST(?3 AS jsonb)) WITH ORDINALITY
                         AS e (entry, ord)",
                    &[&id, &first, &run],
                )?;
            }
        }
        Ok(head)
    }

    fn feed_after(
        &mut self,
        device: &DeviceId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, FeedItem)>> {
        self.query(
            "SELECT pos, kind, ref FROM feed WHERE device = ?1 AND pos > ?2 ORDER BY pos LIMIT ?3",
            &[&device.to_string(), &after, &limit],
            |r| {
                Ok((
                    r.get(0)?,
                    FeedItem::from_parts(&r.get::<String>(1)?, r.get(2)?)?,
                ))
            },
        )
    }

    fn feed_head(&mut self, device: &DeviceId) -> Result<u64> {
        let head = self.query_opt(
            "SELECT feed_head FROM device WHERE id = ?1",
            &[&device.to_string()],
            |r| Ok(r.get::<u64>(0)?),
        )?;
        Ok(head.unwrap_or(0))
    }

    fn households_sent(&mut self, device: &DeviceId) -> Result<Vec<HouseholdId>> {
        self.query(
            "SELECT ref FROM feed WHERE device = ?1 AND kind = 'household'
             GROUP BY ref ORDER BY ref COLLATE BINARY",
            &[&device.to_string()],
            |r| HouseholdId::new(r.get::<String>(0)?).map_err(corrupt("household id")),
        )
    }
}
