//! The storage's physical limit for the ingest ratio: the same visit rows the sync wrote (one
//! journal row and one visit row per visit), read back from the fleet day's database and
//! inserted with plain prepared statements in one transaction into a fresh database of the
//! same schema (same indexes, `synchronous=FULL`). No verification, no scope checks, no feeds:
//! what SQLite itself does with those rows on this machine.

use std::path::Path;
use std::time::Instant;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

type BoxError = Box<dyn std::error::Error>;

fn rows(conn: &Connection, sql: &str) -> Result<Vec<Vec<Value>>, BoxError> {
    let mut stmt = conn.prepare(sql)?;
    let n = stmt.column_count();
    let mut out = Vec::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        out.push(
            (0..n)
                .map(|i| r.get::<_, Value>(i))
                .collect::<Result<_, _>>()?,
        );
    }
    Ok(out)
}

/// Visits per second for a raw batched insert of `source`'s visit rows into `target` (a fresh
/// database the server code has created, so the schema is the same).
pub fn visits_per_second(source: &Path, target: &Path) -> Result<f64, BoxError> {
    let src = Connection::open(source)?;
    let ops = rows(
        &src,
        "SELECT * FROM op WHERE kind = 'visit.record' ORDER BY server_seq",
    )?;
    let visits = rows(&src, "SELECT * FROM visit ORDER BY server_seq")?;
    drop(src);
    let mut dst = Connection::open(target)?;
    fieldvisit_core::sqlite::configure(&dst)?;
    dst.pragma_update(None, "journal_mode", "WAL")?;
    let placeholders = |n: usize| vec!["?"; n].join(", ");
    let started = Instant::now();
    let tx = dst.transaction()?;
    if let Some(first) = ops.first() {
        let mut insert = tx.prepare(&format!(
            "INSERT INTO op VALUES ({})",
            placeholders(first.len())
        ))?;
        for row in &ops {
            insert.execute(params_from_iter(row))?;
        }
    }
    if let Some(first) = visits.first() {
        let mut insert = tx.prepare(&format!(
            "INSERT INTO visit VALUES ({})",
            placeholders(first.len())
        ))?;
        for row in &visits {
            insert.execute(params_from_iter(row))?;
        }
    }
    tx.commit()?;
    let elapsed = started.elapsed().as_secs_f64();
    Ok(visits.len() as f64 / elapsed.max(1e-9))
}
