//! The rejected-operations and conflict logs as report tables, newest first.

use serde_json::json;

use fieldvisit_core::clock::WallTime;

use super::Table;
use crate::error::Result;
use crate::storage::Tx;

/// Operations the server refused, with the device, its sequence number and the reason.
pub fn rejected(tx: &mut dyn Tx, limit: usize) -> Result<Table> {
    let mut t = Table::new(vec!["device", "seq", "op", "code", "reason"]);
    for (device, r) in tx.rejections(limit)? {
        t.push(vec![
            json!(device.to_string()),
            json!(r.seq),
            json!(r.op.to_string()),
            serde_json::to_value(r.code)?,
            json!(r.reason),
        ]);
    }
    Ok(t)
}

/// Field values that lost a last-writer-wins merge, and what won.
pub fn conflicts(tx: &mut dyn Tx, limit: usize) -> Result<Table> {
    let mut t = Table::new(vec![
        "at_cst",
        "entity",
        "entity_id",
        "field",
        "losing_value",
        "losing_device",
        "winning_value",
        "winning_device",
    ]);
    for c in tx.conflicts(limit)? {
        t.push(vec![
            json!(super::local_time(WallTime(c.at.0))),
            json!(c.entity),
            json!(c.entity_id),
            json!(c.field),
            json!(c.losing_value.to_string()),
            json!(c.losing_clock.device.to_string()),
            json!(c.winning_value.to_string()),
            json!(c.winning_clock.device.to_string()),
        ]);
    }
    Ok(t)
}
