//! Visit photos through the bindings: add a photo the app captured (or picked), list photos
//! and where each stands with the server, commit a visit naming photos by hash, set what the
//! phone keeps, and sync with the network kind the app sees. Every rule lives in the core
//! (`fieldvisit_core::store` photos, `fieldvisit_core::sync::photos`).

use fieldvisit_core::clock::WallTime;
use fieldvisit_core::domain::photo::PhotoSource as CorePhotoSource;
use fieldvisit_core::store::{PhotoInfo, PhotoStorePolicy, UploadState};
use fieldvisit_core::sync::{NetworkKind, PhotoSync};

use crate::error::FieldvisitError;
use crate::records::{Identification, Location, SyncReport, VisitDraft, VisitSummary};
use crate::store::{FieldvisitStore, parse_visit_id};

type Result<T, E = FieldvisitError> = std::result::Result<T, E>;

/// Where a picture came from. Only camera captures count as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
pub enum PhotoSource {
    Camera,
    Gallery,
}

/// Where a photo stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
pub enum PhotoUploadState {
    /// No visit names it yet.
    Unattached,
    /// Its visit has not been accepted by the server yet.
    WaitingForVisit,
    /// Queued: it uploads with the next sync that allows photos.
    Queued,
    /// The server holds it; the phone keeps its thumbnail (or all of it, by policy).
    Uploaded,
}

/// When photos may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
pub enum PhotoSyncPolicy {
    Always,
    UnmeteredOnly,
    Never,
}

/// The network the app sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum, serde::Serialize)]
pub enum NetworkType {
    Unknown,
    Metered,
    Unmetered,
}

/// A photo on the phone.
#[derive(Debug, Clone, PartialEq, uniffi::Record, serde::Serialize)]
pub struct PhotoRecord {
    /// SHA-256 of the photo, 64 lowercase hex digits: how visits name it.
    pub sha256: String,
    pub size: u64,
    pub source: PhotoSource,
    pub captured_at_ms: i64,
    /// What the picture's EXIF block says, when it has one.
    pub exif_taken_at_ms: Option<i64>,
    pub exif_lat: Option<f64>,
    pub exif_lon: Option<f64>,
    /// The full photo is still on the phone.
    pub has_data: bool,
    pub has_thumbnail: bool,
    pub upload_state: PhotoUploadState,
}

impl From<PhotoInfo> for PhotoRecord {
    fn from(p: PhotoInfo) -> Self {
        PhotoRecord {
            sha256: p.sha256,
            size: p.size,
            source: match p.source {
                CorePhotoSource::Camera => PhotoSource::Camera,
                CorePhotoSource::Gallery => PhotoSource::Gallery,
            },
            captured_at_ms: p.captured_at.0,
            exif_taken_at_ms: p.exif.taken_at.map(|t| t.0),
            exif_lat: p.exif.location.map(|l| l.lat),
            exif_lon: p.exif.location.map(|l| l.lon),
            has_data: p.has_data,
            has_thumbnail: p.has_thumbnail,
            upload_state: match p.state {
                UploadState::Unattached => PhotoUploadState::Unattached,
                UploadState::WaitingForVisit => PhotoUploadState::WaitingForVisit,
                UploadState::Queued => PhotoUploadState::Queued,
                UploadState::Uploaded => PhotoUploadState::Uploaded,
            },
        }
    }
}

#[uniffi::export]
impl FieldvisitStore {
    /// Stores a photo by its SHA-256 and returns it (adding the same bytes again returns the
    /// photo already stored). `thumbnail` is the app's small preview (at most 64 KiB), kept
    /// after the full photo is uploaded. A photo over the size limit is a `Validation` error
    /// on `photo`; a full disk is `StorageFull`, with nothing written.
    pub fn add_photo(
        &self,
        bytes: Vec<u8>,
        source: PhotoSource,
        captured_at_ms: i64,
        thumbnail: Option<Vec<u8>>,
    ) -> Result<PhotoRecord> {
        let source = match source {
            PhotoSource::Camera => CorePhotoSource::Camera,
            PhotoSource::Gallery => CorePhotoSource::Gallery,
        };
        Ok(self
            .core()
            .add_photo(
                &bytes,
                source,
                WallTime(captured_at_ms),
                thumbnail.as_deref(),
            )?
            .into())
    }

    /// Every photo on the phone, newest first.
    pub fn photos(&self) -> Result<Vec<PhotoRecord>> {
        Ok(self.core().photos()?.into_iter().map(Into::into).collect())
    }

    /// The photos a visit names, in its order, with their upload state.
    pub fn visit_photos(&self, visit_id: String) -> Result<Vec<PhotoRecord>> {
        let id = parse_visit_id(&visit_id)?;
        Ok(self
            .core()
            .photos_of_visit(id)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Commits a visit as `commit_visit` does, naming the photos taken during it by hash
    /// (each added first with `add_photo`; an unknown hash is a `Validation` error on
    /// `photos` and nothing is written).
    pub fn commit_visit_with_photos(
        &self,
        identification: Identification,
        draft: VisitDraft,
        location: Option<Location>,
        photos: Vec<String>,
    ) -> Result<VisitSummary> {
        let content = draft.into_content()?;
        let record = self.core().record_visit_with_photos(
            identification.into(),
            content,
            location.map(Into::into),
            &photos,
        )?;
        self.visit_summary(record.id)
    }

    /// What the phone keeps: photos over `max_bytes` are refused (at most 8 MiB), and with
    /// `keep_full` uploaded photos stay whole instead of shrinking to their thumbnail.
    pub fn set_photo_policy(&self, max_bytes: u64, keep_full: bool) -> Result<()> {
        Ok(self.core().set_photo_policy(PhotoStorePolicy {
            max_bytes,
            keep_full,
        })?)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldvisitStore {
    /// Syncs as `sync` does, telling the engine the network the app sees and when photos may
    /// use it: visits always go first, photos after, as `photos` allows on `network`.
    pub async fn sync_on(
        &self,
        network: NetworkType,
        photos: PhotoSyncPolicy,
    ) -> Result<SyncReport> {
        let store = self.core().clone();
        let network = match network {
            NetworkType::Unknown => NetworkKind::Unknown,
            NetworkType::Metered => NetworkKind::Metered,
            NetworkType::Unmetered => NetworkKind::Unmetered,
        };
        let photos = match photos {
            PhotoSyncPolicy::Always => PhotoSync::Always,
            PhotoSyncPolicy::UnmeteredOnly => PhotoSync::UnmeteredOnly,
            PhotoSyncPolicy::Never => PhotoSync::Never,
        };
        tokio::task::spawn_blocking(move || crate::store::sync_blocking(&store, photos, network))
            .await
            .map_err(|_| FieldvisitError::internal("the sync task stopped unexpectedly"))?
    }
}
