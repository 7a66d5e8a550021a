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

mod schema;
mod scratch;
mod values;

use std::cell::RefCell;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use postgres::{Client, Config, NoTls, Statement};

use fieldvisit_core::sql::{self, Conn, Dialect, EachRow, Params, Row, Value};

pub use scratch::ScratchSchema;

use super::{Storage, Tx, savepoint};
use crate::error::{Error, Result};
use values::{Column, Param};

/// Reader connections per instance.
const READERS: usize = 3;

/// True when `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// One connection and its prepared statements.
struct PgConn {
    /// Always `Some` while the connection is in use; taken only by `Drop`.
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    /// A rollback failed: the session's state is unknown, so it is replaced before reuse.
    poisoned: bool,
}

impl Drop for PgConn {
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

impl PgConn {
    fn client(&mut self) -> Result<&mut Client> {
        self.client
            .as_mut()
            .ok_or_else(|| Error::Unavailable("the PostgreSQL connection is closed".into()))
    }

    /// The statement prepared for `sql` (in the shared dialect), prepared once per connection
    /// in PostgreSQL's dialect.
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client()?.prepare(&sql::to_postgres(sql))?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

pub struct PostgresStorage {
    config: Config,
    /// `host/dbname[/schema]`, without credentials, for logs.
    target: String,
    lock_key: i64,
    writer: Mutex<PgConn>,
    readers: Vec<Mutex<PgConn>>,
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
        let readers = (0..READERS)
            .map(|_| Self::new_conn(&config).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        let storage = PostgresStorage {
            config,
            target,
            lock_key,
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        };
        let tx = storage.begin_write()?;
        schema::migrate(&tx)?;
        Box::new(tx).commit()?;
        Ok(storage)
    }

    fn new_conn(config: &Config) -> Result<PgConn> {
        Ok(PgConn {
            client: Some(config.connect(NoTls)?),
            statements: HashMap::new(),
            poisoned: false,
        })
    }

    /// Locks a connection slot, replacing a connection the server closed or that is in an
    /// unknown state.
    fn acquire<'a>(&self, slot: &'a Mutex<PgConn>) -> Result<MutexGuard<'a, PgConn>> {
        // A panic mid-transaction leaves the transaction open; `poisoned` is set by the
        // rollback in `PgTx::drop`, which runs during the unwind.
        self.renewed(slot.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn renewed<'a>(&self, mut conn: MutexGuard<'a, PgConn>) -> Result<MutexGuard<'a, PgConn>> {
        if conn.poisoned || conn.client.as_ref().is_none_or(Client::is_closed) {
            *conn = Self::new_conn(&self.config)?;
        }
        Ok(conn)
    }

    /// An idle reader if there is one (a thread holding a read may open another without
    /// waiting for itself); when all are busy, the next in turn.
    fn reader(&self) -> Result<MutexGuard<'_, PgConn>> {
        let idle = self.readers.iter().find_map(|slot| match slot.try_lock() {
            Ok(conn) => Some(conn),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        });
        if let Some(conn) = idle {
            return self.renewed(conn);
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len().max(1);
        let slot = self
            .readers
            .get(i)
            .ok_or_else(|| Error::Unavailable("no reader".into()))?;
        self.acquire(slot)
    }

    /// The name of this storage's PostgreSQL schema, host and database, for logs.
    pub fn target(&self) -> &str {
        &self.target
    }
}

impl PostgresStorage {
    /// A write transaction: every writer of every instance on this schema waits for the one
    /// before it.
    fn begin_write(&self) -> Result<PgTx<'_>> {
        let mut conn = self.acquire(&self.writer)?;
        conn.client()?.batch_execute("BEGIN")?;
        let tx = PgTx {
            conn: RefCell::new(conn),
            open: true,
        };
        // Held until this transaction ends: writers of every instance run one at a time.
        tx.execute("SELECT pg_advisory_xact_lock(?1)", &[&self.lock_key])?;
        Ok(tx)
    }
}

impl Storage for PostgresStorage {
    fn write(&self) -> Result<Box<dyn Tx + '_>> {
        Ok(Box::new(self.begin_write()?))
    }

    fn read(&self) -> Result<Box<dyn Tx + '_>> {
        let mut conn = self.reader()?;
        conn.client()?
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        Ok(Box::new(PgTx {
            conn: RefCell::new(conn),
            open: true,
        }))
    }

    fn describe(&self) -> String {
        format!("postgres:{}", self.target)
    }
}

struct PgTx<'a> {
    /// In a cell because statements run through `&self` ([`Conn`]), as SQLite's do.
    conn: RefCell<MutexGuard<'a, PgConn>>,
    open: bool,
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        let conn = self.conn.get_mut();
        if self.open
            && conn
                .client
                .as_mut()
                .is_none_or(|c| c.batch_execute("ROLLBACK").is_err())
        {
            conn.poisoned = true;
        }
    }
}

fn bind<'a>(params: &'a Params<'_>) -> Vec<Param<'a>> {
    params.iter().map(|p| Param(p.to_value())).collect()
}

fn refs<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

/// A row as PostgreSQL returned it.
struct PgRow<'a>(&'a postgres::Row);

impl Row for PgRow<'_> {
    fn value(&self, index: usize) -> fieldvisit_core::Result<Value<'_>> {
        self.0
            .try_get::<_, Column<'_>>(index)
            .map(|c| c.0)
            .map_err(|e| fieldvisit_core::Error::Corrupt(format!("column {index}: {e}")))
    }
}

impl Conn for PgTx<'_> {
    type Error = Error;

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64> {
        let values = bind(params);
        let mut conn = self.conn.borrow_mut();
        let statement = conn.statement(sql)?;
        Ok(conn.client()?.execute(&statement, &refs(&values))?)
    }

    fn query_each(
        &self,
        sql: &str,
        params: &Params<'_>,
        each: &mut EachRow<'_, Error>,
    ) -> Result<()> {
        let values = bind(params);
        let rows = {
            let mut conn = self.conn.borrow_mut();
            let statement = conn.statement(sql)?;
            conn.client()?.query(&statement, &refs(&values))?
        };
        // The connection is free again: `each` may run statements of its own.
        for row in &rows {
            each(&PgRow(row))?;
        }
        Ok(())
    }

    fn batch(&self, sql: &str) -> Result<()> {
        Ok(self.conn.borrow_mut().client()?.batch_execute(sql)?)
    }
}

impl Tx for PgTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.get_mut().client()?.batch_execute("COMMIT")?;
        self.open = false;
        Ok(())
    }

    fn savepoint(&mut self) -> Result<()> {
        savepoint::begin(self)
    }

    fn release_savepoint(&mut self) -> Result<()> {
        savepoint::release(self)
    }

    fn rollback_to_savepoint(&mut self) -> Result<()> {
        savepoint::rollback(self)
    }
}
