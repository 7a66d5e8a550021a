//! The embedded backend's dashboard accounts and sessions: the tables (schema version 5) and
//! the statements behind the `Tx` methods of that section. Kept apart from `mod.rs` so the
//! schema step and the code that uses it are read together.

use rusqlite::{Connection, OptionalExtension, Row, params};

use fieldvisit_core::clock::ServerTime;

use crate::error::{Error, Result};
use crate::storage::{AdminSession, AdminUser};

/// The tables. Run by `schema::create` for a new database and by the upgrade step that
/// introduced them (see `schema::upgrade_from`); self-contained, so it can be renumbered.
pub const SCHEMA: &str = r#"
-- Dashboard accounts. The password is kept only as an Argon2id PHC string.
CREATE TABLE admin_user (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('sync-admin', 'supervisor')),
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER
) STRICT;

-- Logged-in sessions, by the SHA-256 hash of the cookie token (the token is never stored).
CREATE TABLE admin_session (
    token_hash BLOB PRIMARY KEY,
    admin      TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
) STRICT;
CREATE INDEX admin_session_admin ON admin_session (admin);
CREATE INDEX admin_session_seen ON admin_session (last_seen);
"#;

const USER_COLUMNS: &str =
    "name, role, password_hash, created_at, disabled_at, failed_logins, locked_until";

fn user(r: &Row<'_>) -> rusqlite::Result<AdminUser> {
    Ok(AdminUser {
        name: r.get(0)?,
        role: r.get(1)?,
        password_hash: r.get(2)?,
        created_at: ServerTime(r.get(3)?),
        disabled_at: r.get::<_, Option<i64>>(4)?.map(ServerTime),
        failed_logins: r.get(5)?,
        locked_until: r.get::<_, Option<i64>>(6)?.map(ServerTime),
    })
}

pub fn insert_user(conn: &Connection, u: &AdminUser) -> Result<bool> {
    let n = conn
        .prepare_cached(&format!(
            "INSERT INTO admin_user ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (name) DO NOTHING"
        ))?
        .execute(params![
            u.name,
            u.role,
            u.password_hash,
            u.created_at.0,
            u.disabled_at.map(|t| t.0),
            u.failed_logins,
            u.locked_until.map(|t| t.0),
        ])?;
    Ok(n == 1)
}

pub fn user_by_name(conn: &Connection, name: &str) -> Result<Option<AdminUser>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM admin_user WHERE name = ?1"
        ))?
        .query_row([name], user)
        .optional()?)
}

pub fn users(conn: &Connection) -> Result<Vec<AdminUser>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM admin_user ORDER BY name"
    ))?;
    let rows = stmt.query_map([], user)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn disable_user(conn: &Connection, name: &str, at: ServerTime) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE admin_user SET disabled_at = coalesce(disabled_at, ?2) WHERE name = ?1",
        )?
        .execute(params![name, at.0])?;
    conn.prepare_cached("DELETE FROM admin_session WHERE admin = ?1")?
        .execute([name])?;
    Ok(n == 1)
}

pub fn set_failures(
    conn: &Connection,
    name: &str,
    failures: u32,
    locked_until: Option<ServerTime>,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE admin_user SET failed_logins = ?2, locked_until = ?3 WHERE name = ?1",
    )?
    .execute(params![name, failures, locked_until.map(|t| t.0)])?;
    Ok(())
}

pub fn insert_session(conn: &Connection, s: &AdminSession) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO admin_session (token_hash, admin, csrf_token, created_at, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        s.token_hash.as_slice(),
        s.admin,
        s.csrf_token,
        s.created_at.0,
        s.last_seen.0
    ])?;
    Ok(())
}

pub fn session(conn: &Connection, token_hash: &[u8; 32]) -> Result<Option<AdminSession>> {
    let found = conn
        .prepare_cached(
            "SELECT token_hash, admin, csrf_token, created_at, last_seen
             FROM admin_session WHERE token_hash = ?1",
        )?
        .query_row([token_hash.as_slice()], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .optional()?;
    found
        .map(|(hash, admin, csrf_token, created, seen)| {
            Ok(AdminSession {
                token_hash: hash
                    .try_into()
                    .map_err(|_| Error::Corrupt("a session hash is not 32 bytes".into()))?,
                admin,
                csrf_token,
                created_at: ServerTime(created),
                last_seen: ServerTime(seen),
            })
        })
        .transpose()
}

pub fn touch_session(conn: &Connection, token_hash: &[u8; 32], at: ServerTime) -> Result<()> {
    conn.prepare_cached("UPDATE admin_session SET last_seen = ?2 WHERE token_hash = ?1")?
        .execute(params![token_hash.as_slice(), at.0])?;
    Ok(())
}

pub fn delete_session(conn: &Connection, token_hash: &[u8; 32]) -> Result<bool> {
    let n = conn
        .prepare_cached("DELETE FROM admin_session WHERE token_hash = ?1")?
        .execute([token_hash.as_slice()])?;
    Ok(n == 1)
}

pub fn delete_idle_sessions(conn: &Connection, before: ServerTime) -> Result<u64> {
    let n = conn
        .prepare_cached("DELETE FROM admin_session WHERE last_seen < ?1")?
        .execute([before.0])?;
    Ok(n as u64)
}
