//! A server database with a small synthetic region and one enrolled device whose key the test
//! holds, for tests that call the sync path directly (no HTTP).

#![allow(clippy::unwrap_used, dead_code)]

use ed25519_dalek::SigningKey;
use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::ids::DeviceId;
use fieldvisit_core::journal::ChainPoint;
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::storage::sqlite::SqliteStorage;
use fieldvisit_server::storage::{DeviceRecord, Storage};

pub struct World {
    pub _dir: tempfile::TempDir,
    pub storage: SqliteStorage,
    pub device: DeviceRecord,
    pub key: SigningKey,
}

/// The region of `seed` loaded, and a device of its first cadre enrolled with `key`.
pub fn world(seed: u64, key: [u8; 32]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path().join("server.db")).unwrap();
    let region = Region::generate(RegionSpec::small(seed));
    let actor = fieldvisit_server::admin_log::Actor::new("test").unwrap();
    fieldvisit_server::admin::load_region(&storage, &region, &actor, ServerTime(0)).unwrap();
    let key = SigningKey::from_bytes(&key);
    let device = DeviceRecord {
        id: DeviceId::generate(WallTime(1_700_000_000_000)),
        cadre: region.cadres[0].id.clone(),
        public_key: key.verifying_key().to_bytes(),
        enrolled_at: ServerTime(0),
        revoked: None,
        retiring: None,
        head: ChainPoint::START,
        app_version: None,
        last_sync_at: None,
        pending_reported: 0,
        clock_skew_ms: 0,
    };
    let mut tx = storage.write().unwrap();
    tx.upsert_device(&device, &[1; 32]).unwrap();
    tx.commit().unwrap();
    World {
        _dir: dir,
        storage,
        device,
        key,
    }
}
