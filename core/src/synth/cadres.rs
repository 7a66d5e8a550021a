//! Cadres, first-secretary posts and assignments (包五户): every household gets one to three
//! assisting cadres from its own village's team, no assisting cadre has more than five.

use rand::Rng;
use rand::seq::SliceRandom;

use super::geo::{CITY_NAME, COUNTIES, County, Village};
use super::people::People;
use super::{RegionSpec, allocate, names, pick_str, text_id, weighted};
use crate::domain::{Assignment, Cadre, VillagePost};
use crate::ids::{AssignmentId, CadreId, PostId};

/// At most five households per assisting cadre (包五户).
pub const MAX_HOUSEHOLDS_PER_CADRE: usize = 5;
/// Several cadres may share a household; the registry shows up to three.
const MAX_CADRES_PER_HOUSEHOLD: usize = 3;

pub(super) struct Staff {
    pub cadres: Vec<Cadre>,
    pub posts: Vec<VillagePost>,
    pub assignments: Vec<Assignment>,
}

const UNITS: &[&str] = &[
    "财政局",
    "农牧业局",
    "教育局",
    "卫生健康委员会",
    "人力资源和社会保障局",
    "自然资源局",
    "住房和城乡建设局",
    "交通运输局",
    "水利局",
    "民政局",
    "林业和草原局",
    "审计局",
    "统计局",
    "司法局",
    "文化旅游体育局",
    "发展和改革委员会",
    "扶贫开发办公室",
    "市场监督管理局",
    "应急管理局",
    "生态环境局",
    "科学技术局",
    "商务局",
    "信访局",
    "档案局",
    "总工会",
    "团委",
    "妇联",
    "政协办公室",
    "人大常委会办公室",
    "纪委监委",
    "委组织部",
    "委宣传部",
    "委统战部",
    "委政法委",
];
/// Section rank and above: the cadres the 包五户 rule applies to.
const COUNTY_TITLES: &[((&str, &str), u32)] = &[
    (("副主任科员", "副科级"), 30),
    (("副局长", "副科级"), 30),
    (("主任科员", "正科级"), 20),
    (("局长", "正科级"), 12),
    (("副主任", "副科级"), 8),
];
const CITY_TITLES: &[((&str, &str), u32)] = &[
    (("副科长", "副科级"), 30),
    (("科长", "正科级"), 40),
    (("副调研员", "副处级"), 15),
    (("副局长", "副处级"), 15),
];

pub(super) fn build<R: Rng + ?Sized>(
    rng: &mut R,
    spec: &RegionSpec,
    villages: &[Village],
    people: &People,
) -> Staff {
    let mut staff = Staff {
        cadres: Vec::new(),
        posts: Vec::new(),
        assignments: Vec::new(),
    };
    let quota = villages
        .len()
        .saturating_mul(spec.first_secretaries_per_village);
    let first_secretaries = spec.first_secretaries.max(quota).min(spec.cadres);

    // Every village gets its quota first (round by round, so that with too few cadres each
    // village still gets one before any gets two); extra secretaries go to the largest villages
    // in turn.
    let mut post_villages: Vec<usize> = (0..villages.len())
        .cycle()
        .take(quota.min(first_secretaries))
        .collect();
    let mut by_size: Vec<usize> = (0..villages.len()).collect();
    by_size.sort_by_key(|&v| std::cmp::Reverse(people.by_village.get(v).map_or(0, |r| r.len())));
    post_villages.extend(
        by_size
            .iter()
            .cycle()
            .take(first_secretaries.saturating_sub(post_villages.len())),
    );
    post_villages.truncate(first_secretaries);

    for &v in &post_villages {
        let Some(village) = villages.get(v) else {
            continue;
        };
        let Some(id) = add_cadre(rng, &mut staff, "first_secretary", county_of(village)) else {
            continue;
        };
        let Some(post_id) = text_id::<PostId>("p", staff.posts.len() + 1, 4) else {
            continue;
        };
        staff.posts.push(VillagePost {
            id: post_id,
            cadre: id,
            village: village.code.clone(),
            from: spec.start,
            to: None,
        });
    }

    let assisting = spec.cadres - first_secretaries;
    let sizes: Vec<usize> = people.by_village.iter().map(|r| r.len()).collect();
    let teams = team_sizes(assisting, &sizes);
    let mut placed = 0;
    for ((village, households), &team) in villages.iter().zip(&people.by_village).zip(&teams) {
        let mut members = Vec::with_capacity(team);
        for _ in 0..team {
            if let Some(id) = add_cadre(rng, &mut staff, "assisting", county_of(village)) {
                members.push(id);
            }
        }
        placed += team;
        let households: Vec<usize> = households.clone().collect();
        for (c, h) in deal(rng, households.len(), members.len()) {
            let (Some(cadre), Some(&h)) = (members.get(c), households.get(h)) else {
                continue;
            };
            let Some(household) = people.households.get(h) else {
                continue;
            };
            let Some(id) = text_id::<AssignmentId>("a", staff.assignments.len() + 1, 6) else {
                continue;
            };
            staff.assignments.push(Assignment {
                id,
                cadre: cadre.clone(),
                household: household.id.clone(),
                from: spec.start,
                to: None,
            });
        }
    }
    // More cadres than households can use: they are registered without households yet.
    for _ in placed..assisting {
        let county = COUNTIES.get(rng.random_range(0..COUNTIES.len()));
        add_cadre(rng, &mut staff, "assisting", county);
    }
    staff
}

fn county_of(village: &Village) -> Option<&'static County> {
    COUNTIES.get(village.county)
}

fn add_cadre<R: Rng + ?Sized>(
    rng: &mut R,
    staff: &mut Staff,
    role: &str,
    county: Option<&County>,
) -> Option<CadreId> {
    let id = text_id::<CadreId>("c", staff.cadres.len() + 1, 5)?;
    // First secretaries are often sent down from city departments; assisting cadres mostly
    // come from the banner's own offices.
    let city_share = if role == "first_secretary" { 0.5 } else { 0.15 };
    let (unit_prefix, titles) = match county {
        Some(c) if !rng.random_bool(city_share) => (c.name, COUNTY_TITLES),
        _ => (CITY_NAME, CITY_TITLES),
    };
    let (title, rank) = weighted(rng, titles);
    staff.cadres.push(Cadre {
        id: id.clone(),
        name: names::cadre_name(rng),
        phone: None,
        work_unit: Some(format!("{unit_prefix}{}", pick_str(rng, UNITS))),
        title: Some(title.to_string()),
        rank: Some(rank.to_string()),
        role: role.to_string(),
    });
    Some(id)
}

/// How many assisting cadres each village's team gets. Each village first gets enough to cover
/// its households five to a cadre; the rest go in proportion to size, up to three per
/// household. With too few cadres for that, teams are proportional and some households stay
/// without a cadre rather than any cadre getting more than five.
fn team_sizes(assisting: usize, sizes: &[usize]) -> Vec<usize> {
    let weights: Vec<f64> = sizes.iter().map(|&s| s as f64).collect();
    let need: Vec<usize> = sizes
        .iter()
        .map(|s| s.div_ceil(MAX_HOUSEHOLDS_PER_CADRE))
        .collect();
    let need_total: usize = need.iter().sum();
    if need_total >= assisting {
        return allocate(assisting, &weights);
    }
    let extra = allocate(assisting - need_total, &weights);
    need.iter()
        .zip(&extra)
        .zip(sizes)
        .map(|((n, e), s)| (n + e).min(s * MAX_CADRES_PER_HOUSEHOLD))
        .collect()
}

/// Pairs `cadres` team members with `households` households: returns (cadre, household) local
/// indices. Each household first gets one cadre, then second and third ones; each pair goes to
/// the least-loaded cadre not already holding that household, so loads stay within one of each
/// other, every cadre gets a household when there are enough slots, and none gets more than
/// five.
fn deal<R: Rng + ?Sized>(rng: &mut R, households: usize, cadres: usize) -> Vec<(usize, usize)> {
    if households == 0 || cadres == 0 {
        return Vec::new();
    }
    let max_k = cadres.min(MAX_CADRES_PER_HOUSEHOLD);
    let mut wanted: Vec<usize> = (0..households)
        .map(|_| weighted(rng, &[(1usize, 30), (2, 45), (3, 25)]).min(max_k))
        .collect();
    let mut total: usize = wanted.iter().sum();
    let capacity = cadres * MAX_HOUSEHOLDS_PER_CADRE;
    // Raise shares until every cadre can have one, lower them until the team can carry them.
    for i in 0..households * MAX_CADRES_PER_HOUSEHOLD {
        let Some(k) = wanted.get_mut(i % households) else {
            break;
        };
        if total < cadres && *k < max_k {
            *k += 1;
            total += 1;
        } else if total > capacity && *k > 1 {
            *k -= 1;
            total -= 1;
        }
    }

    let mut order: Vec<usize> = (0..households).collect();
    order.shuffle(rng);
    let mut slots = Vec::with_capacity(total);
    for pass in 1..=MAX_CADRES_PER_HOUSEHOLD {
        slots.extend(
            order
                .iter()
                .copied()
                .filter(|&h| wanted.get(h).is_some_and(|&k| k >= pass)),
        );
    }

    let mut loads = vec![0usize; cadres];
    let mut held: Vec<Vec<usize>> = vec![Vec::new(); households];
    let mut cursor = 0;
    let mut pairs = Vec::with_capacity(total);
    for h in slots {
        let Some(holders) = held.get_mut(h) else {
            continue;
        };
        let mut best: Option<(usize, usize)> = None;
        for step in 0..cadres {
            let j = (cursor + step) % cadres;
            let load = loads.get(j).copied().unwrap_or(usize::MAX);
            if load >= MAX_HOUSEHOLDS_PER_CADRE || holders.contains(&j) {
                continue;
            }
            if best.is_none_or(|(_, l)| load < l) {
                best = Some((j, load));
            }
        }
        if let Some((j, _)) = best {
            if let Some(load) = loads.get_mut(j) {
                *load += 1;
            }
            holders.push(j);
            pairs.push((j, h));
            cursor = (j + 1) % cadres;
        }
    }
    pairs
}
