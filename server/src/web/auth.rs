//! Dashboard logins, sessions and CSRF tokens.
//!
//! A login checks the password against the account's Argon2id hash and opens a session: a
//! random 256-bit token in a cookie (`HttpOnly`, `SameSite=Strict`, `Path=/admin`, and `Secure`
//! when the server is told it is behind TLS), of which the database keeps only the SHA-256
//! hash. A session ends at logout, when its account is disabled, or after
//! [`WebConfig::session_idle_ms`] without a request. Each session has its own CSRF token, which
//! every state-changing form carries and [`csrf_matches`] checks.
//!
//! Failed logins get one generic answer whatever went wrong. Each failure on an existing
//! account is counted and written to the admin log; after [`WebConfig::max_failures`] in a
//! row the account is locked for [`WebConfig::lockout_ms`] (a correct password is refused too
//! meanwhile, and such attempts are only traced, not logged again). Unknown names are not
//! counted (there is nothing to guess), but still cost one hash verification, so a wrong name
//! cannot be told from a wrong password by timing.

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, header};
use data_encoding::BASE64URL_NOPAD;
use sha2::{Digest, Sha256};

use fieldvisit_core::clock::ServerTime;

use super::WebConfig;
use super::accounts::{self, Role};
use crate::admin_log::{self, Action, Actor};
use crate::error::{Error, Result};
use crate::storage::{AdminSession, Storage};

/// The session cookie.
pub const SESSION_COOKIE: &str = "fv_session";

/// A logged-in admin, as a request sees them.
#[derive(Debug, Clone)]
pub struct Admin {
    pub name: String,
    pub role: Role,
    pub csrf_token: String,
}

/// What a login attempt came to.
#[derive(Debug)]
pub enum Login {
    /// Logged in: the cookie token (given to the browser, never stored).
    Opened { token: String },
    /// Wrong name, wrong password, disabled or locked: one answer for all.
    Refused,
}

/// A hash to verify against when the name is unknown, so that it takes as long as a wrong
/// password (made once, from a random password nobody knows).
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).ok()?;
    accounts::hash_password(&BASE64URL_NOPAD.encode(&bytes)).ok()
});

fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Unavailable(format!("no randomness: {e}")))?;
    Ok(BASE64URL_NOPAD.encode(&bytes))
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Checks a name and password and opens a session (runs on a blocking thread: it hashes).
pub fn login(
    storage: &dyn Storage,
    config: &WebConfig,
    name: &str,
    password: &str,
    now: ServerTime,
) -> Result<Login> {
    let user = storage.read()?.admin_user(name)?;
    let Some(user) = user.filter(|u| u.disabled_at.is_none()) else {
        if let Some(dummy) = DUMMY_HASH.as_deref() {
            accounts::verify_password(dummy, password);
        }
        tracing::warn!(name = ?name, "dashboard login refused: no such active account");
        return Ok(Login::Refused);
    };
    if user.locked_until.is_some_and(|t| t.0 > now.0) {
        // Already counted and logged when it locked; attempts meanwhile are only traced, so
        // that hammering a locked account cannot grow the admin log without end.
        tracing::warn!(name = ?name, "dashboard login refused: the account is locked");
        return Ok(Login::Refused);
    }
    let valid = accounts::verify_password(&user.password_hash, password);
    let actor = Actor::new(&user.name)?;
    let mut tx = storage.write()?;
    if !valid {
        // Counted again inside the write transaction, so that concurrent failures all count.
        let failures = tx
            .admin_user(&user.name)?
            .map_or(0, |u| u.failed_logins)
            .saturating_add(1);
        let locked = failures >= config.max_failures;
        // Locking restarts the count, so that after the lock runs out there are
        // max_failures tries again.
        let (stored, locked_until) = if locked {
            (0, Some(ServerTime(now.0.saturating_add(config.lockout_ms))))
        } else {
            (failures, None)
        };
        tx.set_login_failures(&user.name, stored, locked_until)?;
        admin_log::record(
            tx.as_mut(),
            &actor,
            now,
            Action::AdminLoginFailed,
            &user.name,
            serde_json::json!({ "failures": failures, "locked": locked }),
        )?;
        tx.commit()?;
        tracing::warn!(name = ?name, failures, locked, "dashboard login failed");
        return Ok(Login::Refused);
    }
    let token = random_token()?;
    tx.set_login_failures(&user.name, 0, None)?;
    tx.delete_idle_admin_sessions(ServerTime(now.0.saturating_sub(config.session_idle_ms)))?;
    tx.insert_admin_session(&AdminSession {
        token_hash: token_hash(&token),
        admin: user.name.clone(),
        csrf_token: random_token()?,
        created_at: now,
        last_seen: now,
    })?;
    admin_log::record(
        tx.as_mut(),
        &actor,
        now,
        Action::AdminLogin,
        &user.name,
        serde_json::json!({ "role": user.role }),
    )?;
    tx.commit()?;
    Ok(Login::Opened { token })
}

/// How long `last_seen` may lag before a request writes it again: not every page view needs a
/// write, and the idle limit is hours.
const TOUCH_EVERY_MS: i64 = 60_000;

/// The admin whose live session the request's cookie names, or `None`.
pub fn current(
    storage: &dyn Storage,
    config: &WebConfig,
    headers: &HeaderMap,
    now: ServerTime,
) -> Result<Option<Admin>> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = token_hash(&token);
    let mut tx = storage.read()?;
    let Some(session) = tx.admin_session(&hash)? else {
        return Ok(None);
    };
    let Some(user) = tx.admin_user(&session.admin)? else {
        return Ok(None);
    };
    drop(tx);
    let idle = now.0.saturating_sub(session.last_seen.0);
    if idle > config.session_idle_ms || user.disabled_at.is_some() {
        let mut tx = storage.write()?;
        tx.delete_admin_session(&hash)?;
        tx.commit()?;
        return Ok(None);
    }
    let Ok(role) = user.role.parse::<Role>() else {
        return Err(Error::Corrupt(format!(
            "account {} has an unknown role {}",
            user.name, user.role
        )));
    };
    if idle > TOUCH_EVERY_MS.min(config.session_idle_ms / 2) {
        let mut tx = storage.write()?;
        tx.touch_admin_session(&hash, now)?;
        tx.commit()?;
    }
    Ok(Some(Admin {
        name: user.name,
        role,
        csrf_token: session.csrf_token,
    }))
}

/// Ends the session the request's cookie names (nothing when there is none).
pub fn logout(storage: &dyn Storage, headers: &HeaderMap) -> Result<()> {
    if let Some(token) = cookie(headers, SESSION_COOKIE) {
        let mut tx = storage.write()?;
        tx.delete_admin_session(&token_hash(&token))?;
        tx.commit()?;
    }
    Ok(())
}

/// True when a form's CSRF token is the session's (compared in constant time).
pub fn csrf_matches(admin: &Admin, sent: &str) -> bool {
    let (a, b) = (admin.csrf_token.as_bytes(), sent.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The paths the session cookie is sent to: the pages, and the admin API (so that a report
/// downloads with the same session). Nothing else on the server ever sees it.
pub const COOKIE_PATHS: [&str; 2] = ["/admin", "/v1/admin"];

/// The `Set-Cookie` values that give the browser a session token (one per path).
pub fn session_cookies(config: &WebConfig, token: &str) -> Result<Vec<HeaderValue>> {
    let secure = if config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    COOKIE_PATHS
        .iter()
        .map(|path| {
            HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}={token}; Path={path}; HttpOnly; SameSite=Strict{secure}"
            ))
            .map_err(|e| Error::Corrupt(format!("session cookie: {e}")))
        })
        .collect()
}

/// The `Set-Cookie` values that remove the session cookie.
pub fn cleared_cookies(config: &WebConfig) -> Vec<HeaderValue> {
    let secure = if config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    COOKIE_PATHS
        .iter()
        .filter_map(|path| {
            HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}=; Path={path}; HttpOnly; SameSite=Strict{secure}; Max-Age=0"
            ))
            .ok()
        })
        .collect()
}

/// The value of cookie `name` in the request, if any.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name_among_several() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("fv_lang=en; fv_session=abc=; other=1"),
        );
        assert_eq!(cookie(&h, "fv_session").as_deref(), Some("abc="));
        assert_eq!(cookie(&h, "fv_lang").as_deref(), Some("en"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn the_csrf_token_must_match_exactly() {
        let admin = Admin {
            name: "wang".into(),
            role: Role::Supervisor,
            csrf_token: "abcdef".into(),
        };
        assert!(csrf_matches(&admin, "abcdef"));
        assert!(!csrf_matches(&admin, "abcdeg"));
        assert!(!csrf_matches(&admin, "abcde"));
        assert!(!csrf_matches(&admin, ""));
    }

    #[test]
    fn the_session_cookie_is_http_only_strict_and_secure_when_asked() {
        let plain = WebConfig::default();
        let cookies = session_cookies(&plain, "tok").unwrap();
        let paths: Vec<&str> = cookies
            .iter()
            .map(|c| {
                let c = c.to_str().unwrap();
                assert!(c.starts_with("fv_session=tok;"), "{c}");
                assert!(
                    c.contains("; HttpOnly") && c.contains("; SameSite=Strict"),
                    "{c}"
                );
                assert!(!c.contains("Secure"), "{c}");
                c.split("; ").find(|p| p.starts_with("Path=")).unwrap()
            })
            .collect();
        assert_eq!(paths, ["Path=/admin", "Path=/v1/admin"]);
        let tls = WebConfig {
            secure_cookies: true,
            ..WebConfig::default()
        };
        for c in session_cookies(&tls, "tok").unwrap() {
            assert!(c.to_str().unwrap().ends_with("; Secure"));
        }
    }
}
