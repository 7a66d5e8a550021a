//! The PostgreSQL backend's dashboard accounts and sessions: the tables (PostgreSQL schema
//! version 2) and the statements behind the `Tx` methods of that section.

use postgres::Row;

use fieldvisit_core::clock::ServerTime;

use super::{Conn, blob, corrupt};
use crate::error::Result;
use crate::storage::{AdminSession, AdminUser};

/// The tables, as in the embedded backend (`storage::sqlite::admin_user`). Run by
/// `schema::create` for a new database and by the upgrade step from version 1.
pub const SCHEMA: &str = r#"
CREATE TABLE admin_user (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('sync-admin', 'supervisor')),
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  BIGINT
);

CREATE TABLE admin_session (
    token_hash BYTEA PRIMARY KEY,
    admin      TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
CREATE INDEX admin_session_admin ON admin_session (admin);
CREATE INDEX admin_session_seen ON admin_session (last_seen);
"#;

const USER_COLUMNS: &str =
    "name, role, password_hash, created_at, disabled_at, failed_logins, locked_until";

fn user(r: &Row) -> Result<AdminUser> {
    let failures: i32 = r.try_get(5)?;
    Ok(AdminUser {
        name: r.try_get(0)?,
        role: r.try_get(1)?,
        password_hash: r.try_get(2)?,
        created_at: ServerTime(r.try_get(3)?),
        disabled_at: r.try_get::<_, Option<i64>>(4)?.map(ServerTime),
        failed_logins: u32::try_from(failures).map_err(corrupt("failed login count"))?,
        locked_until: r.try_get::<_, Option<i64>>(6)?.map(ServerTime),
    })
}

fn count_sql(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub(super) fn insert_user(c: &mut Conn, u: &AdminUser) -> Result<bool> {
    let n = c.execute(
        &format!(
            "INSERT INTO admin_user ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (name) DO NOTHING"
        ),
        &[
            &u.name,
            &u.role,
            &u.password_hash,
            &u.created_at.0,
            &u.disabled_at.map(|t| t.0),
            &count_sql(u.failed_logins),
            &u.locked_until.map(|t| t.0),
        ],
    )?;
    Ok(n == 1)
}

pub(super) fn user_by_name(c: &mut Conn, name: &str) -> Result<Option<AdminUser>> {
    c.query_opt(
        &format!("SELECT {USER_COLUMNS} FROM admin_user WHERE name = $1"),
        &[&name],
    )?
    .as_ref()
    .map(user)
    .transpose()
}

pub(super) fn users(c: &mut Conn) -> Result<Vec<AdminUser>> {
    c.query(
        &format!("SELECT {USER_COLUMNS} FROM admin_user ORDER BY name"),
        &[],
    )?
    .iter()
    .map(user)
    .collect()
}

pub(super) fn disable_user(c: &mut Conn, name: &str, at: ServerTime) -> Result<bool> {
    let n = c.execute(
        "UPDATE admin_user SET disabled_at = coalesce(disabled_at, $2) WHERE name = $1",
        &[&name, &at.0],
    )?;
    c.execute("DELETE FROM admin_session WHERE admin = $1", &[&name])?;
    Ok(n == 1)
}

pub(super) fn set_failures(
    c: &mut Conn,
    name: &str,
    failures: u32,
    locked_until: Option<ServerTime>,
) -> Result<()> {
    c.execute(
        "UPDATE admin_user SET failed_logins = $2, locked_until = $3 WHERE name = $1",
        &[&name, &count_sql(failures), &locked_until.map(|t| t.0)],
    )?;
    Ok(())
}

pub(super) fn insert_session(c: &mut Conn, s: &AdminSession) -> Result<()> {
    c.execute(
        "INSERT INTO admin_session (token_hash, admin, csrf_token, created_at, last_seen)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &s.token_hash.as_slice(),
            &s.admin,
            &s.csrf_token,
            &s.created_at.0,
            &s.last_seen.0,
        ],
    )?;
    Ok(())
}

pub(super) fn session(c: &mut Conn, token_hash: &[u8; 32]) -> Result<Option<AdminSession>> {
    c.query_opt(
        "SELECT token_hash, admin, csrf_token, created_at, last_seen
         FROM admin_session WHERE token_hash = $1",
        &[&token_hash.as_slice()],
    )?
    .map(|r| {
        Ok(AdminSession {
            token_hash: blob(r.try_get(0)?, "a session hash")?,
            admin: r.try_get(1)?,
            csrf_token: r.try_get(2)?,
            created_at: ServerTime(r.try_get(3)?),
            last_seen: ServerTime(r.try_get(4)?),
        })
    })
    .transpose()
}

pub(super) fn touch_session(c: &mut Conn, token_hash: &[u8; 32], at: ServerTime) -> Result<()> {
    c.execute(
        "UPDATE admin_session SET last_seen = $2 WHERE token_hash = $1",
        &[&token_hash.as_slice(), &at.0],
    )?;
    Ok(())
}

pub(super) fn delete_session(c: &mut Conn, token_hash: &[u8; 32]) -> Result<bool> {
    let n = c.execute(
        "DELETE FROM admin_session WHERE token_hash = $1",
        &[&token_hash.as_slice()],
    )?;
    Ok(n == 1)
}

pub(super) fn delete_idle_sessions(c: &mut Conn, before: ServerTime) -> Result<u64> {
    c.execute(
        "DELETE FROM admin_session WHERE last_seen < $1",
        &[&before.0],
    )
}
