//! Realistic visits (民情日记) to a synthetic household: what the demo's cadres record and what
//! the benchmarks push through the journal.

use chrono::{Duration, NaiveDate};
use rand::Rng;

use super::geo::offset;
use super::text::{self, DiaryFacts};
use super::{Region, between, weighted};
use crate::clock::WallTime;
use crate::domain::visit::{Checklist, ChecklistEntry, ChecklistStatus, Location, VisitContent};
use crate::domain::{GeoPoint, Household, Member};

/// The six items of the two-no-worries-three-guarantees checklist, in the seeded code list.
const CHECKLIST_ITEMS: [&str; 6] = [
    "food",
    "clothing",
    "education",
    "medical",
    "housing",
    "water",
];

/// Fallback position (Hailar) for a household with no registered location and no village.
const FALLBACK: GeoPoint = GeoPoint {
    lat: 49.2116,
    lon: 119.7365,
};

pub(super) fn visit<R: Rng + ?Sized>(
    region: &Region,
    rng: &mut R,
    household: &Household,
    at: WallTime,
) -> (VisitContent, Location) {
    let day = at.local_date();
    let members = region.members_of(household);
    let kind = weighted(
        rng,
        &[
            ("routine", 62),
            ("policy", 14),
            ("problem", 10),
            ("follow_up", 9),
            // Only a household marked pre-exit is verified for exit.
            (
                "exit_verification",
                if household.poverty_status == "1" {
                    30
                } else {
                    0
                },
            ),
        ],
    );

    let checklist = checklist(rng, household, &members, day);
    let checklist_education_applies = checklist
        .get("education")
        .is_some_and(|e| e.status != ChecklistStatus::NotApplicable);
    let mut problems: Vec<String> = checklist
        .values()
        .filter(|e| e.status == ChecklistStatus::Problem)
        .filter_map(|e| e.note.clone())
        .take(2)
        .collect();
    let wanted = weighted(rng, &[(0usize, 50), (1, 35), (2, 15)]).max(problems.len());
    for _ in 0..4 {
        if problems.len() >= wanted {
            break;
        }
        let p = text::problem(rng, &household.main_cause);
        if !problems.contains(&p) {
            problems.push(p);
        }
    }

    // The rule is that each visit solves one concrete problem, so problem-solving visits and
    // visits that found something usually record help.
    let min_help = usize::from(kind == "problem" || (!problems.is_empty() && rng.random_bool(0.5)));
    let help_count = weighted(rng, &[(0usize, 45), (1, 40), (2, 15)]).max(min_help);
    let housing_problem = checklist
        .get("housing")
        .is_some_and(|e| e.status == ChecklistStatus::Problem);
    let help: Vec<_> = (0..help_count)
        .map(|i| {
            let category = if i == 0 && housing_problem {
                "housing"
            } else if rng.random_bool(0.5) {
                cause_category(&household.main_cause)
            } else {
                weighted(
                    rng,
                    &[
                        ("industry", 20),
                        ("employment", 8),
                        ("public_post", 4),
                        ("education", 6),
                        ("health", 15),
                        ("housing", 5),
                        ("finance", 6),
                        ("living", 20),
                        ("welfare", 8),
                        ("ecology", 4),
                        ("other", 4),
                    ],
                )
            };
            // Schooling help only where there is a child to help.
            let category = if category == "education" && !checklist_education_applies {
                "living"
            } else {
                category
            };
            text::help(rng, category)
        })
        .collect();

    let follow_up_due = ((!problems.is_empty() && rng.random_bool(0.6))
        || (kind == "follow_up" && rng.random_bool(0.2)))
    .then(|| day.checked_add_signed(Duration::days(i64::from(between(rng, 3, 30)))))
    .flatten();

    let village = region.area(&household.village);
    let village_name = village.map_or("村里", |a| a.name.as_str());
    let facts = DiaryFacts {
        day,
        village: village_name,
        group: household.group_name.as_deref(),
        kind,
        size: members.len().max(1),
        main_cause: &household.main_cause,
        pastoral: village_name.ends_with("嘎查"),
        help_category: help.first().map(|h| h.category.as_str()),
        children: checklist_education_applies,
        follow_up: follow_up_due,
    };
    let diary = text::diary(rng, &facts);

    let content = VisitContent {
        kind: kind.to_string(),
        checklist,
        problems,
        help,
        diary,
        follow_up_due,
        acknowledged: rng.random_bool(0.93),
    };

    let home = household
        .location
        .or_else(|| village.and_then(|a| a.location))
        .unwrap_or(FALLBACK);
    // Most fixes are taken in or just outside the house; a few at the gate of a large yard.
    let u: f64 = rng.random_range(0.0..1.0);
    let distance = 5.0 + 295.0 * u * u;
    let point = offset(home, distance, rng.random_range(0.0..std::f64::consts::TAU));
    let location = Location {
        point,
        accuracy_m: f64::from(between(rng, 50, 500)) / 10.0,
        provider: "gps".to_string(),
        fix_at: WallTime(at.0.saturating_sub(i64::from(between(rng, 2_000, 90_000)))),
    };
    (content, location)
}

/// The measure category that answers a main poverty cause.
fn cause_category(cause: &str) -> &'static str {
    match cause {
        "1" => "health",
        "2" | "8" => "welfare",
        "3" => "education",
        "4" | "6" => "living",
        "9" => "finance",
        "5" => "relocation",
        "7" => "employment",
        _ => "industry",
    }
}

fn age_on(member: &Member, day: NaiveDate) -> Option<u32> {
    member.birth_date.and_then(|b| day.years_since(b))
}

/// The checklist as a cadre fills it in: mostly fine, with problems where the registry gives
/// reason to expect them.
fn checklist<R: Rng + ?Sized>(
    rng: &mut R,
    h: &Household,
    members: &[&Member],
    day: NaiveDate,
) -> Checklist {
    let school_age: Vec<&&Member> = members
        .iter()
        .filter(|m| age_on(m, day).is_some_and(|a| (6..=15).contains(&a)))
        .collect();
    let dropout = school_age
        .iter()
        .any(|m| m.school_status.as_deref() == Some("辍学"));
    let uninsured = members.iter().any(|m| !m.medical_insured);
    let unsafe_house = matches!(h.housing_safety.as_deref(), Some("C" | "D"));
    let well = matches!(h.drinking_water.as_deref(), Some("自备井" | "其他"));

    let mut out = Checklist::new();
    for item in CHECKLIST_ITEMS {
        let p_problem = match item {
            "education" if school_age.is_empty() => {
                out.insert(
                    item.to_string(),
                    ChecklistEntry {
                        status: ChecklistStatus::NotApplicable,
                        note: None,
                    },
                );
                continue;
            }
            "education" if dropout => 0.8,
            "medical" if uninsured => 0.7,
            "housing" if unsafe_house => 0.6,
            "water" if well => 0.08,
            "food" | "clothing" => 0.015,
            _ => 0.025,
        };
        let entry = if rng.random_bool(p_problem) {
            let note = match (item, h.housing_safety.as_deref()) {
                ("housing", Some(grade @ ("C" | "D"))) => {
                    format!("房屋安全等级为{grade}级，需要改造")
                }
                _ => text::checklist_note(rng, item),
            };
            ChecklistEntry {
                status: ChecklistStatus::Problem,
                note: Some(note),
            }
        } else {
            ChecklistEntry {
                status: ChecklistStatus::Ok,
                note: None,
            }
        };
        out.insert(item.to_string(), entry);
    }
    out
}
