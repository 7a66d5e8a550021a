//! Conformance checks for [`Visits`](fieldvisit_server::storage::Visits): visits are stored
//! and read back by recording time, by id and by owner.

use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::ids::{CadreId, HouseholdId, VisitId};
use fieldvisit_server::storage::{ServerVisit, Storage};

use super::{T0, device_id};

pub fn visits(s: &dyn Storage) {
    let visit = |n: u8, manual: bool| ServerVisit {
        id: VisitId::from_bytes([n; 16]),
        household: HouseholdId::new(format!("h-{n}")).unwrap(),
        cadre: CadreId::new("cadre-1").unwrap(),
        device: device_id(1),
        server_seq: u64::from(n),
        recorded_at: WallTime(T0 + i64::from(n)),
        received_at: ServerTime(T0 + 100),
        kind: "routine".into(),
        manual,
        distance_m: (!manual).then_some(12.5),
        record: "{\"content\": \"入户走访\" }".into(),
    };
    let mut tx = s.write().unwrap();
    assert_eq!(tx.visit_count().unwrap(), 0);
    tx.insert_visit(&visit(1, false)).unwrap();
    tx.insert_visit(&visit(2, true)).unwrap();
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(tx.visit_count().unwrap(), 2);
    assert_eq!(
        tx.visit_owner(&VisitId::from_bytes([2; 16])).unwrap(),
        Some((
            CadreId::new("cadre-1").unwrap(),
            HouseholdId::new("h-2").unwrap()
        ))
    );
    assert_eq!(tx.visit_owner(&VisitId::from_bytes([3; 16])).unwrap(), None);
    assert_eq!(
        tx.visit(&VisitId::from_bytes([1; 16])).unwrap(),
        Some(visit(1, false)),
        "every column read back as stored"
    );
    assert_eq!(
        tx.visit(&VisitId::from_bytes([2; 16])).unwrap(),
        Some(visit(2, true))
    );
    assert_eq!(tx.visit(&VisitId::from_bytes([3; 16])).unwrap(), None);
    drop(tx);
    let mut tx = s.write().unwrap();
    assert!(
        tx.insert_visit(&visit(1, false)).is_err(),
        "a visit id once"
    );
}
