//! Conformance checks for the registry: records round-trip through `put_record` and are
//! replaced by a second one, scope (assignments and village posts) follows their dates to the
//! day, edited fields keep their values and clocks, and field conflicts are logged newest first.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde_json::json;

use fieldvisit_core::clock::{Hlc, ServerTime};
use fieldvisit_core::domain::{Assignment, Household, RegistryRecord, VillagePost};
use fieldvisit_core::ids::{AssignmentId, CadreId, HouseholdId, PostId};
use fieldvisit_core::plate::AuthorityKey;
use fieldvisit_core::protocol::FieldClock;
use fieldvisit_server::storage::{Conflict, Storage};

use super::{T0, device_id, load, sorted};

pub fn registry_round_trips(s: &dyn Storage) {
    let r = load(s);
    let mut tx = s.read().unwrap();
    for h in &r.households {
        assert_eq!(tx.household(&h.id).unwrap().as_ref(), Some(h));
        assert_eq!(tx.household_by_code(&h.code).unwrap().as_ref(), Some(h));
        let mut members: Vec<_> = r
            .members
            .iter()
            .filter(|m| m.household == h.id)
            .cloned()
            .collect();
        members.sort_by(|a, b| (&a.relationship, &a.id).cmp(&(&b.relationship, &b.id)));
        assert_eq!(
            tx.members_of(&h.id).unwrap(),
            members,
            "members of {}",
            h.id
        );
        let mut measures: Vec<_> = r
            .measures
            .iter()
            .filter(|m| m.household == h.id)
            .cloned()
            .collect();
        measures.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
        assert_eq!(tx.measures_of(&h.id).unwrap(), measures);
        let mut assignments: Vec<_> = r
            .assignments
            .iter()
            .filter(|a| a.household == h.id)
            .cloned()
            .collect();
        assignments.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(tx.assignments_of_household(&h.id).unwrap(), assignments);
    }
    for m in &r.members {
        assert_eq!(tx.member(&m.id).unwrap().as_ref(), Some(m));
    }
    for c in &r.cadres {
        assert_eq!(tx.cadre(&c.id).unwrap().as_ref(), Some(c));
        let mut posts: Vec<_> = r
            .posts
            .iter()
            .filter(|p| p.cadre == c.id)
            .cloned()
            .collect();
        posts.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(tx.posts_of_cadre(&c.id).unwrap(), posts);
        let mut assignments: Vec<_> = r
            .assignments
            .iter()
            .filter(|a| a.cadre == c.id)
            .cloned()
            .collect();
        assignments.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(tx.assignments_of_cadre(&c.id).unwrap(), assignments);
    }
    for a in &r.areas {
        assert_eq!(tx.area(&a.code).unwrap().as_ref(), Some(a));
    }
    for a in &r.assignments {
        assert_eq!(tx.assignment(&a.id).unwrap().as_ref(), Some(a));
    }
    for p in &r.posts {
        assert_eq!(tx.post(&p.id).unwrap().as_ref(), Some(p));
    }
    for v in r.areas.iter().filter(|a| a.is_poor_village) {
        let mut expected: Vec<Household> = r
            .households
            .iter()
            .filter(|h| h.village == v.code)
            .cloned()
            .collect();
        expected.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str()));
        assert_eq!(tx.households_of_village(&v.code).unwrap(), expected);
    }
    let mut keys = tx.authority_keys().unwrap();
    keys.sort_by_key(|k| k.key_id);
    assert_eq!(keys, r.authority_keys());
    // The code lists come seeded with the schema, in (list, code) order.
    let codes = tx.code_entries().unwrap();
    assert!(!codes.is_empty());
    let order: Vec<_> = codes.iter().map(|c| (&c.list, &c.code)).collect();
    assert_eq!(order, sorted(&order));
    // Unknown ids answer None / empty, not an error.
    let nobody = HouseholdId::new("no-such-household").unwrap();
    assert_eq!(tx.household(&nobody).unwrap(), None);
    assert!(tx.members_of(&nobody).unwrap().is_empty());
    assert_eq!(
        tx.cadre(&CadreId::new("no-such-cadre").unwrap()).unwrap(),
        None
    );
    assert_eq!(tx.area("000000000000").unwrap(), None);
}

pub fn registry_upserts_replace(s: &dyn Storage) {
    let r = load(s);
    let mut h = r.households[0].clone();
    h.plate_issue += 1;
    h.phone = None;
    h.other_causes = vec![];
    h.housing_area_m2 = Some(81.25);
    let mut m = r.members[0].clone();
    m.dibao = !m.dibao;
    m.birth_date = NaiveDate::from_ymd_opt(1961, 2, 28);
    let mut c = r.cadres[0].clone();
    c.title = Some("第一书记".into());
    let key = AuthorityKey {
        key_id: 9,
        public_key: [7; 32],
    };
    let mut tx = s.write().unwrap();
    for rec in [
        RegistryRecord::Household(h.clone()),
        RegistryRecord::Member(m.clone()),
        RegistryRecord::Cadre(c.clone()),
        RegistryRecord::AuthorityKey(key),
        RegistryRecord::AuthorityKey(AuthorityKey {
            key_id: 9,
            public_key: [8; 32],
        }),
    ] {
        tx.put_record(&rec).unwrap();
    }
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(tx.household(&h.id).unwrap(), Some(h));
    assert_eq!(tx.member(&m.id).unwrap(), Some(m));
    assert_eq!(tx.cadre(&c.id).unwrap(), Some(c));
    let keys = tx.authority_keys().unwrap();
    assert_eq!(keys.iter().filter(|k| k.key_id == 9).count(), 1);
    assert!(keys.contains(&AuthorityKey {
        key_id: 9,
        public_key: [8; 32],
    }));
}

pub fn scope_follows_the_dates(s: &dyn Storage) {
    let r = load(s);
    let cadre = r
        .cadres
        .iter()
        .find(|c| r.posts.iter().all(|p| p.cadre != c.id))
        .unwrap()
        .id
        .clone();
    let day = |m: u32, d: u32| NaiveDate::from_ymd_opt(2030, m, d).unwrap();
    let before = r.spec.start.pred_opt().unwrap();
    let mine: BTreeSet<HouseholdId> = r
        .assignments
        .iter()
        .filter(|a| a.cadre == cadre)
        .map(|a| a.household.clone())
        .collect();
    let other = r
        .households
        .iter()
        .find(|h| !mine.contains(&h.id))
        .unwrap()
        .clone();
    // A dated assignment, both ends inclusive, and a village post ending on a date.
    let post_village = r
        .areas
        .iter()
        .find(|a| a.is_poor_village && a.code != other.village)
        .unwrap()
        .code
        .clone();
    let mut tx = s.write().unwrap();
    tx.put_record(&RegistryRecord::Assignment(Assignment {
        id: AssignmentId::new("conf-a1").unwrap(),
        cadre: cadre.clone(),
        household: other.id.clone(),
        from: day(3, 1),
        to: Some(day(3, 31)),
    }))
    .unwrap();
    tx.put_record(&RegistryRecord::VillagePost(VillagePost {
        id: PostId::new("conf-p1").unwrap(),
        cadre: cadre.clone(),
        village: post_village.clone(),
        from: day(5, 1),
        to: Some(day(5, 2)),
    }))
    .unwrap();
    tx.commit().unwrap();

    let mut tx = s.read().unwrap();
    assert!(tx.households_in_scope(&cadre, before).unwrap().is_empty());
    let in_feb: Vec<_> = tx.households_in_scope(&cadre, day(2, 28)).unwrap();
    assert_eq!(in_feb, mine.iter().cloned().collect::<Vec<_>>());
    assert!(!tx.in_scope(&cadre, &other.id, day(2, 28)).unwrap());
    for d in [day(3, 1), day(3, 15), day(3, 31)] {
        assert!(tx.in_scope(&cadre, &other.id, d).unwrap(), "{d}");
        assert!(tx.cadres_in_scope(&other.id, d).unwrap().contains(&cadre));
        let scope = tx.households_in_scope(&cadre, d).unwrap();
        assert!(scope.contains(&other.id));
        assert_eq!(scope, sorted(&scope), "ordered by id");
    }
    assert!(!tx.in_scope(&cadre, &other.id, day(4, 1)).unwrap());
    assert!(
        !tx.cadres_in_scope(&other.id, day(4, 1))
            .unwrap()
            .contains(&cadre)
    );
    // The post covers every household of its village on its two days only.
    let village: BTreeSet<HouseholdId> = r
        .households
        .iter()
        .filter(|h| h.village == post_village)
        .map(|h| h.id.clone())
        .collect();
    let on_post: BTreeSet<_> = tx
        .households_in_scope(&cadre, day(5, 2))
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(on_post, village.union(&mine).cloned().collect());
    let after: BTreeSet<_> = tx
        .households_in_scope(&cadre, day(5, 3))
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(after, mine);
    let h = village.iter().next().unwrap();
    assert!(tx.in_scope(&cadre, h, day(5, 1)).unwrap());
    let cadres = tx.cadres_in_scope(h, day(5, 1)).unwrap();
    assert!(cadres.contains(&cadre));
    assert_eq!(cadres, sorted(&cadres), "ordered by id");
}

pub fn field_values_and_clocks(s: &dyn Storage) {
    let r = load(s);
    let h = r.households[0].id.as_str().to_string();
    let m = r.members[0].id.as_str().to_string();
    let clock = |n: i64, d: u8| FieldClock {
        hlc: Hlc::from_i64(n),
        device: device_id(d),
    };
    let cases = [
        ("household", h.as_str(), "phone", json!("13900000001")),
        ("household", h.as_str(), "housing_area_m2", json!(64.5)),
        ("household", h.as_str(), "group_name", json!(null)),
        ("member", m.as_str(), "name", json!("乌云其木格")),
        ("member", m.as_str(), "birth_date", json!("1958-07-01")),
        ("member", m.as_str(), "work_months", json!(7)),
        ("member", m.as_str(), "dibao", json!(true)),
        ("member", m.as_str(), "wubao", json!(false)),
        ("member", m.as_str(), "education", json!(null)),
    ];
    let mut tx = s.write().unwrap();
    assert!(tx.field_clocks("household", &h).unwrap().is_empty());
    for (i, (entity, id, field, value)) in cases.iter().enumerate() {
        let n = i64::try_from(i).unwrap();
        tx.set_field(entity, id, field, value, &clock(100 + n, 1))
            .unwrap();
        assert_eq!(
            &tx.field_value(entity, id, field).unwrap(),
            value,
            "{field}"
        );
    }
    // A later write replaces the value and the clock.
    tx.set_field(
        "household",
        &h,
        "phone",
        &json!("13900000002"),
        &clock(500, 2),
    )
    .unwrap();
    tx.commit().unwrap();

    let mut tx = s.read().unwrap();
    assert_eq!(
        tx.field_value("household", &h, "phone").unwrap(),
        json!("13900000002")
    );
    let clocks = tx.field_clocks("household", &h).unwrap();
    assert_eq!(clocks.len(), 3);
    assert_eq!(clocks["phone"], clock(500, 2));
    assert_eq!(clocks["housing_area_m2"], clock(101, 1));
    let member_clocks = tx.field_clocks("member", &m).unwrap();
    assert_eq!(member_clocks.len(), 6);
    assert_eq!(member_clocks["dibao"], clock(106, 1));
    // The registry row shows the edits.
    let member = tx
        .member(&fieldvisit_core::ids::MemberId::new(m.clone()).unwrap())
        .unwrap()
        .unwrap();
    assert!(member.dibao && !member.wubao);
    assert_eq!(member.work_months, Some(7));
    assert_eq!(member.education, None);
    // Fields that are not editable are refused; an unknown row reads as null.
    assert!(tx.field_value("household", &h, "village").is_err());
    assert_eq!(
        tx.field_value("household", "no-such-household", "phone")
            .unwrap(),
        json!(null)
    );
    drop(tx);
    let mut tx = s.write().unwrap();
    assert!(
        tx.set_field("household", &h, "poverty_status", &json!("x"), &clock(1, 1))
            .is_err()
    );
}

pub fn conflicts_newest_first(s: &dyn Storage) {
    let conflict = |i: i64| Conflict {
        entity: "household".into(),
        entity_id: format!("h-{i}"),
        field: "phone".into(),
        losing_value: json!({"text": "139", "n": i, "list": [1, 2.5, null]}),
        losing_clock: FieldClock {
            hlc: Hlc::from_i64(i),
            device: device_id(1),
        },
        winning_value: json!(null),
        winning_clock: FieldClock {
            hlc: Hlc::from_i64(i + 1),
            device: device_id(2),
        },
        at: ServerTime(T0 + i),
    };
    let mut tx = s.write().unwrap();
    assert!(tx.conflicts(10).unwrap().is_empty());
    for i in 0..5 {
        tx.log_conflict(&conflict(i)).unwrap();
    }
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(
        tx.conflicts(3).unwrap(),
        vec![conflict(4), conflict(3), conflict(2)]
    );
    assert_eq!(tx.conflicts(usize::MAX).unwrap().len(), 5);
}
