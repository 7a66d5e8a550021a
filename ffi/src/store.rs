//! `FieldvisitStore`: the object a phone app holds — a thin wrapper over an
//! `Arc<fieldvisit_core::Store>`. Every method converts plain records in, calls the core,
//! and converts records and errors out; no rule of the domain lives here.
//!
//! Threading: the store is safe to share between threads; each call takes the core's own
//! locks. Blocking calls (everything but `sync`) do local SQLite work, except `enroll`, which
//! makes one HTTP request. `sync` is async: it runs the core's blocking sync on tokio's
//! blocking pool, so a Kotlin coroutine or a Swift task awaits it without holding a thread of
//! the caller's. Two syncs of one store take turns (the core holds a lock for a whole sync).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use fieldvisit_core::Store;
use fieldvisit_core::domain::visit::VisitAmendment;
use fieldvisit_core::ids::{HouseholdId, VisitId};
use fieldvisit_core::protocol::{EXPORT_FORMAT, UnsyncedExport};
use fieldvisit_core::store::OpState;
use fieldvisit_core::sync::http::HttpTransport;
use fieldvisit_core::sync::{self, NetworkKind, PhotoSync, SyncOptions};

use crate::error::FieldvisitError;
use crate::records::{
    HouseholdDetail, HouseholdSummary, Identification, Identity, Location, OperationStatus,
    ScannedHousehold, SyncReport, SyncStatus, VisitChanges, VisitDraft, VisitSummary,
    household_detail, parse_date,
};

/// An open device store.
#[derive(Debug, uniffi::Object)]
pub struct FieldvisitStore {
    inner: Arc<Store>,
}

type Result<T, E = FieldvisitError> = std::result::Result<T, E>;

fn core_err(e: impl Into<fieldvisit_core::Error>) -> FieldvisitError {
    FieldvisitError::from(e.into())
}

/// Runs blocking network work on a thread of its own, so that reqwest's blocking client is
/// never driven from inside some caller's async runtime (where it would panic).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|s| s.spawn(f).join())
        .map_err(|_| FieldvisitError::internal("a worker thread panicked"))
}

fn transport(store: &Store) -> Result<HttpTransport> {
    let url = store
        .identity()?
        .server_url
        .ok_or(FieldvisitError::NotEnrolled)?;
    HttpTransport::new(&url).map_err(|e| FieldvisitError::NetworkUnavailable {
        detail: e.to_string(),
    })
}

/// The blocking half of `sync`: what runs on tokio's blocking pool.
pub(crate) fn sync_blocking(
    store: &Store,
    photos: PhotoSync,
    network: NetworkKind,
) -> Result<SyncReport> {
    let transport = transport(store)?;
    let options = SyncOptions {
        photos,
        network,
        ..SyncOptions::default()
    };
    Ok(sync::sync(store, &transport, &options)?.into())
}

impl FieldvisitStore {
    /// Wraps a store that is already open (for Rust callers and tests).
    pub fn from_core(store: Arc<Store>) -> Arc<Self> {
        Arc::new(FieldvisitStore { inner: store })
    }

    /// The core store, for the other exported parts of this object (photos).
    pub(crate) fn core(&self) -> &Arc<Store> {
        &self.inner
    }

    pub(crate) fn visit_summary(&self, id: VisitId) -> Result<VisitSummary> {
        self.inner
            .visit(id)?
            .map(VisitSummary::from)
            .ok_or(FieldvisitError::UnknownVisit)
    }
}

#[uniffi::export]
impl FieldvisitStore {
    /// Opens (or creates) the store at `path`. With a `passphrase` the file is encrypted at
    /// rest (SQLCipher); a wrong or missing passphrase answers `WrongPassphrase` and changes
    /// nothing.
    #[uniffi::constructor]
    pub fn open(path: String, passphrase: Option<String>) -> Result<Arc<Self>> {
        let store = open_core(Path::new(&path), passphrase)?;
        Ok(Self::from_core(Arc::new(store)))
    }

    /// This device's id (a UUID, made on first open).
    pub fn device_id(&self) -> String {
        self.inner.device_id().to_string()
    }

    /// The device and, once enrolled, its cadre and server.
    pub fn identity(&self) -> Result<Identity> {
        Ok(self.inner.identity()?.into())
    }

    /// Enrolls this device with a one-time code from a sync admin. Blocks for one HTTP
    /// request: call it off the UI thread.
    pub fn enroll(&self, server_url: String, code: String) -> Result<Identity> {
        let store = &self.inner;
        let identity = off_runtime(|| {
            let transport = HttpTransport::new(&server_url).map_err(|e| {
                FieldvisitError::NetworkUnavailable {
                    detail: e.to_string(),
                }
            })?;
            let version = env!("CARGO_PKG_VERSION");
            sync::enroll(store, &transport, &server_url, &code, version).map_err(core_err)
        })??;
        Ok(identity.into())
    }

    /// Verifies a scanned door plate offline and finds its household (which must be the
    /// cadre's today).
    pub fn scan(&self, payload: String) -> Result<ScannedHousehold> {
        Ok(self.inner.scan(&payload)?.into())
    }

    /// The households the cadre is responsible for today, filtered by `search` (household
    /// code, a member's name, the village's name or code; Chinese text works), at most
    /// `limit`, ordered by village then code.
    pub fn households(&self, search: Option<String>, limit: u32) -> Result<Vec<HouseholdSummary>> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(self
            .inner
            .households(search.as_deref(), limit)?
            .into_iter()
            .map(HouseholdSummary::from)
            .collect())
    }

    /// One household with members, measures and visit history, if the device holds it.
    pub fn household(&self, id: String) -> Result<Option<HouseholdDetail>> {
        let id = HouseholdId::new(id).map_err(core_err)?;
        let Some(detail) = self.inner.household(&id)? else {
            return Ok(None);
        };
        let visits = self.inner.visits_for(&id)?;
        Ok(Some(household_detail(detail, visits)))
    }

    /// Commits a visit: identifies the household, checks it is the cadre's today, validates
    /// the draft and the location, and writes the visit with its signed journal operation.
    pub fn commit_visit(
        &self,
        identification: Identification,
        draft: VisitDraft,
        location: Option<Location>,
    ) -> Result<VisitSummary> {
        let content = draft.into_content()?;
        let record =
            self.inner
                .record_visit(identification.into(), content, location.map(Into::into))?;
        self.visit_summary(record.id)
    }

    /// One visit, if the device holds it.
    pub fn visit(&self, visit_id: String) -> Result<Option<VisitSummary>> {
        let id = parse_visit_id(&visit_id)?;
        Ok(self.inner.visit(id)?.map(VisitSummary::from))
    }

    /// Amends a visit this cadre recorded; returns the visit as now shown.
    pub fn amend_visit(
        &self,
        visit_id: String,
        reason: String,
        changes: VisitChanges,
    ) -> Result<VisitSummary> {
        let visit = parse_visit_id(&visit_id)?;
        self.inner.amend_visit(VisitAmendment {
            visit,
            reason,
            changes: changes.into_core()?,
        })?;
        self.visit_summary(visit)
    }

    /// Moves a household's poverty status one exit step (退出) to `to` (a `poverty_status`
    /// code). Only the village's first secretary may; pre-exit rests on an exit-verification
    /// visit (`verification_visit_id`) with the full checklist answered. Exited is never a
    /// phone's step: the county approves it after the village notice, and the new status
    /// arrives with a sync.
    /// A refused step is a `Validation` error on `poverty_status` and nothing is written.
    /// Returns the household as now shown.
    pub fn move_poverty_status(
        &self,
        household_id: String,
        to: String,
        verification_visit_id: Option<String>,
    ) -> Result<HouseholdDetail> {
        let id = HouseholdId::new(household_id).map_err(core_err)?;
        let verification = verification_visit_id
            .as_deref()
            .map(parse_visit_id)
            .transpose()?;
        self.inner.move_poverty_status(&id, &to, verification)?;
        self.household(id.as_str().to_string())?
            .ok_or(FieldvisitError::UnknownHousehold)
    }

    /// The cadre's visits with a follow-up due on or before `until_date` (`YYYY-MM-DD`).
    pub fn follow_ups_due(&self, until_date: String) -> Result<Vec<VisitSummary>> {
        let until = parse_date("until_date", &until_date)?;
        Ok(self
            .inner
            .follow_ups_due(until)?
            .into_iter()
            .map(VisitSummary::from)
            .collect())
    }

    /// Operations waiting to be sent or acknowledged.
    pub fn pending_count(&self) -> Result<u64> {
        Ok(self.inner.sync_status()?.pending)
    }

    /// Where the device stands with the server.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        Ok(self.inner.sync_status()?.into())
    }

    /// Every operation of this device's journal, oldest first, with its state (pending,
    /// synced, or rejected with the server's reason).
    pub fn operations(&self) -> Result<Vec<OperationStatus>> {
        // Whatever `unsynced` does not list (pending or rejected) is synced.
        let unsynced: BTreeMap<u64, _> = self
            .inner
            .unsynced()?
            .into_iter()
            .map(|u| (u.seq, u))
            .collect();
        let ops = self.inner.operations(0, usize::MAX)?;
        Ok(ops
            .into_iter()
            .map(|op| {
                let open = unsynced.get(&op.seq);
                OperationStatus {
                    seq: op.seq,
                    id: op.id.to_string(),
                    kind: op.kind,
                    recorded_at_ms: op.wall.0,
                    state: open.map_or(OpState::Synced, |u| u.state).into(),
                    reject_reason: open.and_then(|u| u.reject_reason.clone()),
                }
            })
            .collect())
    }

    /// The report of the last sync that finished, if any.
    pub fn last_sync_report(&self) -> Result<Option<SyncReport>> {
        Ok(self.inner.last_sync_report()?.map(SyncReport::from))
    }

    /// Writes every operation the server has not acknowledged to `path` as one JSON file,
    /// for a sync admin to import when the phone is broken or revoked. Returns how many
    /// operations were written. The file holds personal data: hand it over, do not share it.
    pub fn export_unsynced(&self, path: String) -> Result<u64> {
        let status = self.inner.sync_status()?;
        let operations = self.inner.operations(status.acked_seq, usize::MAX)?;
        let count = u64::try_from(operations.len()).unwrap_or(u64::MAX);
        let file = UnsyncedExport {
            format: EXPORT_FORMAT.to_string(),
            device: self.inner.device_id().to_string(),
            public_key: data_encoding::BASE64.encode(&self.inner.device_public_key()),
            cadre: self.inner.identity()?.cadre.map(|c| c.as_str().to_string()),
            exported_at: Some(self.inner.now().0),
            acked_seq: Some(status.acked_seq),
            operations,
        };
        let json = serde_json::to_vec_pretty(&file).map_err(core_err)?;
        write_atomically(Path::new(&path), &json)?;
        Ok(count)
    }

    /// Closes the store's database; later calls answer `StoreClosed`. (Named so as not to
    /// clash with Kotlin's `AutoCloseable.close`, which frees the object itself.)
    pub fn close_store(&self) {
        self.inner.close();
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldvisitStore {
    /// Pushes every pending operation and pulls every waiting page. Async: await it from a
    /// coroutine or task; never block the UI thread on it. Progress is committed page by
    /// page, so a sync cut off by a lost signal resumes where it stopped.
    pub async fn sync(&self) -> Result<SyncReport> {
        let store = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            sync_blocking(&store, PhotoSync::default(), NetworkKind::default())
        })
        .await
        .map_err(|_| FieldvisitError::internal("the sync task stopped unexpectedly"))?
    }
}

/// A fresh, empty visit draft (a routine visit).
#[uniffi::export]
pub fn new_draft() -> VisitDraft {
    VisitDraft {
        kind: "routine".to_string(),
        checklist: Vec::new(),
        problems: Vec::new(),
        help: Vec::new(),
        diary: String::new(),
        follow_up_due: None,
        acknowledged: false,
    }
}

pub(crate) fn parse_visit_id(text: &str) -> Result<VisitId> {
    VisitId::parse(text.trim())
        .map_err(|_| FieldvisitError::validation("visit_id", "is not a visit id"))
}

#[cfg(not(feature = "sqlcipher"))]
fn open_core(path: &Path, passphrase: Option<String>) -> Result<Store> {
    if passphrase.is_some() {
        return Err(FieldvisitError::EncryptionUnavailable);
    }
    Ok(Store::open(path)?)
}

#[cfg(feature = "sqlcipher")]
fn open_core(path: &Path, passphrase: Option<String>) -> Result<Store> {
    Ok(match passphrase {
        Some(key) => Store::open_encrypted(path, &key)?,
        None => Store::open(path)?,
    })
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place, so that a
/// crash mid-write never leaves half an export where a whole one is expected.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| match e.raw_os_error() {
        // ENOSPC
        Some(28) => FieldvisitError::StorageFull,
        _ => FieldvisitError::validation("path", format!("cannot be written ({})", e.kind())),
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
