//! A tiny hand-made registry for the core's integration tests: one village with three
//! households, an assisting cadre responsible for two of them, and a plate authority.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use chrono::NaiveDate;
use fieldvisit_core::Store;
use fieldvisit_core::clock::{ManualClock, WallTime};
use fieldvisit_core::codes::{CodeKind, HumanCode};
use fieldvisit_core::domain::visit::{ChecklistEntry, ChecklistStatus, Location, VisitContent};
use fieldvisit_core::domain::{
    Area, Assignment, Cadre, GeoPoint, Household, Member, RegistryRecord, VillagePost,
};
use fieldvisit_core::ids::{AssignmentId, CadreId, HouseholdId, MemberId, PostId};
use fieldvisit_core::plate::PlateAuthority;
use fieldvisit_core::store::Enrollment;

/// 2024-06-01T10:00:00+08:00
pub const T0: i64 = 1_717_207_200_000;
pub const VILLAGE: &str = "150726102200";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub store: Store,
    pub authority: PlateAuthority,
    pub households: Vec<Household>,
}

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn household(n: u64, village: &str) -> Household {
    Household {
        id: HouseholdId::new(format!("hh-{n}")).unwrap(),
        code: HumanCode::new(CodeKind::Household, 1000 + n).unwrap(),
        plate_issue: 1,
        village: village.into(),
        group_name: Some("一组".into()),
        head: Some(MemberId::new(format!("m-{n}-1")).unwrap()),
        phone: None,
        ident_standard: None,
        attribute: "1".into(),
        main_cause: "1".into(),
        other_causes: vec!["9".into()],
        poverty_status: "0".into(),
        identified_year: Some(2016),
        exit_year: None,
        housing_area_m2: Some(62.5),
        housing_structure: Some("砖木".into()),
        housing_safety: Some("B".into()),
        drinking_water: None,
        location: Some(GeoPoint {
            lat: 48.2 + n as f64 * 0.001,
            lon: 118.3,
        }),
    }
}

pub fn member(n: u64, name: &str) -> Member {
    Member {
        id: MemberId::new(format!("m-{n}-1")).unwrap(),
        household: HouseholdId::new(format!("hh-{n}")).unwrap(),
        person_code: Some(HumanCode::new(CodeKind::Person, 5000 + n).unwrap()),
        name: name.into(),
        resident_id: Some("11010519491231002X".into()),
        sex: "1".into(),
        birth_date: Some(day("1949-12-31")),
        ethnicity: Some("02".into()),
        relationship: "01".into(),
        education: Some("02".into()),
        school_status: None,
        health: Some("2".into()),
        labour_skill: Some("1".into()),
        work_status: Some("5".into()),
        work_months: Some(0),
        dibao: true,
        wubao: false,
        medical_insured: true,
        serious_illness_insured: true,
    }
}

pub fn cadre(id: &str, role: &str) -> Cadre {
    Cadre {
        id: CadreId::new(id).unwrap(),
        name: "测试干部".into(),
        phone: None,
        work_unit: Some("新巴尔虎左旗财政局".into()),
        title: None,
        rank: None,
        role: role.into(),
    }
}

/// The registry: households 1 and 2 assigned to cadre c-1, household 3 to c-2 only;
/// c-fs is the village's first secretary.
pub fn registry(authority: &PlateAuthority) -> (Vec<RegistryRecord>, Vec<Household>) {
    let households: Vec<Household> = (1..=3).map(|n| household(n, VILLAGE)).collect();
    let mut records = vec![
        RegistryRecord::AuthorityKey(authority.public()),
        RegistryRecord::Area(Area {
            code: VILLAGE.into(),
            name: "巴音敖包嘎查".into(),
            parent: Some("150726102000".into()),
            is_poor_village: true,
            location: Some(GeoPoint {
                lat: 48.2,
                lon: 118.3,
            }),
        }),
        RegistryRecord::Cadre(cadre("c-1", "assisting")),
        RegistryRecord::Cadre(cadre("c-2", "assisting")),
        RegistryRecord::Cadre(cadre("c-fs", "first_secretary")),
    ];
    for h in &households {
        records.push(RegistryRecord::Household(h.clone()));
    }
    for (n, name) in [(1, "巴特尔"), (2, "其其格"), (3, "敖登")] {
        records.push(RegistryRecord::Member(member(n, name)));
    }
    for (id, cadre, hh) in [
        ("a-1", "c-1", "hh-1"),
        ("a-2", "c-1", "hh-2"),
        ("a-3", "c-2", "hh-3"),
    ] {
        records.push(RegistryRecord::Assignment(Assignment {
            id: AssignmentId::new(id).unwrap(),
            cadre: CadreId::new(cadre).unwrap(),
            household: HouseholdId::new(hh).unwrap(),
            from: day("2024-01-01"),
            to: None,
        }));
    }
    records.push(RegistryRecord::VillagePost(VillagePost {
        id: PostId::new("p-1").unwrap(),
        cadre: CadreId::new("c-fs").unwrap(),
        village: VILLAGE.into(),
        from: day("2024-01-01"),
        to: None,
    }));
    (records, households)
}

/// A store enrolled for `cadre`, holding the registry above.
pub fn fixture(cadre: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(WallTime(T0)));
    let store = Store::open_with_clock(dir.path().join("device.db"), clock.clone()).unwrap();
    let authority = PlateAuthority::from_secret(1, [7; 32]);
    let (records, households) = registry(&authority);
    store.apply_registry(&records).unwrap();
    store
        .enroll(&Enrollment {
            cadre: CadreId::new(cadre).unwrap(),
            authority_keys: vec![authority.public()],
            server_url: None,
            token: None,
        })
        .unwrap();
    Fixture {
        dir,
        clock,
        store,
        authority,
        households,
    }
}

pub fn content(diary: &str) -> VisitContent {
    let mut checklist = std::collections::BTreeMap::new();
    for item in ["food", "clothing", "medical", "water"] {
        checklist.insert(
            item.to_string(),
            ChecklistEntry {
                status: ChecklistStatus::Ok,
                note: None,
            },
        );
    }
    checklist.insert(
        "housing".to_string(),
        ChecklistEntry {
            status: ChecklistStatus::Problem,
            note: Some("西屋屋顶漏雨".into()),
        },
    );
    VisitContent {
        kind: "routine".into(),
        checklist,
        problems: vec!["屋顶漏雨，需要维修".into()],
        help: vec![],
        diary: diary.into(),
        follow_up_due: Some(day("2024-06-15")),
        acknowledged: true,
    }
}

pub fn location(h: &Household, at: i64) -> Location {
    let home = h.location.unwrap();
    Location {
        point: GeoPoint {
            lat: home.lat + 0.0005,
            lon: home.lon,
        },
        accuracy_m: 12.0,
        provider: "gps".into(),
        fix_at: WallTime(at - 30_000),
    }
}
