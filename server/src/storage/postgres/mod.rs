//! The PostgreSQL backend, for a county that outgrows one box: several stateless server
//! instances share one database.
//!
//! Connections: one writer and a few readers per instance, each a blocking
//! [`postgres::Client`] behind a mutex, reconnected when the server closed it. The blocking
//! client runs its own small runtime, so it must never be called on an async worker thread;
//! every storage call in this server already runs on a blocking thread (`spawn_blocking`, the
//! group committer's thread, or a command-line tool), as the embedded backend requires too.
//!
//! Write serialisation (docs/protocol.md, "Why the cursor never skips"): every write
//! transaction starts with `pg_advisory_xact_lock(key)`, held until commit or rollback, so
//! writers run one at a time across every instance using the database. Transactions are READ
//! COMMITTED: each statement after the lock sees everything earlier writers committed (a
//! REPEATABLE READ snapshot would be taken before the lock is granted and miss them). Sequence
//! numbers and feed positions are drawn inside the lock, so they increase in commit order.
//! Read transactions are REPEATABLE READ, READ ONLY: one consistent snapshot.
//!
//! A storage may live in its own PostgreSQL schema ([`PostgresStorage::connect_in_schema`]);
//! its advisory-lock key is derived from the schema's name, so storages in different schemas
//! of one database do not wait for each other.

mod admin_user;
mod exit_event;
mod journal;
mod misc;
mod photos;
mod registry;
mod report;
mod schema;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::NaiveDate;
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement};

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
use fieldvisit_core::protocol::{FieldClock, FieldClocks, Rejection};

pub use schema::VERSION;

use super::{
    AdminLogEntry, AdminSession, AdminUser, Conflict, DeviceRecord, ExitEvent, FeedItem, Outcome,
    PhotoLink, ServerVisit, Storage, StoredDictionary, StoredPhoto, Tx,
};
use crate::error::{Error, Result};

/// Reader connections per instance.
const READERS: usize = 3;

/// True when `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// One connection and its prepared statements.
struct Conn {
    /// Always `Some` while the connection is in use; taken only by `Drop`.
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    /// A rollback failed: the session's state is unknown, so it is replaced before reuse.
    poisoned: bool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // `postgres::Client` closes its connection by blocking on a runtime of its own, which
        // panics on a thread that is running async tasks — where a server's last reference
        // to its storage can be dropped at shutdown. Inside any tokio context it is closed on
        // a thread of its own; elsewhere right here.
        let in_tokio = tokio::runtime::Handle::try_current().is_ok();
        if let Some(client) = self.client.take().filter(|_| in_tokio) {
            let _ = std::thread::Builder::new()
                .name("fieldvisit-pg-close".into())
                .spawn(move || drop(client));
        }
    }
}

impl Conn {
    fn client(&mut self) -> Result<&mut Client> {
        self.client
            .as_mut()
            .ok_or_else(|| Error::Unavailable("the PostgreSQL connection is closed".into()))
    }

    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client()?.prepare(sql)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let s = self.statement(sql)?;
        Ok(self.client()?.query(&s, params)?)
    }

    fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let s = self.statement(sql)?;
        Ok(self.client()?.query_opt(&s, params)?)
    }

    fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let s = self.statement(sql)?;
        Ok(self.client()?.query_one(&s, params)?)
    }

    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let s = self.statement(sql)?;
        Ok(self.client()?.execute(&s, params)?)
    }
}

pub struct PostgresStorage {
    config: Config,
    /// `host/dbname[/schema]`, without credentials, for logs.
    target: String,
    lock_key: i64,
    writer: Mutex<Conn>,
    readers: Vec<Mutex<Conn>>,
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("target", &self.target)
            .finish()
    }
}

/// A schema name this backend accepts: lower-case ASCII letters, digits and `_`, not starting
/// with a digit (so it never needs quoting).
fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The advisory-lock key of a schema's writers (FNV-1a of its name: stable across builds).
fn lock_key(schema: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"fieldvisit-writers:".iter().chain(schema.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

fn parse_config(url: &str) -> Result<Config> {
    Config::from_str(url).map_err(|e| Error::refused(format!("not a PostgreSQL URL: {e}")))
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://user@host:port/dbname`), creating or
    /// upgrading the tables in the connection's current schema: `public`, unless the URL sets
    /// another search path (`?options=-c%20search_path%3Dcounty_150700`), as
    /// [`ScratchSchema::url`] does.
    pub fn connect(url: &str) -> Result<PostgresStorage> {
        let config = parse_config(url)?;
        Self::open(config)
    }

    /// Connects with every table in PostgreSQL schema `schema` (created when missing): one
    /// database can hold several independent fieldvisit databases, e.g. one per test.
    pub fn connect_in_schema(url: &str, schema: &str) -> Result<PostgresStorage> {
        if !valid_schema(schema) {
            return Err(Error::refused(format!(
                "{schema:?} is not a schema name (use a-z, 0-9 and _)"
            )));
        }
        let mut config = parse_config(url)?;
        let mut bootstrap = config.connect(NoTls)?;
        bootstrap.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))?;
        config.options(&format!("-c search_path={schema}"));
        Self::open(config)
    }

    fn open(mut config: Config) -> Result<PostgresStorage> {
        config.application_name("fieldvisit-server");
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_default();
        let mut writer = Self::new_conn(&config)?;
        // The schema the tables live in: `public` unless the URL's `options` or the role's
        // settings set another `search_path`. Every instance on the same schema derives the
        // same lock key, however its URL spells it.
        let schema: Option<String> = writer
            .client()?
            .query_one("SELECT current_schema()", &[])?
            .try_get(0)?;
        let schema = schema.ok_or_else(|| {
            Error::refused(
                "the search_path names no existing schema: create it first (CREATE SCHEMA)",
            )
        })?;
        let mut target = format!("{host}/{}", config.get_dbname().unwrap_or(""));
        if schema != "public" {
            target.push('/');
            target.push_str(&schema);
        }
        let lock_key = lock_key(&schema);
        schema::migrate(writer.client()?, lock_key)?;
        let readers = (0..READERS)
            .map(|_| Self::new_conn(&config).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(PostgresStorage {
            config,
            target,
            lock_key,
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    fn new_conn(config: &Config) -> Result<Conn> {
        Ok(Conn {
            client: Some(config.connect(NoTls)?),
            statements: HashMap::new(),
            poisoned: false,
        })
    }

    /// Locks a connection slot, replacing a connection the server closed or that is in an
    /// unknown state.
    fn acquire<'a>(&self, slot: &'a Mutex<Conn>) -> Result<MutexGuard<'a, Conn>> {
        // A panic mid-transaction leaves the transaction open; `poisoned` is set by the
        // rollback in `PgTx::drop`, which runs during the unwind.
        let mut conn = slot.lock().unwrap_or_else(|p| p.into_inner());
        if conn.poisoned || conn.client.as_ref().is_none_or(Client::is_closed) {
            *conn = Self::new_conn(&self.config)?;
        }
        Ok(conn)
    }

    /// The name of this storage's PostgreSQL schema, host and database, for logs.
    pub fn target(&self) -> &str {
        &self.target
    }
}

impl Storage for PostgresStorage {
    fn write(&self) -> Result<Box<dyn Tx + '_>> {
        let mut conn = self.acquire(&self.writer)?;
        conn.client()?.batch_execute("BEGIN")?;
        let mut tx = PgTx { conn, open: true };
        // Held until this transaction ends: writers of every instance run one at a time.
        tx.conn
            .execute("SELECT pg_advisory_xact_lock($1)", &[&self.lock_key])?;
        Ok(Box::new(tx))
    }

    fn read(&self) -> Result<Box<dyn Tx + '_>> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len().max(1);
        let slot = self
            .readers
            .get(i)
            .ok_or_else(|| Error::Unavailable("no reader".into()))?;
        let mut conn = self.acquire(slot)?;
        conn.client()?
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        Ok(Box::new(PgTx { conn, open: true }))
    }

    fn describe(&self) -> String {
        format!("postgres:{}", self.target)
    }
}

struct PgTx<'a> {
    conn: MutexGuard<'a, Conn>,
    open: bool,
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open
            && self
                .conn
                .client
                .as_mut()
                .is_none_or(|c| c.batch_execute("ROLLBACK").is_err())
        {
            self.conn.poisoned = true;
        }
    }
}

/// A u64 counter or sequence number as a BIGINT.
pub(super) fn seq_sql(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A BIGINT counter as a u64 (negative values never occur; 0 if one did).
pub(super) fn seq_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(super) fn limit_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(super) fn corrupt<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Corrupt(format!("{what}: {e}"))
}

pub(super) fn blob<const N: usize>(bytes: Vec<u8>, what: &'static str) -> Result<[u8; N]> {
    bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("{what} is not {N} bytes")))
}

pub(super) fn device_id(text: &str) -> Result<DeviceId> {
    DeviceId::parse(text).map_err(corrupt("device id"))
}

impl Tx for PgTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.client()?.batch_execute("COMMIT")?;
        self.open = false;
        Ok(())
    }

    fn savepoint(&mut self) -> Result<()> {
        Ok(self.conn.client()?.batch_execute("SAVEPOINT request")?)
    }

    fn release_savepoint(&mut self) -> Result<()> {
        Ok(self
            .conn
            .client()?
            .batch_execute("RELEASE SAVEPOINT request")?)
    }

    fn rollback_to_savepoint(&mut self) -> Result<()> {
        Ok(self
            .conn
            .client()?
            .batch_execute("ROLLBACK TO SAVEPOINT request; RELEASE SAVEPOINT request")?)
    }

    fn put_record(&mut self, record: &RegistryRecord) -> Result<()> {
        registry::put_record(&mut self.conn, record)
    }

    fn household(&mut self, id: &HouseholdId) -> Result<Option<Household>> {
        registry::household_where(&mut self.conn, "id", id.as_str())
    }

    fn members_of(&mut self, household: &HouseholdId) -> Result<Vec<Member>> {
        registry::members_where(&mut self.conn, "household", household.as_str())
    }

    fn member(&mut self, id: &MemberId) -> Result<Option<Member>> {
        Ok(registry::members_where(&mut self.conn, "id", id.as_str())?
            .into_iter()
            .next())
    }

    fn member_by_person_code(&mut self, code: &HumanCode) -> Result<Option<Member>> {
        Ok(
            registry::members_where(&mut self.conn, "person_code", code.as_str())?
                .into_iter()
                .next(),
        )
    }

    fn measure(&mut self, id: &MeasureId) -> Result<Option<Measure>> {
        let household: Option<String> = self
            .conn
            .query_opt(
                "SELECT household FROM measure WHERE id = $1",
                &[&id.as_str()],
            )?
            .map(|r| r.try_get(0))
            .transpose()?;
        let Some(household) = household else {
            return Ok(None);
        };
        let household = HouseholdId::new(household).map_err(corrupt("measure household"))?;
        Ok(registry::measures_of(&mut self.conn, &household)?
            .into_iter()
            .find(|m| &m.id == id))
    }

    fn measures_of(&mut self, household: &HouseholdId) -> Result<Vec<Measure>> {
        registry::measures_of(&mut self.conn, household)
    }

    fn cadre(&mut self, id: &CadreId) -> Result<Option<Cadre>> {
        registry::cadre(&mut self.conn, id)
    }

    fn area(&mut self, code: &str) -> Result<Option<Area>> {
        registry::area(&mut self.conn, code)
    }

    fn assignment(&mut self, id: &AssignmentId) -> Result<Option<Assignment>> {
        Ok(
            registry::assignments_where(&mut self.conn, "id", id.as_str())?
                .into_iter()
                .next(),
        )
    }

    fn post(&mut self, id: &PostId) -> Result<Option<VillagePost>> {
        Ok(registry::posts_where(&mut self.conn, "id", id.as_str())?
            .into_iter()
            .next())
    }

    fn assignments_of_cadre(&mut self, cadre: &CadreId) -> Result<Vec<Assignment>> {
        registry::assignments_where(&mut self.conn, "cadre", cadre.as_str())
    }

    fn assignments_of_household(&mut self, household: &HouseholdId) -> Result<Vec<Assignment>> {
        registry::assignments_where(&mut self.conn, "household", household.as_str())
    }

    fn posts_of_cadre(&mut self, cadre: &CadreId) -> Result<Vec<VillagePost>> {
        registry::posts_where(&mut self.conn, "cadre", cadre.as_str())
    }

    fn code_entries(&mut self) -> Result<Vec<CodeEntry>> {
        registry::code_entries(&mut self.conn)
    }

    fn authority_keys(&mut self) -> Result<Vec<AuthorityKey>> {
        registry::authority_keys(&mut self.conn)
    }

    fn households_in_scope(&mut self, cadre: &CadreId, day: NaiveDate) -> Result<Vec<HouseholdId>> {
        registry::households_in_scope(&mut self.conn, cadre, day)
    }

    fn in_scope(
        &mut self,
        cadre: &CadreId,
        household: &HouseholdId,
        day: NaiveDate,
    ) -> Result<bool> {
        registry::in_scope(&mut self.conn, cadre, household, day)
    }

    fn cadres_in_scope(&mut self, household: &HouseholdId, day: NaiveDate) -> Result<Vec<CadreId>> {
        registry::cadres_in_scope(&mut self.conn, household, day)
    }

    fn field_clocks(&mut self, entity: &str, id: &str) -> Result<FieldClocks> {
        registry::field_clocks(&mut self.conn, entity, id)
    }

    fn set_field(
        &mut self,
        entity: &str,
        id: &str,
        field: &str,
        value: &serde_json::Value,
        clock: &FieldClock,
    ) -> Result<()> {
        registry::set_field(&mut self.conn, entity, id, field, value, clock)
    }

    fn field_value(&mut self, entity: &str, id: &str, field: &str) -> Result<serde_json::Value> {
        registry::field_value(&mut self.conn, entity, id, field)
    }

    fn set_poverty_status(
        &mut self,
        household: &HouseholdId,
        status: &str,
        exit_year: Option<i32>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE household SET poverty_status = $2, exit_year = COALESCE($3, exit_year)
             WHERE id = $1",
            &[&household.as_str(), &status, &exit_year],
        )?;
        Ok(())
    }

    fn log_conflict(&mut self, conflict: &Conflict) -> Result<()> {
        misc::log_conflict(&mut self.conn, conflict)
    }

    fn conflicts(&mut self, limit: usize) -> Result<Vec<Conflict>> {
        misc::conflicts(&mut self.conn, limit)
    }

    fn household_by_code(&mut self, code: &HumanCode) -> Result<Option<Household>> {
        registry::household_where(&mut self.conn, "code", code.as_str())
    }

    fn households_of_village(&mut self, village: &str) -> Result<Vec<Household>> {
        registry::households_of_village(&mut self.conn, village)
    }

    fn plate_authority(&mut self) -> Result<Option<PlateAuthority>> {
        misc::plate_authority(&mut self.conn)
    }

    fn put_authority_secret(
        &mut self,
        key_id: u16,
        secret: &[u8; 32],
        at: ServerTime,
    ) -> Result<()> {
        misc::put_authority_secret(&mut self.conn, key_id, secret, at)
    }

    fn append_admin_log(&mut self, entry: &AdminLogEntry) -> Result<u64> {
        misc::append_admin_log(&mut self.conn, entry)
    }

    fn admin_log(&mut self, limit: usize) -> Result<Vec<AdminLogEntry>> {
        misc::admin_log(&mut self.conn, limit)
    }

    fn insert_exit_event(&mut self, event: &ExitEvent) -> Result<u64> {
        exit_event::insert(&mut self.conn, event)
    }

    fn exit_events_of_household(&mut self, household: &HouseholdId) -> Result<Vec<ExitEvent>> {
        exit_event::of_household(&mut self.conn, household)
    }

    fn insert_admin_user(&mut self, user: &AdminUser) -> Result<bool> {
        admin_user::insert_user(&mut self.conn, user)
    }

    fn admin_user(&mut self, name: &str) -> Result<Option<AdminUser>> {
        admin_user::user_by_name(&mut self.conn, name)
    }

    fn admin_users(&mut self) -> Result<Vec<AdminUser>> {
        admin_user::users(&mut self.conn)
    }

    fn disable_admin_user(&mut self, name: &str, at: ServerTime) -> Result<bool> {
        admin_user::disable_user(&mut self.conn, name, at)
    }

    fn set_login_failures(
        &mut self,
        name: &str,
        failures: u32,
        locked_until: Option<ServerTime>,
    ) -> Result<()> {
        admin_user::set_failures(&mut self.conn, name, failures, locked_until)
    }

    fn insert_admin_session(&mut self, session: &AdminSession) -> Result<()> {
        admin_user::insert_session(&mut self.conn, session)
    }

    fn admin_session(&mut self, token_hash: &[u8; 32]) -> Result<Option<AdminSession>> {
        admin_user::session(&mut self.conn, token_hash)
    }

    fn touch_admin_session(&mut self, token_hash: &[u8; 32], at: ServerTime) -> Result<()> {
        admin_user::touch_session(&mut self.conn, token_hash, at)
    }

    fn delete_admin_session(&mut self, token_hash: &[u8; 32]) -> Result<bool> {
        admin_user::delete_session(&mut self.conn, token_hash)
    }

    fn delete_idle_admin_sessions(&mut self, before: ServerTime) -> Result<u64> {
        admin_user::delete_idle_sessions(&mut self.conn, before)
    }

    fn insert_enrollment_code(
        &mut self,
        code_hash: &[u8; 32],
        cadre: &CadreId,
        created: ServerTime,
        expires: ServerTime,
    ) -> Result<()> {
        journal::insert_enrollment_code(&mut self.conn, code_hash, cadre, created, expires)
    }

    fn redeem_enrollment_code(
        &mut self,
        code_hash: &[u8; 32],
        device: &DeviceId,
        now: ServerTime,
    ) -> Result<Option<CadreId>> {
        journal::redeem_enrollment_code(&mut self.conn, code_hash, device, now)
    }

    fn device(&mut self, id: &DeviceId) -> Result<Option<DeviceRecord>> {
        journal::device_where(&mut self.conn, "id = $1", &id.to_string())
    }

    fn device_by_token(&mut self, token_hash: &[u8; 32]) -> Result<Option<DeviceRecord>> {
        journal::device_by_token(&mut self.conn, token_hash)
    }

    fn upsert_device(&mut self, device: &DeviceRecord, token_hash: &[u8; 32]) -> Result<()> {
        journal::upsert_device(&mut self.conn, device, token_hash)
    }

    fn devices(&mut self) -> Result<Vec<DeviceRecord>> {
        journal::devices(&mut self.conn)
    }

    fn devices_of_cadres(&mut self, cadres: &[CadreId]) -> Result<Vec<DeviceId>> {
        journal::devices_of_cadres(&mut self.conn, cadres)
    }

    fn record_sync(
        &mut self,
        device: &DeviceId,
        at: ServerTime,
        app_version: &str,
        pending: u32,
        clock_skew_ms: i64,
    ) -> Result<()> {
        journal::record_sync(
            &mut self.conn,
            device,
            at,
            app_version,
            pending,
            clock_skew_ms,
        )
    }

    fn revoke_device(&mut self, device: &DeviceId, at: ServerTime, reason: &str) -> Result<bool> {
        journal::revoke_device(&mut self.conn, device, at, reason)
    }

    fn op_at(&mut self, device: &DeviceId, seq: u64) -> Result<Option<(OpId, Outcome)>> {
        journal::op_at(&mut self.conn, device, seq)
    }

    fn op_id_exists(&mut self, id: &OpId) -> Result<bool> {
        journal::op_id_exists(&mut self.conn, id)
    }

    fn insert_op(
        &mut self,
        op: &Operation,
        outcome: &Outcome,
        household: Option<&HouseholdId>,
        received: ServerTime,
    ) -> Result<u64> {
        journal::insert_op(&mut self.conn, op, outcome, household, received)
    }

    fn set_device_head(&mut self, device: &DeviceId, head: &ChainPoint) -> Result<()> {
        journal::set_device_head(&mut self.conn, device, head)
    }

    fn op_by_server_seq(&mut self, server_seq: u64) -> Result<Option<Operation>> {
        journal::op_by_server_seq(&mut self.conn, server_seq)
    }

    fn retire_device(&mut self, device: &DeviceId, at: ServerTime, reason: &str) -> Result<bool> {
        journal::retire_device(&mut self.conn, device, at, reason)
    }

    fn rejected_counts(&mut self) -> Result<Vec<(DeviceId, u64)>> {
        journal::rejected_counts(&mut self.conn)
    }

    fn visit_ops_of_household(&mut self, household: &HouseholdId) -> Result<Vec<Operation>> {
        journal::visit_ops_of_household(&mut self.conn, household)
    }

    fn status_ops_of_household(
        &mut self,
        household: &HouseholdId,
    ) -> Result<Vec<(Operation, ServerTime)>> {
        journal::status_ops_of_household(&mut self.conn, household)
    }

    fn ops_of_device(
        &mut self,
        device: &DeviceId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Operation>> {
        journal::ops_of_device(&mut self.conn, device, after_seq, limit)
    }

    fn rejections(&mut self, limit: usize) -> Result<Vec<(DeviceId, Rejection)>> {
        journal::rejections(&mut self.conn, limit)
    }

    fn op_counts(&mut self) -> Result<(u64, u64)> {
        journal::op_counts(&mut self.conn)
    }

    fn recent_accepted_ops(&mut self, limit: usize) -> Result<Vec<Operation>> {
        journal::recent_accepted_ops(&mut self.conn, limit)
    }

    fn put_dictionary(&mut self, dictionary: &StoredDictionary) -> Result<()> {
        misc::put_dictionary(&mut self.conn, dictionary)
    }

    fn dictionary(&mut self, id: u32) -> Result<Option<StoredDictionary>> {
        misc::dictionary(&mut self.conn, id)
    }

    fn current_dictionary(&mut self) -> Result<Option<u32>> {
        misc::current_dictionary(&mut self.conn)
    }

    fn dictionaries(&mut self) -> Result<Vec<StoredDictionary>> {
        misc::dictionaries(&mut self.conn)
    }

    fn link_photo(&mut self, link: &PhotoLink) -> Result<()> {
        photos::link(&mut self.conn, link)
    }

    fn photo_links(&mut self, sha256: &str) -> Result<Vec<PhotoLink>> {
        photos::links(&mut self.conn, sha256)
    }

    fn photo(&mut self, sha256: &str) -> Result<Option<StoredPhoto>> {
        photos::get(&mut self.conn, sha256)
    }

    fn photo_bytes(&mut self, sha256: &str) -> Result<Option<Vec<u8>>> {
        photos::bytes(&mut self.conn, sha256)
    }

    fn put_photo(&mut self, photo: &StoredPhoto, bytes: &[u8]) -> Result<()> {
        photos::put(&mut self.conn, photo, bytes)
    }

    fn put_photo_chunk(&mut self, sha256: &str, index: u32, bytes: &[u8]) -> Result<()> {
        photos::put_chunk(&mut self.conn, sha256, index, bytes)
    }

    fn photo_chunk_indexes(&mut self, sha256: &str) -> Result<Vec<u32>> {
        photos::chunk_indexes(&mut self.conn, sha256)
    }

    fn take_photo_chunks(&mut self, sha256: &str) -> Result<Vec<(u32, Vec<u8>)>> {
        photos::take_chunks(&mut self.conn, sha256)
    }

    fn insert_visit(&mut self, visit: &ServerVisit) -> Result<()> {
        misc::insert_visit(&mut self.conn, visit)
    }

    fn visit_count(&mut self) -> Result<u64> {
        misc::visit_count(&mut self.conn)
    }

    fn visit_owner(&mut self, id: &VisitId) -> Result<Option<(CadreId, HouseholdId)>> {
        misc::visit_owner(&mut self.conn, id)
    }

    fn visits_between(&mut self, from: WallTime, to: WallTime) -> Result<Vec<ServerVisit>> {
        report::visits_between(&mut self.conn, from, to)
    }

    fn household_ids(&mut self) -> Result<Vec<HouseholdId>> {
        report::household_ids(&mut self.conn)
    }

    fn visit(&mut self, id: &VisitId) -> Result<Option<ServerVisit>> {
        report::visit(&mut self.conn, id)
    }

    fn append_feed_run(&mut self, device: &DeviceId, items: &[FeedItem]) -> Result<u64> {
        misc::append_feed_run(&mut self.conn, device, items)
    }

    fn feed_after(
        &mut self,
        device: &DeviceId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, FeedItem)>> {
        misc::feed_after(&mut self.conn, device, after, limit)
    }

    fn feed_head(&mut self, device: &DeviceId) -> Result<u64> {
        misc::feed_head(&mut self.conn, device)
    }

    fn households_sent(&mut self, device: &DeviceId) -> Result<Vec<HouseholdId>> {
        misc::households_sent(&mut self.conn, device)
    }
}

/// A throwaway schema for one test or benchmark run: created empty, dropped (with everything
/// in it) when this value is dropped. Lets tests share one PostgreSQL database and run in
/// parallel without seeing each other's rows.
#[derive(Debug)]
pub struct ScratchSchema {
    url: String,
    name: String,
}

impl ScratchSchema {
    /// A new schema `<prefix>_<random>` in the database at `url`.
    pub fn new(url: &str, prefix: &str) -> Result<ScratchSchema> {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| Error::Unavailable(e.to_string()))?;
        let name = format!("{prefix}_{}", u64::from_ne_bytes(random));
        if !valid_schema(&name) {
            return Err(Error::refused(format!("{prefix:?} is not a schema prefix")));
        }
        Ok(ScratchSchema {
            url: url.to_string(),
            name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A storage whose tables live in this schema.
    pub fn storage(&self) -> Result<PostgresStorage> {
        PostgresStorage::connect_in_schema(&self.url, &self.name)
    }

    /// A URL naming this schema (its search path in the connection `options`), for another
    /// process: `fieldvisit-server serve --db URL` and every command-line tool then work on
    /// this schema's tables, under the same write lock as [`ScratchSchema::storage`]. The
    /// schema is created first, so the URL is usable at once.
    pub fn url(&self) -> Result<String> {
        let config = parse_config(&self.url)?;
        if config.get_options().is_some() {
            return Err(Error::refused(
                "the base URL already sets options; a scratch schema cannot add its search path",
            ));
        }
        config
            .connect(NoTls)?
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", self.name))?;
        let sep = if self.url.contains('?') { '&' } else { '?' };
        Ok(format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.url, self.name
        ))
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        // Best effort: a schema left behind by a crashed run holds only test data.
        if let Ok(mut client) = parse_config(&self.url).and_then(|c| Ok(c.connect(NoTls)?)) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}
