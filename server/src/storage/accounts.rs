//! Dashboard accounts and their sessions (`crate::web::accounts`, `crate::web::auth`). A
//! password is kept only as an Argon2id PHC string, a session only as the SHA-256 hash of its
//! cookie token.
//!
//! Conformance: server/tests/conformance/accounts.rs.

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::sql::Row;

use super::Db;
use crate::error::Result;

/// A dashboard account (`fieldvisit-server admin-user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUser {
    /// The login name, unique.
    pub name: String,
    /// `sync-admin` or `supervisor` (see `crate::web::accounts::Role`).
    pub role: String,
    /// The password as an Argon2id PHC string; the password itself is never stored.
    pub password_hash: String,
    pub created_at: ServerTime,
    /// Set by `admin-user disable`: the account can no longer log in.
    pub disabled_at: Option<ServerTime>,
    /// Failed logins since the last successful one.
    pub failed_logins: u32,
    /// Logins are refused until then after too many failures.
    pub locked_until: Option<ServerTime>,
}

/// A logged-in dashboard session. Only the SHA-256 hash of its cookie token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub token_hash: [u8; 32],
    /// The account's name.
    pub admin: String,
    /// The token every state-changing form of this session must carry.
    pub csrf_token: String,
    pub created_at: ServerTime,
    /// The session's last request; it ends after an idle period (see `crate::web::auth`).
    pub last_seen: ServerTime,
}

/// The accounts and sessions tables.
pub trait Accounts {
    /// Creates an account; false (and nothing written) when the name is taken.
    fn insert_admin_user(&mut self, user: &AdminUser) -> Result<bool>;
    fn admin_user(&mut self, name: &str) -> Result<Option<AdminUser>>;
    /// Every account, by name.
    fn admin_users(&mut self) -> Result<Vec<AdminUser>>;
    /// Disables an account and ends its sessions; false when it does not exist. An account
    /// already disabled keeps its first `disabled_at`.
    fn disable_admin_user(&mut self, name: &str, at: ServerTime) -> Result<bool>;
    /// Records the failed-login counter and lockout of an account (0 and `None` after a
    /// successful login).
    fn set_login_failures(
        &mut self,
        name: &str,
        failures: u32,
        locked_until: Option<ServerTime>,
    ) -> Result<()>;
    fn insert_admin_session(&mut self, session: &AdminSession) -> Result<()>;
    fn admin_session(&mut self, token_hash: &[u8; 32]) -> Result<Option<AdminSession>>;
    /// Moves a session's `last_seen` to `at`.
    fn touch_admin_session(&mut self, token_hash: &[u8; 32], at: ServerTime) -> Result<()>;
    /// Ends a session; false when there was none.
    fn delete_admin_session(&mut self, token_hash: &[u8; 32]) -> Result<bool>;
    /// Ends every session last seen before `before`, and says how many.
    fn delete_idle_admin_sessions(&mut self, before: ServerTime) -> Result<u64>;
}

const USER_COLUMNS: &str =
    "name, role, password_hash, created_at, disabled_at, failed_logins, locked_until";

fn user_from_row(r: &dyn Row) -> Result<AdminUser> {
    Ok(AdminUser {
        name: r.get(0)?,
        role: r.get(1)?,
        password_hash: r.get(2)?,
        created_at: ServerTime(r.get(3)?),
        disabled_at: r.get::<Option<i64>>(4)?.map(ServerTime),
        failed_logins: r.get(5)?,
        locked_until: r.get::<Option<i64>>(6)?.map(ServerTime),
    })
}

impl<D: Db + ?Sized> Accounts for D {
    fn insert_admin_user(&mut self, u: &AdminUser) -> Result<bool> {
        let n = self.execute(
            &format!(
                "INSERT INTO admin_user ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (name) DO NOTHING"
            ),
            &[
                &u.name,
                &u.role,
                &u.password_hash,
                &u.created_at.0,
                &u.disabled_at.map(|t| t.0),
                &u.failed_logins,
                &u.locked_until.map(|t| t.0),
            ],
        )?;
        Ok(n == 1)
    }

    fn admin_user(&mut self, name: &str) -> Result<Option<AdminUser>> {
        self.query_opt(
            &format!("SELECT {USER_COLUMNS} FROM admin_user WHERE name = ?1"),
            &[&name],
            user_from_row,
        )
    }

    fn admin_users(&mut self) -> Result<Vec<AdminUser>> {
        self.query(
            &format!("SELECT {USER_COLUMNS} FROM admin_user ORDER BY name COLLATE BINARY"),
            &[],
            user_from_row,
        )
    }

    fn disable_admin_user(&mut self, name: &str, at: ServerTime) -> Result<bool> {
        let n = self.execute(
            "UPDATE admin_user SET disabled_at = coalesce(disabled_at, ?2) WHERE name = ?1",
            &[&name, &at.0],
        )?;
        self.execute("DELETE FROM admin_session WHERE admin = ?1", &[&name])?;
        Ok(n == 1)
    }

    fn set_login_failures(
        &mut self,
        name: &str,
        failures: u32,
        locked_until: Option<ServerTime>,
    ) -> Result<()> {
        self.execute(
            "UPDATE admin_user SET failed_logins = ?2, locked_until = ?3 WHERE name = ?1",
            &[&name, &failures, &locked_until.map(|t| t.0)],
        )?;
        Ok(())
    }

    fn insert_admin_session(&mut self, s: &AdminSession) -> Result<()> {
        self.execute(
            "INSERT INTO admin_session (token_hash, admin, csrf_token, created_at, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            &[
                &s.token_hash,
                &s.admin,
                &s.csrf_token,
                &s.created_at.0,
                &s.last_seen.0,
            ],
        )?;
        Ok(())
    }

    fn admin_session(&mut self, token_hash: &[u8; 32]) -> Result<Option<AdminSession>> {
        self.query_opt(
            "SELECT token_hash, admin, csrf_token, created_at, last_seen
             FROM admin_session WHERE token_hash = ?1",
            &[token_hash],
            |r| {
                Ok(AdminSession {
                    token_hash: r.get(0)?,
                    admin: r.get(1)?,
                    csrf_token: r.get(2)?,
                    created_at: ServerTime(r.get(3)?),
                    last_seen: ServerTime(r.get(4)?),
                })
            },
        )
    }

    fn touch_admin_session(&mut self, token_hash: &[u8; 32], at: ServerTime) -> Result<()> {
        self.execute(
            "UPDATE admin_session SET last_seen = ?2 WHERE token_hash = ?1",
            &[token_hash, &at.0],
        )?;
        Ok(())
    }

    fn delete_admin_session(&mut self, token_hash: &[u8; 32]) -> Result<bool> {
        let n = self.execute(
            "DELETE FROM admin_session WHERE token_hash = ?1",
            &[token_hash],
        )?;
        Ok(n == 1)
    }

    fn delete_idle_admin_sessions(&mut self, before: ServerTime) -> Result<u64> {
        self.execute(
            "DELETE FROM admin_session WHERE last_seen < ?1",
            &[&before.0],
        )
    }
}
