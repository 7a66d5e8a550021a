//! Conformance checks for [`Dictionaries`](fieldvisit_server::storage::Dictionaries):
//! compression dictionaries are kept, never replaced, and the newest is current.

use fieldvisit_core::clock::ServerTime;
use fieldvisit_server::storage::{Storage, StoredDictionary};

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
