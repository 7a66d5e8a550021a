//! What one sync did ([`SyncReport`]): counted by the sync engine as it runs, kept by the store
//! for the phone's sync screen. It sits below both so that the store, which the engine drives,
//! never reaches into the engine for it.

use serde::{Deserialize, Serialize};

use crate::clock::ServerTime;

/// What one sync did; also kept in the store for the phone's sync screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Operations sent in requests that were answered (one resent after a gap counts again).
    pub pushed: u64,
    /// Operations newly marked synced.
    pub acknowledged: u64,
    /// Operations newly marked rejected.
    pub rejected: u64,
    /// Feed entries applied.
    pub pulled: u64,
    /// Incoming field values that lost to a newer local edit, or local values overwritten by
    /// newer remote ones.
    pub conflicts: u64,
    /// Households removed because they left this device's scope.
    pub purged: u64,
    /// Requests sent, retries included.
    pub requests: u32,
    pub retries: u32,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// The device clock's offset from the server's at the last response (positive: ahead).
    pub clock_skew_ms: i64,
    /// The server's clock at the last response.
    pub server_time: ServerTime,
    /// Nothing was left to push and the server had no more pages.
    pub complete: bool,
    /// The compression dictionary the phone holds after this sync, if any.
    #[serde(default)]
    pub dictionary: Option<u32>,
    /// Photos the server confirmed complete in this sync.
    #[serde(default)]
    pub photos_uploaded: u64,
    /// Photo bytes sent, chunks re-sent after a cut counted again.
    #[serde(default)]
    pub photo_bytes_up: u64,
    /// Photos of accepted visits still waiting to upload after this sync (held back by the
    /// photo policy, or not reached).
    #[serde(default)]
    pub photos_pending: u64,
    /// Photos the server refused, or whose copy on the phone no longer matches its hash;
    /// they stay on the phone.
    #[serde(default)]
    pub photos_failed: u64,
}

impl SyncReport {
    /// A report of a sync that has done nothing yet.
    pub(crate) fn empty() -> SyncReport {
        SyncReport {
            pushed: 0,
            acknowledged: 0,
            rejected: 0,
            pulled: 0,
            conflicts: 0,
            purged: 0,
            requests: 0,
            retries: 0,
            bytes_up: 0,
            bytes_down: 0,
            clock_skew_ms: 0,
            server_time: ServerTime(0),
            complete: false,
            dictionary: None,
            photos_uploaded: 0,
            photo_bytes_up: 0,
            photos_pending: 0,
            photos_failed: 0,
        }
    }
}
