//! How a sync runs ([`SyncOptions`]): the retry policy, the page budget, the push batch, the
//! round limit, and when photos may use the network ([`PhotoSync`]). Read by the engine and by
//! the photo upload alike.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::transport::{NetworkKind, RetryPolicy, Sleeper, ThreadSleeper};
use crate::protocol::DEFAULT_PAGE_BYTES;

/// How a sync runs.
#[derive(Clone)]
pub struct SyncOptions {
    pub retry: RetryPolicy,
    pub sleeper: Arc<dyn Sleeper>,
    /// The pull page budget sent to the server, in bytes of uncompressed JSON.
    pub page_bytes: u32,
    /// Operations pushed per request at most.
    pub max_push_ops: usize,
    /// Rounds per sync at most, so that a server that never says "done" cannot hold the
    /// phone's radio forever.
    pub max_rounds: u32,
    pub app_version: String,
    /// When photos upload (after the visits, in the same sync).
    pub photos: PhotoSync,
    /// The network the phone is on, for [`PhotoSync::UnmeteredOnly`].
    pub network: NetworkKind,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            retry: RetryPolicy::default(),
            sleeper: Arc::new(ThreadSleeper),
            page_bytes: DEFAULT_PAGE_BYTES,
            max_push_ops: 500,
            max_rounds: 1000,
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            photos: PhotoSync::default(),
            network: NetworkKind::default(),
        }
    }
}

impl fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncOptions")
            .field("retry", &self.retry)
            .field("page_bytes", &self.page_bytes)
            .field("max_push_ops", &self.max_push_ops)
            .field("max_rounds", &self.max_rounds)
            .field("app_version", &self.app_version)
            .field("photos", &self.photos)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

/// When photos may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoSync {
    /// With every sync, after the visits.
    #[default]
    Always,
    /// Only when the caller says the network is unmetered (Wi-Fi at the township office).
    UnmeteredOnly,
    /// Never: visits only.
    Never,
}
