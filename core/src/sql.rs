//! One way to speak SQL to every database fieldvisit keeps: the phone's SQLite, the server's
//! embedded SQLite and the server's PostgreSQL. A statement is written once, in the shared
//! subset of the two dialects, and runs on any [`Conn`]; rows are read through [`Row`] into
//! plain Rust values, whatever the driver. The registry's statements ([`crate::rows`]) and the
//! server's storage are written against this, so a row mapping or a rule such as the scope
//! exists once.
//!
//! The statement text is SQLite's, with numbered placeholders `?1`, `?2`, …; a backend that
//! speaks another dialect rewrites it once, when it prepares the statement ([`to_postgres`]):
//! placeholders become `$1`, `$2`, … and `COLLATE BINARY` (byte order, SQLite's default)
//! becomes `COLLATE "C"`. Nothing else is rewritten: a statement the dialects disagree on is
//! written once per [`Dialect`] where it is used.
//!
//! Values are SQLite's five storage classes ([`Value`]). A PostgreSQL backend converts them to
//! and from the column's declared type (BOOLEAN from and to an integer, DATE from and to its
//! ISO text, JSONB from and to its text), so the same value binds to the same column on either
//! side; the schema-comparison test keeps the columns' types in step.
//!
//! Why not a query builder (sea-query and its rusqlite and postgres bindings): our statements
//! are plain SQL that both dialects already accept, and reviewers read SQL more easily than a
//! builder's chain; the two real differences (placeholders, the byte collation) are a
//! mechanical rewrite. Why not an ORM: the sync path's statements are tuned by hand (indexes,
//! `RETURNING`, one statement per run of feed entries) and must stay visible.

use std::borrow::Cow;

use chrono::NaiveDate;

use crate::error::{Error, Result};

/// The SQL dialect a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a placeholder or read from a column: SQLite's storage classes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(Cow<'a, str>),
    Blob(Cow<'a, [u8]>),
}

impl Value<'_> {
    /// The storage class's name, for messages.
    pub fn class(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Blob(_) => "a blob",
        }
    }
}

/// A Rust value that binds to a placeholder.
pub trait ToValue {
    fn to_value(&self) -> Value<'_>;
}

/// The parameters of one statement, in placeholder order.
pub type Params<'a> = [&'a dyn ToValue];

/// What [`Conn::query_each`] calls with every row.
pub type EachRow<'f, E> = dyn FnMut(&dyn Row) -> Result<(), E> + 'f;

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value<'_> {
                Value::Int(i64::from(*self))
            }
        }
    )*};
}
int_to_value!(i64, i32, i16, u32, u16, u8, bool);

/// Counters and sequence numbers are u64 in Rust and a signed 64-bit integer in SQL; no count
/// reaches 2^63, so the conversion saturates instead of failing.
impl ToValue for u64 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

/// Limits and lengths, as u64.
impl ToValue for usize {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(Cow::Borrowed(self))
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(Cow::Borrowed(self))
    }
}

impl<const N: usize> ToValue for [u8; N] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(Cow::Borrowed(self))
    }
}

/// Calendar days are stored as their ISO text (`2026-11-29`), which sorts as the days do.
impl ToValue for NaiveDate {
    fn to_value(&self) -> Value<'_> {
        // `Display` is the ISO form, and much cheaper than a format string.
        Value::Text(Cow::Owned(self.to_string()))
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}

impl ToValue for Value<'_> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Value::Null => Value::Null,
            Value::Int(i) => Value::Int(*i),
            Value::Real(x) => Value::Real(*x),
            Value::Text(t) => Value::Text(Cow::Borrowed(t)),
            Value::Blob(b) => Value::Blob(Cow::Borrowed(b)),
        }
    }
}

/// A Rust value read from a column. A value of another class is an error naming both, never a
/// silent conversion: it means the schema and the code disagree.
pub trait FromValue: Sized {
    fn from_value(value: Value<'_>) -> Result<Self, String>;
}

fn mismatch<T>(want: &str, found: &Value<'_>) -> Result<T, String> {
    Err(format!("expected {want}, found {}", found.class()))
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: Value<'_>) -> Result<Self, String> {
                match value {
                    Value::Int(i) => <$t>::try_from(i)
                        .map_err(|_| format!("{i} is out of range for {}", stringify!($t))),
                    other => mismatch("an integer", &other),
                }
            }
        }
    )*};
}
int_from_value!(i64, i32, i16, u64, u32, u16, u8);

impl FromValue for bool {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Int(i) => Ok(i != 0),
            other => mismatch("a flag", &other),
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Real(x) => Ok(x),
            // SQLite keeps a whole real in a REAL column as a real, but an expression such as
            // `max(x)` over integers gives an integer.
            Value::Int(i) => Ok(i as f64),
            other => mismatch("a real", &other),
        }
    }
}

impl FromValue for String {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Text(t) => Ok(t.into_owned()),
            other => mismatch("text", &other),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Blob(b) => Ok(b.into_owned()),
            other => mismatch("a blob", &other),
        }
    }
}

impl<const N: usize> FromValue for [u8; N] {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Blob(b) => {
                let len = b.len();
                <[u8; N]>::try_from(b.as_ref())
                    .map_err(|_| format!("expected {N} bytes, found {len}"))
            }
            other => mismatch("a blob", &other),
        }
    }
}

impl FromValue for NaiveDate {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Text(t) => t.parse().map_err(|e| format!("{t:?} is not a date: {e}")),
            other => mismatch("a date", &other),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl FromValue for Value<'static> {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        Ok(match value {
            Value::Null => Value::Null,
            Value::Int(i) => Value::Int(i),
            Value::Real(x) => Value::Real(x),
            Value::Text(t) => Value::Text(Cow::Owned(t.into_owned())),
            Value::Blob(b) => Value::Blob(Cow::Owned(b.into_owned())),
        })
    }
}

/// One row of a result, as any driver gives it.
pub trait Row {
    /// The value of column `index` (from 0).
    fn value(&self, index: usize) -> Result<Value<'_>>;
}

impl dyn Row + '_ {
    /// Column `index` as a `T`; a value of another class is [`Error::Corrupt`] naming the
    /// column.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T> {
        T::from_value(self.value(index)?)
            .map_err(|e| Error::Corrupt(format!("column {index}: {e}")))
    }
}

/// A connection, or a transaction on one: where statements run. Every method takes `&self`
/// because SQLite's connections do; a backend whose driver needs `&mut` keeps its client in a
/// cell. `Error` is the caller's error type, so a server backend's failures keep their own
/// classification (a closed PostgreSQL connection is "unavailable", not a corrupt row).
pub trait Conn {
    type Error: From<Error>;

    fn dialect(&self) -> Dialect;

    /// Runs a statement and returns how many rows it changed.
    fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, Self::Error>;

    /// Runs a query and calls `each` with every row, in order.
    fn query_each(
        &self,
        sql: &str,
        params: &Params<'_>,
        each: &mut EachRow<'_, Self::Error>,
    ) -> Result<(), Self::Error>;

    /// Runs statements separated by `;`, with no parameters (schema changes).
    fn batch(&self, sql: &str) -> Result<(), Self::Error>;

    /// Every row of a query, each made by `make`.
    fn query<T>(
        &self,
        sql: &str,
        params: &Params<'_>,
        mut make: impl FnMut(&dyn Row) -> Result<T, Self::Error>,
    ) -> Result<Vec<T>, Self::Error> {
        let mut out = Vec::new();
        self.query_each(sql, params, &mut |row| {
            out.push(make(row)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row of a query, if any, made by `make`.
    fn query_opt<T>(
        &self,
        sql: &str,
        params: &Params<'_>,
        mut make: impl FnMut(&dyn Row) -> Result<T, Self::Error>,
    ) -> Result<Option<T>, Self::Error> {
        let mut out = None;
        self.query_each(sql, params, &mut |row| {
            if out.is_none() {
                out = Some(make(row)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row of a query that always returns one (an aggregate, `RETURNING`).
    fn query_one<T>(
        &self,
        sql: &str,
        params: &Params<'_>,
        make: impl FnMut(&dyn Row) -> Result<T, Self::Error>,
    ) -> Result<T, Self::Error> {
        self.query_opt(sql, params, make)?.ok_or_else(|| {
            Error::Corrupt(format!(
                "a statement that always returns a row returned none: {}",
                first_line(sql)
            ))
            .into()
        })
    }

    /// The first column of the first row, as a `T`.
    fn query_value<T: FromValue>(&self, sql: &str, params: &Params<'_>) -> Result<T, Self::Error> {
        self.query_one(sql, params, |r| Ok(r.get(0)?))
    }
}

fn first_line(sql: &str) -> &str {
    sql.trim().lines().next().unwrap_or("")
}

/// A statement in PostgreSQL's dialect: `?N` placeholders become `$N` (a bare `?` takes the
/// next number) and `COLLATE BINARY` becomes `COLLATE "C"`. Quoted text and identifiers are
/// left alone.
pub fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.char_indices().peekable();
    let mut next = 1u32;
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                // Copy through the closing quote; a doubled quote inside stays as it is.
                for (_, d) in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
                    digits.push(d);
                    chars.next();
                }
                out.push('$');
                if digits.is_empty() {
                    out.push_str(&next.to_string());
                } else {
                    out.push_str(&digits);
                }
                next += 1;
            }
            'C' | 'c' if starts_word(sql, i, "COLLATE BINARY") => {
                out.push_str("COLLATE \"C\"");
                for _ in 1.."COLLATE BINARY".len() {
                    chars.next();
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Whether `sql[at..]` starts with the word `word` (ASCII case-insensitive) on word bounds.
fn starts_word(sql: &str, at: usize, word: &str) -> bool {
    let before = sql[..at].chars().next_back();
    let rest = &sql[at..];
    let after = rest.get(word.len()..).and_then(|s| s.chars().next());
    rest.get(..word.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(word))
        && !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

// ---- SQLite, through rusqlite ----

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(x) => ValueRef::Real(*x),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

struct SqliteRow<'a, 'r>(&'a rusqlite::Row<'r>);

impl Row for SqliteRow<'_, '_> {
    fn value(&self, index: usize) -> Result<Value<'_>> {
        use rusqlite::types::ValueRef;
        Ok(match self.0.get_ref(index)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Int(i),
            ValueRef::Real(x) => Value::Real(x),
            ValueRef::Text(t) => Value::Text(
                std::str::from_utf8(t)
                    .map(Cow::Borrowed)
                    .map_err(|e| Error::Corrupt(format!("column {index} is not UTF-8: {e}")))?,
            ),
            ValueRef::Blob(b) => Value::Blob(Cow::Borrowed(b)),
        })
    }
}

/// Binds `params` to `stmt` in placeholder order, each converted as it is bound (no list of
/// values is built: a sync runs about a dozen statements per visit).
fn bind_all(stmt: &mut rusqlite::Statement<'_>, params: &Params<'_>) -> Result<()> {
    let expected = stmt.parameter_count();
    if expected != params.len() {
        return Err(rusqlite::Error::InvalidParameterCount(params.len(), expected).into());
    }
    for (i, p) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, p.to_value())?;
    }
    Ok(())
}

/// [`Conn::execute`] on a SQLite connection, for any error type that a rusqlite error
/// converts into; statements are prepared once per connection and kept.
pub fn sqlite_execute<E: From<Error>>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &Params<'_>,
) -> Result<u64, E> {
    let mut stmt = conn.prepare_cached(sql).map_err(Error::from)?;
    bind_all(&mut stmt, params)?;
    let n = stmt.raw_execute().map_err(Error::from)?;
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

/// [`Conn::query_each`] on a SQLite connection.
pub fn sqlite_query_each<E: From<Error>>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &Params<'_>,
    each: &mut EachRow<'_, E>,
) -> Result<(), E> {
    let mut stmt = conn.prepare_cached(sql).map_err(Error::from)?;
    bind_all(&mut stmt, params)?;
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next().map_err(Error::from)? {
        each(&SqliteRow(row))?;
    }
    Ok(())
}

/// [`Conn::batch`] on a SQLite connection.
pub fn sqlite_batch<E: From<Error>>(conn: &rusqlite::Connection, sql: &str) -> Result<(), E> {
    Ok(conn.execute_batch(sql).map_err(Error::from)?)
}

/// Implements [`Conn`] for a type that holds a SQLite connection: `sqlite_conn!(Type, Error,
/// |this| expression giving the &rusqlite::Connection)`. One implementation for the phone's
/// connections and transactions and for the server's, each with its own error type.
#[macro_export]
macro_rules! sqlite_conn {
    ($ty:ty, $err:ty, |$this:ident| $conn:expr) => {
        impl $crate::sql::Conn for $ty {
            type Error = $err;

            fn dialect(&self) -> $crate::sql::Dialect {
                $crate::sql::Dialect::Sqlite
            }

            fn execute(
                &self,
                sql: &str,
                params: &$crate::sql::Params<'_>,
            ) -> ::std::result::Result<u64, $err> {
                let $this = self;
                $crate::sql::sqlite_execute($conn, sql, params)
            }

            fn query_each(
                &self,
                sql: &str,
                params: &$crate::sql::Params<'_>,
                each: &mut $crate::sql::EachRow<'_, $err>,
            ) -> ::std::result::Result<(), $err> {
                let $this = self;
                $crate::sql::sqlite_query_each($conn, sql, params, each)
            }

            fn batch(&self, sql: &str) -> ::std::result::Result<(), $err> {
                let $this = self;
                $crate::sql::sqlite_batch($conn, sql)
            }
        }
    };
}

sqlite_conn!(rusqlite::Connection, Error, |conn| conn);
// A transaction is its connection for running statements.
sqlite_conn!(rusqlite::Transaction<'_>, Error, |tx| tx);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_the_byte_collation_are_rewritten_for_postgres() {
        assert_eq!(
            to_postgres("SELECT id FROM t WHERE a = ?1 AND b = ?12 ORDER BY id COLLATE BINARY"),
            "SELECT id FROM t WHERE a = $1 AND b = $12 ORDER BY id COLLATE \"C\""
        );
        assert_eq!(to_postgres("VALUES (?, ?)"), "VALUES ($1, $2)");
    }

    #[test]
    fn quoted_text_is_never_rewritten() {
        let sql = "SELECT '?1 COLLATE BINARY', \"what?\" FROM t WHERE k = 'it''s?' AND v = ?1";
        assert_eq!(
            to_postgres(sql),
            "SELECT '?1 COLLATE BINARY', \"what?\" FROM t WHERE k = 'it''s?' AND v = $1"
        );
        assert_eq!(
            to_postgres("SELECT x_collate binary_y"),
            "SELECT x_collate binary_y"
        );
    }

    #[test]
    fn values_round_trip_through_sqlite() -> Result<()> {
        let conn = rusqlite::Connection::open_in_memory()?;
        Conn::batch(
            &conn,
            "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, d TEXT, f INTEGER, n TEXT)",
        )?;
        let day = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap_or_default();
        let n = Conn::execute(
            &conn,
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                &u64::MAX,
                &1.5,
                &"入户",
                &[1u8, 2, 3],
                &day,
                &true,
                &None::<String>,
            ],
        )?;
        assert_eq!(n, 1);
        let row = Conn::query_one(&conn, "SELECT i, r, s, b, d, f, n FROM t", &[], |r| {
            Ok((
                r.get::<i64>(0)?,
                r.get::<f64>(1)?,
                r.get::<String>(2)?,
                r.get::<[u8; 3]>(3)?,
                r.get::<NaiveDate>(4)?,
                r.get::<bool>(5)?,
                r.get::<Option<String>>(6)?,
            ))
        })?;
        assert_eq!(
            row,
            (
                i64::MAX,
                1.5,
                "入户".to_string(),
                [1, 2, 3],
                day,
                true,
                None
            )
        );
        Ok(())
    }

    #[test]
    fn a_value_of_another_class_is_an_error_naming_the_column() -> Result<()> {
        let conn = rusqlite::Connection::open_in_memory()?;
        let err = Conn::query_one(&conn, "SELECT 1, 'text'", &[], |r| r.get::<i64>(1))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("column 1: expected an integer, found text"),
            "{err}"
        );
        let none = Conn::query_opt(&conn, "SELECT 1 WHERE 0", &[], |r| r.get::<i64>(0))?;
        assert_eq!(none, None);
        Ok(())
    }

    #[test]
    fn a_statement_given_the_wrong_number_of_values_is_refused() -> Result<()> {
        let conn = rusqlite::Connection::open_in_memory()?;
        Conn::batch(&conn, "CREATE TABLE t (a INTEGER, b INTEGER)")?;
        let short = Conn::execute(&conn, "INSERT INTO t VALUES (?1, ?2)", &[&1i64]);
        assert!(short.is_err());
        let long = Conn::query(
            &conn,
            "SELECT a FROM t WHERE a = ?1",
            &[&1i64, &2i64],
            |r| r.get::<i64>(0),
        );
        assert!(long.is_err());
        // Nothing was written, and the statement works again with the right values.
        assert_eq!(
            Conn::execute(&conn, "INSERT INTO t VALUES (?1, ?2)", &[&1i64, &2i64])?,
            1
        );
        assert_eq!(
            Conn::query_value::<i64>(&conn, "SELECT count(*) FROM t", &[])?,
            1
        );
        Ok(())
    }
}
