//! The `fieldvisit-server` command line, one file per family of commands: each file holds its
//! commands' flags (clap `Args`) and runs them, printing what the admin sees and choosing the
//! exit code. `main.rs` names the commands and sends each to its file; this module holds what
//! several families share: who is acting, the time now, and times shown in China Standard Time.
//! No command's logic lives here: the library does the work, these files only speak to admins.

pub mod devices;
pub mod dictionary;
pub mod exit;
pub mod plates;
pub mod registry;
pub mod reports;
pub mod serve;

use clap::Args;

use fieldvisit_core::clock::{Clock, ServerTime, SystemClock};
use fieldvisit_server::Result;
use fieldvisit_server::admin_log::Actor;

/// Who is acting, for the admin log.
#[derive(Args)]
pub struct Who {
    /// The admin's name in the admin log (default: the operating system user).
    #[arg(long)]
    actor: Option<String>,
}

impl Who {
    pub fn actor(&self) -> Result<Actor> {
        Actor::from_flag_or_os(self.actor.as_deref())
    }
}

pub fn now() -> ServerTime {
    ServerTime(SystemClock.now().0)
}

/// A server time as China Standard Time (UTC+8), to the second with its offset, for admins
/// reading a list.
pub fn china_time(at: ServerTime) -> String {
    china_time_as(at, "%Y-%m-%d %H:%M:%S%:z")
}

/// A server time in China Standard Time in a chrono `format`; the raw milliseconds when the
/// time is out of chrono's range.
pub fn china_time_as(at: ServerTime, format: &str) -> String {
    let cst = chrono::FixedOffset::east_opt(8 * 3600);
    match (chrono::DateTime::from_timestamp_millis(at.0), cst) {
        (Some(t), Some(cst)) => t.with_timezone(&cst).format(format).to_string(),
        _ => at.0.to_string(),
    }
}
