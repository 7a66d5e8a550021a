//! One visit as a supervisor reads it (the dashboard's visit page): the stored visit, its
//! record with the accepted amendments applied, the registry's names for its household,
//! village and cadre, the anomaly flags on it, and each photo it names with what the server
//! holds of that photo and the photo flags it trips on its own.
//!
//! Flags depend on other visits (a diary copied from an earlier one, travel since the previous
//! fix, a photo an earlier visit named), so they are computed as the `flags` report computes
//! them, over the [`FLAG_WINDOW_DAYS`] local days that end on the visit's day: what the flagged
//! visits page shows for this visit over a period ending that day. A photo that an earlier
//! visit outside that window named is still found, through the photo's links.
//!
//! Only plain reads every backend has; nothing here writes.

use fieldvisit_core::domain::Household;
use fieldvisit_core::domain::photo::PhotoRef;
use fieldvisit_core::domain::visit::{VisitAmendment, VisitContent, VisitRecord};
use fieldvisit_core::ids::VisitId;

use super::Period;
use super::flags::{self, Flag, FlagKind, VisitFacts};
use crate::error::{Error, Result};
use crate::storage::{ServerVisit, StoredPhoto, Tx};

/// The days over which a visit's flags are computed: the flags page's default period.
pub const FLAG_WINDOW_DAYS: u32 = 30;

/// A visit with everything its page shows.
#[derive(Debug, Clone)]
pub struct VisitView {
    /// The visit as stored for supervision (device, times, distance, identification).
    pub stored: ServerVisit,
    /// The record as the phone signed it.
    pub record: VisitRecord,
    /// The record's content with its accepted amendments applied in clock order.
    pub content: VisitContent,
    /// How many accepted amendments changed it.
    pub amendments: usize,
    /// The household as registered now (`None` if it left the registry).
    pub household: Option<Household>,
    /// The name of the household's head.
    pub head_name: Option<String>,
    pub village_name: Option<String>,
    pub cadre_name: Option<String>,
    /// The flags on the visit, by kind.
    pub flags: Vec<Flag>,
    /// The photos the record names, in its order.
    pub photos: Vec<PhotoView>,
}

/// One photo of a visit.
#[derive(Debug, Clone)]
pub struct PhotoView {
    /// What the visit's record says of it.
    pub photo: PhotoRef,
    /// The complete photo, when the server holds it; `None` while it is not (fully) uploaded.
    pub stored: Option<StoredPhoto>,
    /// The photo flags this photo trips by itself (reused, gallery, time, position).
    pub flags: Vec<Flag>,
    /// The other visits that name the same photo.
    pub also_named_by: Vec<VisitId>,
}

/// The visit `id` as its page shows it; `None` when the server has no such visit.
pub fn load(tx: &mut dyn Tx, id: VisitId) -> Result<Option<VisitView>> {
    let Some((stored, record, amendments)) = stored_visit(tx, id)? else {
        return Ok(None);
    };
    let content = amendments
        .iter()
        .fold(record.content.clone(), |c, a| c.amended(&a.changes));

    let household = tx.household(&record.household)?;
    let head_name = match household.as_ref().and_then(|h| h.head.as_ref()) {
        Some(head) => tx.member(head)?.map(|m| m.name),
        None => None,
    };
    let village_name = match &household {
        Some(h) => tx.area(&h.village)?.map(|a| a.name),
        None => None,
    };
    let cadre_name = tx.cadre(&record.cadre)?.map(|c| c.name);

    // The flags over the window ending on the visit's day, as the flags report has them.
    let period = Period::last_days(record.recorded_at.local_date(), FLAG_WINDOW_DAYS);
    let (from, to) = period.bounds();
    let window = tx.visits_between(from, to)?;
    let skews = flags::skews(tx)?;
    let facts = flags::facts_of(tx, &window)?;
    let mut visit_flags: Vec<Flag> = flags::all(&facts, &skews)
        .into_iter()
        .filter(|f| f.visit == id)
        .collect();
    let this = match facts.into_iter().find(|f| f.id == id) {
        Some(f) => f,
        // The window covers the visit's own day, so this is only for a record whose stored
        // time and signed time disagree.
        None => flags::facts_of(tx, std::slice::from_ref(&stored))?
            .pop()
            .ok_or_else(|| Error::Corrupt(format!("visit {id} has no facts")))?,
    };

    let mut photos = Vec::with_capacity(record.photos.len());
    for photo in &record.photos {
        photos.push(photo_view(tx, &this, photo)?);
    }
    // A photo first named by a visit before the window is not in the window's flags.
    if !visit_flags.iter().any(|f| f.kind == FlagKind::ReusedPhoto) {
        if let Some(reused) = photos
            .iter()
            .flat_map(|p| &p.flags)
            .find(|f| f.kind == FlagKind::ReusedPhoto)
        {
            visit_flags.push(reused.clone());
        }
    }
    visit_flags.sort_by_key(|f| f.kind);

    Ok(Some(VisitView {
        stored,
        record,
        content,
        amendments: amendments.len(),
        household,
        head_name,
        village_name,
        cadre_name,
        flags: visit_flags,
        photos,
    }))
}

/// One photo of the visit `this`: what the server holds, the visits that share it, and the
/// photo flags it trips alone (each rule of `flags` run on the visit as if it named only this
/// photo, plus the first earlier visit naming it, for the reuse rule).
fn photo_view(tx: &mut dyn Tx, this: &VisitFacts, photo: &PhotoRef) -> Result<PhotoView> {
    let stored = tx.photo(&photo.sha256)?;
    let also_named_by: Vec<VisitId> = tx
        .photo_links(&photo.sha256)?
        .into_iter()
        .map(|l| l.visit)
        .filter(|v| *v != this.id)
        .collect();
    let mut first: Option<VisitFacts> = None;
    for other in &also_named_by {
        let Some((v, _, _)) = stored_visit(tx, *other)? else {
            continue;
        };
        let key = (v.recorded_at, v.id);
        let earlier = key < (this.recorded_at, this.id);
        if earlier && first.as_ref().is_none_or(|f| key < (f.recorded_at, f.id)) {
            first = Some(VisitFacts::of(&v));
        }
    }
    let alone = VisitFacts {
        photos: vec![photo.clone()],
        ..this.clone()
    };
    let with_first: Vec<VisitFacts> = first.into_iter().chain([alone.clone()]).collect();
    let alone = [alone];
    let mut photo_flags = flags::reused_photo(&with_first);
    photo_flags.extend(flags::gallery_photo(&alone));
    photo_flags.extend(flags::photo_time_mismatch(&alone));
    photo_flags.extend(flags::photo_far_from_household(&alone));
    photo_flags.retain(|f| f.visit == this.id);
    Ok(PhotoView {
        photo: photo.clone(),
        stored,
        flags: photo_flags,
        also_named_by,
    })
}

/// A stored visit with its signed record and its accepted amendments in clock order (from the
/// household's journal).
fn stored_visit(
    tx: &mut dyn Tx,
    id: VisitId,
) -> Result<Option<(ServerVisit, VisitRecord, Vec<VisitAmendment>)>> {
    let Some(stored) = tx.visit(&id)? else {
        return Ok(None);
    };
    let Some(visit) = crate::visits::find(tx, &stored.household, id)? else {
        return Err(Error::Corrupt(format!(
            "visit {id} is stored but its operation is not in household {}'s journal",
            stored.household
        )));
    };
    Ok(Some((stored, visit.record, visit.amendments)))
}
