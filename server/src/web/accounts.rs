//! Dashboard accounts: `fieldvisit-server admin-user add|list|disable`. An account has a role
//! ([`Role`]: a sync admin may revoke devices, a supervisor only reads) and a password kept
//! only as an Argon2id PHC string. A password never comes from the command line (it would sit
//! in the shell history and the process list): it is read from `FIELDVISIT_ADMIN_PASSWORD` or
//! from the first line of standard input. Creating and disabling accounts go to the admin log.

use std::io::BufRead;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use clap::Subcommand;

use fieldvisit_core::clock::ServerTime;

use crate::admin_log::{self, Action, Actor};
use crate::error::{Error, Result};
use crate::storage::{AdminUser, Storage};

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest, so that hashing a hostile login form costs bounded time.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// The variable a password may be given in (for scripts; otherwise standard input).
pub const PASSWORD_VAR: &str = "FIELDVISIT_ADMIN_PASSWORD";

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Looks after the phones: everything a supervisor sees, and revoking a device.
    SyncAdmin,
    /// Reads the dashboard and the reports; changes nothing.
    Supervisor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SyncAdmin => "sync-admin",
            Role::Supervisor => "supervisor",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sync-admin" => Ok(Role::SyncAdmin),
            "supervisor" => Ok(Role::Supervisor),
            other => Err(format!(
                "unknown role {other}; use sync-admin or supervisor"
            )),
        }
    }
}

/// Checks a password's length and hashes it (Argon2id, default parameters, random salt).
pub fn hash_password(password: &str) -> Result<String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(Error::refused(format!(
            "the password has {n} characters; it needs at least {MIN_PASSWORD_CHARS}"
        )));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(Error::refused(format!(
            "the password is longer than {MAX_PASSWORD_CHARS} characters"
        )));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Unavailable(format!("no randomness: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| Error::Corrupt(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Corrupt(format!("password hashing: {e}")))
}

/// True when `password` matches the PHC string `stored`; false for a wrong password or an
/// unreadable hash.
pub fn verify_password(stored: &str, password: &str) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// A login name: the rules of an admin log actor (1 to 64 characters, no control
/// characters), and no spaces at either end.
fn check_name(name: &str) -> Result<()> {
    let actor = Actor::new(name)?;
    if actor.as_str() != name {
        return Err(Error::refused(
            "the account name starts or ends with spaces",
        ));
    }
    Ok(())
}

/// Creates an account.
///
/// # Errors
/// [`Error::Refused`] for a bad name or a short password; [`Error::Conflict`] for a taken name.
pub fn add(
    storage: &dyn Storage,
    name: &str,
    role: Role,
    password: &str,
    actor: &Actor,
    now: ServerTime,
) -> Result<()> {
    check_name(name)?;
    let password_hash = hash_password(password)?;
    let mut tx = storage.write()?;
    let created = tx.insert_admin_user(&AdminUser {
        name: name.to_string(),
        role: role.as_str().to_string(),
        password_hash,
        created_at: now,
        disabled_at: None,
        failed_logins: 0,
        locked_until: None,
    })?;
    if !created {
        return Err(Error::Conflict(format!("an account named {name} exists")));
    }
    admin_log::record(
        tx.as_mut(),
        actor,
        now,
        Action::AdminUserAdd,
        name,
        serde_json::json!({ "role": role.as_str() }),
    )?;
    tx.commit()
}

/// Disables an account and ends its sessions. The account is kept (the admin log names it).
pub fn disable(storage: &dyn Storage, name: &str, actor: &Actor, now: ServerTime) -> Result<()> {
    let mut tx = storage.write()?;
    if !tx.disable_admin_user(name, now)? {
        return Err(Error::NotFound(format!("no account named {name}")));
    }
    admin_log::record(
        tx.as_mut(),
        actor,
        now,
        Action::AdminUserDisable,
        name,
        serde_json::json!({}),
    )?;
    tx.commit()
}

/// Reads a new password from `FIELDVISIT_ADMIN_PASSWORD`, or else the first line of `input`.
pub fn read_password(input: &mut dyn BufRead) -> Result<String> {
    if let Ok(p) = std::env::var(PASSWORD_VAR) {
        return Ok(p);
    }
    let mut line = String::new();
    input.read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(Error::refused(format!(
            "no password: give it on standard input or in {PASSWORD_VAR}"
        )));
    }
    Ok(password)
}

/// `fieldvisit-server admin-user ...`.
#[derive(Debug, Subcommand)]
pub enum AdminUserCommand {
    /// Create a dashboard account. The password is read from FIELDVISIT_ADMIN_PASSWORD, or
    /// else from the first line of standard input (never from the command line).
    Add {
        name: String,
        /// sync-admin (may also revoke devices) or supervisor (read-only).
        #[arg(long)]
        role: Role,
        /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        /// The admin's name in the admin log (default: the operating system user).
        #[arg(long)]
        actor: Option<String>,
    },
    /// List the accounts.
    List {
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: it can no longer log in, and its sessions end.
    Disable {
        name: String,
        #[arg(long, default_value = "fieldvisit.db")]
        db: String,
        #[arg(long)]
        actor: Option<String>,
    },
}

/// Runs an `admin-user` command, printing what it did.
pub fn run_cli(command: AdminUserCommand, now: ServerTime) -> Result<()> {
    match command {
        AdminUserCommand::Add {
            name,
            role,
            db,
            actor,
        } => {
            let actor = Actor::from_flag_or_os(actor.as_deref())?;
            check_name(&name)?;
            let password = read_password(&mut std::io::stdin().lock())?;
            let storage = crate::storage::open(&db)?;
            add(storage.as_ref(), &name, role, &password, &actor, now)?;
            println!("created {} account {name}", role.as_str());
        }
        AdminUserCommand::List { db, json } => {
            let storage = crate::storage::open(&db)?;
            let users = storage.read()?.admin_users()?;
            if json {
                let list: Vec<serde_json::Value> = users
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "name": u.name,
                            "role": u.role,
                            "created_at": u.created_at,
                            "disabled_at": u.disabled_at,
                            "failed_logins": u.failed_logins,
                            "locked_until": u.locked_until,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string(&list)?);
            } else {
                for u in users {
                    let state = if u.disabled_at.is_some() {
                        "disabled"
                    } else if u.locked_until.is_some_and(|t| t.0 > now.0) {
                        "locked"
                    } else {
                        "active"
                    };
                    println!(
                        "{:<24} {:<11} {:<8} created {}",
                        u.name,
                        u.role,
                        state,
                        crate::report::local_time(fieldvisit_core::clock::WallTime(u.created_at.0))
                    );
                }
            }
        }
        AdminUserCommand::Disable { name, db, actor } => {
            let actor = Actor::from_flag_or_os(actor.as_deref())?;
            let storage = crate::storage::open(&db)?;
            disable(storage.as_ref(), &name, &actor, now)?;
            println!("disabled {name}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_hashes_to_a_phc_string_that_verifies() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse battery!"));
        assert!(!verify_password("not a hash", "correct horse battery"));
    }

    #[test]
    fn a_short_password_is_refused_with_the_minimum() {
        let e = hash_password("short").unwrap_err().to_string();
        assert!(e.contains("at least 12"), "{e}");
    }

    #[test]
    fn the_password_is_read_from_the_first_line() {
        // (FIELDVISIT_ADMIN_PASSWORD is not set in unit tests.)
        if std::env::var(PASSWORD_VAR).is_ok() {
            return;
        }
        let mut input = std::io::Cursor::new("secret line one\nsecond\n");
        assert_eq!(read_password(&mut input).unwrap(), "secret line one");
        let mut empty = std::io::Cursor::new("");
        assert!(read_password(&mut empty).is_err());
    }

    #[test]
    fn roles_parse_by_name() {
        assert_eq!("sync-admin".parse::<Role>(), Ok(Role::SyncAdmin));
        assert_eq!("supervisor".parse::<Role>(), Ok(Role::Supervisor));
        assert!("root".parse::<Role>().is_err());
    }
}
