//! Anomaly flags on visits that look fabricated, computed from the data and not from a
//! cadre's say-so. Each flag is a pure function over visits (and device clock skews); the
//! thresholds are the constants below, each with the reason for its value. A flag is a lead
//! for a supervisor to check, never a verdict: nothing here changes or rejects a visit.
//!
//! Photo flags read the photos each visit record names (hash, source, EXIF facts): a photo
//! hash already named by an earlier visit, a picture from the gallery instead of the camera,
//! and EXIF capture time or position that do not fit the visit.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use fieldvisit_core::clock::WallTime;
use fieldvisit_core::domain::GeoPoint;
use fieldvisit_core::domain::photo::{PhotoRef, PhotoSource};
use fieldvisit_core::domain::visit::VisitRecord;
use fieldvisit_core::ids::{CadreId, DeviceId, HouseholdId, VisitId};

use super::{CellKind, Column, Param, Period, Rows, Spec, Table};
use crate::error::Result;
use crate::labels::{Label, Text};
use crate::storage::{Devices, Registry, ServerVisit, Tx};

pub const SPEC: Spec = Spec {
    title: Text::new("异常标记", "Flagged visits"),
    about: "anomaly flags on the visits recorded in the period (docs/supervision.md)",
    params: &[Param::Period],
    columns: &COLUMNS,
    run: |tx, opts| report(tx, opts.period),
};

const COLUMNS: [Column; 7] = [
    Column::new("visit", Label::ColVisit.text(), CellKind::Visit),
    Column::plain("household", Label::ColHousehold.text()),
    Column::plain("cadre", Label::ColCadre.text()),
    Column::plain("device", Label::ColDevice.text()),
    Column::plain("recorded_at_cst", Label::ColRecordedAt.text()),
    Column::new(
        "flag",
        Label::ColFlag.text(),
        CellKind::Code(&FlagKind::CODES),
    ),
    Column::plain("detail", Label::ColDetail.text()),
];

/// The distance check of the regional cadre apps (domain.md): a fix more than 2 km from the
/// registered dwelling was not taken at the household.
pub const MAX_DISTANCE_M: f64 = 2_000.0;
/// Faster than a car on the region's roads (the national limit on class-1 highways is
/// 100 km/h; 120 leaves room for straight-line error being the other way round).
pub const MAX_SPEED_KMH: f64 = 120.0;
/// Below this straight-line distance between two fixes, GPS error (tens of metres, hundreds
/// for a network fix) and neighbouring houses make any speed meaningless.
pub const MIN_TRAVEL_M: f64 = 1_000.0;
/// Time gaps shorter than this are counted as this long, so that two fixes seconds apart do
/// not turn GPS jitter into supersonic travel.
pub const MIN_TRAVEL_GAP_MS: i64 = 60_000;
/// A device clock further than this from the server's at sync (or a visit recorded further
/// than this after the server received it) cannot be trusted to say when the visit happened.
pub const MAX_CLOCK_SKEW_MS: i64 = 10 * 60 * 1000;
/// Jaccard similarity of diary shingles at or above which two diaries are "the same text".
pub const DIARY_SIMILARITY: f64 = 0.9;
/// Diaries shorter than this (after normalising) are too short to call copied: "一切正常，
/// 无新问题" legitimately recurs.
pub const MIN_DIARY_CHARS: usize = 20;
/// Characters per shingle (Chinese text has no word boundaries; 3 characters is about one
/// or two words).
pub const SHINGLE_CHARS: usize = 3;
/// More visits than this by one cadre in one local day is not plausible: a real visit takes
/// at least 20–30 minutes (checklist, one concrete problem, diary, household acknowledgement)
/// plus travel between dispersed households, so even a first secretary in a compact village
/// fits at most about 12 into a long working day.
pub const MAX_VISITS_PER_DAY: usize = 12;
/// A visit's photos are taken while the cadre is at the household, and the record is saved
/// before leaving: a visit takes 20–30 minutes (see [`MAX_VISITS_PER_DAY`]), so an EXIF
/// capture time more than an hour from the recording time is a picture from another moment.
/// Both times come from the same phone clock, so a skewed clock does not trip this flag.
pub const MAX_PHOTO_TIME_GAP_MS: i64 = 60 * 60 * 1000;
/// The same limit as the visit's own fix ([`MAX_DISTANCE_M`]): a picture whose EXIF position
/// is further than this from the registered dwelling was not taken at the household.
pub const MAX_PHOTO_DISTANCE_M: f64 = MAX_DISTANCE_M;

/// The kinds of anomaly, by the name reports use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlagKind {
    ManualEntry,
    FarFromHousehold,
    ImpossibleTravel,
    ClockSkew,
    CopiedDiary,
    TooManyInDay,
    ReusedPhoto,
    GalleryPhoto,
    PhotoTimeMismatch,
    PhotoFarFromHousehold,
}

impl FlagKind {
    pub const ALL: [FlagKind; 10] = [
        FlagKind::ManualEntry,
        FlagKind::FarFromHousehold,
        FlagKind::ImpossibleTravel,
        FlagKind::ClockSkew,
        FlagKind::CopiedDiary,
        FlagKind::TooManyInDay,
        FlagKind::ReusedPhoto,
        FlagKind::GalleryPhoto,
        FlagKind::PhotoTimeMismatch,
        FlagKind::PhotoFarFromHousehold,
    ];

    /// Each kind's name with its label, for showing a `flag` cell.
    pub const CODES: [(&'static str, Text); FlagKind::ALL.len()] = {
        let mut codes = [("", Text::new("", "")); FlagKind::ALL.len()];
        let mut i = 0;
        while i < codes.len() {
            codes[i] = (FlagKind::ALL[i].name(), FlagKind::ALL[i].label());
            i += 1;
        }
        codes
    };

    /// The kind's name in reports (the `flag` column, `data-flag` on the visit page).
    pub const fn name(self) -> &'static str {
        match self {
            FlagKind::ManualEntry => "manual_entry",
            FlagKind::FarFromHousehold => "far_from_household",
            FlagKind::ImpossibleTravel => "impossible_travel",
            FlagKind::ClockSkew => "clock_skew",
            FlagKind::CopiedDiary => "copied_diary",
            FlagKind::TooManyInDay => "too_many_in_day",
            FlagKind::ReusedPhoto => "reused_photo",
            FlagKind::GalleryPhoto => "gallery_photo",
            FlagKind::PhotoTimeMismatch => "photo_time_mismatch",
            FlagKind::PhotoFarFromHousehold => "photo_far_from_household",
        }
    }

    /// The kind as a supervisor reads it.
    pub const fn label(self) -> Text {
        match self {
            FlagKind::ManualEntry => Text::new("手工输入农户代码", "code typed by hand"),
            FlagKind::FarFromHousehold => Text::new("定位远离农户", "far from the household"),
            FlagKind::ImpossibleTravel => Text::new("不可能的行程", "impossible travel"),
            FlagKind::ClockSkew => Text::new("时钟偏差", "clock skew"),
            FlagKind::CopiedDiary => Text::new("日记雷同", "copied diary"),
            FlagKind::TooManyInDay => Text::new("单日走访过多", "too many in a day"),
            FlagKind::ReusedPhoto => Text::new("照片重复使用", "reused photo"),
            FlagKind::GalleryPhoto => Text::new("相册照片", "gallery photo"),
            FlagKind::PhotoTimeMismatch => Text::new("照片时间不符", "photo time mismatch"),
            FlagKind::PhotoFarFromHousehold => {
                Text::new("照片位置远离农户", "photo far from the household")
            }
        }
    }
}

/// One flag on one visit, with what a supervisor needs to check it.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub visit: VisitId,
    pub kind: FlagKind,
    pub detail: String,
}

/// What the flags look at in a visit: the stored columns plus the fix and the diary from
/// the record.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitFacts {
    pub id: VisitId,
    pub household: HouseholdId,
    pub cadre: CadreId,
    pub device: DeviceId,
    pub recorded_at: WallTime,
    pub received_at: i64,
    pub manual: bool,
    pub distance_m: Option<f64>,
    pub fix: Option<(GeoPoint, WallTime)>,
    pub diary: String,
    /// The photos the record names.
    pub photos: Vec<PhotoRef>,
    /// The household's registered dwelling, when the caller looked it up (the stored visit
    /// does not carry it).
    pub home: Option<GeoPoint>,
}

impl VisitFacts {
    /// The facts of a stored visit; a record that does not parse gives no fix and no diary
    /// (the stored columns still count).
    pub fn of(v: &ServerVisit) -> VisitFacts {
        let record = serde_json::from_str::<VisitRecord>(&v.record).ok();
        VisitFacts {
            id: v.id,
            household: v.household.clone(),
            cadre: v.cadre.clone(),
            device: v.device,
            recorded_at: v.recorded_at,
            received_at: v.received_at.0,
            manual: v.manual,
            distance_m: v.distance_m,
            fix: record
                .as_ref()
                .and_then(|r| r.location.as_ref().map(|l| (l.point, l.fix_at))),
            photos: record
                .as_ref()
                .map(|r| r.photos.clone())
                .unwrap_or_default(),
            diary: record.map(|r| r.content.diary).unwrap_or_default(),
            home: None,
        }
    }
}

/// Every flag on these visits, given each device's clock skew at its last sync.
pub fn all(visits: &[VisitFacts], skews: &BTreeMap<DeviceId, i64>) -> Vec<Flag> {
    let mut out = manual_entry(visits);
    out.extend(far_from_household(visits));
    out.extend(impossible_travel(visits));
    out.extend(clock_skew(visits, skews));
    out.extend(copied_diary(visits));
    out.extend(too_many_in_day(visits));
    out.extend(reused_photo(visits));
    out.extend(gallery_photo(visits));
    out.extend(photo_time_mismatch(visits));
    out.extend(photo_far_from_household(visits));
    out
}

/// The household was typed in by hand instead of the door plate being scanned.
pub fn manual_entry(visits: &[VisitFacts]) -> Vec<Flag> {
    visits
        .iter()
        .filter(|v| v.manual)
        .map(|v| Flag {
            visit: v.id,
            kind: FlagKind::ManualEntry,
            detail: "household code typed by hand, plate not scanned".into(),
        })
        .collect()
}

/// The location fix is further than [`MAX_DISTANCE_M`] from the registered dwelling.
pub fn far_from_household(visits: &[VisitFacts]) -> Vec<Flag> {
    visits
        .iter()
        .filter_map(|v| {
            let d = v.distance_m?;
            (d > MAX_DISTANCE_M).then(|| Flag {
                visit: v.id,
                kind: FlagKind::FarFromHousehold,
                detail: format!("fix {d:.0} m from the household (limit {MAX_DISTANCE_M:.0} m)"),
            })
        })
        .collect()
}

/// Between two consecutive fixes of one cadre's visits, the straight line needs more than
/// [`MAX_SPEED_KMH`]. The later visit is flagged and names the earlier.
pub fn impossible_travel(visits: &[VisitFacts]) -> Vec<Flag> {
    let mut by_cadre: BTreeMap<&CadreId, Vec<(&VisitFacts, GeoPoint, WallTime)>> = BTreeMap::new();
    for v in visits {
        if let Some((p, at)) = v.fix {
            by_cadre.entry(&v.cadre).or_default().push((v, p, at));
        }
    }
    let mut out = Vec::new();
    for fixes in by_cadre.values_mut() {
        fixes.sort_by_key(|(v, _, at)| (*at, v.id));
        for pair in fixes.windows(2) {
            let [(a, pa, ta), (b, pb, tb)] = pair else {
                continue;
            };
            let metres = pa.distance_m(pb);
            if metres < MIN_TRAVEL_M {
                continue;
            }
            let gap_ms = (tb.0 - ta.0).max(MIN_TRAVEL_GAP_MS);
            let kmh = metres / 1000.0 / (gap_ms as f64 / 3_600_000.0);
            if kmh > MAX_SPEED_KMH {
                out.push(Flag {
                    visit: b.id,
                    kind: FlagKind::ImpossibleTravel,
                    detail: format!(
                        "{:.1} km in {} min ({kmh:.0} km/h) since visit {}",
                        metres / 1000.0,
                        (tb.0 - ta.0) / 60_000,
                        a.id
                    ),
                });
            }
        }
    }
    out
}

/// The device's clock was more than [`MAX_CLOCK_SKEW_MS`] off the server's at its last sync,
/// or the visit says it was recorded that long after the server received it.
pub fn clock_skew(visits: &[VisitFacts], skews: &BTreeMap<DeviceId, i64>) -> Vec<Flag> {
    visits
        .iter()
        .filter_map(|v| {
            let skew = skews.get(&v.device).copied().unwrap_or(0);
            let ahead = v.recorded_at.0 - v.received_at;
            let detail = if skew.abs() > MAX_CLOCK_SKEW_MS {
                format!("device clock {} min off the server's", skew / 60_000)
            } else if ahead > MAX_CLOCK_SKEW_MS {
                format!(
                    "recorded {} min after the server received it",
                    ahead / 60_000
                )
            } else {
                return None;
            };
            Some(Flag {
                visit: v.id,
                kind: FlagKind::ClockSkew,
                detail,
            })
        })
        .collect()
}

/// The diary, with digits, punctuation and whitespace stripped, as a supervisor compares
/// two texts: dates and numbers changed in a copy do not make it a new diary.
pub fn normalise_diary(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect()
}

fn shingles(chars: &[char]) -> Vec<u64> {
    let mut out: Vec<u64> = chars
        .windows(SHINGLE_CHARS)
        .map(|w| {
            w.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &c| {
                (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3)
            })
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - common;
    if union == 0 {
        return 1.0;
    }
    common as f64 / union as f64
}

fn mix(mut x: u64) -> u64 {
    // splitmix64's finaliser: a fixed, well-spread hash so MinHash is deterministic.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// MinHash bands × rows: with 20 bands of 5 rows, two texts of similarity 0.9 share a band
/// with probability 1 − (1 − 0.9⁵)²⁰ > 0.9999, while pairs below 0.5 rarely do; every
/// candidate is then checked with the exact Jaccard similarity.
const BANDS: usize = 20;
const ROWS: usize = 5;

/// The diary is the same text (or nearly: Jaccard similarity of character shingles at least
/// [`DIARY_SIMILARITY`] after [`normalise_diary`]) as an earlier diary the same cadre wrote
/// for a different household. The later visit is flagged and names the earlier one.
///
/// Only one cadre's own diaries are compared: the pattern supervisors look for is one text
/// pasted into every household's record. Across cadres, diaries written about the same policy
/// for similar households are alike by nature, and comparing every pair in a city makes such
/// coincidences grow with the square of the visits (measured: 1.3% of 13,000 synthetic
/// visits when compared across cadres, docs/supervision.md).
pub fn copied_diary(visits: &[VisitFacts]) -> Vec<Flag> {
    let mut order: Vec<&VisitFacts> = visits.iter().collect();
    order.sort_by_key(|v| (v.recorded_at, v.id));
    let sets: Vec<(Vec<char>, Vec<u64>)> = order
        .iter()
        .map(|v| {
            let chars = normalise_diary(&v.diary);
            let sh = shingles(&chars);
            (chars, sh)
        })
        .collect();

    // Candidates: the same cadre's visits sharing a MinHash band; each visit is compared with
    // earlier ones only.
    let mut buckets: HashMap<(&CadreId, usize, u64), Vec<usize>> = HashMap::new();
    let mut out = Vec::new();
    for (i, (chars, sh)) in sets.iter().enumerate() {
        if chars.len() < MIN_DIARY_CHARS || sh.is_empty() {
            continue;
        }
        let mut signature = [u64::MAX; BANDS * ROWS];
        for &s in sh {
            for (k, slot) in signature.iter_mut().enumerate() {
                *slot = (*slot).min(mix(s ^ mix(k as u64 + 1)));
            }
        }
        let mut best: Option<(usize, f64)> = None;
        for b in 0..BANDS {
            let key = signature[b * ROWS..(b + 1) * ROWS]
                .iter()
                .fold(b as u64, |h, &x| mix(h ^ x));
            let bucket = buckets.entry((&order[i].cadre, b, key)).or_default();
            for &j in bucket.iter() {
                if order[j].household == order[i].household {
                    continue;
                }
                if best.is_some_and(|(k, _)| k == j) {
                    continue;
                }
                let sim = if sets[j].0 == *chars {
                    1.0
                } else {
                    jaccard(&sets[j].1, sh)
                };
                if sim >= DIARY_SIMILARITY && best.is_none_or(|(_, s)| sim > s) {
                    best = Some((j, sim));
                }
            }
            bucket.push(i);
        }
        if let Some((j, sim)) = best {
            let how = if sets[j].0 == *chars {
                "identical to".to_string()
            } else {
                format!("{:.0}% the same as", sim * 100.0)
            };
            out.push(Flag {
                visit: order[i].id,
                kind: FlagKind::CopiedDiary,
                detail: format!(
                    "diary {how} visit {} to household {}",
                    order[j].id, order[j].household
                ),
            });
        }
    }
    out
}

/// The cadre recorded more than [`MAX_VISITS_PER_DAY`] visits on that local day; every
/// visit of the day is flagged.
pub fn too_many_in_day(visits: &[VisitFacts]) -> Vec<Flag> {
    let mut days: BTreeMap<(&CadreId, chrono::NaiveDate), Vec<&VisitFacts>> = BTreeMap::new();
    for v in visits {
        days.entry((&v.cadre, v.recorded_at.local_date()))
            .or_default()
            .push(v);
    }
    days.into_iter()
        .filter(|(_, vs)| vs.len() > MAX_VISITS_PER_DAY)
        .flat_map(|((_, day), vs)| {
            let n = vs.len();
            vs.into_iter().map(move |v| Flag {
                visit: v.id,
                kind: FlagKind::TooManyInDay,
                detail: format!("{n} visits on {day} (limit {MAX_VISITS_PER_DAY})"),
            })
        })
        .collect()
}

/// A photo hash an earlier visit (by recording time) already named: the same picture offered
/// as evidence twice. The later visit is flagged and names the first.
pub fn reused_photo(visits: &[VisitFacts]) -> Vec<Flag> {
    let mut order: Vec<&VisitFacts> = visits.iter().collect();
    order.sort_by_key(|v| (v.recorded_at, v.id));
    let mut first: HashMap<&str, &VisitFacts> = HashMap::new();
    let mut out = Vec::new();
    for v in order {
        let earlier = v.photos.iter().find_map(|p| {
            first
                .get(p.sha256.as_str())
                .filter(|e| e.id != v.id)
                .map(|e| (p, *e))
        });
        if let Some((p, e)) = earlier {
            out.push(Flag {
                visit: v.id,
                kind: FlagKind::ReusedPhoto,
                detail: format!(
                    "photo {} already named by visit {} to household {}",
                    &p.sha256[..p.sha256.len().min(12)],
                    e.id,
                    e.household
                ),
            });
        }
        for p in &v.photos {
            first.entry(p.sha256.as_str()).or_insert(v);
        }
    }
    out
}

/// A photo picked from the phone's gallery: only camera captures count as evidence.
pub fn gallery_photo(visits: &[VisitFacts]) -> Vec<Flag> {
    visits
        .iter()
        .filter_map(|v| {
            let n = v
                .photos
                .iter()
                .filter(|p| p.source == PhotoSource::Gallery)
                .count();
            (n > 0).then(|| Flag {
                visit: v.id,
                kind: FlagKind::GalleryPhoto,
                detail: format!("{n} of {} photos from the gallery", v.photos.len()),
            })
        })
        .collect()
}

/// A photo whose EXIF capture time is more than [`MAX_PHOTO_TIME_GAP_MS`] from the visit's
/// recording time.
pub fn photo_time_mismatch(visits: &[VisitFacts]) -> Vec<Flag> {
    visits
        .iter()
        .filter_map(|v| {
            let gap = v
                .photos
                .iter()
                .filter_map(|p| p.exif.taken_at)
                .map(|t| t.0 - v.recorded_at.0)
                .max_by_key(|gap| gap.abs())?;
            (gap.abs() > MAX_PHOTO_TIME_GAP_MS).then(|| Flag {
                visit: v.id,
                kind: FlagKind::PhotoTimeMismatch,
                detail: format!(
                    "photo taken {} min {} the visit was recorded",
                    gap.abs() / 60_000,
                    if gap < 0 { "before" } else { "after" }
                ),
            })
        })
        .collect()
}

/// A photo whose EXIF position is more than [`MAX_PHOTO_DISTANCE_M`] from the registered
/// dwelling.
pub fn photo_far_from_household(visits: &[VisitFacts]) -> Vec<Flag> {
    visits
        .iter()
        .filter_map(|v| {
            let home = v.home?;
            let d = v
                .photos
                .iter()
                .filter_map(|p| p.exif.location)
                .map(|at| at.distance_m(&home))
                .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.max(d))))?;
            (d > MAX_PHOTO_DISTANCE_M).then(|| Flag {
                visit: v.id,
                kind: FlagKind::PhotoFarFromHousehold,
                detail: format!(
                    "photo taken {d:.0} m from the household (limit {MAX_PHOTO_DISTANCE_M:.0} m)"
                ),
            })
        })
        .collect()
}

/// Each device's clock skew at its last sync, as [`all`] takes them.
pub fn skews(tx: &mut dyn Devices) -> Result<BTreeMap<DeviceId, i64>> {
    Ok(tx
        .devices()?
        .into_iter()
        .map(|d| (d.id, d.clock_skew_ms))
        .collect())
}

/// The facts of stored visits, with the registered dwelling looked up for each visit that
/// names a photo (the photo position flag needs it; other visits do not, so the lookup is
/// spared).
pub fn facts_of(tx: &mut dyn Registry, stored: &[ServerVisit]) -> Result<Vec<VisitFacts>> {
    let mut homes: HashMap<HouseholdId, Option<GeoPoint>> = HashMap::new();
    let mut facts: Vec<VisitFacts> = Vec::with_capacity(stored.len());
    for v in stored {
        let mut f = VisitFacts::of(v);
        if !f.photos.is_empty() {
            if !homes.contains_key(&f.household) {
                let at = tx.household(&f.household)?.and_then(|h| h.location);
                homes.insert(f.household.clone(), at);
            }
            f.home = homes.get(&f.household).copied().flatten();
        }
        facts.push(f);
    }
    Ok(facts)
}

/// The `flags` report: every flag on the visits recorded in the period.
pub fn report(tx: &mut dyn Tx, period: Period) -> Result<Table> {
    let (from, to) = period.bounds();
    let stored = tx.visits_between(from, to)?;
    let skews = skews(tx)?;
    let facts = facts_of(tx, &stored)?;
    let by_id: HashMap<VisitId, &VisitFacts> = facts.iter().map(|v| (v.id, v)).collect();
    let mut flags = all(&facts, &skews);
    flags.sort_by(|a, b| {
        let at = |f: &Flag| by_id.get(&f.visit).map(|v| v.recorded_at);
        (at(a), a.visit, a.kind).cmp(&(at(b), b.visit, b.kind))
    });
    let mut t = Rows::new(&COLUMNS);
    for f in flags {
        let Some(v) = by_id.get(&f.visit) else {
            continue;
        };
        t.push([
            json!(f.visit.to_string()),
            json!(v.household.as_str()),
            json!(v.cadre.as_str()),
            json!(v.device.to_string()),
            json!(super::local_time(v.recorded_at)),
            json!(f.kind.name()),
            json!(f.detail),
        ]);
    }
    Ok(t.into())
}
