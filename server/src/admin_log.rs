//! The append-only admin log: every admin action (load a region, import the registry, issue an
//! enrollment code, revoke a device, reassign a household, print plates, reissue a plate)
//! appends one entry in the same transaction as the action itself, so an action is never
//! committed without its entry, nor an entry without its action.
//!
//! Who acted is an [`Actor`]: the `--actor` flag of the admin commands, or else the operating
//! system user running them. Entries carry ids, never personal data, and never secrets: an
//! enrollment code or a plate key is not logged.

use std::fmt;

use serde_json::Value;

use fieldvisit_core::clock::ServerTime;

use crate::error::{Error, Result};
use crate::storage::{AdminLog, AdminLogEntry};

/// The longest actor name accepted, in characters.
const MAX_ACTOR_CHARS: usize = 64;

/// Who performed an admin action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// An actor by name: 1 to 64 characters, no control characters, trimmed.
    ///
    /// # Errors
    /// [`Error::Refused`] for an empty, over-long or control-character name.
    pub fn new(name: impl AsRef<str>) -> Result<Actor> {
        let name = name.as_ref().trim();
        if name.is_empty() {
            return Err(Error::refused("the actor name is empty"));
        }
        if name.chars().count() > MAX_ACTOR_CHARS {
            return Err(Error::refused(format!(
                "the actor name is longer than {MAX_ACTOR_CHARS} characters"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::refused("the actor name contains control characters"));
        }
        Ok(Actor(name.to_string()))
    }

    /// The actor named by `flag` (an admin command's `--actor`), or else the operating system
    /// user: `$USER`, `$LOGNAME` or `$USERNAME`, or else (on Unix, where a shell started by a
    /// service may set none of them) the name of the process's user id in `/etc/passwd`, or
    /// `uid:N`; `unknown` only when all of that fails.
    ///
    /// # Errors
    /// As [`Actor::new`] for an invalid `flag`.
    pub fn from_flag_or_os(flag: Option<&str>) -> Result<Actor> {
        if let Some(name) = flag {
            return Actor::new(name);
        }
        let os_user = ["USER", "LOGNAME", "USERNAME"]
            .iter()
            .filter_map(|var| std::env::var(var).ok())
            .find_map(|name| Actor::new(name).ok());
        Ok(os_user
            .or_else(unix_user)
            .unwrap_or_else(|| Actor("unknown".into())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The user owning this process, by name from `/etc/passwd` or else as `uid:N`.
#[cfg(unix)]
fn unix_user() -> Option<Actor> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let named = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)? == uid.to_string()).then(|| name.to_string())
            })
        });
    Actor::new(named.unwrap_or_else(|| format!("uid:{uid}"))).ok()
}

#[cfg(not(unix))]
fn unix_user() -> Option<Actor> {
    None
}

/// The admin actions that are logged. Stored as their [`Action::as_str`] names, which never
/// change once released (old entries keep them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A registry (region) was loaded; subject: the region.
    RegionLoad,
    /// An enrollment code was issued; subject: the cadre.
    EnrollCode,
    /// A device was revoked; subject: the device.
    DeviceRevoke,
    /// A household was moved to another cadre; subject: the household.
    HouseholdReassign,
    /// A village's plate sheet was printed; subject: the village code.
    PlatesPrint,
    /// A household's plate was reissued; subject: the household.
    PlateReissue,
    /// A compression dictionary was trained and advertised; subject: its id.
    DictionaryTrain,
    /// Registry CSV files were imported; subject: `registry`, detail: files and counts.
    RegistryImport,
    /// A device was marked retiring (revoked after its final upload); subject: the device.
    DeviceRetire,
    /// A phone's exported unsynced work was imported; subject: the device, detail: counts.
    DeviceImport,
    /// A dashboard account was created; subject: its name, detail: its role.
    AdminUserAdd,
    /// A dashboard account was disabled; subject: its name.
    AdminUserDisable,
    /// An admin logged in to the dashboard; subject: the account.
    AdminLogin,
    /// A dashboard login failed for an existing account; subject: the account, detail: the
    /// failures so far and whether it is now locked.
    AdminLoginFailed,
    /// A village exit notice (公示) was recorded; subject: the household, detail: its first day.
    ExitNotice,
    /// The county approved a household's exit (pre-exit → exited); subject: the household,
    /// detail: the notice and verification it rests on.
    ExitApprove,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::RegionLoad => "region.load",
            Action::EnrollCode => "enroll.code",
            Action::DeviceRevoke => "device.revoke",
            Action::HouseholdReassign => "household.reassign",
            Action::PlatesPrint => "plates.print",
            Action::PlateReissue => "plate.reissue",
            Action::DictionaryTrain => "dictionary.train",
            Action::RegistryImport => "registry.import",
            Action::DeviceRetire => "device.retire",
            Action::DeviceImport => "device.import",
            Action::AdminUserAdd => "admin_user.add",
            Action::AdminUserDisable => "admin_user.disable",
            Action::AdminLogin => "admin.login",
            Action::AdminLoginFailed => "admin.login_failed",
            Action::ExitNotice => "exit.notice",
            Action::ExitApprove => "exit.approve",
        }
    }
}

/// Appends one entry inside the caller's transaction (which commits it with the action).
pub fn record(
    tx: &mut dyn AdminLog,
    actor: &Actor,
    at: ServerTime,
    action: Action,
    subject: &str,
    detail: Value,
) -> Result<u64> {
    tx.append_admin_log(&AdminLogEntry {
        id: 0,
        at,
        actor: actor.as_str().to_string(),
        action: action.as_str().to_string(),
        subject: subject.to_string(),
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_names_are_checked() {
        assert_eq!(Actor::new("  wang.li ").unwrap().as_str(), "wang.li");
        assert!(Actor::new("").is_err());
        assert!(Actor::new("   ").is_err());
        assert!(Actor::new("a\nb").is_err());
        assert!(Actor::new("x".repeat(65)).is_err());
        assert!(Actor::new("管理员".repeat(21)).is_ok());
    }

    #[test]
    fn an_explicit_actor_wins_over_the_os_user() {
        assert_eq!(
            Actor::from_flag_or_os(Some("county-admin"))
                .unwrap()
                .as_str(),
            "county-admin"
        );
        assert!(Actor::from_flag_or_os(Some("")).is_err());
        assert!(!Actor::from_flag_or_os(None).unwrap().as_str().is_empty());
    }
}
