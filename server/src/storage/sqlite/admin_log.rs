//! The embedded backend's admin log: the table, its append-only triggers, and the two
//! statements that append and list. Kept apart from `mod.rs` so the schema step that adds the
//! table and the code that uses it are read together.
//!
//! Nothing here may ever update or delete an entry; the triggers make SQLite refuse it too, so
//! a mistaken statement elsewhere fails loudly instead of rewriting history. (They guard against
//! mistakes, not against whoever owns the file: such a person can drop a trigger.)

use rusqlite::{Connection, params};

use fieldvisit_core::clock::ServerTime;

use crate::error::{Error, Result};
use crate::storage::AdminLogEntry;

/// The table and its triggers. Run by `schema::create` for a new database and by the upgrade
/// step that introduced it (see `schema::upgrade_from`).
pub const SCHEMA: &str = r#"
-- Every admin action (load a region, issue an enrollment code, revoke a device, reassign a
-- household, print or reissue plates), in the order they were committed. Append-only.
CREATE TABLE admin_log (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL CHECK (json_valid(detail))
) STRICT;
CREATE TRIGGER admin_log_no_update BEFORE UPDATE ON admin_log
BEGIN
    SELECT RAISE(ABORT, 'admin_log is append-only: an entry cannot be changed');
END;
CREATE TRIGGER admin_log_no_delete BEFORE DELETE ON admin_log
BEGIN
    SELECT RAISE(ABORT, 'admin_log is append-only: an entry cannot be deleted');
END;
-- INSERT OR REPLACE deletes the old row without firing delete triggers (unless recursive
-- triggers are on), so an insert that names an existing id is refused before it gets there.
CREATE TRIGGER admin_log_no_replace BEFORE INSERT ON admin_log
WHEN EXISTS (SELECT 1 FROM admin_log WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'admin_log is append-only: an entry cannot be replaced');
END;
"#;

/// Appends `entry` (its `id` is ignored) and returns the id it was given.
pub fn append(conn: &Connection, entry: &AdminLogEntry) -> Result<u64> {
    conn.prepare_cached(
        "INSERT INTO admin_log (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        entry.at.0,
        entry.actor,
        entry.action,
        entry.subject,
        entry.detail.to_string()
    ])?;
    u64::try_from(conn.last_insert_rowid())
        .map_err(|_| Error::Corrupt("admin log id is negative".into()))
}

/// The newest `limit` entries, newest first.
pub fn newest(conn: &Connection, limit: usize) -> Result<Vec<AdminLogEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, subject, detail FROM admin_log ORDER BY id DESC LIMIT ?1",
    )?;
    let mut rows = stmt.query([i64::try_from(limit).unwrap_or(i64::MAX)])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        out.push(AdminLogEntry {
            id: u64::try_from(id).map_err(|_| Error::Corrupt("admin log id is negative".into()))?,
            at: ServerTime(r.get(1)?),
            actor: r.get(2)?,
            action: r.get(3)?,
            subject: r.get(4)?,
            detail: serde_json::from_str(&r.get::<_, String>(5)?)?,
        });
    }
    Ok(out)
}
