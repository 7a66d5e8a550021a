//! The server's storage, as a trait: the sync protocol, enrollment and the admin tools speak
//! only to [`Storage`] and [`Tx`], so a backend (embedded SQLite by default, PostgreSQL at
//! scale) is chosen at start-up without touching them.
//!
//! A [`Tx`] is one transaction. Everything a sync does to the database happens in one write
//! transaction, so an acknowledgement is sent only after the pushed operations, their effects
//! and the feed entries they cause are committed together.
//!
//! The conformance suite (server/tests/conformance/, run by storage_conformance_sqlite.rs and
//! storage_conformance_postgres.rs) runs the same tests on every backend.
//!
//! [`open`] is the one place a backend is chosen from the `--db` value every command takes.

pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use chrono::NaiveDate;
use fieldvisit_core::clock::{ServerTime, WallTime};
use fieldvisit_core::codes::HumanCode;
use fieldvisit_core::domain::{
    Area, Assignment, Cadre, CodeEntry, Household, Measure, Member, RegistryRecord, VillagePost,
};
use fieldvisit_core::ids::{
    AssignmentId, CadreId, DeviceId, HouseholdId, MeasureId, MemberId, OpId, PostId, VisitId,
};
use fieldvisit_core::journal::{ChainPoint, Operation};
use fieldvisit_core::plate::{AuthorityKey, PlateAuthority};
use fieldvisit_core::protocol::{FieldClock, FieldClocks, RejectCode, Rejection};

use crate::error::Result;

/// Opens the storage `db` names: a `postgres://` or `postgresql://` URL opens the PostgreSQL
/// backend ([`postgres::PostgresStorage`]); anything else is the path of a SQLite file
/// ([`sqlite::SqliteStorage`]), created when missing. Either way the schema is brought up to
/// date first.
pub fn open(db: &str) -> Result<Arc<dyn Storage>> {
    if postgres::is_url(db) {
        Ok(Arc::new(postgres::PostgresStorage::connect(db)?))
    } else {
        Ok(Arc::new(sqlite::SqliteStorage::open(db)?))
    }
}

/// A storage backend: hands out transactions.
pub trait Storage: Send + Sync + 'static {
    /// A write transaction. Writers are serialised by the backend.
    fn write(&self) -> Result<Box<dyn Tx + '_>>;
    /// A read-only transaction on a consistent snapshot.
    fn read(&self) -> Result<Box<dyn Tx + '_>>;
    /// What the backend is, for logs and the health endpoint.
    fn describe(&self) -> String;
}

/// An enrolled device as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub id: DeviceId,
    pub cadre: CadreId,
    pub public_key: [u8; 32],
    pub enrolled_at: ServerTime,
    pub revoked: Option<Revocation>,
    /// Set by `retire`: the device may still push its final upload, and is revoked by the first
    /// sync that leaves it with nothing pending (see `crate::devices`).
    #[serde(default)]
    pub retiring: Option<Revocation>,
    /// The end of the device's chain as stored here: every operation up to `head.seq`.
    pub head: ChainPoint,
    pub app_version: Option<String>,
    pub last_sync_at: Option<ServerTime>,
    /// Operations the device said were still waiting at its last sync.
    pub pending_reported: u32,
    pub clock_skew_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub at: ServerTime,
    pub reason: String,
}

/// What became of a stored operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Rejected { code: RejectCode, reason: String },
}

/// One entry of a device's feed. Entries refer to rows; the change sent is built from the
/// row's state when the device pulls, so a device always receives the current household.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedItem {
    /// An accepted operation, by server sequence number.
    Op(u64),
    Household(HouseholdId),
    Purge(HouseholdId),
    Cadre(CadreId),
    Area(String),
    Assignment(AssignmentId),
    Post(PostId),
    AuthorityKey(u16),
}

/// A value that lost a last-writer-wins merge, kept for admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub entity: String,
    pub entity_id: String,
    pub field: String,
    pub losing_value: serde_json::Value,
    pub losing_clock: FieldClock,
    pub winning_value: serde_json::Value,
    pub winning_clock: FieldClock,
    pub at: ServerTime,
}

/// A visit as the server keeps it for supervision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerVisit {
    pub id: VisitId,
    pub household: HouseholdId,
    pub cadre: CadreId,
    pub device: DeviceId,
    pub server_seq: u64,
    pub recorded_at: WallTime,
    pub received_at: ServerTime,
    pub kind: String,
    pub manual: bool,
    pub distance_m: Option<f64>,
    /// The visit record as pushed (JSON).
    pub record: String,
}

/// A compression dictionary trained from accepted operations (see `crate::dictionary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDictionary {
    /// The id zstd frames compressed with it name.
    pub id: u32,
    pub bytes: Vec<u8>,
    /// How many operations it was trained on.
    pub samples: u64,
    pub created_at: ServerTime,
}

/// An accepted visit naming a photo: the server accepts a photo's bytes only from a device
/// one of whose accepted visits names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoLink {
    pub visit: VisitId,
    /// SHA-256 of the photo, 64 lowercase hex digits.
    pub sha256: String,
    pub device: DeviceId,
    /// The size the visit declared.
    pub size: u64,
}

/// A complete photo the server holds (its hash checked when it was assembled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPhoto {
    pub sha256: String,
    pub size: u64,
    pub stored_at: ServerTime,
}

/// One entry of the append-only admin log: who did what to which subject, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminLogEntry {
    /// Position in the log, assigned on append (ignored by [`Tx::append_admin_log`]).
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

/// A dashboard account (`fieldvisit-server admin-user`, see `crate::web::accounts`).
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

/// An admin step of a household's exit procedure (退出) that no phone makes: the village's
/// public notice (公示) and the county's approval (docs/protocol.md, "Poverty status and exit
/// verification"). Recorded by `fieldvisit-server exit`, never changed or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitEvent {
    /// Position among all exit events, assigned on insert (ignored by [`Tx::insert_exit_event`]).
    pub id: u64,
    pub household: HouseholdId,
    pub kind: ExitEventKind,
    /// For a notice, the day it started; for an approval, the day it was given.
    pub day: NaiveDate,
    /// When it was recorded.
    pub at: ServerTime,
    /// The admin who recorded it.
    pub actor: String,
}

/// What an [`ExitEvent`] records; stored as [`ExitEventKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitEventKind {
    /// The village published the exit notice (公示), starting on the event's day.
    Notice,
    /// The county approved the exit: the household became exited.
    Approval,
}

impl ExitEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExitEventKind::Notice => "notice",
            ExitEventKind::Approval => "approval",
        }
    }

    /// The kind stored as `s`, or `None` for anything else.
    pub fn parse(s: &str) -> Option<ExitEventKind> {
        match s {
            "notice" => Some(ExitEventKind::Notice),
            "approval" => Some(ExitEventKind::Approval),
            _ => None,
        }
    }
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

/// One database transaction. Dropping it without [`Tx::commit`] rolls it back.
pub trait Tx {
    fn commit(self: Box<Self>) -> Result<()>;
    /// Marks a point inside the transaction that [`Tx::rollback_to_savepoint`] returns to, so
    /// that one request's failure inside a group commit undoes only that request's work.
    fn savepoint(&mut self) -> Result<()>;
    fn release_savepoint(&mut self) -> Result<()>;
    fn rollback_to_savepoint(&mut self) -> Result<()>;

    // ---- registry ----
    fn put_record(&mut self, record: &RegistryRecord) -> Result<()>;
    fn household(&mut self, id: &HouseholdId) -> Result<Option<Household>>;
    fn members_of(&mut self, household: &HouseholdId) -> Result<Vec<Member>>;
    fn member(&mut self, id: &MemberId) -> Result<Option<Member>>;
    /// The member whose person code (一人一码) is `code`.
    fn member_by_person_code(&mut self, code: &HumanCode) -> Result<Option<Member>>;
    fn measure(&mut self, id: &MeasureId) -> Result<Option<Measure>>;
    fn measures_of(&mut self, household: &HouseholdId) -> Result<Vec<Measure>>;
    fn cadre(&mut self, id: &CadreId) -> Result<Option<Cadre>>;
    fn area(&mut self, code: &str) -> Result<Option<Area>>;
    fn assignment(&mut self, id: &AssignmentId) -> Result<Option<Assignment>>;
    fn post(&mut self, id: &PostId) -> Result<Option<VillagePost>>;
    fn assignments_of_cadre(&mut self, cadre: &CadreId) -> Result<Vec<Assignment>>;
    fn assignments_of_household(&mut self, household: &HouseholdId) -> Result<Vec<Assignment>>;
    fn posts_of_cadre(&mut self, cadre: &CadreId) -> Result<Vec<VillagePost>>;
    fn code_entries(&mut self) -> Result<Vec<CodeEntry>>;
    fn authority_keys(&mut self) -> Result<Vec<AuthorityKey>>;
    /// The households `cadre` is responsible for on `day` (assignments and village posts).
    fn households_in_scope(&mut self, cadre: &CadreId, day: NaiveDate) -> Result<Vec<HouseholdId>>;
    fn in_scope(
        &mut self,
        cadre: &CadreId,
        household: &HouseholdId,
        day: NaiveDate,
    ) -> Result<bool>;
    /// The cadres responsible for `household` on `day`.
    fn cadres_in_scope(&mut self, household: &HouseholdId, day: NaiveDate) -> Result<Vec<CadreId>>;
    /// The clocks of the last writes to an entity's fields (`entity` is "household" or
    /// "member").
    fn field_clocks(&mut self, entity: &str, id: &str) -> Result<FieldClocks>;
    /// Writes one field's value and its clock. `field` is one of the editable fields of the
    /// entity (the caller checks); backends map it to a column from a fixed list.
    fn set_field(
        &mut self,
        entity: &str,
        id: &str,
        field: &str,
        value: &serde_json::Value,
        clock: &FieldClock,
    ) -> Result<()>;
    /// The current value of one editable field, as JSON.
    fn field_value(&mut self, entity: &str, id: &str, field: &str) -> Result<serde_json::Value>;
    /// Sets a household's poverty status after an accepted exit step; `exit_year` is set with
    /// a step to exited and kept otherwise.
    fn set_poverty_status(
        &mut self,
        household: &HouseholdId,
        status: &str,
        exit_year: Option<i32>,
    ) -> Result<()>;
    fn log_conflict(&mut self, conflict: &Conflict) -> Result<()>;
    fn conflicts(&mut self, limit: usize) -> Result<Vec<Conflict>>;

    // ---- door plates ----
    fn household_by_code(&mut self, code: &HumanCode) -> Result<Option<Household>>;
    /// Every household of a village, in door-plate code order.
    fn households_of_village(&mut self, village: &str) -> Result<Vec<Household>>;
    /// The authority that signs new plates (the held secret with the highest key id), or
    /// `None` when this server holds no plate secret.
    fn plate_authority(&mut self) -> Result<Option<PlateAuthority>>;
    /// Stores (or replaces) the secret of a plate key; its public half is a registry record.
    fn put_authority_secret(
        &mut self,
        key_id: u16,
        secret: &[u8; 32],
        at: ServerTime,
    ) -> Result<()>;

    // ---- the admin log (append-only) ----
    /// Appends an entry and returns its id. No method changes or removes an entry.
    fn append_admin_log(&mut self, entry: &AdminLogEntry) -> Result<u64>;
    /// The newest `limit` entries, newest first.
    fn admin_log(&mut self, limit: usize) -> Result<Vec<AdminLogEntry>>;

    // ---- exit procedure (append-only) ----
    /// Records a village notice or county approval and returns its id. No method changes or
    /// removes one.
    fn insert_exit_event(&mut self, event: &ExitEvent) -> Result<u64>;
    /// A household's exit events, oldest first.
    fn exit_events_of_household(&mut self, household: &HouseholdId) -> Result<Vec<ExitEvent>>;

    // ---- dashboard accounts and sessions ----
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

    // ---- enrollment and devices ----
    fn insert_enrollment_code(
        &mut self,
        code_hash: &[u8; 32],
        cadre: &CadreId,
        created: ServerTime,
        expires: ServerTime,
    ) -> Result<()>;
    /// Marks an unused, unexpired code used by `device` and returns its cadre; `None` when
    /// the code is unknown, expired, or used by another device. The same device may redeem
    /// its code again until it expires (its first answer may have been lost on the way).
    fn redeem_enrollment_code(
        &mut self,
        code_hash: &[u8; 32],
        device: &DeviceId,
        now: ServerTime,
    ) -> Result<Option<CadreId>>;
    fn device(&mut self, id: &DeviceId) -> Result<Option<DeviceRecord>>;
    fn device_by_token(&mut self, token_hash: &[u8; 32]) -> Result<Option<DeviceRecord>>;
    /// Creates the device, or re-binds it to a cadre and a new token on re-enrollment.
    fn upsert_device(&mut self, device: &DeviceRecord, token_hash: &[u8; 32]) -> Result<()>;
    fn devices(&mut self) -> Result<Vec<DeviceRecord>>;
    /// Active (not revoked) devices of these cadres.
    fn devices_of_cadres(&mut self, cadres: &[CadreId]) -> Result<Vec<DeviceId>>;
    fn record_sync(
        &mut self,
        device: &DeviceId,
        at: ServerTime,
        app_version: &str,
        pending: u32,
        clock_skew_ms: i64,
    ) -> Result<()>;
    /// Revokes a device; false when it does not exist.
    fn revoke_device(&mut self, device: &DeviceId, at: ServerTime, reason: &str) -> Result<bool>;
    /// Marks a device retiring (kept until it is revoked or re-enrolled); false when it does
    /// not exist.
    fn retire_device(&mut self, device: &DeviceId, at: ServerTime, reason: &str) -> Result<bool>;

    // ---- the journal ----
    /// The id and outcome of the operation stored under (device, seq).
    fn op_at(&mut self, device: &DeviceId, seq: u64) -> Result<Option<(OpId, Outcome)>>;
    fn op_id_exists(&mut self, id: &OpId) -> Result<bool>;
    /// Stores an operation (accepted or rejected) and returns its server sequence number.
    fn insert_op(
        &mut self,
        op: &Operation,
        outcome: &Outcome,
        household: Option<&HouseholdId>,
        received: ServerTime,
    ) -> Result<u64>;
    fn set_device_head(&mut self, device: &DeviceId, head: &ChainPoint) -> Result<()>;
    fn op_by_server_seq(&mut self, server_seq: u64) -> Result<Option<Operation>>;
    /// Accepted visit operations (records and amendments) for a household, oldest first.
    fn visit_ops_of_household(&mut self, household: &HouseholdId) -> Result<Vec<Operation>>;
    /// Accepted poverty-status steps (`household.status`) of a household with the time each
    /// was received, oldest first: the household's exit history.
    fn status_ops_of_household(
        &mut self,
        household: &HouseholdId,
    ) -> Result<Vec<(Operation, ServerTime)>>;
    /// A device's stored operations after `after_seq`, in order (for audits).
    fn ops_of_device(
        &mut self,
        device: &DeviceId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Operation>>;
    /// Rejected operations, newest first.
    fn rejections(&mut self, limit: usize) -> Result<Vec<(DeviceId, Rejection)>>;
    /// How many rejected operations each device has stored (devices with none are absent).
    fn rejected_counts(&mut self) -> Result<Vec<(DeviceId, u64)>>;
    /// How many operations are stored (accepted, rejected).
    fn op_counts(&mut self) -> Result<(u64, u64)>;
    /// The most recently accepted operations, newest first (training samples).
    fn recent_accepted_ops(&mut self, limit: usize) -> Result<Vec<Operation>>;

    // ---- compression dictionaries ----
    /// Stores a new dictionary, which becomes the current one.
    fn put_dictionary(&mut self, dictionary: &StoredDictionary) -> Result<()>;
    fn dictionary(&mut self, id: u32) -> Result<Option<StoredDictionary>>;
    /// The newest dictionary's id.
    fn current_dictionary(&mut self) -> Result<Option<u32>>;
    /// Every dictionary, oldest first, without their bytes' content checked.
    fn dictionaries(&mut self) -> Result<Vec<StoredDictionary>>;

    // ---- visits ----
    fn insert_visit(&mut self, visit: &ServerVisit) -> Result<()>;
    fn visit_count(&mut self) -> Result<u64>;
    /// Visits recorded (device clock) in `[from, to)`, in server order. Supervision reports
    /// are computed from these in Rust, so a backend needs only this plain range read.
    fn visits_between(&mut self, from: WallTime, to: WallTime) -> Result<Vec<ServerVisit>>;
    /// The id of every household in the registry, by village and door-plate code.
    fn household_ids(&mut self) -> Result<Vec<HouseholdId>>;
    /// One stored visit, by id.
    fn visit(&mut self, id: &VisitId) -> Result<Option<ServerVisit>>;
    /// The cadre who recorded a visit and its household.
    fn visit_owner(&mut self, id: &VisitId) -> Result<Option<(CadreId, HouseholdId)>>;

    // ---- visit photos ----
    /// Notes that an accepted visit names a photo (a second call for the same visit and hash
    /// changes nothing).
    fn link_photo(&mut self, link: &PhotoLink) -> Result<()>;
    /// Every accepted visit naming the photo, by visit id.
    fn photo_links(&mut self, sha256: &str) -> Result<Vec<PhotoLink>>;
    /// The complete photo's description, when the server holds it.
    fn photo(&mut self, sha256: &str) -> Result<Option<StoredPhoto>>;
    fn photo_bytes(&mut self, sha256: &str) -> Result<Option<Vec<u8>>>;
    /// Stores a complete photo; storing one already held changes nothing.
    fn put_photo(&mut self, photo: &StoredPhoto, bytes: &[u8]) -> Result<()>;
    /// Stores (or replaces) one chunk of a photo being uploaded.
    fn put_photo_chunk(&mut self, sha256: &str, index: u32, bytes: &[u8]) -> Result<()>;
    /// The indexes of the chunks held for a photo being uploaded, ascending.
    fn photo_chunk_indexes(&mut self, sha256: &str) -> Result<Vec<u32>>;
    /// Removes and returns every chunk held for a photo, by ascending index.
    fn take_photo_chunks(&mut self, sha256: &str) -> Result<Vec<(u32, Vec<u8>)>>;

    // ---- feeds ----
    /// Appends `items`, in order, to a device's feed and returns the position of the last
    /// (the feed's head; with no items, the head as it was). The device row's counter is moved
    /// once for the whole run: a fanout costs one row update per phone, not one per entry.
    fn append_feed_run(&mut self, device: &DeviceId, items: &[FeedItem]) -> Result<u64>;
    /// Appends one entry to a device's feed and returns its position.
    fn append_feed(&mut self, device: &DeviceId, item: &FeedItem) -> Result<u64> {
        self.append_feed_run(device, std::slice::from_ref(item))
    }
    /// Entries of a device's feed after `after`, in order, at most `limit`.
    fn feed_after(
        &mut self,
        device: &DeviceId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, FeedItem)>>;
    /// The position of a device's last feed entry (0 when empty).
    fn feed_head(&mut self, device: &DeviceId) -> Result<u64>;
    /// Every household a device's feed has ever sent it in full.
    fn households_sent(&mut self, device: &DeviceId) -> Result<Vec<HouseholdId>>;
}
