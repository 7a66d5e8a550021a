//! Conformance checks for [`PlateKeys`](fieldvisit_server::storage::PlateKeys): the plate
//! authority's secrets are stored, replaced and the newest signs.

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::plate::PlateAuthority;
use fieldvisit_server::storage::Storage;

use super::T0;

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
