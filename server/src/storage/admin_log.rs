//! The append-only admin log: who did what to which subject, and when. Both schemas refuse any
//! change to a row once written (triggers), so not even a mistake in this code can rewrite it.
//!
//! Conformance: server/tests/conformance/admin_log.rs.

use serde::{Deserialize, Serialize};

use fieldvisit_core::clock::ServerTime;

use super::Db;
use crate::error::Result;

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminLogEntry {
    /// Position in the log, assigned on append (ignored by [`AdminLog::append_admin_log`]).
    pub id: u64,
    pub at: ServerTime,
    /// The admin who acted (see `crate::admin_log::Actor`).
    pub actor: String,
    /// What was done, e.g. `plate.reissue` (see `crate::admin_log::Action`).
    pub action: String,
    /// What it was done to: a household, device, cadre or village id.
    pub subject: String,
    /// The particulars, as a JSON object. Never secrets (enrollment codes, keys).
    pub detail: serde_json::Value,
}

/// The admin log's table.
pub trait AdminLog {
    /// Appends an entry and returns its id. No method changes or removes an entry.
    fn append_admin_log(&mut self, entry: &AdminLogEntry) -> Result<u64>;
    /// The newest `limit` entries, newest first.
    fn admin_log(&mut self, limit: usize) -> Result<Vec<AdminLogEntry>>;
}

impl<D: Db + ?Sized> AdminLog for D {
    fn append_admin_log(&mut self, e: &AdminLogEntry) -> Result<u64> {
        self.query_value(
            "INSERT INTO admin_log (at, actor, action, subject, detail)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
            &[
                &e.at.0,
                &e.actor,
                &e.action,
                &e.subject,
                &e.detail.to_string(),
            ],
        )
    }

    fn admin_log(&mut self, limit: usize) -> Result<Vec<AdminLogEntry>> {
        self.query(
            "SELECT id, at, actor, action, subject, detail FROM admin_log
             ORDER BY id DESC LIMIT ?1",
            &[&limit],
            |r| {
                Ok(AdminLogEntry {
                    id: r.get(0)?,
                    at: ServerTime(r.get(1)?),
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    subject: r.get(4)?,
                    detail: serde_json::from_str(&r.get::<String>(5)?)?,
                })
            },
        )
    }
}
