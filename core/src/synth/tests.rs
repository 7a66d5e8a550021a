use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Instant;

use chrono::NaiveDate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::domain::visit::ChecklistStatus;
use crate::domain::{CodeLists, codelist};
use crate::plate::verify_plate;
use crate::validate;

fn codes() -> HashSet<(String, String)> {
    codelist::seed().map(|e| (e.list, e.code)).collect()
}

/// The full city, generated once for all the tests that need it.
fn city() -> &'static Region {
    static CITY: OnceLock<Region> = OnceLock::new();
    CITY.get_or_init(|| {
        let started = Instant::now();
        let region = Region::generate(RegionSpec::hulunbuir(1));
        eprintln!("hulunbuir(1) generated in {:?}", started.elapsed());
        region
    })
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

fn age(birth: NaiveDate, on: NaiveDate) -> u32 {
    on.years_since(birth).unwrap()
}

#[test]
fn synth_same_seed_gives_identical_region_and_different_seed_differs() {
    let a = Region::generate(RegionSpec::small(7));
    let b = Region::generate(RegionSpec::small(7));
    assert_eq!(json(&a.households), json(&b.households));
    assert_eq!(json(&a.members), json(&b.members));
    assert_eq!(json(&a.areas), json(&b.areas));
    assert_eq!(json(&a.cadres), json(&b.cadres));
    assert_eq!(json(&a.assignments), json(&b.assignments));
    assert_eq!(json(&a.posts), json(&b.posts));
    assert_eq!(json(&a.measures), json(&b.measures));
    assert_eq!(a.authority_keys(), b.authority_keys());
    assert_eq!(a.plate(&a.households[0]), b.plate(&b.households[0]));

    let c = Region::generate(RegionSpec::small(8));
    assert_ne!(json(&a.households), json(&c.households));
    assert_ne!(json(&a.members), json(&c.members));
    assert_ne!(a.authority_keys(), c.authority_keys());
}

#[test]
fn synth_small_region_keeps_its_invariants() {
    let region = Region::generate(RegionSpec::small(3));
    let codes = codes();
    let spec = region.spec;
    assert_eq!(region.households.len(), spec.households);
    assert_eq!(region.cadres.len(), spec.cadres);
    let villages: Vec<&Area> = region.areas.iter().filter(|a| a.is_poor_village).collect();
    assert_eq!(villages.len(), spec.villages);

    // Areas: parents exist and come first; village codes are township + 200 and up.
    let mut seen = HashSet::new();
    for area in &region.areas {
        validate::area_code("code", &area.code).unwrap();
        if let Some(parent) = &area.parent {
            assert!(
                area.code == super::geo::CITY_CODE || seen.contains(parent.as_str()),
                "{area:?}"
            );
        }
        seen.insert(area.code.as_str());
        let point = area.location.unwrap();
        assert!((47.0..=53.3).contains(&point.lat) && (115.5..=126.0).contains(&point.lon));
    }
    for v in &villages {
        validate::area_code_of_level("v", &v.code, validate::AreaLevel::Village).unwrap();
        assert!(v.code[9..].parse::<u32>().unwrap() >= 200);
        assert!(
            v.name.ends_with('村') || v.name.ends_with("嘎查"),
            "{}",
            v.name
        );
    }
    assert_eq!(
        region
            .areas
            .iter()
            .filter(|a| a.code.ends_with("000000")
                && a.parent.as_deref() == Some(super::geo::CITY_CODE))
            .count(),
        14
    );

    // Households and members.
    let household_codes: HashSet<_> = region.households.iter().map(|h| h.code.clone()).collect();
    assert_eq!(household_codes.len(), region.households.len());
    let mut by_household: HashMap<&HouseholdId, Vec<&Member>> = HashMap::new();
    for m in &region.members {
        m.validate(&codes).unwrap();
        let id = m.resident_id.as_deref().unwrap();
        validate::resident_id("resident_id", id).unwrap();
        let birth = m.birth_date.unwrap();
        assert_eq!(&id[6..14], birth.format("%Y%m%d").to_string());
        let seq: u32 = id[14..17].parse().unwrap();
        assert_eq!(seq % 2 == 1, m.sex == "1", "{id}");
        by_household.entry(&m.household).or_default().push(m);
    }
    for h in &region.households {
        h.validate(&codes).unwrap();
        assert!(
            region
                .areas
                .iter()
                .any(|a| a.code == h.village && a.is_poor_village)
        );
        let members = &by_household[&h.id];
        assert!((1..=6).contains(&members.len()));
        let head = members[0];
        assert_eq!(h.head.as_ref(), Some(&head.id));
        assert_eq!(head.relationship, "01");
        assert!(
            (35..=80).contains(&age(head.birth_date.unwrap(), spec.start)),
            "{head:?}"
        );
        let county = &h.village[..6];
        for m in members {
            assert_eq!(&m.resident_id.as_deref().unwrap()[..6], county);
            let a = age(m.birth_date.unwrap(), spec.start);
            let head_age = age(head.birth_date.unwrap(), spec.start);
            match m.relationship.as_str() {
                "03" | "04" | "07" | "08" => assert!(a + 18 <= head_age, "{m:?} / {head:?}"),
                "11" | "12" => assert!(a >= head_age + 18, "{m:?} / {head:?}"),
                _ => {}
            }
        }
        let village = region.areas.iter().find(|a| a.code == h.village).unwrap();
        let d = h.location.unwrap().distance_m(&village.location.unwrap());
        assert!(d <= 1_510.0, "{d}");
    }

    // Cadres, assignments and posts.
    let mut load: HashMap<&CadreId, Vec<&Assignment>> = HashMap::new();
    let mut cover: HashMap<&HouseholdId, usize> = HashMap::new();
    let role: HashMap<&CadreId, &str> = region
        .cadres
        .iter()
        .map(|c| (&c.id, c.role.as_str()))
        .collect();
    for c in &region.cadres {
        assert!(codes.has("cadre_role", &c.role));
        assert!(c.phone.is_none());
        assert!(c.work_unit.is_some());
    }
    for a in &region.assignments {
        assert_eq!(role[&a.cadre], "assisting");
        assert_eq!((a.from, a.to), (spec.start, None));
        load.entry(&a.cadre).or_default().push(a);
        *cover.entry(&a.household).or_default() += 1;
    }
    for h in &region.households {
        assert!((1..=3).contains(cover.get(&h.id).unwrap_or(&0)), "{}", h.id);
    }
    let village_of: HashMap<&HouseholdId, &str> = region
        .households
        .iter()
        .map(|h| (&h.id, h.village.as_str()))
        .collect();
    for (cadre, list) in &load {
        assert!(list.len() <= MAX_HOUSEHOLDS_PER_CADRE, "{cadre}");
        let villages: HashSet<&str> = list.iter().map(|a| village_of[&a.household]).collect();
        assert_eq!(villages.len(), 1, "{cadre}");
        let distinct: HashSet<_> = list.iter().map(|a| &a.household).collect();
        assert_eq!(distinct.len(), list.len());
    }
    assert_eq!(
        load.len(),
        region
            .cadres
            .iter()
            .filter(|c| c.role == "assisting")
            .count()
    );
    for v in &villages {
        assert!(
            region
                .posts
                .iter()
                .any(|p| p.village == v.code && role[&p.cadre] == "first_secretary")
        );
    }

    for m in &region.measures {
        assert!(codes.has("measure_category", &m.category));
        assert!(m.date < spec.start && m.date >= spec.start - chrono::Duration::days(366));
        assert!(m.content.chars().count() >= 2);
    }
    let ids: HashSet<&str> = region.measures.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids.len(), region.measures.len());
}

#[test]
fn synth_hulunbuir_has_the_real_scale() {
    let region = city();
    assert_eq!(region.households.len(), 25_660);
    assert_eq!(region.cadres.len(), 16_360);
    assert_eq!(
        region.areas.iter().filter(|a| a.is_poor_village).count(),
        280
    );
    assert!(
        (55_000..=68_000).contains(&region.members.len()),
        "{}",
        region.members.len()
    );
    assert_eq!(
        region
            .cadres
            .iter()
            .filter(|c| c.role == "first_secretary")
            .count(),
        390
    );
    assert_eq!(region.posts.len(), 390);
    let posted: HashSet<&str> = region.posts.iter().map(|p| p.village.as_str()).collect();
    assert_eq!(posted.len(), 280);

    let codes: HashSet<_> = region.households.iter().map(|h| &h.code).collect();
    assert_eq!(codes.len(), region.households.len());
    let person_codes: HashSet<_> = region
        .members
        .iter()
        .filter_map(|m| m.person_code.as_ref())
        .collect();
    assert_eq!(person_codes.len(), region.members.len());
    let ids: HashSet<_> = region
        .members
        .iter()
        .filter_map(|m| m.resident_id.as_ref())
        .collect();
    assert_eq!(ids.len(), region.members.len());

    // Every household covered, nobody over five, poor banners carry most villages.
    let mut cover: HashMap<&HouseholdId, usize> = HashMap::new();
    let mut load: HashMap<&CadreId, usize> = HashMap::new();
    for a in &region.assignments {
        *cover.entry(&a.household).or_default() += 1;
        *load.entry(&a.cadre).or_default() += 1;
    }
    assert_eq!(cover.len(), region.households.len());
    assert!(cover.values().all(|&n| (1..=3).contains(&n)));
    assert!(
        load.values()
            .all(|&n| (1..=MAX_HOUSEHOLDS_PER_CADRE).contains(&n))
    );
    let poor_banners = ["150721", "150722", "150723", "150724", "150726", "150783"];
    let in_poor = region
        .households
        .iter()
        .filter(|h| poor_banners.contains(&&h.village[..6]))
        .count();
    assert!(in_poor * 10 > region.households.len() * 8, "{in_poor}");

    // The four main causes make up about 84%.
    let main4 = region
        .households
        .iter()
        .filter(|h| ["1", "7", "8", "9"].contains(&h.main_cause.as_str()))
        .count();
    let share = main4 as f64 / region.households.len() as f64;
    assert!((0.82..0.87).contains(&share), "{share}");
}

#[test]
fn synth_plates_verify_against_the_region_keys() {
    let region = Region::generate(RegionSpec::small(11));
    let keys = region.authority_keys();
    assert_eq!(keys, vec![region.authority().public()]);
    assert_eq!(region.authority().key_id(), 1);
    let (key_id, secret) = region.authority_secret();
    assert_eq!(
        crate::plate::PlateAuthority::from_secret(key_id, secret).public(),
        region.authority().public()
    );
    for h in &region.households {
        let plate = verify_plate(&region.plate(h), &keys).unwrap();
        assert_eq!(plate.code, h.code);
        assert_eq!(plate.issue, h.plate_issue);
    }
    // A sample of the city's plates, including reissued ones.
    let city = city();
    let keys = city.authority_keys();
    assert!(city.households.iter().any(|h| h.plate_issue == 2));
    for h in city.households.iter().step_by(997).chain(
        city.households
            .iter()
            .filter(|h| h.plate_issue == 2)
            .take(5),
    ) {
        assert_eq!(verify_plate(&city.plate(h), &keys).unwrap().code, h.code);
    }
    // Another seed's plates do not verify here.
    let other = Region::generate(RegionSpec::small(12));
    assert!(verify_plate(&other.plate(&other.households[0]), &region.authority_keys()).is_err());
}

#[test]
fn synth_visits_pass_validation_and_vary() {
    let region = Region::generate(RegionSpec::small(5));
    let codes = codes();
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    // 2019-03-04T09:00:00+08:00, then one visit every 7 hours and a bit.
    let start = 1_551_661_200_000i64;
    let mut diaries = HashSet::new();
    let mut kinds = BTreeMap::new();
    let mut total = 0;
    for round in 0..12i64 {
        for (i, h) in region.households.iter().enumerate() {
            let at = WallTime(start + (round * 40 + i as i64) * 25_321_000);
            let day = at.local_date();
            let (content, location) = region.visit(&mut rng, h, at);
            let content = content.checked(&codes, day).unwrap();
            location.validate(at).unwrap();
            assert!(location.fix_at < at);
            assert!((5.0..=50.0).contains(&location.accuracy_m));
            assert_eq!(location.provider, "gps");
            let d = location.point.distance_m(&h.location.unwrap());
            assert!((4.9..=300.5).contains(&d), "{d}");

            assert_eq!(content.checklist.len(), 6);
            let children = region
                .members
                .iter()
                .filter(|m| m.household == h.id)
                .any(|m| (6..=15).contains(&age(m.birth_date.unwrap(), day)));
            let education = content.checklist["education"].status;
            assert_eq!(education == ChecklistStatus::NotApplicable, !children);
            assert!(content.problems.len() <= 2 && content.help.len() <= 2);
            let n = content.diary.chars().count();
            assert!((20..=120).contains(&n), "{n}: {}", content.diary);
            if let Some(due) = content.follow_up_due {
                assert!(due > day && due <= day + chrono::Duration::days(30));
            }
            *kinds.entry(content.kind.clone()).or_insert(0) += 1;
            diaries.insert(content.diary);
            total += 1;
        }
    }
    assert!(
        diaries.len() * 100 >= total * 90,
        "{} distinct of {total}",
        diaries.len()
    );
    assert!(kinds["routine"] * 2 > total, "{kinds:?}");
}

#[test]
fn synth_registry_for_a_first_secretary_holds_the_whole_village() {
    let region = Region::generate(RegionSpec::small(4));
    let day = region.spec.start + chrono::Duration::days(30);
    let post = &region.posts[0];
    let records = region.registry_for(&post.cadre, day);

    let village_households: HashSet<&str> = region
        .households
        .iter()
        .filter(|h| h.village == post.village)
        .map(|h| h.id.as_str())
        .collect();
    let mut households = HashSet::new();
    let mut members = 0;
    let mut areas = HashSet::new();
    let mut rank_seen = 0;
    for r in &records {
        // Records come in dependency order: keys, areas, cadre, households, members, ...
        let rank = match r {
            RegistryRecord::AuthorityKey(_) => 0,
            RegistryRecord::Area(a) => {
                if let Some(p) = &a.parent {
                    assert!(areas.contains(p.as_str()) || a.code == super::geo::CITY_CODE);
                }
                areas.insert(a.code.as_str());
                1
            }
            RegistryRecord::Cadre(c) => {
                assert_eq!(c.id, post.cadre);
                2
            }
            RegistryRecord::Household(h) => {
                households.insert(h.id.as_str());
                3
            }
            RegistryRecord::Member(m) => {
                assert!(households.contains(m.household.as_str()));
                members += 1;
                4
            }
            RegistryRecord::Measure(m) => {
                assert!(households.contains(m.household.as_str()));
                5
            }
            RegistryRecord::Assignment(_) => 6,
            RegistryRecord::VillagePost(p) => {
                assert_eq!(p.village, post.village);
                7
            }
            RegistryRecord::Code(_) => panic!("code lists are seeded by stores"),
        };
        assert!(rank >= rank_seen, "{r:?}");
        rank_seen = rank;
    }
    assert_eq!(households, village_households);
    assert_eq!(
        members,
        region
            .members
            .iter()
            .filter(|m| village_households.contains(m.household.as_str()))
            .count()
    );
    assert!(areas.contains(post.village.as_str()));
    assert!(areas.contains(super::geo::CITY_CODE));
    assert!(areas.contains(format!("{}000000", &post.village[..6]).as_str()));
    assert!(areas.contains(format!("{}000", &post.village[..9]).as_str()));
    assert_eq!(
        region.households_of(&post.cadre, day).len(),
        village_households.len()
    );

    // Before the start nothing is in scope; an unknown cadre gets nothing at all.
    assert!(
        region
            .households_of(&post.cadre, region.spec.start - chrono::Duration::days(1))
            .is_empty()
    );
    assert!(
        region
            .registry_for(&CadreId::new("c-nobody").unwrap(), day)
            .is_empty()
    );
}

#[test]
fn synth_registry_for_an_assisting_cadre_holds_its_households() {
    let region = Region::generate(RegionSpec::small(4));
    let day = region.spec.start;
    let cadre = region
        .cadres
        .iter()
        .find(|c| c.role == "assisting")
        .unwrap();
    let mine: Vec<&str> = region
        .assignments
        .iter()
        .filter(|a| a.cadre == cadre.id)
        .map(|a| a.household.as_str())
        .collect();
    let scope: Vec<&str> = region
        .households_of(&cadre.id, day)
        .iter()
        .map(|h| h.id.as_str())
        .collect();
    let mut sorted = mine.clone();
    sorted.sort_unstable();
    assert_eq!(scope, sorted);
    let records = region.registry_for(&cadre.id, day);
    let assignments = records
        .iter()
        .filter(|r| matches!(r, RegistryRecord::Assignment(_)))
        .count();
    assert_eq!(assignments, mine.len());
    assert!(
        records
            .iter()
            .all(|r| !matches!(r, RegistryRecord::VillagePost(_)))
    );
}

#[test]
fn synth_township_table_parses_completely() {
    let townships = super::geo::townships();
    let rows = include_str!("../../data/hulunbuir_townships.csv")
        .lines()
        .count()
        - 1;
    assert_eq!(townships.len(), rows);
    assert_eq!(
        super::geo::split_csv(r#"150702001,"正阳街道",150702"#),
        ["150702001", "正阳街道", "150702"]
    );
    assert_eq!(
        super::geo::split_csv(r#"1,"a,""b""",2"#),
        ["1", r#"a,"b""#, "2"]
    );
}

#[test]
fn synth_helpers_are_exact() {
    assert_eq!(super::people::check_char("11010519491231002"), Some('X'));
    assert_eq!(super::people::check_char("44052418800101001"), Some('4'));
    assert_eq!(super::people::check_char("4405241880010100"), None);

    let codes: HashSet<u64> = (0..200_000).map(|n| scatter(n, 0xDEAD_BEEF)).collect();
    assert_eq!(codes.len(), 200_000);
    assert!(codes.iter().all(|&c| c < 1 << 40));

    let parts = allocate(25_660, &[0.7, 1.3, 0.9, 1.1, 0.0]);
    assert_eq!(parts.iter().sum::<usize>(), 25_660);
    assert_eq!(parts[4], 0);
    assert_eq!(allocate(3, &[70.0, 50.0, 45.0, 45.0]), [1, 1, 1, 0]);
    assert_eq!(allocate(5, &[0.0, 0.0]), [0, 0]);
}

#[test]
fn synth_region_is_debuggable_without_dumping_records() {
    let region = Region::generate(RegionSpec::small(1));
    let text = format!("{region:?}");
    assert!(text.contains("households: 40"), "{text}");
    assert!(text.len() < 1_000);
}
