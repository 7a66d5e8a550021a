//! The PostgreSQL backend's exit events (village notices and county approvals of the exit
//! procedure): the table and the statements behind the `Tx` methods of that section.

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::HouseholdId;

use super::{Conn, corrupt};
use crate::error::{Error, Result};
use crate::storage::{ExitEvent, ExitEventKind};

/// The table, as in the embedded backend (`storage::sqlite::exit_event`). Run by
/// `schema::create` for a new database and by the upgrade step that introduced it;
/// self-contained, so that step can be renumbered.
pub const SCHEMA: &str = r#"
CREATE TABLE exit_event (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    household TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('notice', 'approval')),
    day       TEXT NOT NULL,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL
);
CREATE INDEX exit_event_household ON exit_event (household, id);
"#;

pub(super) fn insert(c: &mut Conn, e: &ExitEvent) -> Result<u64> {
    let r = c.query_one(
        "INSERT INTO exit_event (household, kind, day, at, actor)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        &[
            &e.household.as_str(),
            &e.kind.as_str(),
            &e.day.to_string(),
            &e.at.0,
            &e.actor,
        ],
    )?;
    u64::try_from(r.try_get::<_, i64>(0)?).map_err(corrupt("exit event id"))
}

pub(super) fn of_household(c: &mut Conn, household: &HouseholdId) -> Result<Vec<ExitEvent>> {
    c.query(
        "SELECT id, kind, day, at, actor FROM exit_event WHERE household = $1 ORDER BY id",
        &[&household.as_str()],
    )?
    .iter()
    .map(|r| {
        let kind: &str = r.try_get(1)?;
        let day: &str = r.try_get(2)?;
        Ok(ExitEvent {
            id: u64::try_from(r.try_get::<_, i64>(0)?).map_err(corrupt("exit event id"))?,
            household: household.clone(),
            kind: ExitEventKind::parse(kind)
                .ok_or_else(|| Error::Corrupt(format!("exit event kind '{kind}'")))?,
            day: day
                .parse()
                .map_err(|_| Error::Corrupt(format!("exit event day '{day}'")))?,
            at: ServerTime(r.try_get(3)?),
            actor: r.try_get(4)?,
        })
    })
    .collect()
}
