//! Conformance checks for what the server keeps of its own: compression dictionaries (never
//! replaced), the append-only admin log, and the plate authority's secrets.

use serde_json::json;

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::plate::PlateAuthority;
use fieldvisit_server::storage::{AdminLogEntry, Storage, StoredDictionary};

use super::T0;

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
