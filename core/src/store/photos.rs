//! Photos on the device: stored by SHA-256 until the server holds them, attached to visits by
//! hash, and then pruned to their thumbnail by the storage policy.
//!
//! Rules that protect evidence: a photo's bytes are deleted only after the server confirmed it
//! holds the complete, hash-checked photo ([`Store::photo_uploaded`]); a photo no accepted
//! visit names is never uploaded and never pruned. A full disk fails the one insert with
//! [`Error::StorageFull`] and leaves everything else as it was (one transaction per write).
//!
//! Thumbnails: the core decodes no images. The app hands one in with the photo (Android's
//! `ThumbnailUtils` and iOS's `UIGraphicsImageRenderer` use the platform's hardware decoders,
//! and an image decoder in the core would grow every phone's binary for work the platform
//! already does). Without one, a pruned photo keeps only its metadata and hash, which is what
//! evidence needs; the full picture stays on the server.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};

use super::Store;
use super::identity::{meta_get, meta_set};
use crate::clock::WallTime;
use crate::domain::photo::{
    self, ExifFacts, MAX_PHOTO_BYTES, MAX_PHOTOS_PER_VISIT, MAX_THUMBNAIL_BYTES, PhotoRef,
    PhotoSource,
};
use crate::error::{Error, Result};
use crate::ids::VisitId;
use crate::validate::{Invalid, Reason};

/// Schema step adding the photo tables (device schema version 2). Self-contained, so that only
/// its arm in `schema::upgrade_from` names a version.
pub const SCHEMA: &str = r#"
-- Photos by hash. `data` is the photo until the server holds it (kept afterwards only when
-- the policy says so); `uploaded_at` is set when the server confirmed the complete photo.
CREATE TABLE photo (
    sha256      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('camera', 'gallery')),
    captured_at INTEGER NOT NULL,
    exif        TEXT,
    added_at    INTEGER NOT NULL,
    data        BLOB,
    thumbnail   BLOB,
    uploaded_at INTEGER,
    CHECK (data IS NOT NULL OR uploaded_at IS NOT NULL)
) STRICT;

-- Which visits name which photos (this device's own visits).
CREATE TABLE visit_photo (
    visit    TEXT NOT NULL REFERENCES visit (id),
    sha256   TEXT NOT NULL REFERENCES photo (sha256),
    position INTEGER NOT NULL,
    PRIMARY KEY (visit, sha256)
) STRICT, WITHOUT ROWID;
CREATE INDEX visit_photo_hash ON visit_photo (sha256);
"#;

/// What the phone keeps of its photos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoStorePolicy {
    /// Photos larger than this are refused (at most [`MAX_PHOTO_BYTES`], the server's limit).
    pub max_bytes: u64,
    /// Keep the full photo after the server holds it (otherwise only its thumbnail).
    pub keep_full: bool,
}

impl Default for PhotoStorePolicy {
    fn default() -> Self {
        PhotoStorePolicy {
            max_bytes: MAX_PHOTO_BYTES,
            keep_full: false,
        }
    }
}

/// Where a photo stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadState {
    /// No visit names it yet: it stays on the phone.
    Unattached,
    /// Its visit has not been accepted by the server yet; photos go after visits.
    WaitingForVisit,
    /// Its visit is accepted; the photo is queued for upload.
    Queued,
    /// The server holds the complete, hash-checked photo.
    Uploaded,
}

/// A photo as the phone lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoInfo {
    pub sha256: String,
    pub size: u64,
    pub source: PhotoSource,
    pub captured_at: WallTime,
    pub exif: ExifFacts,
    pub added_at: WallTime,
    /// The full photo is still on the phone.
    pub has_data: bool,
    pub has_thumbnail: bool,
    pub state: UploadState,
}

impl PhotoInfo {
    fn to_ref(&self) -> PhotoRef {
        PhotoRef {
            sha256: self.sha256.clone(),
            size: self.size,
            source: self.source,
            captured_at: self.captured_at,
            exif: self.exif.clone(),
        }
    }
}

const POLICY_KEY: &str = "photo_policy";

const SELECT: &str = "SELECT p.sha256, p.size, p.source, p.captured_at, p.exif, p.added_at,
        p.data IS NOT NULL, p.thumbnail IS NOT NULL, p.uploaded_at IS NOT NULL,
        (SELECT count(*) FROM visit_photo vp WHERE vp.sha256 = p.sha256),
        (SELECT count(*) FROM visit_photo vp JOIN visit v ON v.id = vp.visit
            JOIN journal j ON j.seq = v.local_seq
          WHERE vp.sha256 = p.sha256 AND j.state = 'synced')
    FROM photo p";

fn info_from_row(r: &Row<'_>) -> Result<PhotoInfo> {
    let source: String = r.get(2)?;
    let exif: Option<String> = r.get(4)?;
    let (uploaded, named, accepted): (bool, i64, i64) = (r.get(8)?, r.get(9)?, r.get(10)?);
    let state = if uploaded {
        UploadState::Uploaded
    } else if accepted > 0 {
        UploadState::Queued
    } else if named > 0 {
        UploadState::WaitingForVisit
    } else {
        UploadState::Unattached
    };
    Ok(PhotoInfo {
        sha256: r.get(0)?,
        size: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
        source: PhotoSource::parse(&source)
            .map_err(|_| Error::Corrupt(format!("photo source {source}")))?,
        captured_at: WallTime(r.get(3)?),
        exif: exif
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| Error::Corrupt(format!("stored EXIF facts: {e}")))?
            .unwrap_or_default(),
        added_at: WallTime(r.get(5)?),
        has_data: r.get(6)?,
        has_thumbnail: r.get(7)?,
        state,
    })
}

fn collect(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<PhotoInfo>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(p)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(info_from_row(r)?);
    }
    Ok(out)
}

fn photo_on(conn: &Connection, sha256: &str) -> Result<Option<PhotoInfo>> {
    Ok(
        collect(conn, &format!("{SELECT} WHERE p.sha256 = ?1"), [sha256])?
            .into_iter()
            .next(),
    )
}

impl Store {
    /// Stores a photo under its SHA-256 and returns it; adding the same bytes again returns
    /// the photo already stored. EXIF capture time and GPS position are read when present.
    /// `thumbnail` is the app's small preview, kept after the full photo is pruned.
    pub fn add_photo(
        &self,
        bytes: &[u8],
        source: PhotoSource,
        captured_at: WallTime,
        thumbnail: Option<&[u8]>,
    ) -> Result<PhotoInfo> {
        let policy = self.photo_policy()?;
        let size = bytes.len() as u64;
        if size == 0 {
            return Err(Invalid::new("photo", Reason::Required).into());
        }
        if size > policy.max_bytes {
            return Err(Error::PhotoTooLarge {
                size,
                max: policy.max_bytes,
            });
        }
        if let Some(thumb) = thumbnail.filter(|t| t.len() > MAX_THUMBNAIL_BYTES) {
            return Err(Error::PhotoTooLarge {
                size: thumb.len() as u64,
                max: MAX_THUMBNAIL_BYTES as u64,
            });
        }
        let now = self.clock.now();
        crate::validate::timestamp_not_future(
            "captured_at",
            captured_at.0,
            now.0,
            crate::domain::visit::FUTURE_TOLERANCE_MS,
        )?;
        crate::validate::timestamp_plausible(
            "captured_at",
            captured_at.0,
            crate::domain::visit::EARLIEST_PLAUSIBLE_MS,
        )?;
        let sha256 = photo::sha256_hex(bytes);
        let exif = photo::read_exif(bytes);
        let exif_json = (!exif.is_empty())
            .then(|| serde_json::to_string(&exif))
            .transpose()?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO photo (sha256, size, source, captured_at, exif, added_at, data,
                     thumbnail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (sha256) DO NOTHING",
                params![
                    sha256,
                    i64::try_from(size).unwrap_or(i64::MAX),
                    source.as_str(),
                    captured_at.0,
                    exif_json,
                    now.0,
                    bytes,
                    thumbnail,
                ],
            )?;
            photo_on(tx, &sha256)?.ok_or_else(|| Error::Corrupt("photo just stored".into()))
        })
    }

    /// One photo, if the phone knows it.
    pub fn photo(&self, sha256: &str) -> Result<Option<PhotoInfo>> {
        self.read(|conn| photo_on(conn, sha256))
    }

    /// Every photo on the phone, newest first.
    pub fn photos(&self) -> Result<Vec<PhotoInfo>> {
        self.read(|conn| {
            collect(
                conn,
                &format!("{SELECT} ORDER BY p.added_at DESC, p.sha256"),
                [],
            )
        })
    }

    /// The photos a visit names, in the order the visit lists them.
    pub fn photos_of_visit(&self, visit: VisitId) -> Result<Vec<PhotoInfo>> {
        self.read(|conn| {
            let sql = format!(
                "{SELECT} JOIN visit_photo l ON l.sha256 = p.sha256 WHERE l.visit = ?1
                 ORDER BY l.position"
            );
            collect(conn, &sql, [visit.to_string()])
        })
    }

    /// The photo's bytes while the phone still holds them.
    pub fn photo_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        self.read(|conn| {
            Ok(conn
                .query_row("SELECT data FROM photo WHERE sha256 = ?1", [sha256], |r| {
                    r.get::<_, Option<Vec<u8>>>(0)
                })
                .optional()?
                .flatten())
        })
    }

    /// The app's thumbnail of a photo, if it gave one.
    pub fn photo_thumbnail(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT thumbnail FROM photo WHERE sha256 = ?1",
                    [sha256],
                    |r| r.get::<_, Option<Vec<u8>>>(0),
                )
                .optional()?
                .flatten())
        })
    }

    pub fn photo_policy(&self) -> Result<PhotoStorePolicy> {
        self.read(|conn| {
            let stored: Option<String> = meta_get(conn, POLICY_KEY)?;
            Ok(stored
                .map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(|e| Error::Corrupt(format!("stored photo policy: {e}")))?
                .unwrap_or_default())
        })
    }

    /// Sets what the phone keeps. Turning `keep_full` off does not prune photos already
    /// uploaded with it on: pruning happens only at the moment of upload.
    pub fn set_photo_policy(&self, policy: PhotoStorePolicy) -> Result<()> {
        if policy.max_bytes == 0 || policy.max_bytes > MAX_PHOTO_BYTES {
            return Err(Invalid::new(
                "max_bytes",
                Reason::IntOutOfRange {
                    min: 1,
                    max: i64::try_from(MAX_PHOTO_BYTES).unwrap_or(i64::MAX),
                },
            )
            .into());
        }
        let text = serde_json::to_string(&policy)?;
        self.write(|tx| meta_set(tx, POLICY_KEY, text))
    }

    /// Photos whose visit the server accepted and that it does not hold yet, oldest first:
    /// what the sync engine uploads.
    pub(crate) fn photos_to_upload(&self) -> Result<Vec<(String, u64)>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT p.sha256, p.size, p.added_at FROM photo p
                   JOIN visit_photo vp ON vp.sha256 = p.sha256
                   JOIN visit v ON v.id = vp.visit
                   JOIN journal j ON j.seq = v.local_seq
                  WHERE j.state = 'synced' AND p.uploaded_at IS NULL AND p.data IS NOT NULL
                  ORDER BY p.added_at, p.sha256",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (sha, size) = row?;
                out.push((sha, u64::try_from(size).unwrap_or(0)));
            }
            Ok(out)
        })
    }

    /// Notes that the server holds the complete photo, and applies the storage policy: the
    /// full bytes go unless the policy keeps them.
    pub(crate) fn photo_uploaded(&self, sha256: &str) -> Result<()> {
        let keep_full = self.photo_policy()?.keep_full;
        let now = self.clock.now();
        self.write(|tx| {
            tx.execute(
                "UPDATE photo SET uploaded_at = coalesce(uploaded_at, ?2),
                     data = CASE WHEN ?3 THEN data ELSE NULL END
                 WHERE sha256 = ?1",
                params![sha256, now.0, keep_full],
            )?;
            Ok(())
        })
    }
}

/// The photos a visit being recorded names, checked against the phone's store: each must be
/// a known photo, named once.
pub(super) fn refs_for_visit(tx: &Transaction<'_>, hashes: &[String]) -> Result<Vec<PhotoRef>> {
    if hashes.len() > MAX_PHOTOS_PER_VISIT {
        return Err(Invalid::new(
            "photos",
            Reason::TooMany {
                max: MAX_PHOTOS_PER_VISIT,
                found: hashes.len(),
            },
        )
        .into());
    }
    let mut out: Vec<PhotoRef> = Vec::with_capacity(hashes.len());
    for (i, hash) in hashes.iter().enumerate() {
        let field = format!("photos[{i}]");
        photo::check_hash(&field, hash)?;
        if out.iter().any(|p| &p.sha256 == hash) {
            return Err(Invalid::new(&field, Reason::Duplicate).into());
        }
        let info = photo_on(tx, hash)?.ok_or_else(|| Error::UnknownPhoto(hash.clone()))?;
        out.push(info.to_ref());
    }
    Ok(out)
}

/// Links a recorded visit to its photos.
pub(super) fn link(tx: &Transaction<'_>, visit: VisitId, photos: &[PhotoRef]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO visit_photo (visit, sha256, position) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )?;
    for (i, p) in photos.iter().enumerate() {
        stmt.execute(params![
            visit.to_string(),
            p.sha256,
            i64::try_from(i).unwrap_or(i64::MAX)
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_full_disk_refuses_the_photo_and_keeps_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("device.db")).unwrap();
        let at = WallTime(store.now().0 - 1000);
        let small = vec![1u8; 10_000];
        let first = store
            .add_photo(&small, PhotoSource::Camera, at, None)
            .unwrap();
        // The disk fills up: the file may grow by a few pages only.
        {
            let mut guard = super::super::lock(&store.writer);
            let conn = guard.as_mut().unwrap();
            let pages: i64 = conn
                .query_row("PRAGMA page_count", [], |r| r.get(0))
                .unwrap();
            conn.pragma_update(None, "max_page_count", pages + 4)
                .unwrap();
        }
        let err = store
            .add_photo(&vec![2u8; 1_000_000], PhotoSource::Camera, at, None)
            .unwrap_err();
        assert!(matches!(err, Error::StorageFull), "{err}");
        let photos = store.photos().unwrap();
        assert_eq!(photos.len(), 1, "nothing half-written");
        assert_eq!(store.photo_bytes(&first.sha256).unwrap().unwrap(), small);
    }
}
