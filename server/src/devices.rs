//! The end of a phone's life and the sync admin's view of the fleet: the devices listing with
//! its health flags (stuck, silent), retiring a phone (its final upload is accepted, then it is
//! revoked), and importing the unsynced work a lost or revoked phone exported
//! (`fieldvisit-unsynced-v1`, written by the phone's `export_unsynced`; see docs/devices.md).
//!
//! This module never verifies or applies an operation itself: an imported file goes through
//! the same `sync::push` as a phone's sync, in one transaction, and is stored whole or not at
//! all.

use serde::{Deserialize, Serialize};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::DeviceId;
use fieldvisit_core::journal::Operation;
use fieldvisit_core::protocol::{EXPORT_FORMAT, PushProblem, PushedOp, Rejection, UnsyncedExport};

use crate::admin_log::{self, Action, Actor};
use crate::error::{Error, Result};
use crate::reference::Reference;
use crate::storage::{DeviceRecord, Storage};
use crate::sync::retirement::RETIRED;
use crate::sync::{Source, push};

/// Days without a sync after which a phone is flagged silent (stuck, if it had work waiting).
pub const DEFAULT_STALE_DAYS: u32 = 3;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Where a device is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    Active,
    /// Marked by `retire`: syncing its final upload, revoked once nothing is left pending.
    Retiring,
    Revoked,
}

impl DeviceState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Active => "active",
            DeviceState::Retiring => "retiring",
            DeviceState::Revoked => "revoked",
        }
    }
}

/// One line of the devices listing: the device as stored, plus what an admin acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHealth {
    #[serde(flatten)]
    pub device: DeviceRecord,
    pub state: DeviceState,
    /// Operations of this device the server refused (kept with their reasons).
    pub rejected: u64,
    /// Not revoked, reported work waiting at its last sync, and no sync for the stale period.
    pub stuck: bool,
    /// Not revoked, and never synced or no sync for the stale period.
    pub silent: bool,
}

/// A device's health at `now`, given how many of its operations were rejected.
pub fn health_of(
    device: DeviceRecord,
    rejected: u64,
    now: ServerTime,
    stale_days: u32,
) -> DeviceHealth {
    let state = if device.revoked.is_some() {
        DeviceState::Revoked
    } else if device.retiring.is_some() {
        DeviceState::Retiring
    } else {
        DeviceState::Active
    };
    let stale_before = now
        .0
        .saturating_sub(i64::from(stale_days).saturating_mul(DAY_MS));
    let stale = device.last_sync_at.is_none_or(|t| t.0 < stale_before);
    let live = state != DeviceState::Revoked;
    DeviceHealth {
        stuck: live && stale && device.pending_reported > 0,
        silent: live && stale,
        state,
        rejected,
        device,
    }
}

/// Every enrolled device with its health, in the order of `Tx::devices` (by cadre).
pub fn health(
    storage: &dyn Storage,
    now: ServerTime,
    stale_days: u32,
) -> Result<Vec<DeviceHealth>> {
    let mut tx = storage.read()?;
    let rejected: std::collections::HashMap<DeviceId, u64> =
        tx.rejected_counts()?.into_iter().collect();
    Ok(tx
        .devices()?
        .into_iter()
        .map(|d| {
            let n = rejected.get(&d.id).copied().unwrap_or(0);
            health_of(d, n, now, stale_days)
        })
        .collect())
}

/// What `retire` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retired {
    /// Marked retiring: revoked by its first sync that leaves nothing pending.
    Retiring,
    /// Revoked at once (`--now`: a lost phone).
    Revoked,
}

/// Retires a device. Without `at_once` it is marked retiring: it keeps syncing, and the sync
/// that leaves it with nothing pending revokes it (`sync::retirement`). With `at_once` it
/// is revoked now, for a phone that will never sync again; its exported work can still be
/// imported ([`import_unsynced`]).
pub fn retire(
    storage: &dyn Storage,
    device: &DeviceId,
    reason: &str,
    at_once: bool,
    actor: &Actor,
    now: ServerTime,
) -> Result<Retired> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::refused("a reason is required"));
    }
    let mut tx = storage.write()?;
    let record = tx
        .device(device)?
        .ok_or_else(|| Error::NotFound(format!("no device {device}")))?;
    if let Some(revoked) = &record.revoked {
        return Err(Error::refused(format!(
            "device {device} is already revoked ({})",
            revoked.reason
        )));
    }
    let done = if at_once {
        let revoked_reason = format!("{RETIRED}{reason}");
        tx.revoke_device(device, now, &revoked_reason)?;
        admin_log::record(
            tx.as_mut(),
            actor,
            now,
            Action::DeviceRevoke,
            &device.to_string(),
            serde_json::json!({ "reason": revoked_reason, "retire": "now" }),
        )?;
        Retired::Revoked
    } else {
        tx.retire_device(device, now, reason)?;
        admin_log::record(
            tx.as_mut(),
            actor,
            now,
            Action::DeviceRetire,
            &device.to_string(),
            serde_json::json!({
                "reason": reason,
                "pending_reported": record.pending_reported,
            }),
        )?;
        Retired::Retiring
    };
    tx.commit()?;
    Ok(done)
}

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub device: DeviceId,
    /// Operations stored and applied.
    pub accepted: u64,
    /// Operations stored as refused, with their reasons (as a sync would have answered).
    pub rejected: Vec<Rejection>,
    /// Operations the server already held, identical to the file's: skipped.
    pub already_present: u64,
}

fn refused(text: String) -> Error {
    Error::refused(format!("{text}; nothing was imported"))
}

/// Imports a phone's exported unsynced work (`bytes`: a `fieldvisit-unsynced-v1` file) in one
/// transaction: the device must be enrolled here with the file's public key; operations the
/// server already holds must be identical to the stored ones and are skipped; the rest must
/// continue the stored chain, and go through `sync::push` (signature, chain, apply or reject)
/// exactly as a sync would — a revoked device's operations are accepted only here. Any
/// mismatch, gap or broken operation refuses the whole file, naming the operation.
pub fn import_unsynced(
    storage: &dyn Storage,
    bytes: &[u8],
    actor: &Actor,
    now: ServerTime,
) -> Result<ImportReport> {
    let file: UnsyncedExport = serde_json::from_slice(bytes)
        .map_err(|e| refused(format!("not a {EXPORT_FORMAT} file ({e})")))?;
    if file.format != EXPORT_FORMAT {
        return Err(refused(format!(
            "the file's format is {:?}, not {EXPORT_FORMAT}",
            file.format
        )));
    }
    let device = DeviceId::parse(file.device.trim())
        .map_err(|_| refused(format!("{:?} is not a device id", file.device)))?;
    let key: [u8; 32] = data_encoding::BASE64
        .decode(file.public_key.trim().as_bytes())
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| refused("the file's public key is not 32 bytes of base64".into()))?;

    let mut tx = storage.write()?;
    let record = tx.device(&device)?.ok_or_else(|| {
        refused(format!(
            "device {device} is not enrolled on this server (unknown device)"
        ))
    })?;
    if record.public_key != key {
        return Err(refused(format!(
            "the file's public key differs from the key device {device} enrolled with"
        )));
    }

    let mut already_present = 0u64;
    let mut new_ops = Vec::new();
    let mut previous: Option<&Operation> = None;
    for op in &file.operations {
        let name = format!("operation {} ({})", op.seq, op.id);
        if op.device != device {
            return Err(refused(format!("{name} names another device")));
        }
        if let Some(p) = previous
            && op.seq != p.seq + 1
        {
            return Err(refused(format!(
                "{name} follows operation {}: the file's operations are not consecutive",
                p.seq
            )));
        }
        previous = Some(op);
        if op.seq <= record.head.seq {
            let stored = tx.ops_of_device(&device, op.seq.saturating_sub(1), 1)?;
            if stored.first() != Some(op) {
                return Err(refused(format!(
                    "{name} differs from the operation the server stores under that sequence number"
                )));
            }
            already_present += 1;
            continue;
        }
        if new_ops.is_empty() {
            if op.seq != record.head.seq + 1 {
                return Err(refused(format!(
                    "{name} does not follow the server's last operation of this device ({}): \
                     operations {} to {} are missing",
                    record.head.seq,
                    record.head.seq + 1,
                    op.seq - 1
                )));
            }
            if op.prev_hash != record.head.hash {
                return Err(refused(format!(
                    "{name} does not continue the chain the server stores for this device"
                )));
            }
        }
        new_ops.push(op);
    }

    let pushed: Vec<PushedOp> = new_ops
        .iter()
        .map(|op| PushedOp::from_operation(op))
        .collect();
    let offered = u64::try_from(pushed.len()).unwrap_or(u64::MAX);
    let ack = push(
        tx.as_mut(),
        &mut Reference::default(),
        &record,
        pushed,
        None,
        Source::AdminImport,
        now,
    )?;
    if let Some(problem) = &ack.problem {
        let name_of = |seq: u64| {
            new_ops
                .iter()
                .find(|op| op.seq == seq)
                .map_or(format!("operation {seq}"), |op| {
                    format!("operation {} ({})", op.seq, op.id)
                })
        };
        return Err(refused(match problem {
            PushProblem::Broken { seq, problem } => {
                format!("{} is refused: {problem}", name_of(*seq))
            }
            PushProblem::Diverged { seq } => {
                format!("{} differs from the stored one", name_of(*seq))
            }
            PushProblem::Gap { expected_seq } => {
                format!("operation {expected_seq} is missing from the file")
            }
        }));
    }
    if ack.acked_seq != previous.map_or(record.head.seq, |p| p.seq.max(record.head.seq)) {
        return Err(refused(format!(
            "the server acknowledged up to operation {} only",
            ack.acked_seq
        )));
    }
    let rejected = ack.rejected;
    let accepted = offered.saturating_sub(u64::try_from(rejected.len()).unwrap_or(u64::MAX));
    admin_log::record(
        tx.as_mut(),
        actor,
        now,
        Action::DeviceImport,
        &device.to_string(),
        serde_json::json!({
            "accepted": accepted,
            "rejected": rejected.len(),
            "already_present": already_present,
            "exported_at": file.exported_at,
            "file_acked_seq": file.acked_seq,
            "state": if record.revoked.is_some() { "revoked" } else { "enrolled" },
        }),
    )?;
    tx.commit()?;
    Ok(ImportReport {
        device,
        accepted,
        rejected,
        already_present,
    })
}

#[cfg(test)]
mod tests {
    use fieldvisit_core::clock::WallTime;
    use fieldvisit_core::ids::CadreId;
    use fieldvisit_core::journal::ChainPoint;

    use super::*;
    use crate::storage::Revocation;

    const NOW: ServerTime = ServerTime(1_800_000_000_000);

    fn device(last_sync_days_ago: Option<i64>, pending: u32) -> DeviceRecord {
        DeviceRecord {
            id: DeviceId::generate(WallTime(1_700_000_000_000)),
            cadre: CadreId::new("c-1").unwrap(),
            public_key: [1; 32],
            enrolled_at: ServerTime(0),
            revoked: None,
            retiring: None,
            head: ChainPoint::START,
            app_version: Some("1.2.0".into()),
            last_sync_at: last_sync_days_ago.map(|d| ServerTime(NOW.0 - d * DAY_MS)),
            pending_reported: pending,
            clock_skew_ms: 0,
        }
    }

    #[test]
    fn a_phone_with_work_waiting_and_no_sync_for_the_stale_period_is_stuck_and_silent() {
        let h = health_of(device(Some(4), 2), 0, NOW, 3);
        assert!(h.stuck && h.silent);
        assert_eq!(h.state, DeviceState::Active);
    }

    #[test]
    fn a_recent_sync_is_neither_stuck_nor_silent_even_with_work_waiting() {
        let h = health_of(device(Some(2), 5), 1, NOW, 3);
        assert!(!h.stuck && !h.silent);
        assert_eq!(h.rejected, 1);
    }

    #[test]
    fn a_phone_that_never_synced_is_silent_not_stuck() {
        let h = health_of(device(None, 0), 0, NOW, 3);
        assert!(h.silent && !h.stuck);
    }

    #[test]
    fn revoked_phones_are_not_flagged_and_retiring_ones_are_named() {
        let mut d = device(Some(10), 3);
        d.revoked = Some(Revocation {
            at: NOW,
            reason: "lost".into(),
        });
        let h = health_of(d, 0, NOW, 3);
        assert_eq!(h.state, DeviceState::Revoked);
        assert!(!h.stuck && !h.silent);
        let mut d = device(Some(10), 3);
        d.retiring = Some(Revocation {
            at: NOW,
            reason: "leaves".into(),
        });
        let h = health_of(d, 0, NOW, 3);
        assert_eq!(h.state, DeviceState::Retiring);
        assert!(h.stuck);
    }

    #[test]
    fn the_listing_json_keeps_the_device_fields_at_the_top_level() {
        let h = health_of(device(Some(1), 0), 0, NOW, 3);
        let v = serde_json::to_value(&h).unwrap();
        assert!(v.get("cadre").is_some() && v.get("pending_reported").is_some());
        assert_eq!(v["state"], "active");
    }
}
