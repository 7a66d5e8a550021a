//! The admin steps of a household's exit procedure (退出) that no phone makes: the village's
//! public notice (公示) and the county's approval (docs/protocol.md, "Poverty status and exit
//! verification"). Append-only: recorded by `fieldvisit-server exit`, never changed or removed.
//!
//! Conformance: server/tests/conformance/exits.rs.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::HouseholdId;

use super::Db;
use crate::error::{Error, Result};

/// One village notice or county approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitEvent {
    /// Position among all exit events, assigned on insert (ignored by
    /// [`Exits::insert_exit_event`]).
    pub id: u64,
    pub household: HouseholdId,
    pub kind: ExitEventKind,
    /// For a notice, the day it started; for an approval, the day it was given.
    pub day: NaiveDate,
    /// When it was recorded.
    pub at: ServerTime,
    /// The admin who recorded it.
    pub actor: String,
}

/// What an [`ExitEvent`] records; stored as [`ExitEventKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitEventKind {
    /// The village published the exit notice (公示), starting on the event's day.
    Notice,
    /// The county approved the exit: the household became exited.
    Approval,
}

impl ExitEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExitEventKind::Notice => "notice",
            ExitEventKind::Approval => "approval",
        }
    }

    /// The kind stored as `s`, or `None` for anything else.
    pub fn parse(s: &str) -> Option<ExitEventKind> {
        match s {
            "notice" => Some(ExitEventKind::Notice),
            "approval" => Some(ExitEventKind::Approval),
            _ => None,
        }
    }
}

/// The exit events table.
pub trait Exits {
    /// Records a village notice or county approval and returns its id. No method changes or
    /// removes one.
    fn insert_exit_event(&mut self, event: &ExitEvent) -> Result<u64>;
    /// A household's exit events, oldest first.
    fn exit_events_of_household(&mut self, household: &HouseholdId) -> Result<Vec<ExitEvent>>;
}

impl<D: Db + ?Sized> Exits for D {
    fn insert_exit_event(&mut self, e: &ExitEvent) -> Result<u64> {
        self.query_value(
            "INSERT INTO exit_event (household, kind, day, at, actor)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
            &[
                &e.household.as_str(),
                &e.kind.as_str(),
                &e.day,
                &e.at.0,
                &e.actor,
            ],
        )
    }

    fn exit_events_of_household(&mut self, household: &HouseholdId) -> Result<Vec<ExitEvent>> {
        self.query(
            "SELECT id, kind, day, at, actor FROM exit_event WHERE household = ?1 ORDER BY id",
            &[&household.as_str()],
            |r| {
                let kind: String = r.get(1)?;
                Ok(ExitEvent {
                    id: r.get(0)?,
                    household: household.clone(),
                    kind: ExitEventKind::parse(&kind)
                        .ok_or_else(|| Error::Corrupt(format!("exit event kind '{kind}'")))?,
                    day: r.get(2)?,
                    at: ServerTime(r.get(3)?),
                    actor: r.get(4)?,
                })
            },
        )
    }
}
