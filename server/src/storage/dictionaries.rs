//! Compression dictionaries the server trained from accepted operations (`crate::dictionary`);
//! the newest is the one advertised to phones. Rows are never changed: a phone may hold any.
//!
//! Conformance: server/tests/conformance/dictionaries.rs.

use fieldvisit_core::clock::ServerTime;
use fieldvisit_core::sql::Row;

use super::Db;
use crate::error::Result;

/// A compression dictionary trained from accepted operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDictionary {
    /// The id zstd frames compressed with it name.
    pub id: u32,
    pub bytes: Vec<u8>,
    /// How many operations it was trained on.
    pub samples: u64,
    pub created_at: ServerTime,
}

/// The dictionaries table.
pub trait Dictionaries {
    /// Stores a new dictionary, which becomes the current one.
    fn put_dictionary(&mut self, dictionary: &StoredDictionary) -> Result<()>;
    fn dictionary(&mut self, id: u32) -> Result<Option<StoredDictionary>>;
    /// The newest dictionary's id.
    fn current_dictionary(&mut self) -> Result<Option<u32>>;
    /// Every dictionary, oldest first.
    fn dictionaries(&mut self) -> Result<Vec<StoredDictionary>>;
}

const COLUMNS: &str = "id, bytes, samples, created_at";

fn from_row(r: &dyn Row) -> Result<StoredDictionary> {
    Ok(StoredDictionary {
        id: r.get(0)?,
        bytes: r.get(1)?,
        samples: r.get(2)?,
        created_at: ServerTime(r.get(3)?),
    })
}

impl<D: Db + ?Sized> Dictionaries for D {
    fn put_dictionary(&mut self, d: &StoredDictionary) -> Result<()> {
        self.execute(
            "INSERT INTO compression_dictionary (id, bytes, samples, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            &[&d.id, &d.bytes, &d.samples, &d.created_at.0],
        )?;
        Ok(())
    }

    fn dictionary(&mut self, id: u32) -> Result<Option<StoredDictionary>> {
        self.query_opt(
            &format!("SELECT {COLUMNS} FROM compression_dictionary WHERE id = ?1"),
            &[&id],
            from_row,
        )
    }

    /// The newest (ties in `created_at` broken by the larger id).
    fn current_dictionary(&mut self) -> Result<Option<u32>> {
        self.query_opt(
            "SELECT id FROM compression_dictionary ORDER BY created_at DESC, id DESC LIMIT 1",
            &[],
            |r| Ok(r.get(0)?),
        )
    }

    fn dictionaries(&mut self) -> Result<Vec<StoredDictionary>> {
        self.query(
            &format!("SELECT {COLUMNS} FROM compression_dictionary ORDER BY created_at, id"),
            &[],
            from_row,
        )
    }
}
