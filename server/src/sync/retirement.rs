//! The last step of a phone's retirement (`devices::retire` marks it): inside the sync that
//! carries its final upload, the device is revoked, so that its acknowledgement and its
//! revocation commit together and its next call is refused.

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::protocol::PushAck;

use crate::admin_log::{self, Action, Actor};
use crate::error::Result;
use crate::storage::{DeviceRecord, Tx};

/// The prefix of the revocation reason of a retired device.
pub const RETIRED: &str = "retired: ";

/// Inside a sync's transaction, after its push: revokes a retiring device once the push was
/// taken whole (no gap, break or divergence) and the device reported nothing else pending.
/// Logged in the admin log as the server's own action.
pub fn finish_retirement(
    tx: &mut dyn Tx,
    device: &DeviceRecord,
    pending: u32,
    ack: &PushAck,
    now: ServerTime,
) -> Result<bool> {
    let Some(retiring) = &device.retiring else {
        return Ok(false);
    };
    if device.revoked.is_some() || pending > 0 || ack.problem.is_some() {
        return Ok(false);
    }
    let reason = format!("{RETIRED}{}", retiring.reason);
    tx.revoke_device(&device.id, now, &reason)?;
    admin_log::record(
        tx,
        &Actor::new("server")?,
        now,
        Action::DeviceRevoke,
        &device.id.to_string(),
        serde_json::json!({
            "reason": reason,
            "retire": "final upload acknowledged",
            "acked_seq": ack.acked_seq,
            "rejected_in_final_upload": ack.rejected.len(),
        }),
    )?;
    Ok(true)
}
