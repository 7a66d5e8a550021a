//! The embedded backend's exit events (village notices and county approvals of the exit
//! procedure): the table and the statements that insert and list. Kept apart from `mod.rs` so
//! the schema step that adds the table and the code that uses it are read together.

use rusqlite::{Connection, params};

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::ids::HouseholdId;

use crate::error::{Error, Result};
use crate::storage::{ExitEvent, ExitEventKind};

/// The table. Run by `schema::create` for a new database and by the upgrade step that
/// introduced it (see `schema::upgrade_from`); self-contained, so that step can be renumbered.
pub const SCHEMA: &str = r#"
-- The admin steps of a household's exit procedure (退出), in the order they were recorded:
-- the village notice (公示, `day` is its first day) and the county approval. Never changed.
CREATE TABLE exit_event (
    id        INTEGER PRIMARY KEY,
    household TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('notice', 'approval')),
    day       TEXT NOT NULL,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL
) STRICT;
CREATE INDEX exit_event_household ON exit_event (household, id);
"#;

/// Inserts `event` (its `id` is ignored) and returns the id it was given.
pub fn insert(conn: &Connection, event: &ExitEvent) -> Result<u64> {
    conn.prepare_cached(
        "INSERT INTO exit_event (household, kind, day, at, actor) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        event.household.as_str(),
        event.kind.as_str(),
        event.day.to_string(),
        event.at.0,
        event.actor,
    ])?;
    u64::try_from(conn.last_insert_rowid())
        .map_err(|_| Error::Corrupt("exit event id is negative".into()))
}

/// The events of `household`, oldest first.
pub fn of_household(conn: &Connection, household: &HouseholdId) -> Result<Vec<ExitEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, day, at, actor FROM exit_event WHERE household = ?1 ORDER BY id",
    )?;
    let mut rows = stmt.query([household.as_str()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let kind: String = r.get(1)?;
        let day: String = r.get(2)?;
        out.push(ExitEvent {
            id: u64::try_from(id)
                .map_err(|_| Error::Corrupt("exit event id is negative".into()))?,
            household: household.clone(),
            kind: ExitEventKind::parse(&kind)
                .ok_or_else(|| Error::Corrupt(format!("exit event kind '{kind}'")))?,
            day: day
                .parse()
                .map_err(|_| Error::Corrupt(format!("exit event day '{day}'")))?,
            at: ServerTime(r.get(3)?),
            actor: r.get(4)?,
        });
    }
    Ok(out)
}
