//! The server's storage. The sync protocol, enrollment, the admin tools and the reports speak
//! only to [`Storage`] and the transaction traits below, so a backend (embedded SQLite by
//! default, PostgreSQL at scale) is chosen at start-up without touching them.
//!
//! A transaction is one trait per family of tables — [`Registry`], [`PlateKeys`],
//! [`Devices`], [`Journal`], [`Feeds`], [`Visits`], [`Photos`], [`Exits`], [`AdminLog`],
//! [`Accounts`], [`Dictionaries`] — joined in [`Tx`]; a caller names the family it uses, and
//! each family's conformance checks live in a file of the same name
//! (server/tests/conformance/). Every family is written once, in its own file here, over
//! [`Db`]: one statement text for both dialects (`fieldvisit_core::sql`). A backend
//! (`sqlite`, `postgres`) only opens connections, runs transactions and binds values; the one
//! list of schema steps is [`migrations`].
//!
//! Everything a sync does to the database happens in one write transaction, so an
//! acknowledgement is sent only after the pushed operations, their effects and the feed
//! entries they cause are committed together.
//!
//! [`open`] is the one place a backend is chosen from the `--db` value every command takes.

pub mod accounts;
pub mod admin_log;
pub mod devices;
pub mod dictionaries;
pub mod exits;
pub mod feeds;
pub mod journal;
pub mod migrations;
pub mod photos;
pub mod plate_keys;
pub mod postgres;
pub mod registry;
pub mod sqlite;
pub mod visits;

use std::sync::Arc;

use fieldvisit_core::sql::Conn;

pub use accounts::{Accounts, AdminSession, AdminUser};
pub use admin_log::{AdminLog, AdminLogEntry};
pub use devices::{DeviceRecord, Devices, Revocation};
pub use dictionaries::{Dictionaries, StoredDictionary};
pub use exits::{ExitEvent, ExitEventKind, Exits};
pub use feeds::{FeedItem, Feeds};
pub use journal::{Journal, Outcome};
pub use migrations::VERSION;
pub use photos::{PhotoLink, Photos, StoredPhoto};
pub use plate_keys::PlateKeys;
pub use registry::{Conflict, Registry};
pub use visits::{ServerVisit, Visits};

use crate::error::{Error, Result};

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

/// One database transaction: every family of tables. Dropping it without [`Tx::commit`]
/// rolls it back.
pub trait Tx:
    Registry
    + PlateKeys
    + Devices
    + Journal
    + Feeds
    + Visits
    + Photos
    + Exits
    + AdminLog
    + Accounts
    + Dictionaries
{
    fn commit(self: Box<Self>) -> Result<()>;
    /// Marks a point inside the transaction that [`Tx::rollback_to_savepoint`] returns to, so
    /// that one request's failure inside a group commit undoes only that request's work.
    fn savepoint(&mut self) -> Result<()>;
    fn release_savepoint(&mut self) -> Result<()>;
    fn rollback_to_savepoint(&mut self) -> Result<()>;
}

/// A connection inside a transaction of this server, whatever the backend: what every family
/// of tables is implemented over.
pub trait Db: Conn<Error = Error> {}

impl<C: Conn<Error = Error> + ?Sized> Db for C {}

/// The savepoint statements of [`Tx`], the same in both dialects.
pub(crate) mod savepoint {
    use super::Db;
    use crate::error::Result;

    pub fn begin(db: &impl Db) -> Result<()> {
        db.execute("SAVEPOINT request", &[])?;
        Ok(())
    }

    pub fn release(db: &impl Db) -> Result<()> {
        db.execute("RELEASE SAVEPOINT request", &[])?;
        Ok(())
    }

    pub fn rollback(db: &impl Db) -> Result<()> {
        db.execute("ROLLBACK TO SAVEPOINT request", &[])?;
        db.execute("RELEASE SAVEPOINT request", &[])?;
        Ok(())
    }
}

/// Decoding helpers shared by the families: a stored value that does not decode is
/// [`Error::Corrupt`], naming what it was.
pub(crate) mod decode {
    use fieldvisit_core::ids::DeviceId;

    use crate::error::Error;

    pub fn corrupt<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> Error {
        move |e| Error::Corrupt(format!("{what}: {e}"))
    }

    pub fn device_id(text: &str) -> Result<DeviceId, Error> {
        DeviceId::parse(text).map_err(corrupt("device id"))
    }
}
