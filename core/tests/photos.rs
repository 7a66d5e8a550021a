//! Visit photos on the phone: stored once by hash with their EXIF facts, refused when too
//! large, named by the visits that record them, uploaded after their visit as the photo policy
//! allows, and pruned to their thumbnail only once the server holds them.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "support/fake_server.rs"]
mod fake_server;

use std::io::Cursor;
use std::sync::Arc;

use common::*;
use fake_server::{FakeServer, RecordingSleeper};
use fieldvisit_core::clock::WallTime;
use fieldvisit_core::domain::photo::{CHUNK_BYTES, PhotoSource, sha256_hex};
use fieldvisit_core::domain::visit::{Identification, VisitRecord};
use fieldvisit_core::protocol::RejectCode;
use fieldvisit_core::store::{PhotoStorePolicy, UploadState};
use fieldvisit_core::sync::{self, NetworkKind, PhotoSync, SyncOptions};
use fieldvisit_core::{Error, Store};

/// A JPEG-framed picture of `size` bytes whose APP1 segment holds an EXIF block written by the
/// `exif` crate: capture time 2024-06-01 09:58:00 (no offset: China Standard Time) and a GPS
/// position at 49.5° N, 119.25° E.
pub fn jpeg_with_exif(size: usize, seed: u8) -> Vec<u8> {
    use exif::experimental::Writer;
    use exif::{Field, In, Rational, Tag, Value};
    let fields = [
        Field {
            tag: Tag::DateTimeOriginal,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"2024:06:01 09:58:00".to_vec()]),
        },
        Field {
            tag: Tag::GPSLatitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"N".to_vec()]),
        },
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![
                Rational::from((49, 1)),
                Rational::from((30, 1)),
                Rational::from((0, 1)),
            ]),
        },
        Field {
            tag: Tag::GPSLongitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"E".to_vec()]),
        },
        Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![
                Rational::from((119, 1)),
                Rational::from((15, 1)),
                Rational::from((0, 1)),
            ]),
        },
    ];
    let mut writer = Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();
    let tiff = tiff.into_inner();
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&u16::try_from(2 + 6 + tiff.len()).unwrap().to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    // Image data stand-in: varied bytes, so that no two photos share chunks.
    let mut x = u32::from(seed) + 1;
    while out.len() < size - 2 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        out.push((x >> 24) as u8);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

struct Setup {
    f: Fixture,
    server: FakeServer,
    options: SyncOptions,
}

fn setup() -> Setup {
    let f = fixture("c-1");
    let server = FakeServer::new("c-1", vec![f.authority.public()]);
    sync::enroll(&f.store, &server, "https://sync.test", "ENROL-0001", "test").unwrap();
    let options = SyncOptions {
        sleeper: Arc::new(RecordingSleeper::default()),
        app_version: "test".into(),
        ..SyncOptions::default()
    };
    Setup { f, server, options }
}

fn record_with(f: &Fixture, photos: &[String]) -> Result<VisitRecord, Error> {
    f.store.record_visit_with_photos(
        Identification::Manual {
            code: f.households[0].code.as_str().to_string(),
            reason: "门牌脱落".into(),
        },
        content("入户走访，查看住房和饮水情况。"),
        None,
        photos,
    )
}

fn add(store: &Store, bytes: &[u8]) -> String {
    store
        .add_photo(
            bytes,
            PhotoSource::Camera,
            WallTime(T0 - 60_000),
            Some(b"thumb"),
        )
        .unwrap()
        .sha256
}

#[test]
fn a_photo_is_stored_once_by_its_hash_with_its_exif_facts() {
    let f = fixture("c-1");
    let bytes = jpeg_with_exif(150_000, 1);
    let info = f
        .store
        .add_photo(&bytes, PhotoSource::Camera, WallTime(T0 - 60_000), None)
        .unwrap();
    assert_eq!(info.sha256, sha256_hex(&bytes));
    assert_eq!(info.size, bytes.len() as u64);
    assert_eq!(info.state, UploadState::Unattached);
    // 2024-06-01 09:58:00 in China Standard Time is two minutes before T0 (10:00 CST).
    assert_eq!(info.exif.taken_at, Some(WallTime(T0 - 120_000)));
    let at = info.exif.location.unwrap();
    assert!((at.lat - 49.5).abs() < 1e-9 && (at.lon - 119.25).abs() < 1e-9);

    let again = f
        .store
        .add_photo(&bytes, PhotoSource::Gallery, WallTime(T0), None)
        .unwrap();
    assert_eq!(again.source, PhotoSource::Camera, "the first add stands");
    assert_eq!(f.store.photos().unwrap().len(), 1);
    assert_eq!(
        f.store.photo_bytes(&info.sha256).unwrap().unwrap(),
        bytes,
        "the bytes read back are the bytes stored"
    );
}

#[test]
fn an_oversized_photo_is_refused_with_its_size_and_nothing_is_stored() {
    let f = fixture("c-1");
    f.store
        .set_photo_policy(PhotoStorePolicy {
            max_bytes: 100_000,
            keep_full: false,
        })
        .unwrap();
    let err = f
        .store
        .add_photo(
            &jpeg_with_exif(100_001, 2),
            PhotoSource::Camera,
            WallTime(T0),
            None,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::PhotoTooLarge {
                size: 100_001,
                max: 100_000
            }
        ),
        "{err}"
    );
    assert!(f.store.photos().unwrap().is_empty());
    // A policy above the server's limit is refused too.
    assert!(
        f.store
            .set_photo_policy(PhotoStorePolicy {
                max_bytes: 64 * 1024 * 1024,
                keep_full: false
            })
            .is_err()
    );
}

#[test]
fn a_visit_naming_an_unknown_photo_is_refused_and_not_recorded() {
    let f = fixture("c-1");
    let unknown = sha256_hex(b"never added");
    let err = record_with(&f, std::slice::from_ref(&unknown)).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownPhoto(h) if *h == unknown),
        "{err}"
    );
    let err = record_with(&f, &["not-a-hash".into()]).unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    assert!(f.store.visits_for(&f.households[0].id).unwrap().is_empty());
    assert!(f.store.operations(0, usize::MAX).unwrap().is_empty());
}

#[test]
fn the_visit_operation_carries_each_photo_and_old_payloads_still_parse() {
    let f = fixture("c-1");
    let a = add(&f.store, &jpeg_with_exif(90_000, 3));
    let record = record_with(&f, std::slice::from_ref(&a)).unwrap();
    assert_eq!(record.photos.len(), 1);
    assert_eq!(record.photos[0].sha256, a);
    assert_eq!(record.photos[0].size, 90_000);
    assert_eq!(record.photos[0].source, PhotoSource::Camera);
    assert!(record.photos[0].exif.taken_at.is_some());
    let op = f.store.operations(0, 1).unwrap().remove(0);
    assert!(op.payload.contains(&a));
    let listed = f.store.photos_of_visit(record.id).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, UploadState::WaitingForVisit);

    // A record written before photos existed has none, and re-encodes to the same text.
    let mut old: serde_json::Value = serde_json::from_str(&op.payload).unwrap();
    old.as_object_mut().unwrap().remove("photos");
    let text = old.to_string();
    let parsed: VisitRecord = serde_json::from_str(&text).unwrap();
    assert!(parsed.photos.is_empty());
    assert!(!serde_json::to_string(&parsed).unwrap().contains("photos"));
}

#[test]
fn photos_upload_after_their_visit_and_only_the_thumbnail_is_kept() {
    let s = setup();
    let bytes = jpeg_with_exif(3 * CHUNK_BYTES as usize + 10, 4);
    let sha = add(&s.f.store, &bytes);
    let kept = add(&s.f.store, &jpeg_with_exif(20_000, 5)); // named by no visit
    record_with(&s.f, std::slice::from_ref(&sha)).unwrap();

    let report = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert_eq!(report.acknowledged, 1);
    assert_eq!(report.photos_uploaded, 1);
    assert_eq!(report.photo_bytes_up, bytes.len() as u64);
    assert_eq!(report.photos_pending, 0);
    assert_eq!(s.server.state().photos[&sha], bytes);

    let info = s.f.store.photo(&sha).unwrap().unwrap();
    assert_eq!(info.state, UploadState::Uploaded);
    assert!(!info.has_data && info.has_thumbnail);
    assert_eq!(s.f.store.photo_bytes(&sha).unwrap(), None);
    assert_eq!(
        s.f.store.photo_thumbnail(&sha).unwrap().as_deref(),
        Some(&b"thumb"[..])
    );
    // The photo no visit names was neither sent nor pruned.
    let other = s.f.store.photo(&kept).unwrap().unwrap();
    assert_eq!(other.state, UploadState::Unattached);
    assert!(other.has_data);

    // Nothing is sent twice.
    let again = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert_eq!((again.photos_uploaded, again.photo_bytes_up), (0, 0));
}

#[test]
fn the_keep_full_policy_keeps_uploaded_photos() {
    let s = setup();
    s.f.store
        .set_photo_policy(PhotoStorePolicy {
            keep_full: true,
            ..PhotoStorePolicy::default()
        })
        .unwrap();
    let bytes = jpeg_with_exif(70_000, 6);
    let sha = add(&s.f.store, &bytes);
    record_with(&s.f, std::slice::from_ref(&sha)).unwrap();
    sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    let info = s.f.store.photo(&sha).unwrap().unwrap();
    assert_eq!(info.state, UploadState::Uploaded);
    assert_eq!(s.f.store.photo_bytes(&sha).unwrap().unwrap(), bytes);
}

#[test]
fn photos_wait_for_an_unmetered_network_when_told_to() {
    let s = setup();
    let sha = add(&s.f.store, &jpeg_with_exif(80_000, 7));
    record_with(&s.f, std::slice::from_ref(&sha)).unwrap();
    let metered = SyncOptions {
        photos: PhotoSync::UnmeteredOnly,
        network: NetworkKind::Metered,
        ..s.options.clone()
    };
    let report = sync::sync(&s.f.store, &s.server, &metered).unwrap();
    assert_eq!(report.acknowledged, 1, "visits go regardless");
    assert_eq!((report.photos_uploaded, report.photos_pending), (0, 1));
    assert_eq!(s.server.state().photo_bytes, 0);
    let info = s.f.store.photo(&sha).unwrap().unwrap();
    assert_eq!(info.state, UploadState::Queued);
    assert!(info.has_data);

    let never = SyncOptions {
        photos: PhotoSync::Never,
        network: NetworkKind::Unmetered,
        ..s.options.clone()
    };
    let report = sync::sync(&s.f.store, &s.server, &never).unwrap();
    assert_eq!((report.photos_uploaded, report.photos_pending), (0, 1));

    let wifi = SyncOptions {
        network: NetworkKind::Unmetered,
        ..metered
    };
    let report = sync::sync(&s.f.store, &s.server, &wifi).unwrap();
    assert_eq!((report.photos_uploaded, report.photos_pending), (1, 0));
}

#[test]
fn photos_of_a_refused_visit_are_never_sent_nor_pruned() {
    let s = setup();
    let bytes = jpeg_with_exif(40_000, 8);
    let sha = add(&s.f.store, &bytes);
    record_with(&s.f, std::slice::from_ref(&sha)).unwrap();
    s.server
        .state()
        .reject
        .insert(1, (RejectCode::NotAssigned, "not assigned".into()));
    let report = sync::sync(&s.f.store, &s.server, &s.options).unwrap();
    assert_eq!(report.rejected, 1);
    assert_eq!(report.photos_uploaded, 0);
    assert_eq!(s.server.state().photo_bytes, 0);
    let info = s.f.store.photo(&sha).unwrap().unwrap();
    assert_eq!(info.state, UploadState::WaitingForVisit);
    assert_eq!(s.f.store.photo_bytes(&sha).unwrap().unwrap(), bytes);
}
