//! Compression dictionaries: trained by the server from the operations it accepted, advertised
//! to phones in every enrollment and sync response, fetched once by each phone, and then used
//! by both sides to compress sync bodies (the codec is `fieldvisit_core::sync::codec`).
//!
//! Training on the county's own traffic is the point: the dictionary learns the field names,
//! code values and the stock phrases cadres actually write, so a small daily sync compresses
//! to a fraction of what plain zstd makes of it. Dictionaries are never changed or deleted —
//! a phone that has not synced for months may still hold an old one — and retraining just
//! adds a newer one, which phones pick up at their next sync.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::protocol::{DEFAULT_PAGE_BYTES, PROTOCOL_VERSION, PushedOp, SyncRequest};
use fieldvisit_core::sync::codec::Dictionary;

use crate::admin_log::{self, Action, Actor};
use crate::error::{Error, Result};
use crate::storage::{Storage, StoredDictionary};

/// The dictionary size trained by default. 16 KiB is a one-time download of a few seconds on
/// 2G and does nearly as well as larger ones on visit bodies (docs/benchmarks.md).
pub const DEFAULT_SIZE: usize = 16 * 1024;
/// Operations sampled by default: the newest, so the dictionary follows current practice.
pub const DEFAULT_SAMPLES: usize = 20_000;
/// Fewer samples than this train a dictionary that mostly memorises them.
pub const MIN_SAMPLES: usize = 200;
/// The level the server compresses responses at: responses carry many households at once, so
/// the server's CPU matters more than the last few percent.
pub const RESPONSE_LEVEL: i32 = 3;

/// An operation as it crosses the wire: in a sync request of its own, which is what a phone
/// sends on a day with one visit, so the dictionary learns the request's frame too.
pub fn sample(op: &fieldvisit_core::journal::Operation) -> Result<Vec<u8>> {
    let request = SyncRequest {
        protocol: PROTOCOL_VERSION,
        device: op.device,
        app_version: env!("CARGO_PKG_VERSION").to_string(),
        device_time: op.wall,
        push: vec![PushedOp::from_operation(op)],
        cursor: 0,
        page_bytes: DEFAULT_PAGE_BYTES,
        pending: 0,
    };
    Ok(serde_json::to_vec(&request)?)
}

/// Trains a dictionary of `size` bytes on samples.
pub fn train(samples: &[Vec<u8>], size: usize) -> Result<Vec<u8>> {
    if samples.len() < MIN_SAMPLES {
        return Err(Error::refused(format!(
            "{} operations are too few to train a dictionary on; at least {MIN_SAMPLES} are needed",
            samples.len()
        )));
    }
    zstd::dict::from_samples(samples, size)
        .map_err(|e| Error::refused(format!("training the dictionary failed: {e}")))
}

/// Trains a dictionary on the newest accepted operations and makes it the current one.
pub fn train_from_storage(
    storage: &dyn Storage,
    samples: usize,
    size: usize,
    actor: &Actor,
    now: ServerTime,
) -> Result<StoredDictionary> {
    let ops = storage.read()?.recent_accepted_ops(samples)?;
    let samples = ops.iter().map(sample).collect::<Result<Vec<_>>>()?;
    let bytes = train(&samples, size)?;
    install(storage, bytes, samples.len() as u64, actor, now)
}

/// Stores trained dictionary bytes as the current dictionary, and logs it.
pub fn install(
    storage: &dyn Storage,
    bytes: Vec<u8>,
    samples: u64,
    actor: &Actor,
    now: ServerTime,
) -> Result<StoredDictionary> {
    let prepared = Dictionary::new(&bytes, RESPONSE_LEVEL)
        .map_err(|e| Error::refused(format!("the trained dictionary is unusable: {e}")))?;
    let stored = StoredDictionary {
        id: prepared.id(),
        bytes,
        samples,
        created_at: now,
    };
    let mut tx = storage.write()?;
    if tx.dictionary(stored.id)?.is_some() {
        return Err(Error::refused(format!(
            "a dictionary with id {} already exists; train again",
            stored.id
        )));
    }
    tx.put_dictionary(&stored)?;
    admin_log::record(
        tx.as_mut(),
        actor,
        now,
        Action::DictionaryTrain,
        &stored.id.to_string(),
        serde_json::json!({ "bytes": stored.bytes.len(), "samples": samples }),
    )?;
    tx.commit()?;
    Ok(stored)
}

/// The server's prepared dictionaries, loaded from storage on first use and kept (preparing
/// one takes milliseconds; a sync takes a few).
#[derive(Default)]
pub struct Dictionaries {
    prepared: RwLock<HashMap<u32, Arc<Dictionary>>>,
}

impl std::fmt::Debug for Dictionaries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionaries").finish_non_exhaustive()
    }
}

impl Dictionaries {
    /// The dictionary with this id, if the server has it.
    pub fn get(&self, storage: &dyn Storage, id: u32) -> Result<Option<Arc<Dictionary>>> {
        if let Some(found) = self
            .prepared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            return Ok(Some(found.clone()));
        }
        let Some(stored) = storage.read()?.dictionary(id)? else {
            return Ok(None);
        };
        let prepared = Arc::new(
            Dictionary::new(&stored.bytes, RESPONSE_LEVEL)
                .map_err(|e| Error::Corrupt(format!("stored dictionary {id}: {e}")))?,
        );
        self.prepared
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, prepared.clone());
        Ok(Some(prepared))
    }
}
