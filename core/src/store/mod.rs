//! The device store: a phone's SQLite database and the facade the app (through the FFI layer)
//! holds. One writer connection and one reader, each behind a mutex; every write runs in one
//! IMMEDIATE transaction, so a change and its journal operation land together or not at all.
//!
//! The device's Ed25519 key is created on first open and kept in the store; nothing in this
//! API returns the private half.

mod edits;
mod exit;
mod identity;
mod journal_log;
mod photos;
mod registry;
pub mod schema;
mod sync_apply;
mod sync_state;
mod visits;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::clock::{Clock, SystemClock, WallTime};
use crate::domain::CodeLists;
use crate::error::{Error, Result};
use crate::ids::DeviceId;

pub use identity::{Enrollment, Identity};
pub use journal_log::{OpState, OperationStatus};
pub use photos::{PhotoInfo, PhotoStorePolicy, UploadState};
pub use registry::{HouseholdDetail, HouseholdSummary, Scanned};
pub use sync_state::{ApplyOutcome, SyncFailure, SyncStatus};
pub use visits::VisitView;

/// An open device store. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Store {
    path: PathBuf,
    writer: Mutex<Option<Connection>>,
    reader: Mutex<Option<Connection>>,
    clock: Arc<dyn Clock>,
    device: identity::DeviceKey,
    codes: RwLock<CodeCache>,
    /// Held for the whole of a sync, so that two syncs of one store (a tap on "sync now"
    /// while the background job runs) take turns instead of applying the same pages twice.
    sync_lock: Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("device", &self.device.id)
            .finish()
    }
}

/// The code lists, cached in memory: validation consults them on every write.
#[derive(Debug, Default)]
struct CodeCache(std::collections::HashSet<(String, String)>);

impl CodeLists for CodeCache {
    fn has(&self, list: &str, code: &str) -> bool {
        self.0.has(list, code)
    }
}

impl Store {
    /// Opens (or creates) the store at `path` with the system clock.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Self::open_with_clock(path, Arc::new(SystemClock))
    }

    /// Opens (or creates) the store at `path`, reading time from `clock`.
    pub fn open_with_clock(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Store> {
        Self::open_keyed(path.as_ref(), clock, None)
    }

    /// Opens (or creates) the store at `path` encrypted at rest (SQLCipher) under
    /// `passphrase`. A wrong passphrase, a missing one, or a plain store answers
    /// [`Error::NotADatabase`] before anything is written: the file is left as it was.
    #[cfg(feature = "sqlcipher")]
    pub fn open_encrypted(path: impl AsRef<Path>, passphrase: &str) -> Result<Store> {
        if passphrase.is_empty() {
            // SQLCipher reads an empty key as "no encryption".
            return Err(crate::validate::Invalid::new(
                "passphrase",
                crate::validate::Reason::Required,
            )
            .into());
        }
        Self::open_keyed(path.as_ref(), Arc::new(SystemClock), Some(passphrase))
    }

    fn open_keyed(path: &Path, clock: Arc<dyn Clock>, key: Option<&str>) -> Result<Store> {
        let path = path.to_path_buf();
        let mut writer = crate::sqlite::open_writer_keyed(&path, &schema::DEVICE, key)?;
        let device = identity::DeviceKey::load_or_create(&mut writer, clock.now())?;
        let reader = crate::sqlite::open_reader_keyed(&path, &schema::DEVICE, key)?;
        let store = Store {
            path,
            writer: Mutex::new(Some(writer)),
            reader: Mutex::new(Some(reader)),
            clock,
            device,
            codes: RwLock::new(CodeCache::default()),
            sync_lock: Mutex::new(()),
        };
        store.reload_codes()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn device_id(&self) -> DeviceId {
        self.device.id
    }

    /// The device's public key, sent to the server at enrollment.
    pub fn device_public_key(&self) -> [u8; 32] {
        self.device.public_key()
    }

    pub fn now(&self) -> WallTime {
        self.clock.now()
    }

    /// Closes the store; later calls answer [`Error::Closed`].
    pub fn close(&self) {
        // The reader goes first so that the writer, closing last, checkpoints the WAL into
        // the main file (a read-only connection cannot).
        for slot in [&self.reader, &self.writer] {
            let mut guard = lock(slot);
            guard.take();
        }
    }

    /// Taken by the sync engine for the whole of one sync.
    pub(crate) fn sync_guard(&self) -> MutexGuard<'_, ()> {
        lock(&self.sync_lock)
    }

    /// Runs `f` in one IMMEDIATE transaction on the writer connection.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut guard = lock(&self.writer);
        let conn = guard.as_mut().ok_or(Error::Closed)?;
        let tx = Transaction::new(conn, TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` on the reader connection (a consistent snapshot for its duration).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut guard = lock(&self.reader);
        let conn = guard.as_mut().ok_or(Error::Closed)?;
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.finish()?;
        Ok(out)
    }

    fn reload_codes(&self) -> Result<()> {
        let set = self.read(|conn| {
            let mut stmt = conn.prepare("SELECT list, code FROM code_list")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<std::collections::HashSet<_>>>()?)
        })?;
        let mut cache = self
            .codes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.0 = set;
        Ok(())
    }

    fn with_codes<T>(&self, f: impl FnOnce(&CodeCache) -> T) -> T {
        let cache = self
            .codes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&cache)
    }
}

/// A poisoned lock means a panic elsewhere mid-call; SQLite rolled back any open
/// transaction, so the connection is still sound and is used as it is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
