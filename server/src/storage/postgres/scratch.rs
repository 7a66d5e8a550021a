//! Throwaway PostgreSQL schemas for tests and benchmarks: many independent databases in one.

use postgres::NoTls;

use super::{PostgresStorage, parse_config, valid_schema};
use crate::error::{Error, Result};

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
