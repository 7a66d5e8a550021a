//! Every admin action that exists appends exactly one entry to the admin log, in the same
//! transaction as the action: who (the actor), what, to which subject, and the particulars. An
//! action that fails appends nothing, and no entry ever holds an enrollment code.

#![allow(clippy::unwrap_used)]

use fieldvisit_core::ids::DeviceId;
use fieldvisit_server::admin_log::Actor;
use fieldvisit_server::storage::AdminLogEntry;
use fieldvisit_tests::harness::{TestServer, now, today};

fn log(server: &TestServer) -> Vec<AdminLogEntry> {
    let mut entries = server.storage.read().unwrap().admin_log(100).unwrap();
    entries.reverse();
    entries
}

#[test]
fn every_admin_action_appends_one_entry_naming_its_actor_and_subject() {
    let server = TestServer::start(31);
    let county = Actor::new("county-admin").unwrap();
    let household = server.region.households[0].clone();
    let cadre = server.cadres_of(&household)[0].clone();
    let other = server
        .region
        .cadres
        .iter()
        .find(|c| c.id != cadre && c.role == "assisting")
        .unwrap()
        .id
        .clone();

    let code = fieldvisit_server::enroll::create_code(
        server.storage.as_ref(),
        &cadre,
        now(),
        60_000,
        &county,
    )
    .unwrap();
    let phone = server.device(&cadre);
    fieldvisit_server::admin::revoke(
        server.storage.as_ref(),
        &phone.device_id(),
        "phone lost",
        &county,
        now(),
    )
    .unwrap();
    let assignment = fieldvisit_server::admin::reassign(
        server.storage.as_ref(),
        &household.id,
        &other,
        today(),
        &county,
        now(),
    )
    .unwrap();
    let sheet = server.dir.path().join("v.svg");
    fieldvisit_server::plates::print_village(
        server.storage.as_ref(),
        &household.village,
        &sheet,
        &county,
        now(),
    )
    .unwrap();
    fieldvisit_server::plates::reissue(
        server.storage.as_ref(),
        household.id.as_str(),
        Some("damaged"),
        &county,
        now(),
    )
    .unwrap();

    let entries = log(&server);
    let summary: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("test", "region.load"),
            ("county-admin", "enroll.code"),
            ("test", "enroll.code"),
            ("county-admin", "device.revoke"),
            ("county-admin", "household.reassign"),
            ("county-admin", "plates.print"),
            ("county-admin", "plate.reissue"),
        ]
    );
    assert_eq!(entries[1].subject, cadre.as_str());
    assert_eq!(entries[3].subject, phone.device_id().to_string());
    assert_eq!(entries[3].detail["reason"], "phone lost");
    assert_eq!(entries[4].subject, household.id.as_str());
    assert_eq!(entries[4].detail["to"], other.as_str());
    assert_eq!(entries[4].detail["assignment"], assignment.to_string());
    assert_eq!(entries[5].subject, household.village);
    assert_eq!(entries[6].detail["reason"], "damaged");
    // Ids increase with every entry, and times never go back.
    assert!(
        entries
            .windows(2)
            .all(|w| w[0].id < w[1].id && w[0].at <= w[1].at)
    );
    // An enrollment code is a credential: it is never logged.
    for e in &entries {
        assert!(!e.detail.to_string().contains(&code.code), "{e:?}");
    }
}

#[test]
fn a_failed_admin_action_appends_nothing() {
    let server = TestServer::start(32);
    let before = log(&server);
    let county = Actor::new("county-admin").unwrap();
    let nobody = DeviceId::generate(fieldvisit_core::clock::WallTime(now().0));
    assert!(
        fieldvisit_server::admin::revoke(server.storage.as_ref(), &nobody, "x", &county, now())
            .is_err()
    );
    let cadre = fieldvisit_core::ids::CadreId::new("c-nobody").unwrap();
    assert!(
        fieldvisit_server::enroll::create_code(server.storage.as_ref(), &cadre, now(), 1, &county)
            .is_err()
    );
    assert!(
        fieldvisit_server::admin::reassign(
            server.storage.as_ref(),
            &server.region.households[0].id,
            &cadre,
            today(),
            &county,
            now(),
        )
        .is_err()
    );
    assert_eq!(log(&server), before);
}
