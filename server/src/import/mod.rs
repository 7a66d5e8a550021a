//! Registry import: the county's CSV files of areas, households, members, cadres, assignments,
//! village posts and help measures (layout: docs/import.md), in UTF-8 or GBK, into the server
//! database; and the synthetic region written in that same layout ([`synth`]).
//!
//! The rule is all or nothing. Every row of every file is read and checked first (`decode`,
//! `parse`, then `check` for references between rows and to the database), and every problem
//! is collected as a [`RowError`] with its file, row and column. If there is any, nothing is
//! written. Otherwise the records are written in one write transaction (`write`), upserted by
//! id so that importing the same files again changes nothing, together with the feed entries
//! that bring each change to the phones holding it and one `registry.import` entry in the
//! admin log. The checks run inside that same transaction, so what they saw is what is written.
//!
//! This module never panics on bad input, and its messages never repeat a cell's value (cells
//! hold names and ID numbers): they point at the cell instead.

mod check;
mod decode;
mod layout;
mod parse;
pub mod synth;
mod write;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::PathBuf;

use indicatif::ProgressBar;
use serde::Serialize;

use fieldvisit_core::clock::ServerTime;

use crate::admin_log::Actor;
use crate::error::Result;
use crate::storage::Storage;

pub use decode::Encoding;
pub use layout::{Column, Kind, column_letter};

/// One problem in the files: where it is and why. Row 1 is the header; row 0 means the file
/// as a whole (it could not be read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub file: String,
    pub row: u64,
    /// The column's name in the header, when the problem is in one column.
    pub column: Option<String>,
    /// The column's 0-based position in the file (shown as a spreadsheet letter).
    pub column_index: Option<usize>,
    pub reason: String,
}

impl RowError {
    pub(crate) fn new(file: &str, row: u64, reason: String) -> RowError {
        RowError {
            file: file.to_string(),
            row,
            column: None,
            column_index: None,
            reason,
        }
    }

    pub(crate) fn column(mut self, name: &str) -> RowError {
        self.column = Some(name.to_string());
        self
    }

    pub(crate) fn index(mut self, index: Option<usize>) -> RowError {
        self.column_index = index;
        self
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.row > 0 {
            write!(f, ": row {}", self.row)?;
        }
        match (&self.column, self.column_index) {
            (Some(name), Some(i)) => write!(f, ", column {name} ({})", column_letter(i))?,
            (Some(name), None) => write!(f, ", column {name}")?,
            (None, Some(i)) => write!(f, ", column {}", column_letter(i))?,
            (None, None) => {}
        }
        write!(f, ": {}", self.reason)
    }
}

/// What to do.
#[derive(Debug)]
pub struct ImportOptions {
    /// Check everything and report what would change, but write nothing.
    pub dry_run: bool,
    /// The files' encoding; detected per file when `None`.
    pub encoding: Option<Encoding>,
    /// Where to show progress (`ProgressBar::hidden()` for none).
    pub progress: ProgressBar,
}

/// How the rows of one kind compare with the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub rows: usize,
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// One file as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    pub file: String,
    pub kind: Option<&'static str>,
    pub encoding: &'static str,
    pub rows: usize,
}

/// What an import found and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub files: Vec<FileSummary>,
    /// Every problem, sorted by file (in the order given), row and column. Not empty means
    /// nothing was written.
    pub errors: Vec<RowError>,
    /// Per kind (`households`, …), the rows and how they compare with the database.
    pub counts: BTreeMap<&'static str, Counts>,
    /// Whether the records were written (false for a dry run and when there are errors).
    pub written: bool,
    /// Feed entries appended for phones whose households or scope changed.
    pub feed_entries: usize,
}

/// Reads, checks and (unless a dry run, and only when every row is good) writes `files`.
///
/// # Errors
/// Only for failures of the database itself; problems in the files are in the report.
pub fn import(
    storage: &dyn Storage,
    files: &[PathBuf],
    options: &ImportOptions,
    actor: &Actor,
    now: ServerTime,
) -> Result<ImportReport> {
    let codes: HashSet<(String, String)> = storage
        .read()?
        .code_entries()?
        .into_iter()
        .map(|e| (e.list, e.code))
        .collect();
    let progress = &options.progress;
    let mut errors = Vec::new();

    progress.set_message("reading");
    let mut tables = Vec::with_capacity(files.len());
    for path in files {
        let name = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => {
                let table = decode::read_table(&name, &bytes, options.encoding, &mut errors);
                tables.push((name, Some(table)));
            }
            Err(e) => {
                errors.push(RowError::new(&name, 0, format!("cannot be read: {e}")));
                tables.push((name, None));
            }
        }
    }
    let total_rows: usize = tables
        .iter()
        .filter_map(|(_, t)| t.as_ref())
        .map(|t| t.rows.len())
        .sum();
    progress.set_length(u64::try_from(total_rows).unwrap_or(u64::MAX));
    progress.set_position(0);
    progress.set_message("checking rows");

    let mut records = parse::Records::default();
    let mut infos = Vec::with_capacity(tables.len());
    for (i, (name, table)) in tables.iter().enumerate() {
        let info = match table {
            Some(table) => {
                parse::parse_file(i, name, table, &codes, &mut records, &mut errors, progress)
            }
            None => parse::FileInfo::unread(name),
        };
        infos.push(info);
    }

    let mut report = ImportReport {
        files: infos
            .iter()
            .map(|f| FileSummary {
                file: f.name.clone(),
                kind: f.kind.map(Kind::name),
                encoding: f.encoding.label(),
                rows: f.rows,
            })
            .collect(),
        ..ImportReport::default()
    };

    progress.set_message("checking references");
    if options.dry_run {
        let mut tx = storage.read()?;
        let plan = check::check(tx.as_mut(), &records, &infos, &mut errors)?;
        report.counts = plan.counts();
    } else {
        let mut tx = storage.write()?;
        let plan = check::check(tx.as_mut(), &records, &infos, &mut errors)?;
        report.counts = plan.counts();
        if errors.is_empty() {
            let names: Vec<String> = infos.iter().map(|f| f.name.clone()).collect();
            progress.set_length(u64::try_from(plan.changed()).unwrap_or(u64::MAX));
            progress.set_position(0);
            progress.set_message("writing");
            report.feed_entries = write::apply(
                tx.as_mut(),
                &plan,
                &names,
                &report.counts,
                actor,
                now,
                progress,
            )?;
            tx.commit()?;
            report.written = true;
        }
        // Otherwise the transaction is dropped: rolled back, nothing written.
    }
    progress.finish_and_clear();

    let order = |file: &str| files.iter().position(|p| p.display().to_string() == file);
    errors.sort_by(|a, b| {
        (order(&a.file), a.row, a.column_index, &a.column, &a.reason).cmp(&(
            order(&b.file),
            b.row,
            b.column_index,
            &b.column,
            &b.reason,
        ))
    });
    errors.dedup();
    report.errors = errors;
    Ok(report)
}
