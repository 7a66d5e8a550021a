//! Recording, amending and reading visits through the device store, and every way a visit is
//! refused without anything being written.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldvisit_core::clock::WallTime;
use fieldvisit_core::domain::visit::{
    Identification, IdentifiedBy, Location, VisitAmendment, VisitChanges, VisitContent,
};
use fieldvisit_core::store::OpState;
use fieldvisit_core::validate::Reason;
use fieldvisit_core::{Error, Store};

fn scan(f: &Fixture, n: usize) -> Identification {
    Identification::Scanned {
        payload: f
            .authority
            .issue(&f.households[n].code, f.households[n].plate_issue),
        scanned_at: WallTime(T0 - 60_000),
    }
}

/// One way to spoil a valid input.
type Change<T> = Box<dyn Fn(&mut T)>;

fn journal_len(store: &Store) -> usize {
    store.operations(0, usize::MAX).unwrap().len()
}

#[test]
fn a_scanned_visit_round_trips_through_the_store_and_survives_reopening() {
    let f = fixture("c-1");
    let scanned = f
        .store
        .scan(&f.authority.issue(&f.households[0].code, 1))
        .unwrap();
    assert_eq!(scanned.household.id, f.households[0].id);
    assert_eq!(scanned.household.head_name.as_deref(), Some("巴特尔"));
    assert_eq!(
        scanned.household.village_name.as_deref(),
        Some("巴音敖包嘎查")
    );

    let record = f
        .store
        .record_visit(
            scan(&f, 0),
            content("  入户走访，了解家庭收入情况。  "),
            Some(location(&f.households[0], T0)),
        )
        .unwrap();
    assert_eq!(
        record.content.diary, "入户走访，了解家庭收入情况。",
        "texts are stored trimmed"
    );

    let path = f.store.path().to_path_buf();
    f.store.close();
    assert!(matches!(f.store.visit(record.id), Err(Error::Closed)));
    let reopened = Store::open_with_clock(&path, f.clock.clone()).unwrap();

    let view = reopened.visit(record.id).unwrap().expect("visit is stored");
    assert_eq!(view.content, record.content);
    assert_eq!(view.location, record.location);
    assert_eq!(
        view.identified,
        IdentifiedBy::Scan {
            key_id: 1,
            issue: 1,
            scanned_at: WallTime(T0 - 60_000)
        }
    );
    assert_eq!(view.sync_state, Some(OpState::Pending));
    let d = view.distance_m.unwrap();
    assert!((50.0..60.0).contains(&d), "about 55 m from home, got {d}");

    let ops = reopened.operations(0, 10).unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].kind, "visit.record");
    assert_eq!(reopened.visits_for(&f.households[0].id).unwrap().len(), 1);
    let listed = reopened.households(None, 10).unwrap();
    assert_eq!(listed[0].last_visit_at, Some(WallTime(T0)));
}

#[test]
fn a_manual_visit_records_the_reason_and_accepts_a_loosely_typed_code() {
    let f = fixture("c-1");
    let typed = f.households[1].code.grouped().to_lowercase();
    let record = f
        .store
        .record_visit(
            Identification::Manual {
                code: typed,
                reason: "门牌被风刮走".into(),
            },
            content("核实家庭成员务工情况。"),
            None,
        )
        .unwrap();
    assert_eq!(record.household, f.households[1].id);
    assert_eq!(
        record.identified,
        IdentifiedBy::Manual {
            reason: "门牌被风刮走".into()
        }
    );
}

#[test]
fn amendments_keep_the_original_and_apply_in_order() {
    let f = fixture("c-1");
    let record = f
        .store
        .record_visit(scan(&f, 0), content("第一次入户走访记录。"), None)
        .unwrap();
    f.clock.advance_ms(60_000);
    f.store
        .amend_visit(VisitAmendment {
            visit: record.id,
            reason: "补充说明".into(),
            changes: VisitChanges {
                diary: Some("第一次入户走访，已联系施工队。".into()),
                ..Default::default()
            },
        })
        .unwrap();
    f.clock.advance_ms(60_000);
    f.store
        .amend_visit(VisitAmendment {
            visit: record.id,
            reason: "问题已解决".into(),
            changes: VisitChanges {
                clear_follow_up: true,
                ..Default::default()
            },
        })
        .unwrap();
    let view = f.store.visit(record.id).unwrap().unwrap();
    assert_eq!(view.content.diary, "第一次入户走访，已联系施工队。");
    assert_eq!(view.content.follow_up_due, None);
    assert_eq!(view.amendments.len(), 2);
    assert_eq!(view.amendments[0].reason, "补充说明");
    assert_eq!(f.store.follow_ups_due(day("2030-01-01")).unwrap(), vec![]);
    let kinds: Vec<String> = f
        .store
        .operations(0, 10)
        .unwrap()
        .into_iter()
        .map(|o| o.kind)
        .collect();
    assert_eq!(kinds, ["visit.record", "visit.amend", "visit.amend"]);
}

#[test]
fn another_cadres_visit_cannot_be_amended() {
    let f = fixture("c-1");
    let record = f
        .store
        .record_visit(scan(&f, 0), content("入户走访正常记录。"), None)
        .unwrap();
    f.store
        .enroll(&fieldvisit_core::store::Enrollment {
            cadre: fieldvisit_core::ids::CadreId::new("c-fs").unwrap(),
            authority_keys: vec![f.authority.public()],
            server_url: None,
            token: None,
        })
        .unwrap();
    let err = f
        .store
        .amend_visit(VisitAmendment {
            visit: record.id,
            reason: "改一下".into(),
            changes: VisitChanges {
                acknowledged: Some(false),
                ..Default::default()
            },
        })
        .unwrap_err();
    assert!(matches!(err, Error::NotYourVisit), "{err:?}");
}

/// Records a visit that must be refused, and checks that nothing was written.
fn refused(
    f: &Fixture,
    ident: Identification,
    c: fieldvisit_core::domain::visit::VisitContent,
) -> Error {
    let before = journal_len(&f.store);
    let err = f.store.record_visit(ident, c, None).unwrap_err();
    assert_eq!(
        journal_len(&f.store),
        before,
        "a refused visit writes nothing"
    );
    assert!(f.store.visits_for(&f.households[0].id).unwrap().is_empty());
    err
}

fn invalid_field(err: Error) -> (String, Reason) {
    match err {
        Error::Invalid(i) => (i.field, i.reason),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn a_household_outside_the_assignment_is_refused() {
    let f = fixture("c-1");
    assert!(matches!(
        refused(&f, scan(&f, 2), content("越界走访记录测试。")),
        Error::NotAssigned
    ));
    assert!(matches!(
        f.store.scan(&f.authority.issue(&f.households[2].code, 1)),
        Err(Error::NotAssigned)
    ));
}

#[test]
fn a_first_secretary_may_visit_every_household_of_the_village() {
    let f = fixture("c-fs");
    assert_eq!(f.store.households(None, 100).unwrap().len(), 3);
    f.store
        .record_visit(scan(&f, 2), content("第一书记入户走访。"), None)
        .unwrap();
}

#[test]
fn an_unknown_household_code_is_refused() {
    let f = fixture("c-1");
    let code = fieldvisit_core::codes::HumanCode::new(
        fieldvisit_core::codes::CodeKind::Household,
        999_999,
    )
    .unwrap();
    let manual = Identification::Manual {
        code: code.to_string(),
        reason: "门牌丢失".into(),
    };
    assert!(matches!(
        refused(&f, manual, content("未知户走访记录。")),
        Error::UnknownHousehold
    ));
}

#[test]
fn a_mistyped_code_and_a_person_code_are_refused() {
    let f = fixture("c-1");
    let mut typo = f.households[0].code.to_string();
    let last = typo.pop().unwrap();
    typo.push(if last == '0' { '1' } else { '0' });
    let manual = Identification::Manual {
        code: typo,
        reason: "门牌丢失".into(),
    };
    assert!(matches!(
        refused(&f, manual, content("输错编码的记录。")),
        Error::Code(_)
    ));
    let person =
        fieldvisit_core::codes::HumanCode::new(fieldvisit_core::codes::CodeKind::Person, 5001)
            .unwrap();
    let manual = Identification::Manual {
        code: person.to_string(),
        reason: "门牌丢失".into(),
    };
    assert!(matches!(
        refused(&f, manual, content("输入人员编码。")),
        Error::NotAHouseholdCode
    ));
}

#[test]
fn a_manual_entry_without_a_reason_is_refused() {
    let f = fixture("c-1");
    let manual = Identification::Manual {
        code: f.households[0].code.to_string(),
        reason: "  ".into(),
    };
    let (field, reason) = invalid_field(refused(&f, manual, content("手工录入无原因。")));
    assert_eq!((field.as_str(), reason), ("reason", Reason::Required));
}

#[test]
fn each_content_rule_refuses_bad_input_with_its_field() {
    let f = fixture("c-1");
    let cases: Vec<(&str, Change<VisitContent>)> = vec![
        ("kind", Box::new(|c| c.kind = "party".into())),
        ("diary", Box::new(|c| c.diary = "太短".into())),
        ("diary", Box::new(|c| c.diary = "字".repeat(4001))),
        (
            "diary",
            Box::new(|c| c.diary = "含有\u{0007}控制字符的日记".into()),
        ),
        (
            "checklist.housing.note",
            Box::new(|c| c.checklist.get_mut("housing").unwrap().note = None),
        ),
        (
            "checklist.garden",
            Box::new(|c| {
                c.checklist
                    .insert("garden".into(), c.checklist["food"].clone());
            }),
        ),
        ("problems[0]", Box::new(|c| c.problems = vec!["".into()])),
        (
            "problems",
            Box::new(|c| c.problems = vec!["问题描述".into(); 21]),
        ),
        (
            "help[0].category",
            Box::new(|c| {
                c.help = vec![fieldvisit_core::domain::visit::HelpGiven {
                    category: "magic".into(),
                    content: "送去米面油".into(),
                    cost_yuan: None,
                }]
            }),
        ),
        (
            "help[0].cost_yuan",
            Box::new(|c| {
                c.help = vec![fieldvisit_core::domain::visit::HelpGiven {
                    category: "living".into(),
                    content: "送去米面油".into(),
                    cost_yuan: Some(-5.0),
                }]
            }),
        ),
        (
            "follow_up_due",
            Box::new(|c| c.follow_up_due = Some(day("2024-05-01"))),
        ),
        (
            "follow_up_due",
            Box::new(|c| c.follow_up_due = Some(day("2026-01-01"))),
        ),
        (
            "checklist.education",
            Box::new(|c| c.kind = "exit_verification".into()),
        ),
    ];
    for (field, change) in cases {
        let mut c = content("入户走访正常记录。");
        change(&mut c);
        let (got, _) = invalid_field(refused(&f, scan(&f, 0), c));
        assert_eq!(got, field);
    }
}

#[test]
fn bad_locations_and_future_timestamps_are_refused() {
    let f = fixture("c-1");
    let h = &f.households[0];
    let cases: Vec<(&str, Change<Location>)> = vec![
        ("location", Box::new(|l| l.point.lat = 91.0)),
        ("location", Box::new(|l| l.point.lon = f64::NAN)),
        ("location.accuracy_m", Box::new(|l| l.accuracy_m = 0.0)),
        (
            "location.provider",
            Box::new(|l| l.provider = "gallery".into()),
        ),
        (
            "location.fix_at",
            Box::new(|l| l.fix_at = WallTime(T0 + 3_600_000)),
        ),
    ];
    for (field, change) in cases {
        let mut loc = location(h, T0);
        change(&mut loc);
        let err = f
            .store
            .record_visit(scan(&f, 0), content("入户走访正常记录。"), Some(loc))
            .unwrap_err();
        assert_eq!(invalid_field(err).0, field);
    }
    let future = Identification::Scanned {
        payload: f.authority.issue(&h.code, 1),
        scanned_at: WallTime(T0 + 600_000),
    };
    let (field, reason) = invalid_field(refused(&f, future, content("入户走访正常记录。")));
    assert_eq!(
        (field.as_str(), reason),
        ("scanned_at", Reason::InFuture { seconds_ahead: 600 })
    );
    assert_eq!(journal_len(&f.store), 0);
}

#[test]
fn an_unenrolled_device_cannot_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("d.db")).unwrap();
    let manual = Identification::Manual {
        code: "H0000000000".into(),
        reason: "门牌丢失".into(),
    };
    let err = store
        .record_visit(manual, content("未注册设备记录。"), None)
        .unwrap_err();
    assert!(matches!(err, Error::NotEnrolled), "{err:?}");
    assert!(matches!(
        store.households(None, 10),
        Err(Error::NotEnrolled)
    ));
}

#[test]
fn household_search_matches_names_codes_and_village_in_chinese() {
    let f = fixture("c-fs");
    let by_name = f.store.households(Some("其其格"), 10).unwrap();
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0].id, f.households[1].id);
    let code = f.households[2].code.grouped().to_lowercase();
    assert_eq!(
        f.store.households(Some(&code), 10).unwrap()[0].id,
        f.households[2].id
    );
    assert_eq!(f.store.households(Some("敖包嘎查"), 10).unwrap().len(), 3);
    assert!(
        f.store.households(Some("%"), 10).unwrap().is_empty(),
        "wildcards are literal"
    );
    assert!(
        f.store
            .households(Some("'; DROP TABLE household; --"), 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.store.households(None, 10).unwrap().len(), 3);
}

#[test]
fn field_edits_are_validated_journaled_and_limited_to_editable_fields() {
    let f = fixture("c-1");
    let hh = &f.households[0].id;
    let fields = |pairs: &[(&str, serde_json::Value)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    f.store
        .update_household(
            hh,
            fields(&[
                ("phone", " 13900001234 ".into()),
                ("housing_safety", "A".into()),
            ]),
        )
        .unwrap();
    let detail = f.store.household(hh).unwrap().unwrap();
    assert_eq!(detail.household.phone.as_deref(), Some("13900001234"));
    assert_eq!(detail.household.housing_safety.as_deref(), Some("A"));
    assert!(detail.in_scope);

    let err = f
        .store
        .update_household(hh, fields(&[("poverty_status", "2".into())]))
        .unwrap_err();
    assert!(matches!(err, Error::FieldNotEditable { ref field } if field == "poverty_status"));
    let err = f
        .store
        .update_household(hh, fields(&[("housing_safety", "E".into())]))
        .unwrap_err();
    assert!(matches!(invalid_field(err).1, Reason::UnknownCode { .. }));
    let member = detail.members[0].id.clone();
    let err = f
        .store
        .update_member(
            &member,
            fields(&[("resident_id", "110105194912310021".into())]),
        )
        .unwrap_err();
    assert_eq!(invalid_field(err).1, Reason::CheckCharacterMismatch);
    let err = f
        .store
        .update_member(&member, fields(&[("work_months", "six".into())]))
        .unwrap_err();
    assert_eq!(invalid_field(err).1, Reason::WrongType);
    f.store
        .update_member(
            &member,
            fields(&[("work_months", 6.into()), ("dibao", false.into())]),
        )
        .unwrap();
    let other = f.households[2].id.clone();
    let err = f
        .store
        .update_household(&other, fields(&[("phone", "13900001234".into())]))
        .unwrap_err();
    assert!(matches!(err, Error::NotAssigned));

    let kinds: Vec<String> = f
        .store
        .operations(0, 10)
        .unwrap()
        .into_iter()
        .map(|o| o.kind)
        .collect();
    assert_eq!(
        kinds,
        ["household.update", "member.update"],
        "refused edits write nothing"
    );
    let after = f.store.household(hh).unwrap().unwrap();
    assert_eq!(after.members[0].work_months, Some(6));
    assert!(!after.members[0].dibao);
}
