//! The embedded backend: one SQLite file (`./fieldvisit.db` by default). One writer
//! connection, so write transactions are serialised and commit in the order they began; a few
//! read-only connections for concurrent reads (WAL).

mod admin_log;
mod admin_user;
mod authority;
mod checkpoint;
mod device;
mod dictionary;
mod exit_event;
pub(crate) mod feed;
mod journal;
mod photos;
mod report;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, params};

use fieldvisit_core::clock::{Hlc, ServerTime, WallTime};
use fieldvisit_core::codes::HumanCode;
use fieldvisit_core::domain::fields::Entity;
use fieldvisit_core::domain::{
    Area, Assignment, Cadre, CodeEntry, Household, Measure, Member, RegistryRecord, VillagePost,
};
use fieldvisit_core::ids::{
    AssignmentId, CadreId, DeviceId, HouseholdId, MeasureId, MemberId, OpId, PostId, VisitId,
};
use fieldvisit_core::journal::{ChainPoint, Operation};
use fieldvisit_core::plate::{AuthorityKey, PlateAuthority};
use fieldvisit_core::protocol::{FieldClock, FieldClocks, Rejection};
use fieldvisit_core::rows;

pub use schema::VERSION;

use super::{
    AdminLogEntry, AdminSession, AdminUser, Conflict, DeviceRecord, ExitEvent, FeedItem, Outcome,
    PhotoLink, ServerVisit, Storage, StoredDictionary, StoredPhoto, Tx,
};
use crate::error::{Error, Result};

const READERS: usize = 4;

pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    // Declared last: dropped after the connections it checkpoints beside.
    _checkpointer: checkpoint::Checkpointer,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStorage {
    /// Opens (creating or upgrading) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStorage> {
        let path = path.as_ref().to_path_buf();
        let writer = fieldvisit_core::sqlite::open_writer(&path, &schema::SERVER)?;
        writer.pragma_update(
            None,
            "wal_autocheckpoint",
            checkpoint::WRITER_BACKSTOP_PAGES,
        )?;
        let checkpointer = checkpoint::Checkpointer::start(&path)?;
        let readers = (0..READERS)
            .map(|_| fieldvisit_core::sqlite::open_reader(&path, &schema::SERVER).map(Mutex::new))
            .collect::<fieldvisit_core::Result<Vec<_>>>()?;
        Ok(SqliteStorage {
            path,
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            _checkpointer: checkpointer,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic mid-transaction leaves SQLite to roll back; the connection stays usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Storage for SqliteStorage {
    fn write(&self) -> Result<Box<dyn Tx + '_>> {
        let conn = lock(&self.writer);
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Box::new(SqliteTx { conn, open: true }))
    }

    fn read(&self) -> Result<Box<dyn Tx + '_>> {
        // Any idle reader first (pages of many syncs are read at once); when all are busy,
        // wait on one in turn.
        let idle = self.readers.iter().find_map(|slot| match slot.try_lock() {
            Ok(conn) => Some(conn),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        });
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let i =
                    self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len().max(1);
                let slot = self
                    .readers
                    .get(i)
                    .ok_or_else(|| Error::Unavailable("no reader".into()))?;
                lock(slot)
            }
        };
        conn.prepare_cached("BEGIN")?.execute([])?;
        Ok(Box::new(SqliteTx { conn, open: true }))
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing useful can be done with a failed rollback here; SQLite rolls back an
            // unfinished transaction when the next BEGIN fails anyway.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn seq_sql(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn seq_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn corrupt<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Corrupt(format!("{what}: {e}"))
}

fn device_id(text: &str) -> Result<DeviceId> {
    DeviceId::parse(text).map_err(corrupt("device id"))
}

fn blob<const N: usize>(bytes: Vec<u8>, what: &'static str) -> Result<[u8; N]> {
    bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("{what} is not {N} bytes")))
}

fn entity_of(name: &str) -> Result<Entity> {
    match name {
        "household" => Ok(Entity::Household),
        "member" => Ok(Entity::Member),
        other => Err(Error::Corrupt(format!("unknown entity {other}"))),
    }
}

impl Tx for SqliteTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }

    fn savepoint(&mut self) -> Result<()> {
        self.conn.prepare_cached("SAVEPOINT request")?.execute([])?;
        Ok(())
    }

    fn release_savepoint(&mut self) -> Result<()> {
        self.conn.prepare_cached("RELEASE request")?.execute([])?;
        Ok(())
    }

    fn rollback_to_savepoint(&mut self) -> Result<()> {
        Ok(self
            .conn
            .execute_batch("ROLLBACK TO request; RELEASE request")?)
    }

    fn put_record(&mut self, record: &RegistryRecord) -> Result<()> {
        Ok(rows::put_record(&self.conn, record)?)
    }

    fn household(&mut self, id: &HouseholdId) -> Result<Option<Household>> {
        Ok(rows::household_by_id(&self.conn, id)?)
    }

    fn members_of(&mut self, household: &HouseholdId) -> Result<Vec<Member>> {
        Ok(rows::members_of(&self.conn, household)?)
    }

    fn member(&mut self, id: &MemberId) -> Result<Option<Member>> {
        Ok(rows::member_by_id(&self.conn, id)?)
    }

    fn member_by_person_code(&mut self, code: &HumanCode) -> Result<Option<Member>> {
        Ok(rows::member_by_person_code(&self.conn, code)?)
    }

    fn measure(&mut self, id: &MeasureId) -> Result<Option<Measure>> {
        Ok(rows::measure_by_id(&self.conn, id)?)
    }

    fn measures_of(&mut self, household: &HouseholdId) -> Result<Vec<Measure>> {
        Ok(rows::measures_of(&self.conn, household)?)
    }

    fn cadre(&mut self, id: &CadreId) -> Result<Option<Cadre>> {
        Ok(rows::cadre(&self.conn, id)?)
    }

    fn area(&mut self, code: &str) -> Result<Option<Area>> {
        Ok(rows::area(&self.conn, code)?)
    }

    fn assignment(&mut self, id: &AssignmentId) -> Result<Option<Assignment>> {
        Ok(rows::assignment(&self.conn, id)?)
    }

    fn post(&mut self, id: &PostId) -> Result<Option<VillagePost>> {
        Ok(rows::post(&self.conn, id)?)
    }

    fn assignments_of_cadre(&mut self, cadre: &CadreId) -> Result<Vec<Assignment>> {
        Ok(rows::assignments_of_cadre(&self.conn, cadre)?)
    }

    fn assignments_of_household(&mut self, household: &HouseholdId) -> Result<Vec<Assignment>> {
        Ok(rows::assignments_of_household(&self.conn, household)?)
    }

    fn posts_of_cadre(&mut self, cadre: &CadreId) -> Result<Vec<VillagePost>> {
        Ok(rows::posts_of_cadre(&self.conn, cadre)?)
    }

    fn code_entries(&mut self) -> Result<Vec<CodeEntry>> {
        Ok(rows::code_entries(&self.conn)?)
    }

    fn authority_keys(&mut self) -> Result<Vec<AuthorityKey>> {
        Ok(rows::authority_keys(&self.conn)?)
    }

    fn households_in_scope(&mut self, cadre: &CadreId, day: NaiveDate) -> Result<Vec<HouseholdId>> {
        Ok(rows::households_in_scope(&self.conn, cadre, day)?)
    }

    fn in_scope(
        &mut self,
        cadre: &CadreId,
        household: &HouseholdId,
        day: NaiveDate,
    ) -> Result<bool> {
        Ok(rows::in_scope(&self.conn, cadre, household, day)?)
    }

    fn cadres_in_scope(&mut self, household: &HouseholdId, day: NaiveDate) -> Result<Vec<CadreId>> {
        Ok(rows::cadres_in_scope(&self.conn, household, day)?)
    }

    fn field_clocks(&mut self, entity: &str, id: &str) -> Result<FieldClocks> {
        Ok(rows::field_clocks(&self.conn, entity_of(entity)?, id)?)
    }

    fn set_field(
        &mut self,
        entity: &str,
        id: &str,
        field: &str,
        value: &serde_json::Value,
        clock: &FieldClock,
    ) -> Result<()> {
        Ok(rows::set_field(
            &self.conn,
            entity_of(entity)?,
            id,
            field,
            value,
            clock,
        )?)
    }

    fn field_value(&mut self, entity: &str, id: &str, field: &str) -> Result<serde_json::Value> {
        Ok(rows::field_value(
            &self.conn,
            entity_of(entity)?,
            id,
            field,
        )?)
    }

    fn set_poverty_status(
        &mut self,
        household: &HouseholdId,
        status: &str,
        exit_year: Option<i32>,
    ) -> Result<()> {
        Ok(rows::set_poverty_status(
            &self.conn, household, status, exit_year,
        )?)
    }

    fn log_conflict(&mut self, c: &Conflict) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO conflict (entity, entity_id, field, losing_value, losing_hlc,
                 losing_device, winning_value, winning_hlc, winning_device, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                c.entity,
                c.entity_id,
                c.field,
                c.losing_value.to_string(),
                c.losing_clock.hlc.as_i64(),
                c.losing_clock.device.to_string(),
                c.winning_value.to_string(),
                c.winning_clock.hlc.as_i64(),
                c.winning_clock.device.to_string(),
                c.at.0,
            ])?;
        Ok(())
    }

    fn conflicts(&mut self, limit: usize) -> Result<Vec<Conflict>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT entity, entity_id, field, losing_value, losing_hlc, losing_device,
                    winning_value, winning_hlc, winning_device, at
             FROM conflict ORDER BY id DESC LIMIT ?1",
        )?;
        let mut rows = stmt.query([i64::try_from(limit).unwrap_or(i64::MAX)])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let json = |i: usize| -> Result<serde_json::Value> {
                Ok(serde_json::from_str(&r.get::<_, String>(i)?)?)
            };
            out.push(Conflict {
                entity: r.get(0)?,
                entity_id: r.get(1)?,
                field: r.get(2)?,
                losing_value: json(3)?,
                losing_clock: FieldClock {
                    hlc: Hlc::from_i64(r.get(4)?),
                    device: device_id(&r.get::<_, String>(5)?)?,
                },
                winning_value: json(6)?,
                winning_clock: FieldClock {
                    hlc: Hlc::from_i64(r.get(7)?),
                    device: device_id(&r.get::<_, String>(8)?)?,
                },
                at: ServerTime(r.get(9)?),
            });
        }
        Ok(out)
    }

    fn household_by_code(&mut self, code: &HumanCode) -> Result<Option<Household>> {
        Ok(rows::household_by_code(&self.conn, code)?)
    }

    fn households_of_village(&mut self, village: &str) -> Result<Vec<Household>> {
        Ok(rows::households_of_village(&self.conn, village)?)
    }

    fn plate_authority(&mut self) -> Result<Option<PlateAuthority>> {
        authority::newest(&self.conn)
    }

    fn put_authority_secret(
        &mut self,
        key_id: u16,
        secret: &[u8; 32],
        at: ServerTime,
    ) -> Result<()> {
        authority::put_secret(&self.conn, key_id, secret, at)
    }

    fn append_admin_log(&mut self, entry: &AdminLogEntry) -> Result<u64> {
        admin_log::append(&self.conn, entry)
    }

    fn admin_log(&mut self, limit: usize) -> Result<Vec<AdminLogEntry>> {
        admin_log::newest(&self.conn, limit)
    }

    fn insert_exit_event(&mut self, event: &ExitEvent) -> Result<u64> {
        exit_event::insert(&self.conn, event)
    }

    fn exit_events_of_household(&mut self, household: &HouseholdId) -> Result<Vec<ExitEvent>> {
        exit_event::of_household(&self.conn, household)
    }

    fn insert_admin_user(&mut self, user: &AdminUser) -> Result<bool> {
        admin_user::insert_user(&self.conn, user)
    }

    fn admin_user(&mut self, name: &str) -> Result<Option<AdminUser>> {
        admin_user::user_by_name(&self.conn, name)
    }

    fn admin_users(&mut self) -> Result<Vec<AdminUser>> {
        admin_user::users(&self.conn)
    }

    fn disable_admin_user(&mut self, name: &str, at: ServerTime) -> Result<bool> {
        admin_user::disable_user(&self.conn, name, at)
    }

    fn set_login_failures(
        &mut self,
        name: &str,
        failures: u32,
        locked_until: Option<ServerTime>,
    ) -> Result<()> {
        admin_user::set_failures(&self.conn, name, failures, locked_until)
    }

    fn insert_admin_session(&mut self, session: &AdminSession) -> Result<()> {
        admin_user::insert_session(&self.conn, session)
    }

    fn admin_session(&mut self, token_hash: &[u8; 32]) -> Result<Option<AdminSession>> {
        admin_user::session(&self.conn, token_hash)
    }

    fn touch_admin_session(&mut self, token_hash: &[u8; 32], at: ServerTime) -> Result<()> {
        admin_user::touch_session(&self.conn, token_hash, at)
    }

    fn delete_admin_session(&mut self, token_hash: &[u8; 32]) -> Result<bool> {
        admin_user::delete_session(&self.conn, token_hash)
    }

    fn delete_idle_admin_sessions(&mut self, before: ServerTime) -> Result<u64> {
        admin_user::delete_idle_sessions(&self.conn, before)
    }

    fn insert_enrollment_code(
        &mut self,
        code_hash: &[u8; 32],
        cadre: &CadreId,
        created: ServerTime,
        expires: ServerTime,
    ) -> Result<()> {
        device::insert_enrollment_code(&self.conn, code_hash, cadre, created, expires)
    }

    fn redeem_enrollment_code(
        &mut self,
        code_hash: &[u8; 32],
        device: &DeviceId,
        now: ServerTime,
    ) -> Result<Option<CadreId>> {
        device::redeem_enrollment_code(&self.conn, code_hash, device, now)
    }

    fn device(&mut self, id: &DeviceId) -> Result<Option<DeviceRecord>> {
        device::device(&self.conn, id)
    }

    fn device_by_token(&mut self, token_hash: &[u8; 32]) -> Result<Option<DeviceRecord>> {
        device::device_by_token(&self.conn, token_hash)
    }

    fn upsert_device(&mut self, d: &DeviceRecord, token_hash: &[u8; 32]) -> Result<()> {
        device::upsert_device(&self.conn, d, token_hash)
    }

    fn devices(&mut self) -> Result<Vec<DeviceRecord>> {
        device::devices(&self.conn)
    }

    fn devices_of_cadres(&mut self, cadres: &[CadreId]) -> Result<Vec<DeviceId>> {
        device::devices_of_cadres(&self.conn, cadres)
    }

    fn record_sync(
        &mut self,
        device: &DeviceId,
        at: ServerTime,
        app_version: &str,
        pending: u32,
        clock_skew_ms: i64,
    ) -> Result<()> {
        device::record_sync(&self.conn, device, at, app_version, pending, clock_skew_ms)
    }

    fn revoke_device(&mut self, device: &DeviceId, at: ServerTime, reason: &str) -> Result<bool> {
        device::revoke_device(&self.conn, device, at, reason)
    }

    fn retire_device(&mut self, device: &DeviceId, at: ServerTime, reason: &str) -> Result<bool> {
        device::retire_device(&self.conn, device, at, reason)
    }

    fn op_at(&mut self, device: &DeviceId, seq: u64) -> Result<Option<(OpId, Outcome)>> {
        journal::op_at(&self.conn, device, seq)
    }

    fn op_id_exists(&mut self, id: &OpId) -> Result<bool> {
        journal::op_id_exists(&self.conn, id)
    }

    fn insert_op(
        &mut self,
        op: &Operation,
        outcome: &Outcome,
        household: Option<&HouseholdId>,
        received: ServerTime,
    ) -> Result<u64> {
        journal::insert_op(&self.conn, op, outcome, household, received)
    }

    fn set_device_head(&mut self, device: &DeviceId, head: &ChainPoint) -> Result<()> {
        device::set_device_head(&self.conn, device, head)
    }

    fn op_by_server_seq(&mut self, server_seq: u64) -> Result<Option<Operation>> {
        journal::op_by_server_seq(&self.conn, server_seq)
    }

    fn visit_ops_of_household(&mut self, household: &HouseholdId) -> Result<Vec<Operation>> {
        journal::visit_ops_of_household(&self.conn, household)
    }

    fn status_ops_of_household(
        &mut self,
        household: &HouseholdId,
    ) -> Result<Vec<(Operation, ServerTime)>> {
        journal::status_ops_of_household(&self.conn, household)
    }

    fn ops_of_device(
        &mut self,
        device: &DeviceId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Operation>> {
        journal::ops_of_device(&self.conn, device, after_seq, limit)
    }

    fn rejections(&mut self, limit: usize) -> Result<Vec<(DeviceId, Rejection)>> {
        journal::rejections(&self.conn, limit)
    }

    fn rejected_counts(&mut self) -> Result<Vec<(DeviceId, u64)>> {
        journal::rejected_counts(&self.conn)
    }

    fn op_counts(&mut self) -> Result<(u64, u64)> {
        journal::op_counts(&self.conn)
    }

    fn recent_accepted_ops(&mut self, limit: usize) -> Result<Vec<Operation>> {
        journal::recent_accepted_ops(&self.conn, limit)
    }

    fn put_dictionary(&mut self, d: &StoredDictionary) -> Result<()> {
        dictionary::put(&self.conn, d)
    }

    fn dictionary(&mut self, id: u32) -> Result<Option<StoredDictionary>> {
        dictionary::get(&self.conn, id)
    }

    fn current_dictionary(&mut self) -> Result<Option<u32>> {
        dictionary::current(&self.conn)
    }

    fn dictionaries(&mut self) -> Result<Vec<StoredDictionary>> {
        dictionary::all(&self.conn)
    }

    fn link_photo(&mut self, link: &PhotoLink) -> Result<()> {
        photos::link(&self.conn, link)
    }

    fn photo_links(&mut self, sha256: &str) -> Result<Vec<PhotoLink>> {
        photos::links(&self.conn, sha256)
    }

    fn photo(&mut self, sha256: &str) -> Result<Option<StoredPhoto>> {
        photos::get(&self.conn, sha256)
    }

    fn photo_bytes(&mut self, sha256: &str) -> Result<Option<Vec<u8>>> {
        photos::bytes(&self.conn, sha256)
    }

    fn put_photo(&mut self, photo: &StoredPhoto, bytes: &[u8]) -> Result<()> {
        photos::put(&self.conn, photo, bytes)
    }

    fn put_photo_chunk(&mut self, sha256: &str, index: u32, bytes: &[u8]) -> Result<()> {
        photos::put_chunk(&self.conn, sha256, index, bytes)
    }

    fn photo_chunk_indexes(&mut self, sha256: &str) -> Result<Vec<u32>> {
        photos::chunk_indexes(&self.conn, sha256)
    }

    fn take_photo_chunks(&mut self, sha256: &str) -> Result<Vec<(u32, Vec<u8>)>> {
        photos::take_chunks(&self.conn, sha256)
    }

    fn insert_visit(&mut self, v: &ServerVisit) -> Result<()> {
        self.conn.prepare_cached("INSERT INTO visit (id, household, cadre, device, server_seq, recorded_at, received_at,
                 kind, manual, distance_m, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")?.execute(params![
                v.id.to_string(),
                v.household.as_str(),
                v.cadre.as_str(),
                v.device.to_string(),
                seq_sql(v.server_seq),
                v.recorded_at.0,
                v.received_at.0,
                v.kind,
                v.manual,
                v.distance_m,
                v.record,
            ])?;
        Ok(())
    }

    fn visit_count(&mut self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM visit", [], |r| r.get::<_, i64>(0))
            .map(seq_of)?)
    }

    fn visits_between(&mut self, from: WallTime, to: WallTime) -> Result<Vec<ServerVisit>> {
        report::visits_between(&self.conn, from, to)
    }

    fn household_ids(&mut self) -> Result<Vec<HouseholdId>> {
        report::household_ids(&self.conn)
    }

    fn visit(&mut self, id: &VisitId) -> Result<Option<ServerVisit>> {
        report::visit(&self.conn, id)
    }

    fn visit_owner(&mut self, id: &VisitId) -> Result<Option<(CadreId, HouseholdId)>> {
        let row: Option<(String, String)> = self
            .conn
            .prepare_cached("SELECT cadre, household FROM visit WHERE id = ?1")?
            .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(c, h)| -> Result<_> {
            Ok((
                CadreId::new(c).map_err(corrupt("cadre id"))?,
                HouseholdId::new(h).map_err(corrupt("household id"))?,
            ))
        })
        .transpose()
    }

    fn append_feed_run(&mut self, device: &DeviceId, items: &[FeedItem]) -> Result<u64> {
        feed::append_feed_run(&self.conn, device, items)
    }

    fn feed_after(
        &mut self,
        device: &DeviceId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, FeedItem)>> {
        feed::feed_after(&self.conn, device, after, limit)
    }

    fn households_sent(&mut self, device: &DeviceId) -> Result<Vec<HouseholdId>> {
        feed::households_sent(&self.conn, device)
    }

    fn feed_head(&mut self, device: &DeviceId) -> Result<u64> {
        feed::feed_head(&self.conn, device)
    }
}
