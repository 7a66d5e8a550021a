//! How feed entries are stored: each [`FeedItem`] is a (kind, ref) pair of text columns, so a
//! feed row names a row of another table and never copies its data. A device's positions are
//! drawn from its row's counter under the write lock, so they commit in order.

use rusqlite::{Connection, OptionalExtension, params};

use fieldvisit_core::ids::{AssignmentId, CadreId, DeviceId, HouseholdId, PostId};

use super::{corrupt, seq_of, seq_sql};

use crate::error::{Error, Result};
use crate::storage::FeedItem;

pub(crate) fn feed_parts(item: &FeedItem) -> (&'static str, String) {
    match item {
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

pub(crate) fn feed_item(kind: &str, reference: String) -> Result<FeedItem> {
    let bad = |_| Error::Corrupt(format!("feed entry {kind}"));
    Ok(match kind {
        "op" => FeedItem::Op(
            reference
                .parse()
                .map_err(|_| Error::Corrupt("feed op".into()))?,
        ),
        "household" => FeedItem::Household(HouseholdId::new(reference).map_err(bad)?),
        "purge" => FeedItem::Purge(HouseholdId::new(reference).map_err(bad)?),
        "cadre" => FeedItem::Cadre(CadreId::new(reference).map_err(bad)?),
        "area" => FeedItem::Area(reference),
        "assignment" => FeedItem::Assignment(AssignmentId::new(reference).map_err(bad)?),
        "post" => FeedItem::Post(PostId::new(reference).map_err(bad)?),
        "authority_key" => FeedItem::AuthorityKey(
            reference
                .parse()
                .map_err(|_| Error::Corrupt("feed key".into()))?,
        ),
        other => return Err(Error::Corrupt(format!("unknown feed entry kind {other}"))),
    })
}

pub(super) fn append_feed_run(
    conn: &Connection,
    device: &DeviceId,
    items: &[FeedItem],
) -> Result<u64> {
    if items.is_empty() {
        return feed_head(conn, device);
    }
    // No slice in memory holds 2^63 entries.
    let count = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let id = device.to_string();
    // The device row's counter allocates positions: a writer holds it until commit, so
    // positions of one device's feed become visible in order (see docs/protocol.md).
    let head: i64 = conn
        .prepare_cached(
            "UPDATE device SET feed_head = feed_head + ?2 WHERE id = ?1 RETURNING feed_head",
        )?
        .query_row(params![id, count], |r| r.get(0))?;
    let mut stmt =
        conn.prepare_cached("INSERT INTO feed (device, pos, kind, ref) VALUES (?1, ?2, ?3, ?4)")?;
    for (pos, item) in (head - count + 1..).zip(items) {
        let (kind, reference) = feed_parts(item);
        stmt.execute(params![id, pos, kind, reference])?;
    }
    Ok(seq_of(head))
}

pub(super) fn feed_after(
    conn: &Connection,
    device: &DeviceId,
    after: u64,
    limit: usize,
) -> Result<Vec<(u64, FeedItem)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT pos, kind, ref FROM feed WHERE device = ?1 AND pos > ?2 ORDER BY pos LIMIT ?3",
    )?;
    let mut rows = stmt.query(params![
        device.to_string(),
        seq_sql(after),
        i64::try_from(limit).unwrap_or(i64::MAX)
    ])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let kind: String = r.get(1)?;
        out.push((seq_of(r.get(0)?), feed_item(&kind, r.get(2)?)?));
    }
    Ok(out)
}

pub(super) fn households_sent(conn: &Connection, device: &DeviceId) -> Result<Vec<HouseholdId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT ref FROM feed WHERE device = ?1 AND kind = 'household' ORDER BY ref",
    )?;
    let mut rows = stmt.query([device.to_string()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(HouseholdId::new(r.get::<_, String>(0)?).map_err(corrupt("household id"))?);
    }
    Ok(out)
}

pub(super) fn feed_head(conn: &Connection, device: &DeviceId) -> Result<u64> {
    let head: Option<i64> = conn
        .prepare_cached("SELECT feed_head FROM device WHERE id = ?1")?
        .query_row([device.to_string()], |r| r.get(0))
        .optional()?;
    Ok(head.map(seq_of).unwrap_or(0))
}
