//! Report and flag tests: hand-built cases for the numbers, and the planted set for the flags'
//! recall and false-positive rate.

#![allow(clippy::unwrap_used)]

use super::flags::FlagKind;
use super::planted::{self, evaluate, markdown};

/// The bound docs/supervision.md states for every flag's false-positive rate.
const MAX_FALSE_POSITIVE_RATE: f64 = 0.01;

#[test]
fn every_planted_anomaly_is_flagged_and_normal_visits_rarely_are() {
    // Three quarters, and one whole year: false positives must not grow with the data.
    for (seed, weeks) in [(1, 12), (2, 12), (3, 12), (4, 52)] {
        let set = planted::generate(seed, weeks);
        let scores = evaluate(&set);
        eprintln!("seed {seed}\n{}", markdown(&scores));
        for s in &scores {
            assert!(s.planted > 0, "{} has nothing planted", s.kind.name());
            assert_eq!(s.recall(), 1.0, "seed {seed}: {:?}", s);
            assert!(
                s.false_positive_rate() <= MAX_FALSE_POSITIVE_RATE,
                "seed {seed}: {:?}",
                s
            );
        }
        assert_eq!(scores.len(), FlagKind::ALL.len());
    }
}

#[test]
fn every_report_says_its_title_columns_and_codes_in_both_languages() {
    use std::collections::BTreeSet;

    use super::{CellKind, Report};
    use crate::labels::check;

    let mut titles = BTreeSet::new();
    for &report in Report::ALL {
        let spec = report.spec();
        assert_eq!(check(spec.title), Ok(()), "{report}");
        assert!(titles.insert(spec.title.en), "{report}: a title used twice");
        assert!(!spec.about.is_empty(), "{report}");
        let mut keys = BTreeSet::new();
        for column in spec.columns {
            assert!(keys.insert(column.key), "{report}: {} twice", column.key);
            assert_eq!(check(column.label), Ok(()), "{report}: {}", column.key);
            if let CellKind::Code(codes) = column.kind {
                for (code, text) in codes {
                    assert_eq!(check(*text), Ok(()), "{report}: {}={code}", column.key);
                }
            }
        }
        assert_eq!(report.name().parse::<Report>(), Ok(report));
        let json = serde_json::to_string(&report).unwrap();
        assert_eq!(json, format!("\"{}\"", report.name()));
        assert_eq!(serde_json::from_str::<Report>(&json).unwrap(), report);
    }
    for kind in FlagKind::ALL {
        assert_eq!(check(kind.label()), Ok(()), "{kind:?}");
    }
}

mod over_storage {
    use chrono::NaiveDate;
    use serde_json::{Value, json};

    use fieldvisit_core::clock::{ServerTime, WallTime};
    use fieldvisit_core::ids::{CadreId, DeviceId, HouseholdId, VisitId};
    use fieldvisit_core::synth::{Region, RegionSpec};

    use crate::admin::load_region;
    use crate::admin_log::Actor;
    use crate::report::{Period, Report, ReportOptions, Table, run, start_of};
    use crate::storage::sqlite::SqliteStorage;
    use crate::storage::{ServerVisit, Storage};

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn visit(n: u8, cadre: &CadreId, household: &HouseholdId, on: &str) -> ServerVisit {
        let at = WallTime(start_of(day(on)).0 + 10 * 3_600_000);
        ServerVisit {
            id: VisitId::from_bytes([n; 16]),
            household: household.clone(),
            cadre: cadre.clone(),
            device: DeviceId::from_bytes([7; 16]),
            server_seq: u64::from(n),
            recorded_at: at,
            received_at: ServerTime(at.0 + 60_000),
            kind: "routine".into(),
            manual: false,
            distance_m: Some(40.0),
            record: "{}".into(),
        }
    }

    fn row<'a>(t: &'a Table, col: &str, value: &str) -> Vec<&'a Vec<Value>> {
        let i = t.keys().position(|c| c == col).unwrap();
        t.rows.iter().filter(|r| r[i] == json!(value)).collect()
    }

    fn cell<'a>(t: &Table, r: &'a [Value], col: &str) -> &'a Value {
        &r[t.keys().position(|c| c == col).unwrap()]
    }

    /// A small region, one assisting cadre who visited two of their households in March and
    /// one household visited only in January.
    struct Case {
        _dir: tempfile::TempDir,
        storage: SqliteStorage,
        cadre: CadreId,
        scope: Vec<HouseholdId>,
        old: HouseholdId,
        households: usize,
    }

    fn case() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path().join("r.db")).unwrap();
        let region = Region::generate(RegionSpec::small(5));
        load_region(
            &storage,
            &region,
            &Actor::new("test").unwrap(),
            ServerTime(0),
        )
        .unwrap();
        let on = day("2019-03-31");
        let cadre = region
            .cadres
            .iter()
            .find(|c| c.role != "first_secretary" && region.households_of(&c.id, on).len() >= 3)
            .unwrap()
            .id
            .clone();
        let scope: Vec<HouseholdId> = region
            .households_of(&cadre, on)
            .iter()
            .map(|h| h.id.clone())
            .collect();
        let old = region
            .households
            .iter()
            .find(|h| !scope.contains(&h.id))
            .unwrap()
            .id
            .clone();
        let mut tx = storage.write().unwrap();
        tx.insert_visit(&visit(1, &cadre, &scope[0], "2019-03-05"))
            .unwrap();
        tx.insert_visit(&visit(2, &cadre, &scope[1], "2019-03-20"))
            .unwrap();
        // A second visit to the same household counts once for coverage, twice for the rate.
        tx.insert_visit(&visit(3, &cadre, &scope[1], "2019-03-21"))
            .unwrap();
        tx.insert_visit(&visit(4, &cadre, &old, "2019-01-10"))
            .unwrap();
        tx.commit().unwrap();
        let households = region.households.len();
        Case {
            _dir: dir,
            storage,
            cadre,
            scope,
            old,
            households,
        }
    }

    fn report(c: &Case, name: &str, from: &str, to: &str) -> Table {
        let opts = ReportOptions {
            period: Period {
                from: day(from),
                to: day(to),
            },
            required_per_month: 4,
            limit: 100,
        };
        let mut tx = c.storage.read().unwrap();
        run(&mut *tx, name.parse().unwrap(), &opts).unwrap()
    }

    #[test]
    fn coverage_counts_households_visited_in_the_period_per_cadre_and_village() {
        let c = case();
        let t = report(&c, "coverage", "2019-03-01", "2019-03-31");
        let mine = row(&t, "id", c.cadre.as_str());
        assert_eq!(mine.len(), 1);
        assert_eq!(cell(&t, mine[0], "households"), &json!(c.scope.len()));
        assert_eq!(cell(&t, mine[0], "visited"), &json!(2));
        let villages = row(&t, "level", "village");
        let total: u64 = villages
            .iter()
            .map(|r| cell(&t, r, "households").as_u64().unwrap())
            .sum();
        let seen: u64 = villages
            .iter()
            .map(|r| cell(&t, r, "visited").as_u64().unwrap())
            .sum();
        assert_eq!(total as usize, c.households);
        // The January visit is outside the period.
        assert_eq!(seen, 2);
    }

    #[test]
    fn unvisited_lists_every_household_without_a_visit_in_the_last_n_days() {
        let c = case();
        let t = report(&c, "unvisited", "2019-03-06", "2019-03-31");
        assert_eq!(
            t.rows.len(),
            c.households - 1,
            "only scope[1] was visited since 03-06"
        );
        assert!(row(&t, "household", c.scope[1].as_str()).is_empty());
        let first = row(&t, "household", c.scope[0].as_str());
        assert_eq!(cell(&t, first[0], "last_visit"), &json!("2019-03-05"));
        let old = row(&t, "household", c.old.as_str());
        assert_eq!(cell(&t, old[0], "last_visit"), &json!("2019-01-10"));
        assert_eq!(cell(&t, old[0], "days_since"), &json!(80));
        let never = row(&t, "household", c.scope[2].as_str());
        assert_eq!(cell(&t, never[0], "last_visit"), &Value::Null);
        assert!(
            cell(&t, never[0], "cadres")
                .as_str()
                .unwrap()
                .contains(c.cadre.as_str())
        );
    }

    #[test]
    fn visit_rate_compares_each_month_with_the_required_number() {
        let c = case();
        let t = report(&c, "visit-rate", "2019-01-01", "2019-03-31");
        let mine = row(&t, "cadre", c.cadre.as_str());
        let by_month: Vec<(Value, Value, Value)> = mine
            .iter()
            .map(|r| {
                (
                    cell(&t, r, "month").clone(),
                    cell(&t, r, "visits").clone(),
                    cell(&t, r, "meets").clone(),
                )
            })
            .collect();
        assert_eq!(
            by_month,
            vec![
                (json!("2019-01"), json!(1), json!(false)),
                (json!("2019-02"), json!(0), json!(false)),
                (json!("2019-03"), json!(3), json!(false)),
            ]
        );
    }

    fn with_follow_up(n: u8, cadre: &CadreId, h: &HouseholdId, on: &str, due: &str) -> ServerVisit {
        use fieldvisit_core::domain::visit::{IdentifiedBy, VisitContent, VisitRecord};
        let mut v = visit(n, cadre, h, on);
        let record = VisitRecord {
            id: v.id,
            household: h.clone(),
            cadre: cadre.clone(),
            identified: IdentifiedBy::Manual {
                reason: "test".into(),
            },
            recorded_at: v.recorded_at,
            location: None,
            content: VisitContent {
                kind: "problem".into(),
                checklist: Default::default(),
                problems: vec!["屋顶漏雨".into()],
                help: vec![],
                diary: "入户查看房屋情况。".into(),
                follow_up_due: Some(day(due)),
                acknowledged: true,
            },
            photos: Vec::new(),
        };
        v.record = serde_json::to_string(&record).unwrap();
        v
    }

    #[test]
    fn a_follow_up_is_overdue_until_the_household_is_visited_again() {
        let c = case();
        let mut tx = c.storage.write().unwrap();
        // Followed up by the visit of 03-05.
        tx.insert_visit(&with_follow_up(
            10,
            &c.cadre,
            &c.scope[0],
            "2019-03-02",
            "2019-03-04",
        ))
        .unwrap();
        // Never followed up.
        tx.insert_visit(&with_follow_up(
            11,
            &c.cadre,
            &c.scope[2],
            "2019-03-01",
            "2019-03-10",
        ))
        .unwrap();
        // Not due yet on 03-31.
        tx.insert_visit(&with_follow_up(
            12,
            &c.cadre,
            &c.old,
            "2019-03-25",
            "2019-04-02",
        ))
        .unwrap();
        tx.commit().unwrap();
        let t = report(&c, "overdue", "2019-03-31", "2019-03-31");
        assert_eq!(t.rows.len(), 1, "{:?}", t.rows);
        let r = &t.rows[0];
        assert_eq!(cell(&t, r, "household"), &json!(c.scope[2].as_str()));
        assert_eq!(cell(&t, r, "due"), &json!("2019-03-10"));
        assert_eq!(cell(&t, r, "days_overdue"), &json!(21));
    }

    #[test]
    fn every_report_returns_exactly_the_columns_its_spec_declares() {
        let c = case();
        for &r in Report::ALL {
            let t = report(&c, r.name(), "2019-01-01", "2019-03-31");
            assert_eq!(t.columns, r.spec().columns, "{r}");
            assert!(t.rows.iter().all(|row| row.len() == t.columns.len()), "{r}");
        }
    }

    #[test]
    fn an_unknown_report_name_is_an_error_naming_the_reports() {
        let e = "nope".parse::<Report>().unwrap_err();
        assert!(e.to_string().contains("visit-rate"), "{e}");
        assert!(e.to_string().starts_with("no report named nope; "), "{e}");
    }
}

mod flag_rules {
    use std::collections::BTreeMap;

    use fieldvisit_core::clock::WallTime;
    use fieldvisit_core::domain::GeoPoint;
    use fieldvisit_core::ids::{CadreId, DeviceId, HouseholdId, VisitId};

    use crate::report::flags::{self, FlagKind, VisitFacts};

    const T0: i64 = 1_552_000_000_000;
    const MIN: i64 = 60_000;
    const DIARY: &str = "到东升村二组走访，了解生产生活情况。家中2口人，户主患脑梗后遗症，需长期服药。帮助打扫了院落。";

    fn facts(n: u8, household: &str, at: i64) -> VisitFacts {
        VisitFacts {
            id: VisitId::from_bytes([n; 16]),
            household: HouseholdId::new(household).unwrap(),
            cadre: CadreId::new("c-1").unwrap(),
            device: DeviceId::from_bytes([1; 16]),
            recorded_at: WallTime(at),
            received_at: at + 60 * MIN,
            manual: false,
            distance_m: Some(50.0),
            fix: Some((
                GeoPoint {
                    lat: 49.0,
                    lon: 119.0,
                },
                WallTime(at),
            )),
            diary: format!("{DIARY}{n}"),
            photos: Vec::new(),
            home: None,
        }
    }

    fn kinds(visits: &[VisitFacts]) -> Vec<(u8, FlagKind)> {
        flags::all(visits, &BTreeMap::new())
            .into_iter()
            .map(|f| (f.visit.as_bytes()[0], f.kind))
            .collect()
    }

    #[test]
    fn distance_is_flagged_only_beyond_two_kilometres() {
        let mut a = facts(1, "h-1", T0);
        a.distance_m = Some(2_000.0);
        let mut b = facts(2, "h-2", T0 + 600 * MIN);
        b.distance_m = Some(2_000.5);
        b.diary = "另一段完全不同的文字，记录了走访户的收入情况和就医情况。".into();
        assert_eq!(kinds(&[a, b]), vec![(2, FlagKind::FarFromHousehold)]);
    }

    #[test]
    fn travel_speed_flags_the_later_visit_but_ignores_jitter_under_a_kilometre() {
        let a = facts(1, "h-1", T0);
        // 900 m in 10 seconds: GPS error or the neighbour's house, not travel.
        let mut b = facts(2, "h-2", T0 + 10_000);
        b.fix = Some((
            GeoPoint {
                lat: 49.0081,
                lon: 119.0,
            },
            WallTime(T0 + 10_000),
        ));
        b.diary = "第二户的日记内容，与第一户完全不同，谈了养牛的事情。".into();
        // ~22 km ten minutes later: 133 km/h.
        let mut c = facts(3, "h-3", T0 + 10 * MIN);
        c.fix = Some((
            GeoPoint {
                lat: 49.2,
                lon: 119.0,
            },
            WallTime(T0 + 10 * MIN),
        ));
        c.diary = "第三户的日记，孩子上学的问题已经解决，家里的羊也卖了。".into();
        let found = kinds(&[a, b, c]);
        assert_eq!(found, vec![(3, FlagKind::ImpossibleTravel)]);
    }

    #[test]
    fn a_diary_copied_to_another_household_flags_the_copy_not_the_original() {
        let a = facts(1, "h-1", T0);
        let mut b = facts(2, "h-2", T0 + 300 * MIN);
        b.diary = a.diary.replace('2', "5");
        // The same text again for the same household is not a copy to another household.
        let mut same_household = facts(3, "h-1", T0 + 100 * MIN);
        same_household.diary = a.diary.clone();
        let mut short = facts(4, "h-4", T0 + 900 * MIN);
        short.diary = "一切正常".into();
        let mut short_too = facts(5, "h-5", T0 + 1_200 * MIN);
        short_too.diary = "一切正常".into();
        let found = flags::copied_diary(&[a, b, same_household, short, short_too]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].visit, VisitId::from_bytes([2; 16]));
        assert!(found[0].detail.contains("identical"), "{}", found[0].detail);
        assert!(found[0].detail.contains("h-1"), "{}", found[0].detail);
    }

    #[test]
    fn a_diary_alike_another_cadres_is_not_flagged() {
        let a = facts(1, "h-1", T0);
        let mut b = facts(2, "h-2", T0 + 300 * MIN);
        b.cadre = CadreId::new("c-2").unwrap();
        b.diary = a.diary.clone();
        assert!(flags::copied_diary(&[a, b]).is_empty());
    }

    #[test]
    fn twelve_visits_a_day_pass_and_thirteen_are_all_flagged() {
        let day = |count: u8, start: i64| -> Vec<VisitFacts> {
            (0..count)
                .map(|k| {
                    let mut v = facts(k, &format!("h-{k}"), start + i64::from(k) * 30 * MIN);
                    v.id = VisitId::from_bytes([k + if start == T0 { 0 } else { 100 }; 16]);
                    v.diary = String::new();
                    v
                })
                .collect()
        };
        assert!(flags::too_many_in_day(&day(12, T0)).is_empty());
        let crowded = flags::too_many_in_day(&day(13, T0 + 7 * 24 * 60 * MIN));
        assert_eq!(crowded.len(), 13);
    }

    #[test]
    fn clock_skew_counts_the_device_clock_and_visits_from_the_future() {
        let a = facts(1, "h-1", T0);
        let mut b = facts(2, "h-2", T0 + 600 * MIN);
        b.device = DeviceId::from_bytes([2; 16]);
        let mut c = facts(3, "h-3", T0 + 1_200 * MIN);
        c.received_at = c.recorded_at.0 - 11 * MIN;
        let skews = BTreeMap::from([
            (DeviceId::from_bytes([1; 16]), 9 * MIN),
            (DeviceId::from_bytes([2; 16]), -11 * MIN),
        ]);
        let found: Vec<VisitId> = flags::clock_skew(&[a, b, c], &skews)
            .into_iter()
            .map(|f| f.visit)
            .collect();
        assert_eq!(
            found,
            vec![VisitId::from_bytes([2; 16]), VisitId::from_bytes([3; 16])]
        );
    }
}
