//! The `conflicts` report: field values that lost a last-writer-wins merge, and what won,
//! newest first.

use serde_json::json;

use fieldvisit_core::clock::WallTime;

use super::{Column, Param, Rows, Spec, Table};
use crate::error::Result;
use crate::labels::{Label, Text};
use crate::storage::Registry;

pub const SPEC: Spec = Spec {
    title: Text::new("同步冲突", "Sync conflicts"),
    about: "field values that lost a last-writer-wins merge, newest first (--limit)",
    params: &[Param::Limit],
    columns: &COLUMNS,
    run: |tx, opts| conflicts(tx, opts.limit),
};

const COLUMNS: [Column; 8] = [
    Column::plain("at_cst", Label::ColAt.text()),
    Column::plain("entity", Text::new("对象", "Entity")),
    Column::plain("entity_id", Text::new("对象编号", "Entity id")),
    Column::plain("field", Text::new("字段", "Field")),
    Column::plain("losing_value", Text::new("未采用的值", "Losing value")),
    Column::plain(
        "losing_device",
        Text::new("未采用值的设备", "Losing device"),
    ),
    Column::plain("winning_value", Text::new("采用的值", "Winning value")),
    Column::plain(
        "winning_device",
        Text::new("采用值的设备", "Winning device"),
    ),
];

/// Field values that lost a last-writer-wins merge, and what won.
pub fn conflicts(tx: &mut dyn Registry, limit: usize) -> Result<Table> {
    let mut t = Rows::new(&COLUMNS);
    for c in tx.conflicts(limit)? {
        t.push([
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
    Ok(t.into())
}
