//! A labelled test set for the anomaly flags: a deterministic synthetic region's visits as
//! cadres really make them (weekday rounds of the households in their scope, with travel time
//! between dwellings, fixes 5–300 m from the door, clocks within 90 s, diaries from
//! [`Region::visit`]), plus a known set of planted anomalies of every kind the flags look
//! for. [`evaluate`] scores each flag: recall on its planted class, false positives on the
//! normal visits. Used by the tests and by `fieldvisit-server flags-eval`.
//!
//! Nothing here touches a database: the visits are [`ServerVisit`]s as the server would store
//! them, so the flags see what they see in production.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Datelike, Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::domain::photo::{ExifFacts, PhotoRef, PhotoSource, sha256_hex};
use fieldvisit_core::domain::visit::{IdentifiedBy, VisitRecord};
use fieldvisit_core::domain::{GeoPoint, Household};
use fieldvisit_core::ids::{CadreId, DeviceId, HouseholdId, VisitId};
use fieldvisit_core::synth::{Region, RegionSpec};

use super::flags::{self, FlagKind, VisitFacts};
use super::start_of;
use crate::storage::ServerVisit;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// Planted anomalies of each single-visit class (manual, far, teleport, copied diary).
pub const PLANTED_PER_CLASS: usize = 12;
/// Cadre-days with [`CROWDED_DAY_VISITS`] visits each.
pub const CROWDED_DAYS: usize = 2;
pub const CROWDED_DAY_VISITS: usize = 20;
/// Devices whose clock is 30 minutes to 3 hours off (every visit they record is planted).
pub const SKEWED_DEVICES: usize = 2;
/// How far a planted far-away fix is from the dwelling.
pub const PLANTED_FAR_M: f64 = 5_000.0;
/// A planted teleport: a visit this far from the cadre's previous fix, 10–20 minutes later
/// (at least 180 km/h).
pub const PLANTED_JUMP_M: f64 = 60_000.0;
/// A planted stale photo was taken 1 to 30 days before its visit.
pub const PLANTED_PHOTO_AGE_DAYS: std::ops::RangeInclusive<i64> = 1..=30;

/// The synthetic visits, each device's clock skew, and which visits were planted as what.
#[derive(Debug, Clone)]
pub struct PlantedSet {
    pub visits: Vec<ServerVisit>,
    pub skews: BTreeMap<DeviceId, i64>,
    pub planted: BTreeMap<VisitId, FlagKind>,
    /// The registered dwellings, which the photo position flag compares with.
    pub homes: BTreeMap<HouseholdId, GeoPoint>,
}

/// How one flag did on its planted class and on the normal visits.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub kind: FlagKind,
    pub planted: usize,
    pub found: usize,
    pub normal: usize,
    pub false_positives: usize,
}

impl Score {
    pub fn recall(&self) -> f64 {
        if self.planted == 0 {
            return 1.0;
        }
        self.found as f64 / self.planted as f64
    }

    pub fn false_positive_rate(&self) -> f64 {
        if self.normal == 0 {
            return 0.0;
        }
        self.false_positives as f64 / self.normal as f64
    }
}

/// The region the set is drawn from: 10 villages, 400 households, 110 cadres (10 of them
/// first secretaries).
pub fn region_spec(seed: u64) -> RegionSpec {
    RegionSpec {
        seed,
        households: 400,
        villages: 10,
        cadres: 110,
        first_secretaries: 10,
        first_secretaries_per_village: 1,
        ..RegionSpec::small(seed)
    }
}

/// A visit before it is stored: its true time (the device may be skewed) and where it is.
struct Draft {
    record: VisitRecord,
    device: DeviceId,
    manual: bool,
    /// The registered dwelling (the server measures distance only from this).
    registered: Option<GeoPoint>,
    /// Hours between recording and the sync that brought it to the server.
    delay_ms: i64,
}

impl Draft {
    fn fix(&self) -> Option<GeoPoint> {
        self.record.location.as_ref().map(|l| l.point)
    }
}

/// Where a household's dwelling is: its registered location, else its village's.
fn home_of(villages: &BTreeMap<String, GeoPoint>, h: &Household) -> Option<GeoPoint> {
    h.location.or_else(|| villages.get(&h.village).copied())
}

/// The point `dist_m` from `from` on `bearing` (radians from north), on a sphere.
fn offset(from: GeoPoint, dist_m: f64, bearing: f64) -> GeoPoint {
    const R: f64 = 6_371_000.0;
    let d = dist_m / R;
    let (lat1, lon1) = (from.lat.to_radians(), from.lon.to_radians());
    let lat2 = (lat1.sin() * d.cos() + lat1.cos() * d.sin() * bearing.cos()).asin();
    let lon2 =
        lon1 + (bearing.sin() * d.sin() * lat1.cos()).atan2(d.cos() - lat1.sin() * lat2.sin());
    GeoPoint {
        lat: lat2.to_degrees(),
        lon: lon2.to_degrees(),
    }
}

fn draft(
    region: &Region,
    rng: &mut ChaCha8Rng,
    h: &Household,
    cadre: &CadreId,
    device: DeviceId,
    at: i64,
) -> Draft {
    let at = WallTime(at);
    let (content, location) = region.visit(rng, h, at);
    // One camera picture taken during the visit, a few minutes before the record was saved,
    // where the fix was taken.
    let taken = WallTime(at.0 - rng.random_range(MINUTE_MS..15 * MINUTE_MS));
    let photo = PhotoRef {
        sha256: sha256_hex(&rng.random::<[u8; 32]>()),
        size: rng.random_range(800_000..3_000_000),
        source: PhotoSource::Camera,
        captured_at: taken,
        exif: ExifFacts {
            taken_at: Some(taken),
            location: Some(location.point),
        },
    };
    let record = VisitRecord {
        id: VisitId::from_bytes(rng.random()),
        household: h.id.clone(),
        cadre: cadre.clone(),
        identified: IdentifiedBy::Scan {
            key_id: 1,
            issue: h.plate_issue,
            scanned_at: WallTime(at.0 - rng.random_range(30_000..300_000)),
        },
        recorded_at: at,
        location: Some(location),
        content,
        photos: vec![photo],
    };
    Draft {
        record,
        device,
        manual: false,
        registered: h.location,
        delay_ms: rng.random_range(10 * MINUTE_MS..72 * HOUR_MS),
    }
}

fn monday_on_or_after(day: NaiveDate) -> NaiveDate {
    let back = i64::from(day.weekday().num_days_from_monday());
    if back == 0 {
        day
    } else {
        day + Duration::days(7 - back)
    }
}

/// The labelled set for `seed`, over `weeks` weeks from the region's start.
pub fn generate(seed: u64, weeks: u32) -> PlantedSet {
    let region = Region::generate(region_spec(seed));
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x666c_6167_7321);
    let devices: BTreeMap<CadreId, DeviceId> = region
        .cadres
        .iter()
        .map(|c| (c.id.clone(), DeviceId::from_bytes(rng.random())))
        .collect();
    let mut skews: BTreeMap<DeviceId, i64> = devices
        .values()
        .map(|&d| (d, rng.random_range(-90_000..=90_000)))
        .collect();
    let villages: BTreeMap<String, GeoPoint> = region
        .areas
        .iter()
        .filter_map(|a| a.location.map(|p| (a.code.clone(), p)))
        .collect();
    let start = monday_on_or_after(region.spec.start);
    let weeks = weeks.max(2);

    // Normal rounds: each week a cadre visits some of their households on one weekday.
    let mut drafts: Vec<Draft> = Vec::new();
    let mut round_ends: Vec<usize> = Vec::new();
    for week in 0..weeks {
        let monday = start + Duration::weeks(i64::from(week));
        for cadre in &region.cadres {
            let mut homes = region.households_of(&cadre.id, monday);
            if homes.is_empty() {
                continue;
            }
            homes.shuffle(&mut rng);
            let n = if homes.len() > 8 {
                rng.random_range(3..=8)
            } else {
                rng.random_range(1..=homes.len().min(3))
            };
            let day = monday + Duration::days(rng.random_range(0..5));
            let mut t = start_of(day).0 + 9 * HOUR_MS + rng.random_range(0..60) * MINUTE_MS;
            let mut here: Option<GeoPoint> = None;
            for h in homes.into_iter().take(n) {
                let home = home_of(&villages, h);
                if let (Some(a), Some(b)) = (here, home) {
                    // 40 km/h on steppe tracks, plus finding the family in.
                    let drive = a.distance_m(&b) / 40_000.0 * HOUR_MS as f64;
                    t += drive as i64 + 10 * MINUTE_MS;
                }
                here = home.or(here);
                let device = devices
                    .get(&cadre.id)
                    .copied()
                    .unwrap_or(DeviceId::from_bytes([0; 16]));
                drafts.push(draft(&region, &mut rng, h, &cadre.id, device, t));
                t += rng.random_range(25..=50) * MINUTE_MS;
            }
            round_ends.push(drafts.len() - 1);
        }
    }
    let normal_count = drafts.len();
    let mut planted: BTreeMap<VisitId, FlagKind> = BTreeMap::new();

    // Skewed clocks: every visit from these devices is planted (recorded times shift below).
    let mut cadre_ids: Vec<&CadreId> = devices.keys().collect();
    cadre_ids.shuffle(&mut rng);
    let skewed: Vec<CadreId> = cadre_ids
        .iter()
        .filter(|c| drafts.iter().any(|d| &d.record.cadre == **c))
        .take(SKEWED_DEVICES)
        .map(|c| (*c).clone())
        .collect();
    for (k, c) in skewed.iter().enumerate() {
        let magnitude = rng.random_range(30 * MINUTE_MS..3 * HOUR_MS);
        let skew = if k % 2 == 0 { magnitude } else { -magnitude };
        if let Some(d) = devices.get(c) {
            skews.insert(*d, skew);
        }
        for d in drafts.iter_mut().filter(|d| &d.record.cadre == c) {
            planted.insert(d.record.id, FlagKind::ClockSkew);
        }
    }

    let pick = |rng: &mut ChaCha8Rng, planted: &BTreeMap<VisitId, FlagKind>, drafts: &[Draft]| {
        loop {
            let i = rng.random_range(0..normal_count);
            if !planted.contains_key(&drafts[i].record.id) {
                return i;
            }
        }
    };

    // Manual entry: the code typed in instead of the plate scanned.
    for _ in 0..PLANTED_PER_CLASS {
        let i = pick(&mut rng, &planted, &drafts);
        let d = &mut drafts[i];
        d.manual = true;
        d.record.identified = IdentifiedBy::Manual {
            reason: "门牌二维码损坏".into(),
        };
        planted.insert(d.record.id, FlagKind::ManualEntry);
    }

    // A fix 5 km from the dwelling: the visit recorded from home or from the township.
    let mut far = 0;
    while far < PLANTED_PER_CLASS {
        let i = pick(&mut rng, &planted, &drafts);
        let d = &mut drafts[i];
        let (Some(home), Some(loc)) = (d.registered, d.record.location.as_mut()) else {
            continue;
        };
        loc.point = offset(
            home,
            PLANTED_FAR_M,
            rng.random_range(0.0..std::f64::consts::TAU),
        );
        planted.insert(d.record.id, FlagKind::FarFromHousehold);
        far += 1;
    }

    // Copied diaries: the cadre's own earlier diary for another household, pasted into this
    // visit, digits changed or not.
    let mut n = 0;
    while n < PLANTED_PER_CLASS {
        let i = pick(&mut rng, &planted, &drafts);
        let at = drafts[i].record.recorded_at;
        let earlier: Vec<usize> = (0..normal_count)
            .filter(|&j| {
                drafts[j].record.recorded_at < at
                    && drafts[j].record.cadre == drafts[i].record.cadre
                    && drafts[j].record.household != drafts[i].record.household
            })
            .collect();
        let Some(&j) = earlier.get(rng.random_range(0..earlier.len().max(1))) else {
            continue;
        };
        let source = drafts[j].record.content.diary.clone();
        let copy: String = if n % 2 == 0 {
            source
        } else {
            source
                .chars()
                .map(|c| match c.to_digit(10) {
                    Some(_) => char::from(b'0' + rng.random_range(0..10u8)),
                    None => c,
                })
                .collect()
        };
        drafts[i].record.content.diary = copy;
        planted.insert(drafts[i].record.id, FlagKind::CopiedDiary);
        n += 1;
    }

    // Reused photos: the cadre's own earlier visit's picture offered again. The source visit
    // is never itself a target, so that the hash stays first-named by it.
    let mut sources = std::collections::BTreeSet::new();
    let mut n = 0;
    while n < PLANTED_PER_CLASS {
        let i = pick(&mut rng, &planted, &drafts);
        if sources.contains(&i) {
            continue;
        }
        let at = drafts[i].record.recorded_at;
        let earlier: Vec<usize> = (0..normal_count)
            .filter(|&j| {
                drafts[j].record.recorded_at < at
                    && drafts[j].record.cadre == drafts[i].record.cadre
                    && !planted.contains_key(&drafts[j].record.id)
            })
            .collect();
        let Some(&j) = earlier.get(rng.random_range(0..earlier.len().max(1))) else {
            continue;
        };
        let reused = drafts[j].record.photos.clone();
        drafts[i].record.photos = reused;
        sources.insert(j);
        planted.insert(drafts[i].record.id, FlagKind::ReusedPhoto);
        n += 1;
    }
    let mut photo_plant = |kind: FlagKind, rng: &mut ChaCha8Rng, drafts: &mut Vec<Draft>| {
        let mut n = 0;
        while n < PLANTED_PER_CLASS {
            let i = pick(rng, &planted, drafts);
            if sources.contains(&i) {
                continue;
            }
            let d = &mut drafts[i];
            let Some(photo) = d.record.photos.first_mut() else {
                continue;
            };
            match kind {
                FlagKind::GalleryPhoto => photo.source = PhotoSource::Gallery,
                FlagKind::PhotoTimeMismatch => {
                    let days = rng.random_range(PLANTED_PHOTO_AGE_DAYS);
                    photo.exif.taken_at = photo
                        .exif
                        .taken_at
                        .map(|t| WallTime(t.0 - days * 24 * HOUR_MS));
                }
                _ => {
                    let Some(home) = d.registered else { continue };
                    photo.exif.location = Some(offset(
                        home,
                        PLANTED_FAR_M,
                        rng.random_range(0.0..std::f64::consts::TAU),
                    ));
                }
            }
            planted.insert(d.record.id, kind);
            n += 1;
        }
    };
    photo_plant(FlagKind::GalleryPhoto, &mut rng, &mut drafts);
    photo_plant(FlagKind::PhotoTimeMismatch, &mut rng, &mut drafts);
    photo_plant(FlagKind::PhotoFarFromHousehold, &mut rng, &mut drafts);

    // Teleports: after the last visit of a round, a visit 60+ km away 10–20 minutes later.
    let mut jumps = 0;
    let mut ends = round_ends.clone();
    ends.shuffle(&mut rng);
    for &end in &ends {
        if jumps == PLANTED_PER_CLASS {
            break;
        }
        let last = &drafts[end];
        if planted.contains_key(&last.record.id) {
            continue;
        }
        let Some(from) = last.fix() else { continue };
        let far_homes: Vec<&Household> = region
            .households
            .iter()
            .filter(|h| home_of(&villages, h).is_some_and(|p| p.distance_m(&from) > PLANTED_JUMP_M))
            .collect();
        let Some(&h) = far_homes.get(rng.random_range(0..far_homes.len().max(1))) else {
            continue;
        };
        let (cadre, device) = (last.record.cadre.clone(), last.device);
        let t = last.record.recorded_at.0 + rng.random_range(10..=20) * MINUTE_MS;
        let d = draft(&region, &mut rng, h, &cadre, device, t);
        planted.insert(d.record.id, FlagKind::ImpossibleTravel);
        drafts.push(d);
        jumps += 1;
    }

    // Crowded days: a first secretary "visits" 20 households on a Saturday, 25 minutes apart.
    let mut crowded = 0;
    for c in &region.cadres {
        if crowded == CROWDED_DAYS {
            break;
        }
        if skewed.contains(&c.id) {
            continue;
        }
        let saturday =
            start + Duration::weeks(i64::from(crowded as u32 % weeks)) + Duration::days(5);
        let mut homes = region.households_of(&c.id, saturday);
        if homes.len() < CROWDED_DAY_VISITS {
            continue;
        }
        // In an order a cadre could drive, west to east.
        homes.sort_by(|a, b| {
            let lon = |h: &&Household| home_of(&villages, h).map_or(0.0, |p| p.lon);
            lon(a).total_cmp(&lon(b))
        });
        let Some(&device) = devices.get(&c.id) else {
            continue;
        };
        let t0 = start_of(saturday).0 + 8 * HOUR_MS;
        for (k, h) in homes.into_iter().take(CROWDED_DAY_VISITS).enumerate() {
            let t = t0 + k as i64 * 25 * MINUTE_MS;
            let d = draft(&region, &mut rng, h, &c.id, device, t);
            planted.insert(d.record.id, FlagKind::TooManyInDay);
            drafts.push(d);
        }
        crowded += 1;
    }

    // Store: the device's clock stamps the record; the server stamps arrival and order.
    let mut stored: Vec<(i64, ServerVisit)> = drafts
        .into_iter()
        .map(|mut d| {
            let skew = skews.get(&d.device).copied().unwrap_or(0);
            let true_at = d.record.recorded_at.0;
            d.record.recorded_at = WallTime(true_at + skew);
            if let Some(l) = d.record.location.as_mut() {
                l.fix_at = WallTime(l.fix_at.0 + skew);
            }
            if let IdentifiedBy::Scan { scanned_at, .. } = &mut d.record.identified {
                *scanned_at = WallTime(scanned_at.0 + skew);
            }
            // The camera stamps pictures with the same phone clock.
            for p in &mut d.record.photos {
                p.captured_at = WallTime(p.captured_at.0 + skew);
                p.exif.taken_at = p.exif.taken_at.map(|t| WallTime(t.0 + skew));
            }
            let distance_m = match (d.fix(), d.registered) {
                (Some(fix), Some(home)) => Some(fix.distance_m(&home)),
                _ => None,
            };
            let received = true_at + d.delay_ms;
            let visit = ServerVisit {
                id: d.record.id,
                household: d.record.household.clone(),
                cadre: d.record.cadre.clone(),
                device: d.device,
                server_seq: 0,
                recorded_at: d.record.recorded_at,
                received_at: ServerTime(received),
                kind: d.record.content.kind.clone(),
                manual: d.manual,
                distance_m,
                record: serde_json::to_string(&d.record).unwrap_or_default(),
            };
            (received, visit)
        })
        .collect();
    stored.sort_by_key(|(received, v)| (*received, v.id));
    let visits = stored
        .into_iter()
        .enumerate()
        .map(|(k, (_, mut v))| {
            v.server_seq = k as u64 + 1;
            v
        })
        .collect();
    let homes = region
        .households
        .iter()
        .filter_map(|h| h.location.map(|p| (h.id.clone(), p)))
        .collect();
    PlantedSet {
        visits,
        skews,
        planted,
        homes,
    }
}

/// Runs every flag over the set and scores each against its planted class.
pub fn evaluate(set: &PlantedSet) -> Vec<Score> {
    let facts: Vec<VisitFacts> = set
        .visits
        .iter()
        .map(|v| VisitFacts {
            home: set.homes.get(&v.household).copied(),
            ..VisitFacts::of(v)
        })
        .collect();
    let found = flags::all(&facts, &set.skews);
    let normal = set
        .visits
        .iter()
        .filter(|v| !set.planted.contains_key(&v.id))
        .count();
    FlagKind::ALL
        .iter()
        .map(|&kind| {
            let flagged: std::collections::BTreeSet<VisitId> = found
                .iter()
                .filter(|f| f.kind == kind)
                .map(|f| f.visit)
                .collect();
            let planted = set.planted.values().filter(|&&k| k == kind).count();
            let hit = set
                .planted
                .iter()
                .filter(|(id, k)| **k == kind && flagged.contains(id))
                .count();
            let false_positives = flagged
                .iter()
                .filter(|id| !set.planted.contains_key(id))
                .count();
            Score {
                kind,
                planted,
                found: hit,
                normal,
                false_positives,
            }
        })
        .collect()
}

/// The scores as a Markdown table (the one in docs/supervision.md).
pub fn markdown(scores: &[Score]) -> String {
    let mut out = String::from(
        "| flag | planted | found | recall | normal visits | false positives | false-positive rate |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for s in scores {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | {} | {} | {:.4} |",
            s.kind.name(),
            s.planted,
            s.found,
            s.recall(),
            s.normal,
            s.false_positives,
            s.false_positive_rate()
        );
    }
    out
}
