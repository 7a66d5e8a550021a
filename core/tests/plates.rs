//! Scanning door plates on the device: every way a plate can be wrong is refused offline with
//! its own error, and a reissued plate supersedes the old one.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldvisit_core::Error;
use fieldvisit_core::codes::{CodeKind, HumanCode};
use fieldvisit_core::domain::RegistryRecord;
use fieldvisit_core::plate::{PlateAuthority, PlateError};

fn plate_error(result: Result<fieldvisit_core::store::Scanned, Error>) -> PlateError {
    match result {
        Err(Error::Plate(e)) => e,
        other => panic!("expected a plate error, got {other:?}"),
    }
}

#[test]
fn a_genuine_plate_scans_to_its_household() {
    let f = fixture("c-1");
    let scanned = f
        .store
        .scan(&f.authority.issue(&f.households[0].code, 1))
        .unwrap();
    assert_eq!((scanned.plate_key_id, scanned.plate_issue), (1, 1));
    assert_eq!(scanned.scanned_at.0, T0);
}

#[test]
fn forged_truncated_wrong_key_and_superseded_plates_each_get_their_own_error() {
    let f = fixture("c-1");
    let code = &f.households[0].code;
    let genuine = f.authority.issue(code, 1);

    // Forged: a valid plate's signature pasted onto another household's code.
    let other = f.authority.issue(&f.households[1].code, 1);
    let forged = format!("{}{}", &other[..20], &genuine[20..]);
    assert!(matches!(
        plate_error(f.store.scan(&forged)),
        PlateError::Forged | PlateError::Malformed { .. }
    ));
    // Forged: signed by someone else's key that claims the authority's key id.
    let impostor = PlateAuthority::from_secret(1, [9; 32]).issue(code, 1);
    assert_eq!(plate_error(f.store.scan(&impostor)), PlateError::Forged);

    // Truncated: a scan cut short.
    assert!(matches!(
        plate_error(f.store.scan(&genuine[..100])),
        PlateError::Truncated { .. }
    ));

    // Wrong key: signed by a key the device does not hold.
    let unknown = PlateAuthority::from_secret(2, [9; 32]).issue(code, 1);
    assert_eq!(
        plate_error(f.store.scan(&unknown)),
        PlateError::UnknownKey { key_id: 2 }
    );

    // Not a plate at all, and a plate format from the future.
    assert_eq!(
        plate_error(f.store.scan("https://example.org/")),
        PlateError::NotAPlate
    );
    assert!(matches!(
        plate_error(f.store.scan(&genuine.replacen("FV1", "FV2", 1))),
        PlateError::UnsupportedVersion { .. }
    ));

    // Superseded: the plate was reissued; the old one no longer opens the household.
    let mut reissued = f.households[0].clone();
    reissued.plate_issue = 2;
    f.store
        .apply_registry(&[RegistryRecord::Household(reissued)])
        .unwrap();
    assert_eq!(
        plate_error(f.store.scan(&genuine)),
        PlateError::Superseded {
            scanned: 1,
            current: 2
        }
    );
    assert!(f.store.scan(&f.authority.issue(code, 2)).is_ok());
}

#[test]
fn rotated_authority_keys_are_both_honoured() {
    let f = fixture("c-1");
    let next = PlateAuthority::from_secret(2, [8; 32]);
    f.store
        .apply_registry(&[RegistryRecord::AuthorityKey(next.public())])
        .unwrap();
    assert!(
        f.store
            .scan(&f.authority.issue(&f.households[0].code, 1))
            .is_ok()
    );
    assert!(f.store.scan(&next.issue(&f.households[0].code, 1)).is_ok());
}

#[test]
fn a_person_plate_or_an_unknown_household_plate_is_refused() {
    let f = fixture("c-1");
    let person = HumanCode::new(CodeKind::Person, 5001).unwrap();
    assert!(matches!(
        f.store.scan(&f.authority.issue(&person, 1)),
        Err(Error::NotAHouseholdCode)
    ));
    let stranger = HumanCode::new(CodeKind::Household, 424_242).unwrap();
    assert!(matches!(
        f.store.scan(&f.authority.issue(&stranger, 1)),
        Err(Error::UnknownHousehold)
    ));
}
