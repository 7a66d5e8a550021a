//! The `exits` report: every step of the exit procedure (退出) taken in the period, across all
//! households, oldest first — the first secretaries' accepted status steps, the village notices
//! and the county approvals — read through the same history as `fieldvisit-server household`
//! (`crate::exit::exit_record`), so the two cannot disagree.

use serde_json::json;

use fieldvisit_core::clock::WallTime;
use fieldvisit_core::domain::exit;

use super::{CellKind, Column, Param, Period, Rows, Spec, Table};
use crate::error::Result;
use crate::exit::{ExitRecord, exit_record};
use crate::labels::{Label, Text};
use crate::storage::Tx;

pub const SPEC: Spec = Spec {
    title: Text::new("退出步骤", "Exit steps"),
    about: "every step of the exit procedure (退出) recorded in the period, oldest first",
    params: &[Param::Period],
    columns: &COLUMNS,
    run: |tx, opts| report(tx, opts.period),
};

const COLUMNS: [Column; 8] = [
    Column::plain("at_cst", Label::ColAt.text()),
    Column::plain("household", Label::ColHousehold.text()),
    Column::plain("village", Label::ColVillage.text()),
    Column::new(
        "step",
        Text::new("步骤", "Step"),
        CellKind::Code(&[
            (
                "step",
                Text::new("第一书记状态变更", "first secretary's step"),
            ),
            ("notice", Text::new("村级公示", "village notice")),
            ("approval", Text::new("县级批准", "county approval")),
        ]),
    ),
    Column::plain("from", Text::new("原状态", "From")),
    Column::plain("to", Text::new("新状态", "To")),
    Column::plain("by", Text::new("操作人", "By")),
    Column::plain("rests_on", Text::new("依据", "Rests on")),
];

/// One row per exit step recorded (server time) in `period`.
pub fn report(tx: &mut dyn Tx, period: Period) -> Result<Table> {
    let (from, to) = period.bounds();
    let mut rows = Vec::new();
    for household in tx.household_ids()? {
        let village = tx.household(&household)?.map(|h| h.village);
        for entry in exit_record(tx, &household)? {
            let at = entry.at();
            if at.0 < from.0 || at.0 >= to.0 {
                continue;
            }
            let (step, from_status, to_status, by, rests_on) = match &entry {
                ExitRecord::Step(s) => (
                    "step",
                    s.from.clone(),
                    s.to.clone(),
                    s.cadre.as_ref().map(|c| c.to_string()).unwrap_or_default(),
                    s.verification
                        .map(|v| format!("verification {v}"))
                        .unwrap_or_default(),
                ),
                ExitRecord::Notice(e) => (
                    "notice",
                    exit::PRE_EXIT.to_string(),
                    exit::PRE_EXIT.to_string(),
                    e.actor.clone(),
                    format!(
                        "notice from {}, approval possible from {}",
                        e.day,
                        exit::approval_possible_from(e.day)
                    ),
                ),
                ExitRecord::Approval(e) => (
                    "approval",
                    exit::PRE_EXIT.to_string(),
                    exit::EXITED.to_string(),
                    e.actor.clone(),
                    format!("county approval of {}", e.day),
                ),
            };
            rows.push((
                at,
                [
                    json!(super::local_time(WallTime(at.0))),
                    json!(household.to_string()),
                    json!(village.clone().unwrap_or_default()),
                    json!(step),
                    json!(from_status),
                    json!(to_status),
                    json!(by),
                    json!(rests_on),
                ],
            ));
        }
    }
    rows.sort_by_key(|(at, _)| *at);
    let mut t = Rows::new(&COLUMNS);
    for (_, row) in rows {
        t.push(row);
    }
    Ok(t.into())
}
