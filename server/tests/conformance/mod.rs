//! The storage conformance suite: every test takes a fresh, empty `&dyn Storage` and checks
//! what the `Storage` and `Tx` traits promise, so that every backend gives the sync protocol
//! the same answers. `storage_conformance_sqlite.rs` runs it on the embedded backend and
//! `storage_conformance_postgres.rs` on PostgreSQL; [`conformance_suite!`] makes one `#[test]`
//! per check, so a new check is added to every backend at once.
//!
//! The checks live in one file per family of transaction methods, named as the family's
//! trait and its file in `server/src/storage/` are (`registry`, `plate_keys`, `devices`,
//! `journal`, `feeds`, `visits`, `photos`, `exits`, `admin_log`, `accounts`, `dictionaries`),
//! plus `transactions` for [`Storage`] and `Tx` themselves; this file holds the list that runs
//! them and the fixtures they share (a small region, devices, signed chains).

#![allow(clippy::unwrap_used, dead_code)]

mod accounts;
pub use accounts::*;
mod admin_log;
pub use admin_log::*;
mod devices;
pub use devices::*;
mod dictionaries;
pub use dictionaries::*;
mod exits;
pub use exits::*;
mod feeds;
pub use feeds::*;
mod journal;
pub use journal::*;
mod photos;
pub use photos::*;
mod plate_keys;
pub use plate_keys::*;
mod registry;
pub use registry::*;
mod transactions;
pub use transactions::*;
mod visits;
pub use visits::*;

use ed25519_dalek::SigningKey;

use fieldvisit_core::clock::{Hlc, ServerTime, WallTime};
use fieldvisit_core::domain::RegistryRecord;
use fieldvisit_core::ids::{CadreId, DeviceId, OpId};
use fieldvisit_core::journal::{ChainPoint, Operation, UnsignedOperation};
use fieldvisit_core::synth::{Region, RegionSpec};
use fieldvisit_server::storage::{DeviceRecord, Storage};

/// Makes one `#[test]` per conformance check, each on a fresh storage from `$with`, a
/// function `fn(impl FnOnce(&dyn Storage))` that makes the storage, runs the check, and
/// cleans up (or says why it skipped).
#[macro_export]
macro_rules! conformance_suite {
    ($with:path) => {
        $crate::conformance_suite!(@tests $with;
            registry_round_trips,
            registry_upserts_replace,
            scope_follows_the_dates,
            field_values_and_clocks,
            conflicts_newest_first,
            enrollment_codes_redeem_once,
            devices_upsert_revoke_and_token,
            journal_round_trips_byte_for_byte,
            journal_outcomes_and_counts,
            server_seq_increases_in_commit_order,
            visits,
            feeds,
            feed_runs_take_consecutive_positions,
            savepoint_rollback_undoes_only_the_inner_work,
            dropped_write_rolls_back,
            writers_are_serialised,
            reads_see_a_snapshot,
            dictionaries,
            admin_log_is_append_only,
            authority_secrets,
            admin_users_are_unique_and_listed_by_name,
            disabling_an_admin_keeps_the_account_and_ends_its_sessions,
            login_failures_are_counted_and_cleared,
            admin_sessions_touch_end_and_expire,
            a_dropped_write_creates_no_admin,
            photo_links_are_idempotent_and_listed_by_visit,
            photo_chunks_are_replaced_listed_and_taken,
            photos_are_stored_once_per_hash,
            dropped_photo_writes_leave_nothing,
            exit_events_round_trip_per_household_in_recorded_order,
            a_dropped_write_records_no_exit_event
        );
    };
    (@tests $with:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $with(|storage| conformance::$name(storage));
            }
        )*
    };
}

const T0: i64 = 1_700_000_000_000;

fn region() -> Region {
    Region::generate(RegionSpec::small(7))
}

fn records(r: &Region) -> Vec<RegistryRecord> {
    let mut out = Vec::new();
    out.extend(r.areas.iter().cloned().map(RegistryRecord::Area));
    out.extend(r.cadres.iter().cloned().map(RegistryRecord::Cadre));
    out.extend(r.households.iter().cloned().map(RegistryRecord::Household));
    out.extend(r.members.iter().cloned().map(RegistryRecord::Member));
    out.extend(
        r.assignments
            .iter()
            .cloned()
            .map(RegistryRecord::Assignment),
    );
    out.extend(r.posts.iter().cloned().map(RegistryRecord::VillagePost));
    out.extend(r.measures.iter().cloned().map(RegistryRecord::Measure));
    out.extend(
        r.authority_keys()
            .into_iter()
            .map(RegistryRecord::AuthorityKey),
    );
    out
}

/// Loads the small region through `put_record` in one committed write.
fn load(s: &dyn Storage) -> Region {
    let r = region();
    let mut tx = s.write().unwrap();
    for rec in records(&r) {
        tx.put_record(&rec).unwrap();
    }
    tx.commit().unwrap();
    r
}

fn device_id(n: u8) -> DeviceId {
    DeviceId::from_bytes([n; 16])
}

fn device(n: u8, cadre: &CadreId) -> DeviceRecord {
    DeviceRecord {
        id: device_id(n),
        cadre: cadre.clone(),
        public_key: SigningKey::from_bytes(&[n; 32]).verifying_key().to_bytes(),
        enrolled_at: ServerTime(T0 + i64::from(n)),
        revoked: None,
        head: ChainPoint::START,
        app_version: Some("1.0".into()),
        last_sync_at: None,
        pending_reported: 0,
        clock_skew_ms: 0,
        retiring: None,
    }
}

fn token(n: u8) -> [u8; 32] {
    [n.wrapping_add(100); 32]
}

fn add_device(s: &dyn Storage, n: u8, cadre: &CadreId) -> DeviceRecord {
    let d = device(n, cadre);
    let mut tx = s.write().unwrap();
    tx.upsert_device(&d, &token(n)).unwrap();
    tx.commit().unwrap();
    d
}

/// A chain of signed operations for device `n`; payloads keep odd whitespace and non-ASCII
/// text, which must come back byte for byte.
fn chain(n: u8, len: u64, kind: &str) -> Vec<Operation> {
    let key = SigningKey::from_bytes(&[n; 32]);
    let mut head = ChainPoint::START;
    let mut hlc = Hlc::ZERO;
    (1..=len)
        .map(|seq| {
            let wall = WallTime(T0 + i64::try_from(seq).unwrap() * 1000);
            hlc = Hlc::tick(hlc, wall);
            let mut id = [0u8; 16];
            id[0] = n;
            id[8..].copy_from_slice(&seq.to_be_bytes());
            let op = UnsignedOperation {
                id: OpId::from_bytes(id),
                device: device_id(n),
                seq,
                hlc,
                wall,
                kind: kind.into(),
                payload: format!("{{ \"n\":{seq},  \"note\": \"入户 ✓\"\t}}"),
                prev_hash: head.hash,
            }
            .sign(&key);
            head = ChainPoint {
                seq,
                hash: op.digest(),
            };
            op
        })
        .collect()
}

fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}
