//! Conformance checks for visit photos: links from accepted visits, chunks of uploads in
//! progress (replaced, listed, taken), and complete photos stored once per hash.

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::domain::photo::sha256_hex;
use fieldvisit_core::ids::{DeviceId, VisitId};
use fieldvisit_server::storage::{PhotoLink, Storage, StoredPhoto};

pub fn photo_links_are_idempotent_and_listed_by_visit(s: &dyn Storage) {
    let sha = sha256_hex(b"photo");
    let link = |visit: u8, device: u8, size: u64| PhotoLink {
        visit: VisitId::from_bytes([visit; 16]),
        sha256: sha.clone(),
        device: DeviceId::from_bytes([device; 16]),
        size,
    };
    let mut tx = s.write().unwrap();
    assert!(tx.photo_links(&sha).unwrap().is_empty());
    tx.link_photo(&link(2, 1, 500)).unwrap();
    tx.link_photo(&link(1, 9, 500)).unwrap();
    tx.link_photo(&link(2, 1, 500)).unwrap();
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(
        tx.photo_links(&sha).unwrap(),
        vec![link(1, 9, 500), link(2, 1, 500)],
        "one link per visit, by visit id"
    );
    assert!(tx.photo_links(&sha256_hex(b"other")).unwrap().is_empty());
}

pub fn photo_chunks_are_replaced_listed_and_taken(s: &dyn Storage) {
    let sha = sha256_hex(b"in progress");
    let mut tx = s.write().unwrap();
    assert!(tx.photo_chunk_indexes(&sha).unwrap().is_empty());
    tx.put_photo_chunk(&sha, 2, b"third").unwrap();
    tx.put_photo_chunk(&sha, 0, b"first?").unwrap();
    tx.put_photo_chunk(&sha, 0, b"first").unwrap();
    tx.put_photo_chunk(&sha256_hex(b"another"), 0, b"x")
        .unwrap();
    tx.commit().unwrap();
    let mut tx = s.write().unwrap();
    assert_eq!(tx.photo_chunk_indexes(&sha).unwrap(), vec![0, 2]);
    assert_eq!(
        tx.take_photo_chunks(&sha).unwrap(),
        vec![(0, b"first".to_vec()), (2, b"third".to_vec())],
        "ascending, the replacement kept"
    );
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert!(tx.photo_chunk_indexes(&sha).unwrap().is_empty(), "taken");
    assert_eq!(
        tx.photo_chunk_indexes(&sha256_hex(b"another")).unwrap(),
        vec![0],
        "other photos' chunks untouched"
    );
}

pub fn photos_are_stored_once_per_hash(s: &dyn Storage) {
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let sha = sha256_hex(&bytes);
    let photo = StoredPhoto {
        sha256: sha.clone(),
        size: bytes.len() as u64,
        stored_at: ServerTime(1_700_000_000_000),
    };
    let mut tx = s.write().unwrap();
    assert_eq!(tx.photo(&sha).unwrap(), None);
    assert_eq!(tx.photo_bytes(&sha).unwrap(), None);
    tx.put_photo(&photo, &bytes).unwrap();
    let later = StoredPhoto {
        stored_at: ServerTime(1_800_000_000_000),
        ..photo.clone()
    };
    tx.put_photo(&later, &bytes).unwrap();
    tx.commit().unwrap();
    let mut tx = s.read().unwrap();
    assert_eq!(
        tx.photo(&sha).unwrap(),
        Some(photo),
        "the first store stands"
    );
    assert_eq!(tx.photo_bytes(&sha).unwrap(), Some(bytes));
}

pub fn dropped_photo_writes_leave_nothing(s: &dyn Storage) {
    let sha = sha256_hex(b"rolled back");
    {
        let mut tx = s.write().unwrap();
        tx.put_photo_chunk(&sha, 0, b"chunk").unwrap();
        tx.put_photo(
            &StoredPhoto {
                sha256: sha.clone(),
                size: 11,
                stored_at: ServerTime(1),
            },
            b"rolled back",
        )
        .unwrap();
    }
    let mut tx = s.read().unwrap();
    assert!(tx.photo_chunk_indexes(&sha).unwrap().is_empty());
    assert_eq!(tx.photo(&sha).unwrap(), None);
}
