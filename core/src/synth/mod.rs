//! Deterministic synthetic regions shaped like Hulunbuir, for the demo, the tests and the
//! benchmarks (compiled with the `synth` feature).
//!
//! [`Region::generate`] builds a whole registry from a [`RegionSpec`]: the city, its 14 counties,
//! real townships from `data/hulunbuir_townships.csv`, synthetic poor villages, households with
//! members, cadres with their assignments and first-secretary posts, help measures, and a door
//! plate authority. Frequencies follow ../shared/domain.md (main poverty causes, household sizes,
//! ethnic mix by banner), so what the demo shows and what the benchmarks measure look like the
//! real work. The same spec always gives byte-identical output: every phase draws from its own
//! ChaCha8 stream of the seed, so changing one phase does not reshuffle the others.
//!
//! Everything is synthetic. Names are assembled from common elements, resident ID numbers are
//! made up (valid in form only), and no phone numbers are generated at all.

mod cadres;
mod geo;
mod names;
mod people;
mod text;
mod visit;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;

use chrono::NaiveDate;
use rand::seq::IndexedRandom;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clock::WallTime;
use crate::domain::visit::{Location, VisitContent};
use crate::domain::{
    Area, Assignment, Cadre, Household, Measure, Member, RegistryRecord, VillagePost, period_covers,
};
use crate::ids::{CadreId, HouseholdId};
use crate::plate::{AuthorityKey, PlateAuthority};

pub use cadres::MAX_HOUSEHOLDS_PER_CADRE;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionSpec {
    pub seed: u64,
    pub households: usize,
    pub villages: usize,
    /// All cadres, first secretaries included; the rest are assisting cadres.
    pub cadres: usize,
    /// First secretaries in all; raised to `villages × first_secretaries_per_village` when
    /// lower. Secretaries beyond that quota go to the largest villages.
    pub first_secretaries: usize,
    pub first_secretaries_per_village: usize,
    /// The day assignments and posts start (open-ended); measures date from the year before.
    pub start: NaiveDate,
}

/// The default start: early 2019, when most of the city's poor households had exited or were
/// about to and the visit campaign described in the source was in full swing.
fn default_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or(NaiveDate::MIN)
}

impl RegionSpec {
    /// The real city's scale: 25,660 households in 280 poor villages, 16,360 cadres (390 of them
    /// first secretaries; at least one per village).
    pub fn hulunbuir(seed: u64) -> Self {
        RegionSpec {
            seed,
            households: 25_660,
            villages: 280,
            cadres: 16_360,
            first_secretaries: 390,
            first_secretaries_per_village: 1,
            start: default_start(),
        }
    }

    /// A small region for tests: 3 villages, 40 households, 15 cadres (3 first secretaries and
    /// 12 assisting cadres, enough for 包五户 however the households fall).
    pub fn small(seed: u64) -> Self {
        RegionSpec {
            seed,
            households: 40,
            villages: 3,
            cadres: 15,
            first_secretaries: 3,
            first_secretaries_per_village: 1,
            start: default_start(),
        }
    }
}

/// A generated region. The fields are public for reading; the lookups ([`Region::registry_for`],
/// [`Region::households_of`], [`Region::visit`]) use indexes built at generation, so a region
/// edited afterwards may answer them from the original data.
pub struct Region {
    pub spec: RegionSpec,
    /// The city, its counties, the townships used and the villages, parents first.
    pub areas: Vec<Area>,
    pub households: Vec<Household>,
    pub members: Vec<Member>,
    pub cadres: Vec<Cadre>,
    pub assignments: Vec<Assignment>,
    pub posts: Vec<VillagePost>,
    pub measures: Vec<Measure>,
    authority: PlateAuthority,
    index: Index,
}

/// Lookups by id, built once so that per-cadre queries stay cheap at city scale.
struct Index {
    household: HashMap<HouseholdId, usize>,
    members_of: Vec<Range<usize>>,
    measures_of: Vec<Range<usize>>,
    village_households: HashMap<String, Range<usize>>,
    cadre: HashMap<CadreId, usize>,
    assignments_of: Vec<Vec<usize>>,
    posts_of: Vec<Vec<usize>>,
    area: HashMap<String, usize>,
}

/// What a cadre is responsible for on one day.
struct Scope {
    cadre: usize,
    assignments: Vec<usize>,
    posts: Vec<usize>,
    /// Household indices, ascending and distinct.
    households: Vec<usize>,
}

/// Seeds of the independent random streams, one per phase.
#[derive(Clone, Copy)]
enum Phase {
    Geography = 1,
    Households = 2,
    Measures = 3,
    Cadres = 4,
    Authority = 5,
}

fn stream(seed: u64, phase: Phase) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(phase as u64);
    rng
}

impl Region {
    /// Generates the region `spec` describes; the same spec always gives the same region.
    pub fn generate(spec: RegionSpec) -> Region {
        let geography = geo::build(&mut stream(spec.seed, Phase::Geography), &spec);
        let mut rng = stream(spec.seed, Phase::Households);
        let keys = people::CodeKeys {
            household: rng.random(),
            person: rng.random(),
        };
        let mut measure_rng = stream(spec.seed, Phase::Measures);
        let people = people::build(
            &mut rng,
            &mut measure_rng,
            &spec,
            &geography.villages,
            &keys,
        );
        let staff = cadres::build(
            &mut stream(spec.seed, Phase::Cadres),
            &spec,
            &geography.villages,
            &people,
        );
        let mut secret = [0u8; 32];
        stream(spec.seed, Phase::Authority).fill_bytes(&mut secret);

        let village_households = geography
            .villages
            .iter()
            .zip(&people.by_village)
            .map(|(v, r)| (v.code.clone(), r.clone()))
            .collect();
        let cadre: HashMap<CadreId, usize> = staff
            .cadres
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let mut assignments_of = vec![Vec::new(); staff.cadres.len()];
        for (i, a) in staff.assignments.iter().enumerate() {
            if let Some(list) = cadre.get(&a.cadre).and_then(|&c| assignments_of.get_mut(c)) {
                list.push(i);
            }
        }
        let mut posts_of = vec![Vec::new(); staff.cadres.len()];
        for (i, p) in staff.posts.iter().enumerate() {
            if let Some(list) = cadre.get(&p.cadre).and_then(|&c| posts_of.get_mut(c)) {
                list.push(i);
            }
        }
        let index = Index {
            household: people
                .households
                .iter()
                .enumerate()
                .map(|(i, h)| (h.id.clone(), i))
                .collect(),
            members_of: people.members_of,
            measures_of: people.measures_of,
            village_households,
            cadre,
            assignments_of,
            posts_of,
            area: geography
                .areas
                .iter()
                .enumerate()
                .map(|(i, a)| (a.code.clone(), i))
                .collect(),
        };
        Region {
            spec,
            areas: geography.areas,
            households: people.households,
            members: people.members,
            cadres: staff.cadres,
            assignments: staff.assignments,
            posts: staff.posts,
            measures: people.measures,
            authority: PlateAuthority::from_secret(1, secret),
            index,
        }
    }

    /// The authority that signs this region's door plates (key id 1, secret from the seed).
    pub fn authority(&self) -> &PlateAuthority {
        &self.authority
    }

    /// The key id and secret of [`Region::authority`], for a county server that prints this
    /// region's plates. Synthetic like everything here (derived from the seed); a real
    /// authority's secret is never derived from anything public.
    pub fn authority_secret(&self) -> (u16, [u8; 32]) {
        let mut secret = [0u8; 32];
        stream(self.spec.seed, Phase::Authority).fill_bytes(&mut secret);
        (self.authority.key_id(), secret)
    }

    /// The public keys a device needs to verify this region's plates.
    pub fn authority_keys(&self) -> Vec<AuthorityKey> {
        vec![self.authority.public()]
    }

    /// The QR text on a household's door plate (its current issue).
    pub fn plate(&self, household: &Household) -> String {
        self.authority.issue(&household.code, household.plate_issue)
    }

    /// The registry slice a device enrolled for `cadre` holds on `day`. Code-list entries are
    /// not included (stores seed them). Holds the authority keys, the areas of the villages in
    /// scope with all their ancestors, the cadre, the households in scope (by active assignment,
    /// or every household of a village where the cadre holds an active post), their members and
    /// measures, then the cadre's active assignments and posts: parents always come before the
    /// records that refer to them. An unknown cadre gets an empty slice.
    pub fn registry_for(&self, cadre: &CadreId, day: NaiveDate) -> Vec<RegistryRecord> {
        let Some(scope) = self.scope(cadre, day) else {
            return Vec::new();
        };
        let mut records: Vec<RegistryRecord> = self
            .authority_keys()
            .into_iter()
            .map(RegistryRecord::AuthorityKey)
            .collect();

        let mut villages: BTreeSet<&str> = scope
            .households
            .iter()
            .filter_map(|&h| self.households.get(h))
            .map(|h| h.village.as_str())
            .collect();
        villages.extend(
            scope
                .posts
                .iter()
                .filter_map(|&p| self.posts.get(p))
                .map(|p| p.village.as_str()),
        );
        // 12-digit codes sort parents first (a parent's lower digits are zeros).
        let mut area_codes: BTreeSet<&str> = BTreeSet::new();
        for village in villages {
            let mut code = Some(village);
            while let Some(area) = code.and_then(|c| self.area(c)) {
                if !area_codes.insert(area.code.as_str()) {
                    break;
                }
                code = area.parent.as_deref();
            }
        }
        records.extend(
            area_codes
                .into_iter()
                .filter_map(|c| self.area(c))
                .cloned()
                .map(RegistryRecord::Area),
        );

        if let Some(c) = self.cadres.get(scope.cadre) {
            records.push(RegistryRecord::Cadre(c.clone()));
        }
        let households: Vec<&Household> = scope
            .households
            .iter()
            .filter_map(|&h| self.households.get(h))
            .collect();
        records.extend(
            households
                .iter()
                .map(|&h| RegistryRecord::Household(h.clone())),
        );
        for &h in &scope.households {
            records.extend(
                self.slice(&self.members, self.index.members_of.get(h))
                    .iter()
                    .cloned()
                    .map(RegistryRecord::Member),
            );
        }
        for &h in &scope.households {
            records.extend(
                self.slice(&self.measures, self.index.measures_of.get(h))
                    .iter()
                    .cloned()
                    .map(RegistryRecord::Measure),
            );
        }
        records.extend(
            scope
                .assignments
                .iter()
                .filter_map(|&a| self.assignments.get(a))
                .cloned()
                .map(RegistryRecord::Assignment),
        );
        records.extend(
            scope
                .posts
                .iter()
                .filter_map(|&p| self.posts.get(p))
                .cloned()
                .map(RegistryRecord::VillagePost),
        );
        records
    }

    /// Households in scope of `cadre` on `day` (the rule of [`Region::registry_for`]), in id
    /// order.
    pub fn households_of(&self, cadre: &CadreId, day: NaiveDate) -> Vec<&Household> {
        self.scope(cadre, day)
            .map(|s| {
                s.households
                    .iter()
                    .filter_map(|&h| self.households.get(h))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A realistic visit to `household` recorded at `at`, and the location fix taken with it
    /// (5–300 m from the registered dwelling). The content passes [`VisitContent::checked`] and
    /// the location [`Location::validate`].
    pub fn visit(
        &self,
        rng: &mut impl Rng,
        household: &Household,
        at: WallTime,
    ) -> (VisitContent, Location) {
        visit::visit(self, rng, household, at)
    }

    fn scope(&self, cadre: &CadreId, day: NaiveDate) -> Option<Scope> {
        let c = *self.index.cadre.get(cadre)?;
        let assignments: Vec<usize> = self
            .index
            .assignments_of
            .get(c)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&a| {
                self.assignments
                    .get(a)
                    .is_some_and(|a| period_covers(a.from, a.to, day))
            })
            .collect();
        let posts: Vec<usize> = self
            .index
            .posts_of
            .get(c)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&p| {
                self.posts
                    .get(p)
                    .is_some_and(|p| period_covers(p.from, p.to, day))
            })
            .collect();
        let mut households: Vec<usize> = assignments
            .iter()
            .filter_map(|&a| self.assignments.get(a))
            .filter_map(|a| self.index.household.get(&a.household).copied())
            .collect();
        for p in posts.iter().filter_map(|&p| self.posts.get(p)) {
            households.extend(
                self.index
                    .village_households
                    .get(&p.village)
                    .cloned()
                    .into_iter()
                    .flatten(),
            );
        }
        households.sort_unstable();
        households.dedup();
        Some(Scope {
            cadre: c,
            assignments,
            posts,
            households,
        })
    }

    fn area(&self, code: &str) -> Option<&Area> {
        self.index.area.get(code).and_then(|&i| self.areas.get(i))
    }

    /// The members of `household`, head first.
    fn members_of(&self, household: &Household) -> Vec<&Member> {
        let range = self
            .index
            .household
            .get(&household.id)
            .and_then(|&h| self.index.members_of.get(h));
        self.slice(&self.members, range)
            .iter()
            .filter(|m| m.household == household.id)
            .collect()
    }

    fn slice<'a, T>(&self, items: &'a [T], range: Option<&Range<usize>>) -> &'a [T] {
        range.and_then(|r| items.get(r.clone())).unwrap_or(&[])
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Counts only: the records themselves run to tens of thousands.
        f.debug_struct("Region")
            .field("spec", &self.spec)
            .field("areas", &self.areas.len())
            .field("households", &self.households.len())
            .field("members", &self.members.len())
            .field("cadres", &self.cadres.len())
            .field("assignments", &self.assignments.len())
            .field("posts", &self.posts.len())
            .field("measures", &self.measures.len())
            .field("authority", &self.authority)
            .finish()
    }
}

/// Apportions `total` in proportion to `weights` by largest remainders, exactly: the parts sum
/// to `total` unless every weight is zero (or not a positive number), when all parts are zero.
fn allocate(total: usize, weights: &[f64]) -> Vec<usize> {
    // Integer arithmetic, so that rounding can never make the parts miss the total.
    let w: Vec<u128> = weights
        .iter()
        .map(|&x| {
            if x.is_finite() && x > 0.0 {
                (x * 1e6).round() as u128
            } else {
                0
            }
        })
        .collect();
    let sum: u128 = w.iter().sum();
    if sum == 0 {
        return vec![0; w.len()];
    }
    let t = total as u128;
    let mut parts: Vec<usize> = w.iter().map(|&wi| (t * wi / sum) as usize).collect();
    let mut remainders: Vec<(u128, usize)> = w
        .iter()
        .enumerate()
        .map(|(i, &wi)| (t * wi % sum, i))
        .collect();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let short = total.saturating_sub(parts.iter().sum());
    for &(_, i) in remainders.iter().take(short) {
        if let Some(p) = parts.get_mut(i) {
            *p += 1;
        }
    }
    parts
}

/// A uniform draw from `lo..=hi`; `lo` when the range is empty (never panics, unlike
/// `random_range`).
fn between<R: Rng + ?Sized>(rng: &mut R, lo: u32, hi: u32) -> u32 {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

/// A draw from `(item, weight)` pairs; the default value when all weights are zero.
fn weighted<T: Copy + Default, R: Rng + ?Sized>(rng: &mut R, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| *w).sum();
    if total == 0 {
        return T::default();
    }
    let mut roll = rng.random_range(0..total);
    for &(item, w) in items {
        if roll < w {
            return item;
        }
        roll -= w;
    }
    T::default()
}

fn pick<'a, T, R: Rng + ?Sized>(rng: &mut R, items: &'a [T]) -> Option<&'a T> {
    items.choose(rng)
}

/// One of a constant, non-empty pool of words.
fn pick_str<R: Rng + ?Sized>(rng: &mut R, pool: &[&'static str]) -> &'static str {
    pick(rng, pool).copied().unwrap_or_default()
}

/// A keyed permutation of the 40-bit code space, so that household and person codes are
/// distinct (a bijection) yet look random rather than counting up from one: sequential codes
/// would let anyone guess a neighbour's code from their own.
fn scatter(n: u64, key: u64) -> u64 {
    const MASK: u64 = (1 << 40) - 1;
    // Each step is invertible on 40 bits: xor with a constant, multiplication by an odd number
    // modulo 2^40, and xor with a right shift of itself.
    let mut x = (n ^ key) & MASK;
    x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & MASK;
    x ^= x >> 21;
    x = x.wrapping_mul(0xD6E8_FEB8_6659_FD93) & MASK;
    x ^= x >> 17;
    x
}

/// A registry id such as `hh-000001`.
fn text_id<T: TryFrom<String>>(prefix: &str, n: usize, width: usize) -> Option<T> {
    T::try_from(format!("{prefix}-{n:0width$}")).ok()
}
