//! The storage conformance suite: every test takes a fresh, empty `&dyn Storage` and checks
//! what the `Storage` and `Tx` traits promise, so that every backend gives the sync protocol
//! the same answers. `storage_conformance_sqlite.rs` runs it on the embedded backend and
//! `storage_conformance_postgres.rs` on PostgreSQL; [`conformance_suite!`] makes one `#[test]`
//! per function below, so a new check is added to every backend at once.

#![allow(clippy::unwrap_used, dead_code)]

mod admin;
pub use admin::*;
mod photos;
pub use photos::*;
mod exit_procedure;
pub use exit_procedure::*;

use std::collections::BTreeSet;

use chrono::NaiveDate;
use ed25519_dalek::SigningKey;
use serde_json::json;

use fieldvisit_core::clock::{Hlc, ServerTime, WallTime};
use fieldvisit_core::domain::{Assignment, Household, RegistryRecord, VillagePost};
use fieldvisit_core::ids::{AssignmentId, CadreId, DeviceId, HouseholdId, OpId, PostId, VisitId};
use fieldvisit_core::journal::{ChainPoint, Operation, UnsignedOperation};
use fieldvisit_core::plate::{AuthorityKey, PlateAuthority};
use fieldvisit_core::sync::protocol::{FieldClock, RejectCode};
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::storage::{
    AdminLogEntry, Conflict, DeviceRecord, FeedItem, Outcome, ServerVisit, Storage,
    StoredDictionary,
};

/// Makes one `#[test]` per conformance check, each on a fresh storage from `$with`, a
/// function `fn(impl FnOnce(&dyn Storage))` that makes the storage, runs the check, and
/// cleans up (or says why it skipped).
#[macro_export]
macro_rules! conformance_suite {
    ($with:path) => {
        $crate::conformance_suite!(@tests $with;
            registry_round_trips,
            registry_upserts_replace,
            scope_follows_the_dates,
            field_values_and_clocks,
            conflicts_newest_first,
            enrollment_codes_redeem_once,
            devices_upsert_revoke_and_token,
            journal_round_trips_byte_for_byte,
            journal_outcomes_and_counts,
            server_seq_increases_in_commit_order,
            visits,
            feeds,
            savepoint_rollback_undoes_only_the_inner_work,
            dropped_write_rolls_back,
            writers_are_serialised,
            reads_see_a_snapshot,
            dictionaries,
            admin_log_is_append_only,
            authority_secrets,
            admin_users_are_unique_and_listed_by_name,
            disabling_an_admin_keeps_the_account_and_ends_its_sessions,
            login_failures_are_counted_and_cleared,
            admin_sessions_touch_end_and_expire,
            a_dropped_write_creates_no_admin,
            photo_links_are_idempotent_and_listed_by_visit,
            photo_chunks_are_replaced_listed_and_taken,
            photos_are_stored_once_per_hash,
            dropped_photo_writes_leave_nothing,
            exit_events_round_trip_per_household_in_recorded_order,
            a_dropped_write_records_no_exit_event
        );
    };
    (@tests $with:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $with(|storage| conformance::$name(storage));
            }
        )*
    };
}

const T0: i64 = 1_700_000_000_000;

fn region() -> Region {
    Region::generate(RegionSpec::small(7))
}

fn records(r: &Region) -> Vec<RegistryRecord> {
    let mut out = Vec::new();
    out.extend(r.areas.iter().cloned().map(RegistryRecord::Area));
    out.extend(r.cadres.iter().cloned().map(RegistryRecord::Cadre));
    out.extend(r.households.iter().cloned().map(RegistryRecord::Household));
    out.extend(r.members.iter().cloned().map(RegistryRecord::Member));
    out.extend(
        r.assignments
            .iter()
            .cloned()
            .map(RegistryRecord::Assignment),
    );
    out.extend(r.posts.iter().cloned().map(RegistryRecord::VillagePost));
    out.extend(r.measures.iter().cloned().map(RegistryRecord::Measure));
    out.extend(
        r.authority_keys()
            .into_iter()
            .map(RegistryRecord::AuthorityKey),
    );
    out
}

/// Loads the small region through `put_record` in one committed write.
fn load(s: &dyn Storage) -> Region {
    let r = region();
    let mut tx = s.write().unwrap();
    for rec in records(&r) {
        tx.put_record(&rec).unwrap();
    }
    tx.commit().unwrap();
    r
}

fn device_id(n: u8) -> DeviceId {
    DeviceId::from_bytes([n; 16])
}

fn device(n: u8, cadre: &CadreId) -> DeviceRecord {
    DeviceRecord {
        id: device_id(n),
        cadre: cadre.clone(),
        public_key: SigningKey::from_bytes(&[n; 32]).verifying_key().to_bytes(),
        enrolled_at: ServerTime(T0 + i64::from(n)),
        revoked: None,
        head: ChainPoint::START,
        app_version: Some("1.0".into()),
        last_sync_at: None,
        pending_reported: 0,
        clock_skew_ms: 0,
        retiring: None,
    }
}

fn token(n: u8) -> [u8; 32] {
    [n.wrapping_add(100); 32]
}

fn add_device(s: &dyn Storage, n: u8, cadre: &CadreId) -> DeviceRecord {
    let d = device(n, cadre);
    let mut tx = s.write().unwrap();
    tx.upsert_device(&d, &token(n)).unwrap();
    tx.commit().unwrap();
    d
}

/// A chain of signed operations for device `n`; payloads keep odd whitespace and non-ASCII
/// text, which must come back byte for byte.
fn chain(n: u8, len: u64, kind: &str) -> Vec<Operation> {
    let key = SigningKey::from_bytes(&[n; 32]);
    let mut head = ChainPoint::START;
    let mut hlc = Hlc::ZERO;
    (1..=len)
        .map(|seq| {
            let wall = WallTime(T0 + i64::try_from(seq).unwrap() * 1000);
            hlc = Hlc::tick(hlc, wall);
            let mut id = [0u8; 16];
            id[0] = n;
            id[8..].copy_from_slice(&seq.to_be_bytes());
            let op = UnsignedOperation {
                id: OpId::from_bytes(id),
                device: device_id(n),
                seq,
                hlc,
                wall,
                kind: kind.into(),
                payload: format!("{{ \"n\":{seq},  \"note\": \"入户 ✓\"\t}}"),
                prev_hash: head.hash,
            }
            .sign(&key);
            head = ChainPoint {
                seq,
                hash: op.digest(),
            };
            op
        })
        .collect()
}

fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------

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

pub fn enrollment_codes_redeem_once(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let code = [1u8; 32];
    let mut tx = s.write().unwrap();
    tx.insert_enrollment_code(&code, &cadre, ServerTime(T0), ServerTime(T0 + 1000))
        .unwrap();
    tx.insert_enrollment_code(&[2; 32], &cadre, ServerTime(T0), ServerTime(T0 + 1000))
        .unwrap();
    // The same code twice is refused.
    tx.commit().unwrap();
    let mut tx = s.write().unwrap();
    assert!(
        tx.insert_enrollment_code(&code, &cadre, ServerTime(T0), ServerTime(T0 + 1))
            .is_err()
    );
    drop(tx);
    let mut tx = s.write().unwrap();
    let (a, b) = (device_id(1), device_id(2));
    assert_eq!(
        tx.redeem_enrollment_code(&[9; 32], &a, ServerTime(T0))
            .unwrap(),
        None,
        "unknown code"
    );
    assert_eq!(
        tx.redeem_enrollment_code(&code, &a, ServerTime(T0 + 10))
            .unwrap(),
        Some(cadre.clone())
    );
    assert_eq!(
        tx.redeem_enrollment_code(&code, &a, ServerTime(T0 + 20))
            .unwrap(),
        Some(cadre.clone()),
        "the same device again (its first answer may have been lost)"
    );
    assert_eq!(
        tx.redeem_enrollment_code(&code, &b, ServerTime(T0 + 30))
            .unwrap(),
        None,
        "another device"
    );
    assert_eq!(
        tx.redeem_enrollment_code(&code, &a, ServerTime(T0 + 1000))
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        tx.redeem_enrollment_code(&[2; 32], &b, ServerTime(T0 + 1000))
            .unwrap(),
        None,
        "expired before first use"
    );
    tx.commit().unwrap();
}

pub fn devices_upsert_revoke_and_token(s: &dyn Storage) {
    let c1 = CadreId::new("cadre-1").unwrap();
    let c2 = CadreId::new("cadre-2").unwrap();
    let d1 = add_device(s, 1, &c1);
    let d2 = add_device(s, 2, &c2);
    let d3 = add_device(s, 3, &c1);
    let mut tx = s.write().unwrap();
    assert_eq!(tx.device(&d1.id).unwrap(), Some(d1.clone()));
    assert_eq!(tx.device_by_token(&token(2)).unwrap(), Some(d2.clone()));
    assert_eq!(tx.device_by_token(&[0; 32]).unwrap(), None);
    assert_eq!(tx.device(&device_id(99)).unwrap(), None);
    tx.record_sync(&d1.id, ServerTime(T0 + 50), "1.1", 12, -3_000)
        .unwrap();
    let head = ChainPoint {
        seq: 4,
        hash: [4; 32],
    };
    tx.set_device_head(&d1.id, &head).unwrap();
    assert!(
        tx.revoke_device(&d3.id, ServerTime(T0 + 60), "lost")
            .unwrap()
    );
    assert!(
        !tx.revoke_device(&device_id(99), ServerTime(T0), "x")
            .unwrap()
    );
    assert!(
        tx.retire_device(&d2.id, ServerTime(T0 + 55), "replaced")
            .unwrap()
    );
    assert!(
        !tx.retire_device(&device_id(99), ServerTime(T0), "x")
            .unwrap()
    );
    tx.commit().unwrap();

    let mut tx = s.read().unwrap();
    let got = tx.device(&d1.id).unwrap().unwrap();
    assert_eq!(got.last_sync_at, Some(ServerTime(T0 + 50)));
    assert_eq!(got.app_version.as_deref(), Some("1.1"));
    assert_eq!(got.pending_reported, 12);
    assert_eq!(got.clock_skew_ms, -3_000);
    assert_eq!(got.head, head);
    let revoked = tx.device(&d3.id).unwrap().unwrap().revoked.unwrap();
    assert_eq!(
        (revoked.at, revoked.reason.as_str()),
        (ServerTime(T0 + 60), "lost")
    );
    let retiring = tx.device(&d2.id).unwrap().unwrap().retiring.unwrap();
    assert_eq!(
        (retiring.at, retiring.reason.as_str()),
        (ServerTime(T0 + 55), "replaced")
    );
    assert_eq!(tx.device(&d1.id).unwrap().unwrap().retiring, None);
    let all: Vec<_> = tx.devices().unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(all, vec![d1.id, d3.id, d2.id], "by cadre, then enrollment");
    assert_eq!(
        tx.devices_of_cadres(&[c1.clone(), c2.clone()]).unwrap(),
        vec![d1.id, d2.id],
        "active devices only"
    );
    drop(tx);

    // Re-enrollment re-binds the device: new cadre and token, revocation lifted, chain kept.
    let mut again = device(3, &c2);
    again.enrolled_at = ServerTime(T0 + 70);
    let mut tx = s.write().unwrap();
    tx.upsert_device(&again, &[77; 32]).unwrap();
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    let got = tx.device_by_token(&[77; 32]).unwrap().unwrap();
    assert_eq!((got.id, &got.cadre, got.revoked), (d3.id, &c2, None));
    assert_eq!(tx.device_by_token(&token(3)).unwrap(), None);
    // A token belongs to one device only.
    drop(tx);
    let mut tx = s.write().unwrap();
    assert!(tx.upsert_device(&device(4, &c1), &token(1)).is_err());
}

pub fn journal_round_trips_byte_for_byte(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    add_device(s, 1, &cadre);
    add_device(s, 2, &cadre);
    let h = HouseholdId::new("h-1").unwrap();
    let ops1 = chain(1, 5, "visit.record");
    let ops2 = chain(2, 3, "household.update");
    let mut tx = s.write().unwrap();
    let mut seqs = Vec::new();
    for (a, b) in ops1
        .iter()
        .zip(ops2.iter().chain(std::iter::repeat(&ops2[0])))
    {
        seqs.push(
            tx.insert_op(a, &Outcome::Accepted, Some(&h), ServerTime(T0))
                .unwrap(),
        );
        if a.seq <= 3 {
            tx.insert_op(b, &Outcome::Accepted, None, ServerTime(T0))
                .unwrap();
        }
    }
    tx.commit().unwrap();

    let mut tx = s.read().unwrap();
    for (op, seq) in ops1.iter().zip(&seqs) {
        let got = tx.op_by_server_seq(*seq).unwrap().unwrap();
        assert_eq!(&got, op);
        assert_eq!(got.payload.as_bytes(), op.payload.as_bytes());
        assert!(got.signature_valid(&SigningKey::from_bytes(&[1; 32]).verifying_key()));
        assert!(tx.op_id_exists(&op.id).unwrap());
        assert_eq!(
            tx.op_at(&op.device, op.seq).unwrap(),
            Some((op.id, Outcome::Accepted))
        );
    }
    assert_eq!(tx.op_by_server_seq(999_999).unwrap(), None);
    assert!(!tx.op_id_exists(&OpId::from_bytes([0xee; 16])).unwrap());
    assert_eq!(tx.op_at(&device_id(1), 99).unwrap(), None);
    assert_eq!(tx.ops_of_device(&device_id(1), 0, 100).unwrap(), ops1);
    assert_eq!(tx.ops_of_device(&device_id(1), 2, 2).unwrap(), ops1[2..4]);
    assert_eq!(tx.ops_of_device(&device_id(2), 0, 100).unwrap(), ops2);
    assert_eq!(tx.visit_ops_of_household(&h).unwrap(), ops1);
    let mut recent = ops1.clone();
    recent.extend(ops2.iter().cloned());
    assert_eq!(tx.recent_accepted_ops(100).unwrap().len(), 8);
    assert_eq!(tx.recent_accepted_ops(1).unwrap(), vec![ops1[4].clone()]);
    drop(tx);
    // (device, seq) and op ids are unique.
    let mut tx = s.write().unwrap();
    assert!(
        tx.insert_op(&ops1[0], &Outcome::Accepted, None, ServerTime(T0))
            .is_err()
    );
}

pub fn journal_outcomes_and_counts(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    add_device(s, 1, &cadre);
    let h = HouseholdId::new("h-1").unwrap();
    let ops = chain(1, 6, "visit.record");
    let rejected = |i: usize| Outcome::Rejected {
        code: [RejectCode::NotAssigned, RejectCode::UnknownKind][i % 2],
        reason: format!("reason {i}"),
    };
    let mut tx = s.write().unwrap();
    assert_eq!(tx.op_counts().unwrap(), (0, 0));
    for (i, op) in ops.iter().enumerate() {
        let outcome = if i % 3 == 1 {
            rejected(i)
        } else {
            Outcome::Accepted
        };
        tx.insert_op(op, &outcome, Some(&h), ServerTime(T0))
            .unwrap();
    }
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(tx.op_counts().unwrap(), (4, 2));
    assert_eq!(
        tx.op_at(&ops[1].device, 2).unwrap(),
        Some((ops[1].id, rejected(1)))
    );
    let rejections = tx.rejections(10).unwrap();
    assert_eq!(rejections.len(), 2);
    assert_eq!(rejections[0].0, device_id(1));
    assert_eq!(
        (
            rejections[0].1.seq,
            rejections[0].1.op,
            rejections[0].1.code
        ),
        (5, ops[4].id, RejectCode::NotAssigned)
    );
    assert_eq!(rejections[0].1.reason, "reason 4");
    assert_eq!(rejections[1].1.seq, 2, "newest first");
    assert_eq!(tx.rejections(1).unwrap().len(), 1);
    let devices: std::collections::BTreeSet<_> = rejections.iter().map(|r| r.0).collect();
    let counts = tx.rejected_counts().unwrap();
    assert_eq!(counts.iter().map(|c| c.1).sum::<u64>(), 2);
    assert_eq!(
        counts
            .iter()
            .map(|c| c.0)
            .collect::<std::collections::BTreeSet<_>>(),
        devices
    );
    // Rejected operations are kept in the journal but are not visits.
    let visits: Vec<u64> = tx
        .visit_ops_of_household(&h)
        .unwrap()
        .iter()
        .map(|o| o.seq)
        .collect();
    assert_eq!(visits, vec![1, 3, 4, 6]);
    assert_eq!(tx.ops_of_device(&device_id(1), 0, 100).unwrap().len(), 6);
    let recent: Vec<u64> = tx
        .recent_accepted_ops(10)
        .unwrap()
        .iter()
        .map(|o| o.seq)
        .collect();
    assert_eq!(recent, vec![6, 4, 3, 1]);
}

pub fn server_seq_increases_in_commit_order(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    for n in 1..=4 {
        add_device(s, n, &cadre);
    }
    // Four threads each commit their device's chain in small transactions; every committed
    // number is above every number committed before it.
    let committed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for n in 1..=4u8 {
            let committed = &committed;
            scope.spawn(move || {
                for op in chain(n, 10, "visit.record") {
                    let mut tx = s.write().unwrap();
                    let seq = tx
                        .insert_op(&op, &Outcome::Accepted, None, ServerTime(T0))
                        .unwrap();
                    // The commit and the record of its order happen under one lock, so the
                    // list is in commit order.
                    let mut list = committed.lock().unwrap();
                    tx.commit().unwrap();
                    list.push(seq);
                }
            });
        }
    });
    let list = committed.into_inner().unwrap();
    assert_eq!(list.len(), 40);
    assert!(
        list.windows(2).all(|w| w[0] < w[1]),
        "server_seq in commit order: {list:?}"
    );
    let mut tx = s.read().unwrap();
    assert_eq!(tx.op_counts().unwrap(), (40, 0));
}

pub fn visits(s: &dyn Storage) {
    let visit = |n: u8, manual: bool| ServerVisit {
        id: VisitId::from_bytes([n; 16]),
        household: HouseholdId::new(format!("h-{n}")).unwrap(),
        cadre: CadreId::new("cadre-1").unwrap(),
        device: device_id(1),
        server_seq: u64::from(n),
        recorded_at: WallTime(T0 + i64::from(n)),
        received_at: ServerTime(T0 + 100),
        kind: "routine".into(),
        manual,
        distance_m: (!manual).then_some(12.5),
        record: "{\"content\": \"入户走访\" }".into(),
    };
    let mut tx = s.write().unwrap();
    assert_eq!(tx.visit_count().unwrap(), 0);
    tx.insert_visit(&visit(1, false)).unwrap();
    tx.insert_visit(&visit(2, true)).unwrap();
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(tx.visit_count().unwrap(), 2);
    assert_eq!(
        tx.visit_owner(&VisitId::from_bytes([2; 16])).unwrap(),
        Some((
            CadreId::new("cadre-1").unwrap(),
            HouseholdId::new("h-2").unwrap()
        ))
    );
    assert_eq!(tx.visit_owner(&VisitId::from_bytes([3; 16])).unwrap(), None);
    drop(tx);
    let mut tx = s.write().unwrap();
    assert!(
        tx.insert_visit(&visit(1, false)).is_err(),
        "a visit id once"
    );
}

pub fn feeds(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let (a, b) = (add_device(s, 1, &cadre).id, add_device(s, 2, &cadre).id);
    let items = vec![
        FeedItem::Op(17),
        FeedItem::Household(HouseholdId::new("h-2").unwrap()),
        FeedItem::Purge(HouseholdId::new("h-9").unwrap()),
        FeedItem::Cadre(cadre.clone()),
        FeedItem::Area("150702100200".into()),
        FeedItem::Assignment(AssignmentId::new("a-1").unwrap()),
        FeedItem::Post(PostId::new("p-1").unwrap()),
        FeedItem::AuthorityKey(3),
        FeedItem::Household(HouseholdId::new("h-1").unwrap()),
        FeedItem::Household(HouseholdId::new("h-2").unwrap()),
    ];
    let mut tx = s.write().unwrap();
    assert_eq!(tx.feed_head(&a).unwrap(), 0);
    assert_eq!(tx.feed_head(&device_id(99)).unwrap(), 0, "unknown device");
    for (i, item) in items.iter().enumerate() {
        assert_eq!(tx.append_feed(&a, item).unwrap(), i as u64 + 1);
    }
    assert_eq!(
        tx.append_feed(&b, &FeedItem::Op(1)).unwrap(),
        1,
        "per device"
    );
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(tx.feed_head(&a).unwrap(), 10);
    assert_eq!(tx.feed_head(&b).unwrap(), 1);
    let all = tx.feed_after(&a, 0, 100).unwrap();
    let expected: Vec<(u64, FeedItem)> = (1..).zip(items.iter().cloned()).collect();
    assert_eq!(all, expected);
    assert_eq!(tx.feed_after(&a, 3, 2).unwrap(), expected[3..5]);
    assert!(tx.feed_after(&a, 10, 100).unwrap().is_empty());
    assert_eq!(
        tx.households_sent(&a).unwrap(),
        vec![
            HouseholdId::new("h-1").unwrap(),
            HouseholdId::new("h-2").unwrap()
        ]
    );
    assert!(tx.households_sent(&b).unwrap().is_empty());
}

pub fn savepoint_rollback_undoes_only_the_inner_work(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let d = add_device(s, 1, &cadre).id;
    let ops = chain(1, 3, "visit.record");
    let mut tx = s.write().unwrap();
    tx.insert_op(&ops[0], &Outcome::Accepted, None, ServerTime(T0))
        .unwrap();
    tx.append_feed(&d, &FeedItem::Op(1)).unwrap();
    // A request that fails half-way, even on a refused statement, is undone alone.
    tx.savepoint().unwrap();
    tx.insert_op(&ops[1], &Outcome::Accepted, None, ServerTime(T0))
        .unwrap();
    tx.append_feed(&d, &FeedItem::Op(2)).unwrap();
    assert!(
        tx.insert_op(&ops[1], &Outcome::Accepted, None, ServerTime(T0))
            .is_err()
    );
    tx.rollback_to_savepoint().unwrap();
    // The transaction goes on: a released savepoint keeps its work.
    tx.savepoint().unwrap();
    tx.insert_op(&ops[2], &Outcome::Accepted, None, ServerTime(T0))
        .unwrap();
    tx.release_savepoint().unwrap();
    assert_eq!(tx.feed_head(&d).unwrap(), 1);
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    let seqs: Vec<u64> = tx
        .ops_of_device(&d, 0, 10)
        .unwrap()
        .iter()
        .map(|o| o.seq)
        .collect();
    assert_eq!(seqs, vec![1, 3]);
    assert_eq!(
        tx.feed_after(&d, 0, 10).unwrap(),
        vec![(1, FeedItem::Op(1))]
    );
}

pub fn dropped_write_rolls_back(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let d = add_device(s, 1, &cadre).id;
    {
        let mut tx = s.write().unwrap();
        tx.append_feed(&d, &FeedItem::Op(1)).unwrap();
        tx.revoke_device(&d, ServerTime(T0), "dropped").unwrap();
        // Dropped without commit.
    }
    {
        // A failed statement inside a transaction, then dropped: the next one starts clean.
        let mut tx = s.write().unwrap();
        assert!(tx.upsert_device(&device(2, &cadre), &token(1)).is_err());
    }
    let mut tx = s.write().unwrap();
    assert_eq!(tx.feed_head(&d).unwrap(), 0);
    assert_eq!(tx.device(&d).unwrap().unwrap().revoked, None);
    assert_eq!(tx.append_feed(&d, &FeedItem::Op(1)).unwrap(), 1);
    tx.commit().unwrap();
    assert_eq!(s.read().unwrap().feed_head(&d).unwrap(), 1);
}

pub fn writers_are_serialised(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let d = add_device(s, 1, &cadre).id;
    // Each writer reads the head and appends after it; interleaved writers would collide.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..10 {
                    let mut tx = s.write().unwrap();
                    let head = tx.feed_head(&d).unwrap();
                    std::thread::yield_now();
                    assert_eq!(
                        tx.append_feed(&d, &FeedItem::Op(head + 1)).unwrap(),
                        head + 1
                    );
                    tx.commit().unwrap();
                }
            });
        }
    });
    let mut tx = s.read().unwrap();
    let feed = tx.feed_after(&d, 0, 100).unwrap();
    assert_eq!(feed.len(), 40);
    assert!(feed.iter().all(|(pos, item)| *item == FeedItem::Op(*pos)));
}

pub fn reads_see_a_snapshot(s: &dyn Storage) {
    let cadre = CadreId::new("cadre-1").unwrap();
    let d = add_device(s, 1, &cadre).id;
    let mut read = s.read().unwrap();
    assert_eq!(read.feed_head(&d).unwrap(), 0);
    let mut tx = s.write().unwrap();
    tx.append_feed(&d, &FeedItem::Op(1)).unwrap();
    assert_eq!(
        read.feed_head(&d).unwrap(),
        0,
        "uncommitted work is invisible"
    );
    tx.commit().unwrap();
    assert_eq!(read.feed_head(&d).unwrap(), 0, "a read keeps its snapshot");
    drop(read);
    assert_eq!(s.read().unwrap().feed_head(&d).unwrap(), 1);
    // A read transaction does not write.
    let mut read = s.read().unwrap();
    assert!(read.append_feed(&d, &FeedItem::Op(2)).is_err());
}

pub fn dictionaries(s: &dyn Storage) {
    let dict = |id: u32, at: i64| StoredDictionary {
        id,
        bytes: (0..=255u8)
            .cycle()
            .take(1000 + (id % 100) as usize)
            .collect(),
        samples: 5000,
        created_at: ServerTime(at),
    };
    let mut tx = s.write().unwrap();
    assert_eq!(tx.current_dictionary().unwrap(), None);
    assert!(tx.dictionaries().unwrap().is_empty());
    tx.put_dictionary(&dict(3_000_000_000, T0)).unwrap();
    tx.put_dictionary(&dict(7, T0 + 10)).unwrap();
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(tx.current_dictionary().unwrap(), Some(7), "the newest");
    assert_eq!(
        tx.dictionary(3_000_000_000).unwrap(),
        Some(dict(3_000_000_000, T0))
    );
    assert_eq!(tx.dictionary(8).unwrap(), None);
    assert_eq!(
        tx.dictionaries().unwrap(),
        vec![dict(3_000_000_000, T0), dict(7, T0 + 10)],
        "oldest first"
    );
    drop(tx);
    let mut tx = s.write().unwrap();
    assert!(
        tx.put_dictionary(&dict(7, T0 + 20)).is_err(),
        "never replaced"
    );
}

pub fn admin_log_is_append_only(s: &dyn Storage) {
    let entry = |i: i64| AdminLogEntry {
        id: 0,
        at: ServerTime(T0 + i),
        actor: "admin".into(),
        action: "device.revoke".into(),
        subject: format!("device-{i}"),
        detail: json!({"reason": "丢失", "n": i, "nested": {"ok": true}}),
    };
    let mut tx = s.write().unwrap();
    let ids: Vec<u64> = (0..4)
        .map(|i| tx.append_admin_log(&entry(i)).unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    let newest = tx.admin_log(2).unwrap();
    let with_id = |i: usize| AdminLogEntry {
        id: ids[i],
        ..entry(i as i64)
    };
    assert_eq!(newest, vec![with_id(3), with_id(2)]);
    assert_eq!(tx.admin_log(100).unwrap().len(), 4);
    drop(tx);
    // The backend itself refuses to change history: checked through the backend's own SQL in
    // the per-backend test files (`admin_log_refuses_update_and_delete`).
}

pub fn authority_secrets(s: &dyn Storage) {
    let mut tx = s.write().unwrap();
    assert!(tx.plate_authority().unwrap().is_none());
    tx.put_authority_secret(1, &[1; 32], ServerTime(T0))
        .unwrap();
    tx.put_authority_secret(2, &[2; 32], ServerTime(T0))
        .unwrap();
    tx.commit().unwrap();
    let expected = PlateAuthority::from_secret(2, [2; 32]).public();
    let mut tx = s.write().unwrap();
    let got = tx.plate_authority().unwrap().unwrap();
    assert_eq!(got.public(), expected, "the highest key id signs");
    // Replacing a secret keeps one row per key.
    tx.put_authority_secret(2, &[3; 32], ServerTime(T0 + 1))
        .unwrap();
    tx.commit().unwrap();
    let got = s.read().unwrap().plate_authority().unwrap().unwrap();
    assert_eq!(
        got.public(),
        PlateAuthority::from_secret(2, [3; 32]).public()
    );
}
