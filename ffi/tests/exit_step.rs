//! The exit step (退出) through the binding: a cadre who is not the village's first secretary
//! is refused with an error naming the field, and the household's status does not move.

#![allow(clippy::unwrap_used)]

mod support;

use fieldvisit_ffi::{FieldvisitError, FieldvisitStore};
use support::{Scenario, block_on};

#[test]
fn a_cadre_moving_a_poverty_status_is_refused_and_nothing_changes() {
    let scenario = Scenario::start();
    let path = scenario.work.path().join("phone.db");
    let phone = FieldvisitStore::open(path.display().to_string(), None).unwrap();
    phone
        .enroll(scenario.server.url.clone(), scenario.code())
        .unwrap();
    block_on(phone.sync()).unwrap();
    let id = scenario.household.id.as_str().to_string();
    let before = phone.household(id.clone()).unwrap().unwrap().poverty_status;

    let refused = phone.move_poverty_status(id.clone(), "pre_exit".into(), None);
    match refused {
        Err(FieldvisitError::Validation { field, reason }) => {
            assert_eq!(field, "poverty_status");
            assert!(reason.contains("first secretary"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let after = phone.household(id).unwrap().unwrap().poverty_status;
    assert_eq!(before, after);
}
