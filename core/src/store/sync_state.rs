//! Where this device stands with the server, and the two halves of a sync round on the store's
//! side: building a request from the journal and the saved cursor, and applying a response —
//! acknowledgement, clock, changes and the new cursor — in one write transaction, so that a
//! crash or a refused response leaves the store exactly as it was before the round.
//!
//! Everything lives in the existing tables plus `meta` keys; no schema change. The pulled
//! changes themselves are applied by [`super::sync_apply`].

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::Store;
use super::identity::{meta_delete, meta_get, meta_set, write_enrollment};
use super::journal_log::{head, read_ops, seq_from_sql, seq_to_sql};
use super::sync_apply::{self, Pulled};
use crate::clock::{Hlc, ServerTime, WallTime};
use crate::error::{Error, Result};
use crate::journal::Operation;
use crate::protocol::{
    ChangeBody, PROTOCOL_VERSION, PushAck, PushProblem, PushedOp, SyncRequest, SyncResponse,
};
use crate::report::SyncReport;
use crate::store::Enrollment;

/// The last sequence number the server acknowledged.
const ACKED_SEQ: &str = "acked_seq";
/// The last feed position applied.
const CURSOR: &str = "cursor";
/// Households the server purged while this device still had pending operations for them
/// (JSON list of ids); removed once those operations are synced or rejected.
const PURGE_PENDING: &str = "purge_pending";
/// The push problem the device cannot fix by itself (JSON [`PushProblem`]), for the UI.
const SYNC_PROBLEM: &str = "sync_problem";
const LAST_SERVER_TIME: &str = "last_server_time";
const CLOCK_SKEW_MS: &str = "clock_skew_ms";
const LAST_REPORT: &str = "last_sync_report";
const LAST_SYNC_AT: &str = "last_sync_at";
const LAST_ERROR: &str = "last_sync_error";
/// The server's compression dictionary, once fetched (see `sync::codec`).
const DICTIONARY_ID: &str = "zstd_dictionary_id";
const DICTIONARY: &str = "zstd_dictionary";

/// What applying one response did, for the sync report.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApplyOutcome {
    /// Operations newly marked synced.
    pub acknowledged: u64,
    /// Operations newly marked rejected.
    pub rejected: u64,
    /// Feed entries applied.
    pub pulled: u64,
    /// Field values decided between a local edit and a remote one that differed.
    pub conflicts: u64,
    /// Households removed.
    pub purged: u64,
    /// A push problem the device cannot resolve by resending (a broken or diverged journal,
    /// or a gap beyond its own head); pushing again in this sync is pointless.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<PushProblem>,
}

/// A failed sync, as the phone and the admins' "stuck phones" view show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncFailure {
    pub at: WallTime,
    /// The error's message (free of personal data by construction of [`Error`]).
    pub message: String,
}

/// What the phone's "unsynced" screen shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Whether the device holds a token to sync with.
    pub enrolled: bool,
    /// The last operation in this device's journal.
    pub head_seq: u64,
    /// The last operation the server acknowledged.
    pub acked_seq: u64,
    /// Operations waiting to be sent or acknowledged.
    pub pending: u64,
    /// Operations the server refused (kept with their reasons; see `Store::unsynced`).
    pub rejected: u64,
    /// The last feed position applied.
    pub cursor: u64,
    /// Households that left the device's scope and are removed once their pending
    /// operations are through.
    pub purge_pending: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_at: Option<WallTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_report: Option<SyncReport>,
    /// Why the server stopped taking this device's operations, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<PushProblem>,
    /// The last sync's failure, when it failed after the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<SyncFailure>,
}

/// The acknowledgement and cursor the engine compares between rounds to see progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyncPosition {
    pub(crate) acked_seq: u64,
    pub(crate) cursor: u64,
    /// Operations after the acknowledged one.
    pub(crate) backlog: u64,
}

fn meta_u64(conn: &Connection, key: &str) -> Result<u64> {
    let value: Option<i64> = meta_get(conn, key)?;
    value.map_or(Ok(0), seq_from_sql)
}

fn meta_json<T: serde::de::DeserializeOwned>(conn: &Connection, key: &str) -> Result<Option<T>> {
    let text: Option<String> = meta_get(conn, key)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| Error::Corrupt(format!("stored {key}: {e}"))))
        .transpose()
}

fn set_meta_json<T: Serialize>(conn: &Connection, key: &str, value: &T) -> Result<()> {
    meta_set(conn, key, serde_json::to_string(value)?)
}

pub(super) fn load_purge_pending(conn: &Connection) -> Result<BTreeSet<String>> {
    Ok(meta_json(conn, PURGE_PENDING)?.unwrap_or_default())
}

fn save_purge_pending(conn: &Connection, ids: &BTreeSet<String>) -> Result<()> {
    if ids.is_empty() {
        meta_delete(conn, PURGE_PENDING)
    } else {
        set_meta_json(conn, PURGE_PENDING, ids)
    }
}

fn position(conn: &Connection) -> Result<SyncPosition> {
    let acked_seq = meta_u64(conn, ACKED_SEQ)?;
    Ok(SyncPosition {
        acked_seq,
        cursor: meta_u64(conn, CURSOR)?,
        backlog: head(conn)?.seq.saturating_sub(acked_seq),
    })
}

impl Store {
    /// The next request: this device's operations after the last acknowledged one (oldest
    /// first, at most `max_push_ops`), the saved cursor, and the bearer token to send it with.
    /// [`Error::NotEnrolled`] until the device holds a token.
    pub fn sync_request(
        &self,
        page_bytes: u32,
        max_push_ops: usize,
        app_version: &str,
    ) -> Result<(SyncRequest, String)> {
        let device = self.device.id;
        let now = self.clock.now();
        self.read(|conn| {
            let token: Option<String> = meta_get(conn, "token")?;
            let token = token.ok_or(Error::NotEnrolled)?;
            let at = position(conn)?;
            let push: Vec<PushedOp> = read_ops(conn, device, at.acked_seq, max_push_ops)?
                .iter()
                .map(|(op, _)| PushedOp::from_operation(op))
                .collect();
            let sent = u64::try_from(push.len()).unwrap_or(u64::MAX);
            let req = SyncRequest {
                protocol: PROTOCOL_VERSION,
                device,
                app_version: app_version.to_string(),
                device_time: now,
                push,
                cursor: at.cursor,
                page_bytes,
                pending: u32::try_from(at.backlog.saturating_sub(sent)).unwrap_or(u32::MAX),
            };
            Ok((req, token))
        })
    }

    /// Applies the server's answer to `req` in one transaction: marks acknowledged operations
    /// synced or rejected, advances the clock past what was received, applies the changes in
    /// feed order and saves the new cursor. A response that contradicts the store (an
    /// acknowledgement beyond the journal, a rejection of an operation this device never
    /// made, a cursor that goes backwards) is refused with [`Error::Protocol`] and nothing
    /// of it is applied.
    pub fn apply_sync_response(
        &self,
        req: &SyncRequest,
        resp: &SyncResponse,
    ) -> Result<ApplyOutcome> {
        if resp.protocol != PROTOCOL_VERSION {
            return Err(Error::Protocol(format!(
                "the server answered in protocol version {}, this app speaks {PROTOCOL_VERSION}",
                resp.protocol
            )));
        }
        if req.device != self.device.id {
            return Err(Error::Protocol(
                "the request was made for another device".into(),
            ));
        }
        let now = self.clock.now();
        let codes_changed = resp
            .changes
            .iter()
            .any(|c| matches!(c.body, ChangeBody::Code { .. }));
        let outcome = self.write(|tx| {
            check_feed(tx, req, resp)?;
            let mut out = ApplyOutcome::default();
            apply_ack(tx, req, &resp.ack, &mut out)?;
            advance_hlc(tx, resp, now)?;

            let mut purge_pending = load_purge_pending(tx)?;
            // Purges that waited for this device's operations may go now that the
            // acknowledgement above has moved them out of 'pending'.
            out.purged += sync_apply::purge_waiting(tx, &mut purge_pending)?;
            let mut pulled = Pulled {
                device: self.device.id,
                purge_pending,
                conflicts: 0,
                purged: 0,
            };
            for change in &resp.changes {
                sync_apply::apply_change(tx, &change.body, &mut pulled)?;
            }
            save_purge_pending(tx, &pulled.purge_pending)?;
            out.pulled = u64::try_from(resp.changes.len()).unwrap_or(u64::MAX);
            out.conflicts = pulled.conflicts;
            out.purged += pulled.purged;

            meta_set(tx, CURSOR, seq_to_sql(resp.cursor))?;
            meta_set(tx, LAST_SERVER_TIME, resp.server_time.0)?;
            meta_set(tx, CLOCK_SKEW_MS, resp.clock_skew_ms)?;
            Ok(out)
        })?;
        if codes_changed {
            self.reload_codes()?;
        }
        Ok(outcome)
    }

    /// Where this device stands with the server, for the "unsynced" screen.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        self.read(|conn| {
            let count = |state: &str| -> Result<u64> {
                let n: i64 = conn.query_row(
                    "SELECT COUNT(*) FROM journal WHERE state = ?1",
                    [state],
                    |r| r.get(0),
                )?;
                seq_from_sql(n)
            };
            let token: Option<String> = meta_get(conn, "token")?;
            let last_synced_at: Option<i64> = meta_get(conn, LAST_SYNC_AT)?;
            Ok(SyncStatus {
                enrolled: token.is_some(),
                head_seq: head(conn)?.seq,
                acked_seq: meta_u64(conn, ACKED_SEQ)?,
                pending: count("pending")?,
                rejected: count("rejected")?,
                cursor: meta_u64(conn, CURSOR)?,
                purge_pending: u32::try_from(load_purge_pending(conn)?.len()).unwrap_or(u32::MAX),
                last_synced_at: last_synced_at.map(WallTime),
                last_report: meta_json(conn, LAST_REPORT)?,
                problem: meta_json(conn, SYNC_PROBLEM)?,
                last_error: meta_json(conn, LAST_ERROR)?,
            })
        })
    }

    /// The report of the last sync that finished, if any.
    pub fn last_sync_report(&self) -> Result<Option<SyncReport>> {
        self.read(|conn| meta_json(conn, LAST_REPORT))
    }

    /// The server's clock at the last response and the device clock's offset from it.
    pub fn last_server_time(&self) -> Result<Option<(ServerTime, i64)>> {
        self.read(|conn| {
            let time: Option<i64> = meta_get(conn, LAST_SERVER_TIME)?;
            let skew: Option<i64> = meta_get(conn, CLOCK_SKEW_MS)?;
            Ok(time.map(|t| (ServerTime(t), skew.unwrap_or(0))))
        })
    }

    pub(crate) fn sync_position(&self) -> Result<SyncPosition> {
        self.read(position)
    }

    pub(crate) fn save_sync_report(&self, report: &SyncReport) -> Result<()> {
        let now = self.clock.now();
        self.write(|tx| {
            set_meta_json(tx, LAST_REPORT, report)?;
            meta_set(tx, LAST_SYNC_AT, now.0)?;
            meta_delete(tx, LAST_ERROR)
        })
    }

    pub(crate) fn record_sync_failure(&self, message: &str) -> Result<()> {
        let failure = SyncFailure {
            at: self.clock.now(),
            message: message.to_string(),
        };
        self.write(|tx| set_meta_json(tx, LAST_ERROR, &failure))
    }

    /// Records an enrollment the server granted and starts the feed again from the
    /// beginning: a new token may come with a new feed (another cadre, a reset after
    /// revocation), and re-pulling what the device already holds is harmless. The journal and
    /// its acknowledgement are kept; the server answers a gap if it lacks anything.
    pub(crate) fn enroll_for_sync(&self, enrollment: &Enrollment) -> Result<()> {
        self.write(|tx| {
            write_enrollment(tx, enrollment)?;
            meta_delete(tx, CURSOR)?;
            // A dictionary belongs to the server that trained it; the new enrollment's server
            // advertises its own.
            meta_delete(tx, DICTIONARY_ID)?;
            meta_delete(tx, DICTIONARY)?;
            meta_delete(tx, LAST_ERROR)
        })
    }

    /// The compression dictionary the phone holds (its id and bytes), if any.
    pub fn compression_dictionary(&self) -> Result<Option<(u32, Vec<u8>)>> {
        self.read(|conn| {
            let id: Option<i64> = meta_get(conn, DICTIONARY_ID)?;
            let bytes: Option<Vec<u8>> = meta_get(conn, DICTIONARY)?;
            match (id, bytes) {
                (Some(id), Some(bytes)) => {
                    let id = u32::try_from(id)
                        .map_err(|_| Error::Corrupt(format!("stored dictionary id {id}")))?;
                    Ok(Some((id, bytes)))
                }
                _ => Ok(None),
            }
        })
    }

    /// Keeps a compression dictionary the server advertised (replacing any other).
    pub fn save_compression_dictionary(&self, id: u32, bytes: &[u8]) -> Result<()> {
        self.write(|tx| {
            meta_set(tx, DICTIONARY_ID, i64::from(id))?;
            meta_set(tx, DICTIONARY, bytes.to_vec())
        })
    }

    pub fn forget_compression_dictionary(&self) -> Result<()> {
        self.write(|tx| {
            meta_delete(tx, DICTIONARY_ID)?;
            meta_delete(tx, DICTIONARY)
        })
    }
}

/// Refuses a page that does not continue from the store's cursor or whose positions are not
/// increasing: applying it could skip or repeat entries of the feed.
fn check_feed(conn: &Connection, req: &SyncRequest, resp: &SyncResponse) -> Result<()> {
    if meta_u64(conn, CURSOR)? != req.cursor {
        return Err(Error::Protocol(
            "the store's feed position moved since the request was made; sync again".into(),
        ));
    }
    let mut last = req.cursor;
    for change in &resp.changes {
        if change.pos <= last {
            return Err(Error::Protocol(format!(
                "feed position {} does not follow {last}",
                change.pos
            )));
        }
        last = change.pos;
    }
    if resp.cursor < last {
        return Err(Error::Protocol(format!(
            "the new cursor {} is behind the page's last position {last}",
            resp.cursor
        )));
    }
    Ok(())
}

/// Marks operations up to the acknowledged one synced (or rejected, with the reason) and
/// saves where the next push starts.
fn apply_ack(
    conn: &Connection,
    req: &SyncRequest,
    ack: &PushAck,
    out: &mut ApplyOutcome,
) -> Result<()> {
    let head = head(conn)?.seq;
    if ack.acked_seq > head {
        return Err(Error::Protocol(format!(
            "the server acknowledged operation {} but this device's journal ends at {head}",
            ack.acked_seq
        )));
    }
    for rejection in &ack.rejected {
        if rejection.seq > ack.acked_seq {
            return Err(Error::Protocol(format!(
                "operation {} was rejected but not acknowledged",
                rejection.seq
            )));
        }
        let stored: Option<(Vec<u8>, String)> = conn
            .query_row(
                "SELECT op_id, state FROM journal WHERE seq = ?1",
                [seq_to_sql(rejection.seq)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((op_id, state)) = stored else {
            return Err(Error::Protocol(format!(
                "operation {} is not in this device's journal",
                rejection.seq
            )));
        };
        if op_id.as_slice() != rejection.op.as_bytes().as_slice() {
            return Err(Error::Protocol(format!(
                "the rejection of operation {} names another operation",
                rejection.seq
            )));
        }
        if state != "rejected" {
            out.rejected += 1;
        }
        conn.execute(
            "UPDATE journal SET state = 'rejected', reject_reason = ?2 WHERE seq = ?1",
            params![
                seq_to_sql(rejection.seq),
                format!("{}: {}", reject_code(rejection.code), rejection.reason)
            ],
        )?;
    }

    let old = meta_u64(conn, ACKED_SEQ)?;
    // An acknowledgement speaks only for what this request carried: the server compared those
    // operations with what it holds. Beyond them it may hold another journal's operations
    // under this device's numbers (a phone restored from a backup), which must not be marked
    // delivered here; resending them instead costs only bytes.
    let pushed_to = req.push.last().map_or(old, |op| op.seq);
    let mut acked = old.max(ack.acked_seq.min(pushed_to));
    match &ack.problem {
        Some(PushProblem::Gap { expected_seq }) => {
            let resume = expected_seq.saturating_sub(1);
            if resume <= head {
                // The server's record of this device ends at `resume`: push from there, even
                // if that is earlier than what it acknowledged before (a restored server).
                acked = resume;
            } else {
                // The server holds operations this device does not: its journal is older than
                // what it once pushed. Only an admin can sort that out.
                out.problem = ack.problem.clone();
            }
        }
        Some(PushProblem::Broken { seq, .. } | PushProblem::Diverged { seq }) => {
            // Whatever the server holds at `seq` and after is not this journal's operation,
            // so it cannot count as delivered, even if the server counts it as stored.
            acked = old.max(ack.acked_seq.min(seq.saturating_sub(1)));
            out.problem = ack.problem.clone();
        }
        None => {}
    }
    match &out.problem {
        Some(problem) => set_meta_json(conn, SYNC_PROBLEM, problem)?,
        // A push that went through without a problem clears the last one; an empty request
        // proves nothing either way.
        None if !req.push.is_empty() => meta_delete(conn, SYNC_PROBLEM)?,
        None => {}
    }

    out.acknowledged += u64::try_from(conn.execute(
        "UPDATE journal SET state = 'synced' WHERE seq <= ?1 AND state = 'pending'",
        [seq_to_sql(acked)],
    )?)
    .unwrap_or(u64::MAX);
    // Operations the server no longer holds (it asked to resend them) are pending again, so
    // the phone does not show as delivered what must still be sent.
    conn.execute(
        "UPDATE journal SET state = 'pending' WHERE seq > ?1 AND state = 'synced'",
        [seq_to_sql(acked)],
    )?;
    meta_set(conn, ACKED_SEQ, seq_to_sql(acked))?;
    Ok(())
}

fn reject_code(code: crate::protocol::RejectCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{code:?}"))
}

/// Moves the device's clock past every clock received, so that an edit made after this sync
/// orders after everything the device has seen, whatever its wall clock says.
fn advance_hlc(conn: &Connection, resp: &SyncResponse, now: WallTime) -> Result<()> {
    let op_clock = |op: &Operation| op.hlc;
    let mut newest: Option<Hlc> = None;
    let mut see = |hlc: Hlc| newest = Some(newest.map_or(hlc, |n| n.max(hlc)));
    for change in &resp.changes {
        match &change.body {
            ChangeBody::Household {
                clocks,
                members,
                visits,
                ..
            } => {
                clocks.values().for_each(|c| see(c.hlc));
                for member in members {
                    member.clocks.values().for_each(|c| see(c.hlc));
                }
                visits.iter().map(op_clock).for_each(&mut see);
            }
            ChangeBody::Visit { op } => see(op.hlc),
            _ => {}
        }
    }
    if let Some(remote) = newest {
        let last: Option<i64> = meta_get(conn, "hlc")?;
        let next = Hlc::receive(Hlc::from_i64(last.unwrap_or(0)), remote, now);
        meta_set(conn, "hlc", next.as_i64())?;
    }
    Ok(())
}
