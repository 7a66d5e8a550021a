//! Synchronous work called from async code: the storage and the domain functions are plain
//! blocking functions, and whoever holds an async task (an HTTP handler, the group committer)
//! runs them here, on tokio's blocking pool, so that a slow disk never stalls the workers that
//! handle requests. Nothing here knows HTTP.

use crate::error::{Error, Result};

/// Runs `f` on tokio's blocking pool and returns what it returned; a worker that panicked or
/// was cancelled is [`Error::Worker`] (an internal fault).
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Error::Worker)?
}
