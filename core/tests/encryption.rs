//! At-rest encryption (feature `sqlcipher`): a store opened with a passphrase is unreadable
//! without it; the right passphrase finds everything again; a wrong or missing passphrase is a
//! clear error and leaves the file exactly as it was.
//!
//! `cargo test -p fieldvisit-core --features sqlcipher --test encryption`

#![cfg(feature = "sqlcipher")]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use fieldvisit_core::domain::visit::Identification;
use fieldvisit_core::ids::{CadreId, VisitId};
use fieldvisit_core::plate::PlateAuthority;
use fieldvisit_core::store::Enrollment;
use fieldvisit_core::{Error, Store};

const DIARY: &str = "巴特尔家西屋屋顶漏雨，已联系维修。";

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// An encrypted store holding the test registry and one recorded visit, closed.
fn encrypted_store(path: &Path, passphrase: &str) -> VisitId {
    let store = Store::open_encrypted(path, passphrase).unwrap();
    let authority = PlateAuthority::from_secret(1, [7; 32]);
    let (records, households) = common::registry(&authority);
    store.apply_registry(&records).unwrap();
    store
        .enroll(&Enrollment {
            cadre: CadreId::new("c-1").unwrap(),
            authority_keys: vec![authority.public()],
            server_url: None,
            token: None,
        })
        .unwrap();
    let mut content = common::content(DIARY);
    content.follow_up_due = None;
    let manual = Identification::Manual {
        code: households[0].code.as_str().to_string(),
        reason: "门牌丢失".into(),
    };
    let visit = store.record_visit(manual, content, None).unwrap();
    store.close();
    visit.id
}

#[test]
fn an_encrypted_store_holds_no_readable_text_and_reopens_with_its_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let visit = encrypted_store(&path, "正确的口令 correct horse");

    let raw = bytes(&path);
    assert!(
        !raw.starts_with(b"SQLite format 3"),
        "no plain SQLite header"
    );
    let needle = DIARY.as_bytes();
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle),
        "the diary is not in the file in clear"
    );

    let store = Store::open_encrypted(&path, "正确的口令 correct horse").unwrap();
    let found = store.visit(visit).unwrap().unwrap();
    assert_eq!(found.content.diary, DIARY);
    assert_eq!(store.verify_journal().unwrap().seq, 1);
}

#[test]
fn a_wrong_or_missing_passphrase_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    encrypted_store(&path, "right");
    let before = bytes(&path);

    let wrong = Store::open_encrypted(&path, "wrong").unwrap_err();
    assert!(matches!(wrong, Error::NotADatabase(_)), "{wrong:?}");
    let missing = Store::open(&path).unwrap_err();
    assert!(matches!(missing, Error::NotADatabase(_)), "{missing:?}");
    assert_eq!(bytes(&path), before, "the file is untouched");

    Store::open_encrypted(&path, "right").unwrap();
}

#[test]
fn a_plain_store_is_not_opened_as_encrypted_and_an_empty_passphrase_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.db");
    Store::open(&plain).unwrap().close();
    let before = bytes(&plain);
    let err = Store::open_encrypted(&plain, "any").unwrap_err();
    assert!(matches!(err, Error::NotADatabase(_)), "{err:?}");
    assert_eq!(bytes(&plain), before);

    let err = Store::open_encrypted(dir.path().join("new.db"), "").unwrap_err();
    assert!(
        matches!(err, Error::Invalid(ref i) if i.field == "passphrase"),
        "{err:?}"
    );
}
