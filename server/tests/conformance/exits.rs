//! Conformance checks for [`Exits`](fieldvisit_server::storage::Exits), the exit procedure's
//! events: every backend keeps a household's village notices and
//! county approvals with their days, times and actors, in the order they were recorded, apart
//! from other households' events, and only when the write commits.

use chrono::NaiveDate;

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::HouseholdId;
use fieldvisit_server::storage::{ExitEvent, ExitEventKind, Storage};

const T0: i64 = 1_700_000_000_000;

fn event(household: &str, kind: ExitEventKind, day: &str, at: i64, actor: &str) -> ExitEvent {
    ExitEvent {
        id: 0,
        household: HouseholdId::new(household).unwrap(),
        kind,
        day: day.parse::<NaiveDate>().unwrap(),
        at: ServerTime(T0 + at),
        actor: actor.into(),
    }
}

pub fn exit_events_round_trip_per_household_in_recorded_order(s: &dyn Storage) {
    let recorded = [
        event("h-1", ExitEventKind::Notice, "2026-11-20", 0, "县扶贫办"),
        event("h-2", ExitEventKind::Notice, "2026-11-21", 1, "admin"),
        // A notice published again replaces nothing: both are kept, in order.
        event("h-1", ExitEventKind::Notice, "2026-11-25", 2, "admin"),
        event("h-1", ExitEventKind::Approval, "2026-12-02", 3, "wang.li"),
    ];
    let mut tx = s.write().unwrap();
    let ids: Vec<u64> = recorded
        .iter()
        .map(|e| tx.insert_exit_event(e).unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    tx.commit().unwrap();

    let with_id = |i: usize| ExitEvent {
        id: ids[i],
        ..recorded[i].clone()
    };
    let mut tx = s.read().unwrap();
    assert_eq!(
        tx.exit_events_of_household(&HouseholdId::new("h-1").unwrap())
            .unwrap(),
        vec![with_id(0), with_id(2), with_id(3)]
    );
    assert_eq!(
        tx.exit_events_of_household(&HouseholdId::new("h-2").unwrap())
            .unwrap(),
        vec![with_id(1)]
    );
    assert!(
        tx.exit_events_of_household(&HouseholdId::new("h-3").unwrap())
            .unwrap()
            .is_empty()
    );
}

pub fn a_dropped_write_records_no_exit_event(s: &dyn Storage) {
    let h = HouseholdId::new("h-1").unwrap();
    let mut tx = s.write().unwrap();
    tx.insert_exit_event(&event(
        "h-1",
        ExitEventKind::Approval,
        "2026-12-02",
        0,
        "admin",
    ))
    .unwrap();
    drop(tx);
    assert!(
        s.read()
            .unwrap()
            .exit_events_of_household(&h)
            .unwrap()
            .is_empty()
    );
    // The next insert after the rollback is kept.
    let mut tx = s.write().unwrap();
    tx.insert_exit_event(&event(
        "h-1",
        ExitEventKind::Notice,
        "2026-11-25",
        1,
        "admin",
    ))
    .unwrap();
    tx.commit().unwrap();
    let kept = s.read().unwrap().exit_events_of_household(&h).unwrap();
    assert_eq!(
        kept.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [ExitEventKind::Notice]
    );
}
