//! The end of a phone's life, end to end over real HTTP: a retiring phone's final upload is
//! accepted and then it is revoked; a revoked phone's exported work is imported exactly once,
//! and a tampered or foreign file is refused with nothing stored; the devices listing counts
//! rejections and flags stuck and silent phones.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::{CadreId, DeviceId};
use fieldvisit_core::sync::SyncOptions;
use fieldvisit_core::{Error, Store};
use fieldvisit_ffi::FieldvisitStore;
use fieldvisit_server::devices::{self, DeviceState, Retired};
use fieldvisit_tests::harness::{TestServer, admin, now, options, today};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// An assisting cadre with at least two households today.
fn cadre_with_two_households(server: &TestServer, skip: usize) -> CadreId {
    server
        .region
        .cadres
        .iter()
        .filter(|c| c.role == "assisting" && server.region.households_of(&c.id, today()).len() >= 2)
        .nth(skip)
        .unwrap()
        .id
        .clone()
}

/// Exports the phone's unsynced work with the phone library's own `export_unsynced`
/// (fieldvisit-ffi, docs/mobile.md), as the app's "export" button does.
fn export(store: &Arc<Store>, path: &Path) -> PathBuf {
    let phone = FieldvisitStore::from_core(store.clone());
    phone
        .export_unsynced(path.to_str().unwrap().to_string())
        .unwrap();
    path.to_path_buf()
}

/// A copy of the file at `path` with `from` replaced by `to` (which must occur).
fn altered(path: &Path, name: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in the file");
    let out = path.with_file_name(name);
    std::fs::write(&out, text.replace(from, to)).unwrap();
    out
}

fn visit_count(server: &TestServer) -> u64 {
    server.storage.read().unwrap().visit_count().unwrap()
}

fn device_record(server: &TestServer, id: &DeviceId) -> fieldvisit_server::storage::DeviceRecord {
    server.storage.read().unwrap().device(id).unwrap().unwrap()
}

fn import(server: &TestServer, path: &Path) -> fieldvisit_server::Result<devices::ImportReport> {
    devices::import_unsynced(
        server.storage.as_ref(),
        &std::fs::read(path).unwrap(),
        &admin(),
        now(),
    )
}

#[test]
fn a_retiring_phone_uploads_its_pending_visits_then_is_revoked_and_keeps_its_data() {
    let server = TestServer::start(31);
    let cadre = cadre_with_two_households(&server, 0);
    let store = server.device(&cadre);
    let households = server.region.households_of(&cadre, today());
    let first = server.record_visit(&store, households[0], 1).unwrap();
    let second = server.record_visit(&store, households[1], 2).unwrap();
    let device = store.device_id();
    let before = visit_count(&server);

    let done = devices::retire(
        server.storage.as_ref(),
        &device,
        "cadre transferred",
        false,
        &admin(),
        now(),
    )
    .unwrap();
    assert_eq!(done, Retired::Retiring);

    // A sync that leaves work behind (one operation a request, one request) does not revoke.
    let one_at_a_time = SyncOptions {
        max_push_ops: 1,
        max_rounds: 1,
        ..options()
    };
    fieldvisit_core::sync::sync(&store, &server.transport(), &one_at_a_time).unwrap();
    let record = device_record(&server, &device);
    assert!(record.revoked.is_none(), "one visit is still pending");
    assert!(record.retiring.is_some());
    let listed = devices::health(server.storage.as_ref(), now(), 3).unwrap();
    let line = listed.iter().find(|h| h.device.id == device).unwrap();
    assert_eq!(line.state, DeviceState::Retiring);
    assert_eq!(line.device.pending_reported, 1);

    // The final upload: accepted, acknowledged, and the phone revoked in the same commit.
    let report = server.sync(&store).unwrap();
    assert_eq!(report.acknowledged, 1);
    assert!(store.unsynced().unwrap().is_empty());
    assert_eq!(visit_count(&server), before + 2);
    let mut tx = server.storage.read().unwrap();
    assert!(tx.visit_owner(&first.id).unwrap().is_some());
    assert!(tx.visit_owner(&second.id).unwrap().is_some());
    let revoked = tx.device(&device).unwrap().unwrap().revoked.unwrap();
    assert_eq!(revoked.reason, "retired: cadre transferred");
    let log = tx.admin_log(5).unwrap();
    drop(tx);
    assert!(
        log.iter().any(|e| e.action == "device.revoke"
            && e.actor == "server"
            && e.subject == device.to_string()),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|e| e.action == "device.retire" && e.actor == "test")
    );

    match server.sync(&store) {
        Err(Error::Revoked { reason }) => assert!(reason.contains("retired"), "{reason}"),
        other => panic!("expected Revoked, got {other:?}"),
    }
    assert!(store.visit(first.id).unwrap().is_some(), "local data kept");
    assert!(store.visit(second.id).unwrap().is_some());
    store.verify_journal().unwrap();
}

#[test]
fn a_lost_phones_exported_visits_are_imported_once_and_a_tampered_or_foreign_file_is_refused() {
    let server = TestServer::start(32);
    let dir = tempfile::tempdir().unwrap();
    let cadre = cadre_with_two_households(&server, 0);
    let store = Arc::new(server.device(&cadre));
    let households = server.region.households_of(&cadre, today());
    let first = server.record_visit(&store, households[0], 1).unwrap();
    let second = server.record_visit(&store, households[1], 2).unwrap();
    let device = store.device_id();

    // Lost: revoked at once, with its two visits still on the phone.
    let done = devices::retire(
        server.storage.as_ref(),
        &device,
        "phone lost",
        true,
        &admin(),
        now(),
    )
    .unwrap();
    assert_eq!(done, Retired::Revoked);
    assert!(matches!(server.sync(&store), Err(Error::Revoked { .. })));
    let file = export(&store, &dir.path().join("unsynced.json"));
    let before = visit_count(&server);
    let head_before = device_record(&server, &device).head;

    // A tampered file: one byte of the second operation's payload changed.
    let ops = store.operations(0, usize::MAX).unwrap();
    let target = &ops[ops.len() - 1];
    let payload = &target.payload;
    let changed = payload.replacen("\":\"", "\":\"x", 1);
    assert_ne!(&changed, payload);
    let tampered = altered(&file, "tampered.json", payload, &changed);
    let err = import(&server, &tampered).unwrap_err().to_string();
    assert!(
        err.contains(&format!("operation {} ({})", target.seq, target.id)),
        "{err}"
    );
    assert!(err.contains("signature"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(visit_count(&server), before, "nothing stored");
    assert_eq!(device_record(&server, &device).head, head_before);

    // A file for a device this server never enrolled, and one with another key.
    let stranger = DeviceId::generate(store.now()).to_string();
    let foreign = altered(&file, "foreign.json", &device.to_string(), &stranger);
    let err = import(&server, &foreign).unwrap_err().to_string();
    assert!(err.contains("unknown device"), "{err}");
    let key = data_encoding::BASE64.encode(&store.device_public_key());
    let other_key = data_encoding::BASE64.encode(&[7u8; 32]);
    let rekeyed = altered(&file, "rekeyed.json", &key, &other_key);
    let err = import(&server, &rekeyed).unwrap_err().to_string();
    assert!(err.contains("public key differs"), "{err}");
    assert_eq!(visit_count(&server), before);

    // The genuine file: both visits accepted, through the same checks as a sync.
    let report = import(&server, &file).unwrap();
    assert_eq!(
        (
            report.accepted,
            report.rejected.len(),
            report.already_present
        ),
        (2, 0, 0)
    );
    assert_eq!(visit_count(&server), before + 2);
    let mut tx = server.storage.read().unwrap();
    assert!(tx.visit_owner(&first.id).unwrap().is_some());
    assert!(tx.visit_owner(&second.id).unwrap().is_some());
    assert!(
        tx.admin_log(3)
            .unwrap()
            .iter()
            .any(|e| e.action == "device.import" && e.subject == device.to_string())
    );
    drop(tx);

    // Again: everything already present, nothing new stored.
    let again = import(&server, &file).unwrap();
    assert_eq!(
        (again.accepted, again.rejected.len(), again.already_present),
        (0, 0, 2)
    );
    assert_eq!(visit_count(&server), before + 2);
    // The audit still finds every chain intact.
    let audit = fieldvisit_server::audit::audit(server.storage.as_ref()).unwrap();
    assert!(audit.breaks.is_empty(), "{:?}", audit.breaks);
}

#[test]
fn an_imported_operation_the_server_refuses_is_reported_with_its_reason() {
    let server = TestServer::start(33);
    let dir = tempfile::tempdir().unwrap();
    let cadre = cadre_with_two_households(&server, 0);
    let other = cadre_with_two_households(&server, 1);
    let store = Arc::new(server.device(&cadre));
    let households = server.region.households_of(&cadre, today());
    server.record_visit(&store, households[0], 1).unwrap();
    server.record_visit(&store, households[1], 2).unwrap();
    devices::retire(
        server.storage.as_ref(),
        &store.device_id(),
        "phone broken",
        true,
        &admin(),
        now(),
    )
    .unwrap();
    // While the phone sits in a drawer, its first household moves to another cadre.
    fieldvisit_server::admin::reassign(
        server.storage.as_ref(),
        &households[0].id,
        &other,
        today(),
        &admin(),
        now(),
    )
    .unwrap();
    let file = export(&store, &dir.path().join("unsynced.json"));
    let report = import(&server, &file).unwrap();
    assert_eq!((report.accepted, report.rejected.len()), (1, 1));
    assert!(!report.rejected[0].reason.is_empty());
}

#[test]
fn the_devices_listing_counts_rejections_and_flags_stuck_and_silent_phones() {
    let server = TestServer::start(34);
    let cadre = cadre_with_two_households(&server, 0);
    let other = cadre_with_two_households(&server, 1);
    let households = server.region.households_of(&cadre, today());

    // One rejection on `rejecting`: a visit at a household moved away while it was offline.
    let rejecting = server.device(&cadre);
    fieldvisit_server::admin::reassign(
        server.storage.as_ref(),
        &households[0].id,
        &other,
        today(),
        &admin(),
        now(),
    )
    .unwrap();
    server.record_visit(&rejecting, households[0], 1).unwrap();
    server.sync(&rejecting).unwrap();

    let stuck = server.device(&other).device_id();
    let silent = server.device(&other).device_id();
    let revoked = server.device(&other).device_id();
    let current = now();
    let four_days_ago = ServerTime(current.0 - 4 * DAY_MS);
    let mut tx = server.storage.write().unwrap();
    tx.record_sync(&stuck, four_days_ago, "0.9.1", 3, 120_000)
        .unwrap();
    tx.record_sync(&silent, four_days_ago, "0.9.1", 0, 0)
        .unwrap();
    tx.record_sync(&revoked, four_days_ago, "0.9.1", 2, 0)
        .unwrap();
    tx.revoke_device(&revoked, current, "lost").unwrap();
    tx.commit().unwrap();

    let listed = devices::health(server.storage.as_ref(), current, 3).unwrap();
    let line = |id: &DeviceId| listed.iter().find(|h| &h.device.id == id).unwrap();
    let r = line(&rejecting.device_id());
    assert_eq!((r.rejected, r.stuck, r.silent), (1, false, false));
    assert_eq!(r.state, DeviceState::Active);
    assert!(r.device.app_version.is_some());
    let s = line(&stuck);
    assert_eq!((s.rejected, s.stuck, s.silent), (0, true, true));
    assert_eq!(s.device.app_version.as_deref(), Some("0.9.1"));
    assert_eq!(s.device.clock_skew_ms, 120_000);
    let q = line(&silent);
    assert_eq!((q.stuck, q.silent), (false, true));
    let v = line(&revoked);
    assert_eq!(v.state, DeviceState::Revoked);
    assert_eq!((v.stuck, v.silent), (false, false));

    // A longer stale period clears the flags; the JSON form carries them.
    let relaxed = devices::health(server.storage.as_ref(), current, 5).unwrap();
    assert!(relaxed.iter().all(|h| !h.stuck && !h.silent));
    let json = serde_json::to_value(&listed).unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .any(|d| d["stuck"] == true && d["rejected"] == 0 && d["state"] == "active")
    );
}
