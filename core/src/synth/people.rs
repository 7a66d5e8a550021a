//! Households, their members and the help measures already on record, drawn with the
//! frequencies of the registration forms (../shared/domain.md).

use std::collections::HashSet;
use std::ops::Range;

use chrono::{Datelike, Duration, NaiveDate};
use rand::Rng;

use super::geo::{COUNTIES, County, Village, round6, scatter_around};
use super::{RegionSpec, allocate, between, names, scatter, text, text_id, weighted};
use crate::codes::{CodeKind, HumanCode};
use crate::domain::{Household, Measure, Member};
use crate::ids::{HouseholdId, MeasureId, MemberId};

pub(super) struct People {
    pub households: Vec<Household>,
    pub members: Vec<Member>,
    pub measures: Vec<Measure>,
    /// Per village, in the villages' order: the range of its households.
    pub by_village: Vec<Range<usize>>,
    /// Per household: the range of its members (the head first).
    pub members_of: Vec<Range<usize>>,
    /// Per household: the range of its measures.
    pub measures_of: Vec<Range<usize>>,
}

/// Main causes (per mille). Illness, funds, technology and labour together come to 84.5%,
/// matching the 84.49% the source reports.
const MAIN_CAUSES: &[(&str, u32)] = &[
    ("1", 400),
    ("9", 180),
    ("7", 140),
    ("8", 125),
    ("2", 60),
    ("3", 30),
    ("4", 20),
    ("5", 15),
    ("11", 15),
    ("6", 5),
    ("10", 5),
    ("99", 3),
    ("12", 2),
];

/// Household sizes. Their mean (2.54), lowered by the mostly single-person support households,
/// comes to about 2.4 per household: 61,660 people in 25,660 households.
const SIZES: &[(usize, u32)] = &[(1, 24), (2, 33), (3, 20), (4, 14), (5, 6), (6, 3)];

/// Rural villages keep about this many households in one group (村民小组).
const HOUSEHOLDS_PER_GROUP: usize = 18;

/// A member before ids, names and codes are attached.
struct Draft {
    relationship: &'static str,
    male: bool,
    age: u32,
    ethnicity: &'static str,
    surname: Option<&'static str>,
    /// An adult child whose spouse is already listed.
    partnered: bool,
}

/// Everything about one household's draw that its members need.
struct Shape {
    attribute: &'static str,
    main_cause: &'static str,
}

/// Keys of the two code permutations, drawn once per region.
pub(super) struct CodeKeys {
    pub household: u64,
    pub person: u64,
}

pub(super) fn build<R: Rng + ?Sized>(
    rng: &mut R,
    measure_rng: &mut R,
    spec: &RegionSpec,
    villages: &[Village],
    keys: &CodeKeys,
) -> People {
    let weights: Vec<f64> = villages
        .iter()
        .map(|_| rng.random_range(0.6..1.4))
        .collect();
    let counts = allocate(spec.households, &weights);
    let mut people = People {
        households: Vec::with_capacity(spec.households),
        members: Vec::with_capacity(spec.households * 5 / 2),
        measures: Vec::with_capacity(spec.households * 3 / 2),
        by_village: Vec::with_capacity(villages.len()),
        members_of: Vec::with_capacity(spec.households),
        measures_of: Vec::with_capacity(spec.households),
    };
    let mut used_ids = HashSet::with_capacity(spec.households * 5 / 2);
    let progress = progress(spec.start);
    for (village, &count) in villages.iter().zip(&counts) {
        let first = people.households.len();
        let groups = count.div_ceil(HOUSEHOLDS_PER_GROUP).clamp(1, 12);
        for _ in 0..count {
            add_household(
                rng,
                measure_rng,
                spec,
                village,
                groups,
                progress,
                keys,
                &mut used_ids,
                &mut people,
            );
        }
        people.by_village.push(first..people.households.len());
    }
    people
}

/// How far the programme had got by `start`: 0 in 2014 (registration), 1 by 2020 (all exited).
fn progress(start: NaiveDate) -> f64 {
    (f64::from(start.year() - 2014) / 6.0).clamp(0.0, 1.0)
}

#[allow(clippy::too_many_arguments)]
fn add_household<R: Rng + ?Sized>(
    rng: &mut R,
    measure_rng: &mut R,
    spec: &RegionSpec,
    village: &Village,
    groups: usize,
    progress: f64,
    keys: &CodeKeys,
    used_ids: &mut HashSet<String>,
    people: &mut People,
) {
    let n = people.households.len() + 1;
    // Ids and codes are built from formats that are always valid; if one ever were not, the
    // household is left out rather than the generator panicking.
    let Some(id) = text_id::<HouseholdId>("hh", n, 6) else {
        return;
    };
    let Ok(code) = HumanCode::new(CodeKind::Household, scatter(n as u64, keys.household)) else {
        return;
    };
    let Some(county) = COUNTIES.get(village.county) else {
        return;
    };

    let attribute = weighted(rng, &[("1", 55), ("2", 35), ("3", 10)]);
    let main_cause = weighted(rng, MAIN_CAUSES);
    let mut other_causes: Vec<String> = Vec::new();
    for _ in 0..weighted(rng, &[(0usize, 40), (1, 40), (2, 20)]) {
        let cause = weighted(rng, MAIN_CAUSES);
        if cause != main_cause && !other_causes.iter().any(|c| c == cause) {
            other_causes.push(cause.to_string());
        }
    }

    let year = spec.start.year();
    let identified = (2014 + weighted(rng, &[(0, 70), (1, 15), (2, 10), (3, 5)]))
        .min(year)
        .max(2000);
    let can_exit = identified < year;
    let p = |w: f64| (w * 1000.0).round() as u32;
    let status = weighted(
        rng,
        &[
            ("2", if can_exit { p(0.85 * progress) } else { 0 }),
            ("4", if can_exit { p(0.015 * progress) } else { 0 }),
            ("1", p(0.08)),
            ("3", p(0.01)),
            ("0", p(1.0 - 0.865 * progress - 0.09)),
        ],
    );
    let exit_year = matches!(status, "2" | "4")
        .then(|| between(rng, identified as u32 + 1, year as u32) as i32);

    let safety = weighted(
        rng,
        &[
            ("A", 30 + p(0.25 * progress) / 10),
            ("B", 40),
            ("C", 20 - p(0.12 * progress) / 10),
            ("D", 10 - p(0.08 * progress) / 10),
        ],
    );
    let size = match (attribute, main_cause) {
        ("3", _) => weighted(rng, &[(1, 80), (2, 20)]),
        (_, "3") => weighted(rng, SIZES).max(3),
        _ => weighted(rng, SIZES),
    };
    let shape = Shape {
        attribute,
        main_cause,
    };
    let drafts = compose(rng, county, size, &shape);

    let first_member = people.members.len();
    for draft in &drafts {
        let m = people.members.len() + 1;
        let Some(member) = member(
            rng, draft, m, &id, county, spec.start, &shape, keys, used_ids,
        ) else {
            continue;
        };
        people.members.push(member);
    }
    if let Some(members) = people.members.get_mut(first_member..) {
        shape_health(rng, &shape, members);
    }
    let head = people.members.get(first_member).map(|m| m.id.clone());

    let household = Household {
        id,
        code,
        plate_issue: if rng.random_bool(0.03) { 2 } else { 1 },
        village: village.code.clone(),
        group_name: Some(names::group_name(between(rng, 1, groups as u32) as usize)),
        head,
        phone: None,
        ident_standard: Some(weighted(rng, &[("国家标准", 85), ("省定标准", 15)]).to_string()),
        attribute: attribute.to_string(),
        main_cause: main_cause.to_string(),
        other_causes,
        poverty_status: status.to_string(),
        identified_year: Some(identified),
        exit_year,
        housing_area_m2: Some(f64::from(between(rng, 250, 1100)) / 10.0),
        housing_structure: Some(
            weighted(
                rng,
                &[
                    ("砖混", 35),
                    ("砖木", 30),
                    ("土木", 20),
                    ("木", 10),
                    ("彩钢", 5),
                ],
            )
            .to_string(),
        ),
        housing_safety: Some(safety.to_string()),
        drinking_water: Some(
            weighted(
                rng,
                &[
                    ("自来水入户", 40),
                    ("集中供水点", 20),
                    ("自备井", 35),
                    ("其他", 5),
                ],
            )
            .to_string(),
        ),
        location: Some(round6(scatter_around(rng, village.centre, 1500.0))),
    };

    let first_measure = people.measures.len();
    add_measures(measure_rng, spec.start, &household, &mut people.measures);
    people.members_of.push(first_member..people.members.len());
    people
        .measures_of
        .push(first_measure..people.measures.len());
    people.households.push(household);
}

/// Who lives in the household: the head, usually a spouse, then children, grandchildren,
/// in-laws or the head's parents, with ages that fit the relationships.
fn compose<R: Rng + ?Sized>(
    rng: &mut R,
    county: &County,
    size: usize,
    shape: &Shape,
) -> Vec<Draft> {
    let ethnicity = weighted(rng, county.ethnicities);
    let head_age = match (shape.attribute, shape.main_cause) {
        ("3", _) => between(rng, 62, 80),
        (_, "8") => between(rng, 58, 80),
        (_, "3") => between(rng, 38, 52),
        // The mean of two draws peaks in the late fifties, like the registered heads.
        _ => (between(rng, 35, 80) + between(rng, 35, 80)) / 2,
    };
    let head_male = rng.random_bool(0.78);
    let head_surname = names::family_surname(rng, ethnicity);
    let mut out = vec![Draft {
        relationship: "01",
        male: head_male,
        age: head_age,
        ethnicity,
        surname: head_surname,
        partnered: false,
    }];
    // Children carry their father's surname and, in mixed families, usually the minority
    // parent's ethnicity.
    let mut child_surname = if head_male {
        head_surname
    } else {
        names::family_surname(rng, ethnicity)
    };
    let mut child_ethnicity = ethnicity;
    // A woman is registered as head mostly when widowed or divorced.
    let p_spouse = if head_male { 0.85 } else { 0.35 };
    while out.len() < size {
        if out.len() == 1 && rng.random_bool(p_spouse) {
            let spouse_eth = if rng.random_bool(0.8) {
                ethnicity
            } else {
                weighted(rng, county.ethnicities)
            };
            let surname = names::family_surname(rng, spouse_eth);
            if !head_male {
                child_surname = surname;
            }
            if ethnicity == "01" {
                child_ethnicity = spouse_eth;
            }
            let age = (head_age as i64 + i64::from(between(rng, 0, 10)) - 5).clamp(20, 90) as u32;
            out.push(Draft {
                relationship: "02",
                male: !head_male,
                age,
                ethnicity: spouse_eth,
                surname,
                partnered: false,
            });
            continue;
        }
        let adult_children: Vec<usize> = out
            .iter()
            .enumerate()
            .filter(|(_, d)| matches!(d.relationship, "03" | "04") && d.age >= 22)
            .map(|(i, _)| i)
            .collect();
        let parents = out
            .iter()
            .filter(|d| matches!(d.relationship, "11" | "12"))
            .count();
        // A married son usually lives with his parents; a married daughter less often.
        let unpartnered = adult_children
            .iter()
            .copied()
            .filter(|&i| out.get(i).is_some_and(|d| !d.partnered))
            .max_by_key(|&i| out.get(i).is_some_and(|d| d.male));
        let kind = weighted(
            rng,
            &[
                ("child", 60),
                ("parent", if head_age <= 58 && parents < 2 { 10 } else { 0 }),
                ("grandchild", if adult_children.is_empty() { 0 } else { 20 }),
                ("in_law", if unpartnered.is_some() { 15 } else { 0 }),
            ],
        );
        let draft = match kind {
            "parent" => {
                // Mothers outlive fathers, so a lone parent is more often the mother.
                let has = |rel: &str| out.iter().any(|d| d.relationship == rel);
                let father = !has("11") && (has("12") || rng.random_bool(0.4));
                let age = (head_age + between(rng, 20, 32)).min(95);
                let surname = if father {
                    head_surname
                } else {
                    names::family_surname(rng, ethnicity)
                };
                let relationship = if father { "11" } else { "12" };
                Draft {
                    relationship,
                    male: father,
                    age,
                    ethnicity,
                    surname,
                    partnered: false,
                }
            }
            "in_law" => {
                let child = unpartnered.and_then(|i| out.get_mut(i));
                let (son, child_age) = child.map_or((true, 25), |c| {
                    c.partnered = true;
                    (c.male, c.age)
                });
                let eth = weighted(rng, county.ethnicities);
                let age = (child_age as i64 + i64::from(between(rng, 0, 6)) - 3).max(20) as u32;
                let surname = names::family_surname(rng, eth);
                let relationship = if son { "05" } else { "06" };
                Draft {
                    relationship,
                    male: !son,
                    age,
                    ethnicity: eth,
                    surname,
                    partnered: false,
                }
            }
            "grandchild" => {
                let i = adult_children
                    .get(rng.random_range(0..adult_children.len().max(1)))
                    .copied()
                    .unwrap_or(0);
                let (parent_male, parent_age, parent_surname, eth) =
                    out.get(i).map_or((true, 22, None, ethnicity), |p| {
                        (p.male, p.age, p.surname, p.ethnicity)
                    });
                let surname = if parent_male {
                    parent_surname
                } else {
                    names::family_surname(rng, eth)
                };
                let male = rng.random_bool(0.52);
                let age = between(rng, 0, parent_age.saturating_sub(20).min(18));
                let relationship = if male { "07" } else { "08" };
                Draft {
                    relationship,
                    male,
                    age,
                    ethnicity: eth,
                    surname,
                    partnered: false,
                }
            }
            _ => {
                let male = rng.random_bool(0.52);
                let age = head_age.saturating_sub(between(rng, 20, 40));
                Draft {
                    relationship: if male { "03" } else { "04" },
                    male,
                    age,
                    ethnicity: child_ethnicity,
                    surname: child_surname,
                    partnered: false,
                }
            }
        };
        out.push(draft);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn member<R: Rng + ?Sized>(
    rng: &mut R,
    d: &Draft,
    n: usize,
    household: &HouseholdId,
    county: &County,
    start: NaiveDate,
    shape: &Shape,
    keys: &CodeKeys,
    used_ids: &mut HashSet<String>,
) -> Option<Member> {
    let id = text_id::<MemberId>("m", n, 7)?;
    let person_code = HumanCode::new(CodeKind::Person, scatter(n as u64, keys.person)).ok();
    // Exactly `age` completed years on `start`.
    let days_back = i64::from(d.age) * 365 + i64::from(d.age / 4) + i64::from(between(rng, 1, 364));
    let birth = start.checked_sub_signed(Duration::days(days_back))?;
    let resident_id = resident_id(rng, county.code6, birth, d.male, used_ids);
    let (education, school) = education(rng, d.age);
    let health = match d.age {
        0..=15 => weighted(rng, &[("1", 96), ("2", 2), ("5", 2)]),
        16..=59 => weighted(rng, &[("1", 72), ("2", 15), ("3", 5), ("4", 3), ("5", 5)]),
        _ => weighted(rng, &[("1", 40), ("2", 32), ("3", 12), ("4", 6), ("5", 10)]),
    };
    let in_school = school == "在校生";
    let labour = labour_skill(rng, d.age, health, in_school);
    let (work, months) = if d.age < 16 {
        (None, None)
    } else if matches!(labour, "1" | "4") {
        let status = weighted(rng, &[("5", 55), ("1", 22), ("2", 10), ("3", 8), ("4", 5)]);
        (
            Some(status),
            (status != "5").then(|| between(rng, 2, 10) as i32),
        )
    } else {
        (Some("5"), None)
    };
    let medical_insured = rng.random_bool(0.985);
    Some(Member {
        id,
        household: household.clone(),
        person_code,
        name: names::person_name(rng, d.ethnicity, d.male, d.surname),
        resident_id,
        sex: if d.male { "1" } else { "2" }.to_string(),
        birth_date: Some(birth),
        ethnicity: Some(d.ethnicity.to_string()),
        relationship: d.relationship.to_string(),
        education: Some(education.to_string()),
        school_status: Some(school.to_string()),
        health: Some(health.to_string()),
        labour_skill: Some(labour.to_string()),
        work_status: work.map(str::to_string),
        work_months: months,
        dibao: shape.attribute == "2",
        wubao: shape.attribute == "3",
        medical_insured,
        serious_illness_insured: medical_insured && rng.random_bool(0.99),
    })
}

/// Education level and school status by age; older cohorts had less schooling.
fn education<R: Rng + ?Sized>(rng: &mut R, age: u32) -> (&'static str, &'static str) {
    // A few compulsory-age children out of school, which visits are meant to catch.
    let enrolled = |rng: &mut R| {
        if rng.random_bool(0.005) {
            "辍学"
        } else {
            "在校生"
        }
    };
    match age {
        0..=5 => ("06", "学龄前"),
        6..=12 => ("02", enrolled(rng)),
        13..=15 => ("03", enrolled(rng)),
        16..=18 if rng.random_bool(0.6) => ("04", "在校生"),
        16..=18 => ("03", "非在校生"),
        19..=22 if rng.random_bool(0.25) => ("05", "在校生"),
        19..=39 => (
            weighted(rng, &[("02", 12), ("03", 55), ("04", 21), ("05", 12)]),
            "非在校生",
        ),
        40..=59 => (
            weighted(
                rng,
                &[("01", 8), ("02", 37), ("03", 43), ("04", 10), ("05", 2)],
            ),
            "非在校生",
        ),
        _ => (
            weighted(rng, &[("01", 35), ("02", 45), ("03", 17), ("04", 3)]),
            "非在校生",
        ),
    }
}

fn labour_skill<R: Rng + ?Sized>(
    rng: &mut R,
    age: u32,
    health: &str,
    in_school: bool,
) -> &'static str {
    if age < 16 || in_school {
        return "3";
    }
    match health {
        "4" | "5" => "2",
        "3" if rng.random_bool(0.5) => "2",
        _ if age >= 65 => {
            if rng.random_bool(0.2) {
                "1"
            } else {
                "3"
            }
        }
        _ => weighted(rng, &[("1", 85), ("4", 15)]),
    }
}

/// Makes the members agree with the household's main cause: an illness household has someone
/// ill, a disability household someone disabled.
fn shape_health<R: Rng + ?Sized>(rng: &mut R, shape: &Shape, members: &mut [Member]) {
    let wanted = match shape.main_cause {
        "1" => weighted(rng, &[("2", 40), ("3", 35), ("4", 25)]),
        "2" => "5",
        _ => return,
    };
    if members.iter().any(|m| m.health.as_deref() == Some(wanted)) {
        return;
    }
    // The head in most cases, otherwise the eldest other member.
    let pick = if members.len() > 1 && rng.random_bool(0.3) {
        (1..members.len()).max_by_key(|&i| {
            members
                .get(i)
                .and_then(|m| m.birth_date)
                .map(|b| -b.num_days_from_ce())
        })
    } else {
        Some(0)
    };
    if let Some(m) = pick.and_then(|i| members.get_mut(i)) {
        m.health = Some(wanted.to_string());
        if matches!(wanted, "4" | "5") && m.labour_skill.as_deref() != Some("3") {
            m.labour_skill = Some("2".to_string());
            m.work_status = m.work_status.as_ref().map(|_| "5".to_string());
            m.work_months = None;
        }
    }
}

/// A synthetic resident ID number (GB 11643): the county's code, the birth date, a sequence
/// odd for men and even for women, and the check character. Unique within the region.
fn resident_id<R: Rng + ?Sized>(
    rng: &mut R,
    county6: &str,
    birth: NaiveDate,
    male: bool,
    used: &mut HashSet<String>,
) -> Option<String> {
    let date = birth.format("%Y%m%d").to_string();
    for _ in 0..64 {
        let seq = between(rng, 1, 499) * 2 + u32::from(male);
        let body = format!("{county6}{date}{seq:03}");
        let id = format!("{body}{}", check_char(&body)?);
        if used.insert(id.clone()) {
            return Some(id);
        }
    }
    None
}

/// The GB 11643 check character over 17 digits.
pub(super) fn check_char(body: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    if body.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in body.chars().zip(WEIGHTS) {
        sum += c.to_digit(10)? * w;
    }
    "10X98765432".chars().nth((sum % 11) as usize)
}

/// 0–3 measures per household from the year before `start`, leaning toward what its causes and
/// housing call for.
fn add_measures<R: Rng + ?Sized>(
    rng: &mut R,
    start: NaiveDate,
    h: &Household,
    out: &mut Vec<Measure>,
) {
    let count = weighted(rng, &[(0usize, 20), (1, 35), (2, 30), (3, 15)]);
    let mut weights: Vec<(&str, u32)> = vec![
        ("industry", 30),
        ("employment", 10),
        ("public_post", 8),
        ("education", 4),
        ("health", 8),
        ("housing", 3),
        ("finance", 10),
        ("living", 8),
        ("welfare", 6),
        ("ecology", 8),
        ("relocation", 1),
        ("other", 4),
    ];
    let mut boost = |category: &str, by: u32| {
        if let Some(w) = weights.iter_mut().find(|(c, _)| *c == category) {
            w.1 += by;
        }
    };
    match h.main_cause.as_str() {
        "1" => boost("health", 40),
        "2" => {
            boost("welfare", 25);
            boost("health", 10);
        }
        "3" => boost("education", 40),
        "4" => {
            boost("living", 15);
            boost("housing", 10);
        }
        "5" | "6" => {
            boost("relocation", 8);
            boost("living", 10);
        }
        "7" => {
            boost("industry", 20);
            boost("employment", 15);
        }
        "8" => {
            boost("public_post", 20);
            boost("welfare", 20);
        }
        "9" => {
            boost("finance", 30);
            boost("industry", 15);
        }
        _ => {}
    }
    if matches!(h.housing_safety.as_deref(), Some("C" | "D")) {
        boost("housing", 40);
    }
    for _ in 0..count {
        let n = out.len() + 1;
        let Some(id) = text_id::<MeasureId>("ms", n, 6) else {
            return;
        };
        let category = weighted(rng, &weights);
        let (content, cost_yuan) = text::measure(rng, category);
        let date = start
            .checked_sub_signed(Duration::days(i64::from(between(rng, 1, 365))))
            .unwrap_or(start);
        out.push(Measure {
            id,
            household: h.id.clone(),
            category: category.to_string(),
            content,
            date,
            cost_yuan,
            acknowledged: rng.random_bool(0.9),
        });
    }
}
