//! The `rejected` report: the operations the server refused, newest first, with the device,
//! its sequence number and the reason.

use serde_json::json;

use super::{Column, Param, Rows, Spec, Table};
use crate::error::Result;
use crate::labels::{Label, Text};
use crate::storage::Journal;

pub const SPEC: Spec = Spec {
    title: Text::new("被拒操作", "Rejected operations"),
    about: "operations the server refused, newest first (--limit), with the reason",
    params: &[Param::Limit],
    columns: &COLUMNS,
    run: |tx, opts| rejected(tx, opts.limit),
};

const COLUMNS: [Column; 5] = [
    Column::plain("device", Label::ColDevice.text()),
    Column::plain("seq", Text::new("序号", "Seq")),
    Column::plain("op", Text::new("操作编号", "Operation")),
    Column::plain("code", Label::ColCode.text()),
    Column::plain("reason", Text::new("原因", "Reason")),
];

/// Operations the server refused, with the device, its sequence number and the reason.
pub fn rejected(tx: &mut dyn Journal, limit: usize) -> Result<Table> {
    let mut t = Rows::new(&COLUMNS);
    for (device, r) in tx.rejections(limit)? {
        t.push([
            json!(device.to_string()),
            json!(r.seq),
            json!(r.op.to_string()),
            serde_json::to_value(r.code)?,
            json!(r.reason),
        ]);
    }
    Ok(t.into())
}
