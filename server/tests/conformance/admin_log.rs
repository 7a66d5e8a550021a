//! Conformance checks for [`AdminLog`](fieldvisit_server::storage::AdminLog): the admin log
//! is append-only and read newest first.

use serde_json::json;

use fieldvisit_core::clock::ServerTime;
use fieldvisit_server::storage::{AdminLogEntry, Storage};

use super::T0;

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
