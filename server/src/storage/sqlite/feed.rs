//! How feed entries are stored: each [`FeedItem`] is a (kind, ref) pair of text columns, so a
//! feed row names a row of another table and never copies its data.

use fieldvisit_core::ids::{AssignmentId, CadreId, HouseholdId, PostId};

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
