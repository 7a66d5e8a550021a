//! Conformance checks for phones: enrollment codes redeem once (the same device may ask
//! again), and devices are upserted, found by token, revoked, retired and given their head.

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::CadreId;
use fieldvisit_core::journal::ChainPoint;
use fieldvisit_server::storage::Storage;

use super::{T0, add_device, device, device_id, token};

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
