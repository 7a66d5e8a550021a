//! Values between `fieldvisit_core::sql` and PostgreSQL's binary formats. A statement's text
//! is shared with SQLite, so its values are SQLite's storage classes; here each is written as
//! the type PostgreSQL inferred for its placeholder, and each column is read back as the class
//! SQLite would have given, applying the same lossless conversions SQLite applies to a STRICT
//! column: an integer into BOOLEAN, DOUBLE PRECISION or TEXT; a real with no fraction into an
//! integer column; text into DATE or JSONB. Anything else is an error naming the placeholder's
//! type: the schema and the code disagree, and the schema-comparison test should have said so.

use std::borrow::Cow;
use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use chrono::NaiveDate;
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use fieldvisit_core::sql::Value;

type BoxError = Box<dyn StdError + Sync + Send>;

/// A value bound to a placeholder.
#[derive(Debug)]
pub(super) struct Param<'a>(pub Value<'a>);

fn refuse(value: &Value<'_>, ty: &Type) -> BoxError {
    format!("cannot bind {} to a parameter of type {ty}", value.class()).into()
}

/// JSONB's binary format: a version byte, then the JSON text.
const JSONB_VERSION: u8 = 1;

fn is_text(ty: &Type) -> bool {
    matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME)
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match (&self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT4) => (*i as f32).to_sql(ty, out),
            (Value::Int(i), t) if is_text(t) => i.to_string().as_str().to_sql(ty, out),
            (Value::Real(x), &Type::FLOAT8) => x.to_sql(ty, out),
            (Value::Real(x), &Type::FLOAT4) => (*x as f32).to_sql(ty, out),
            (Value::Real(x), &Type::INT8 | &Type::INT4 | &Type::INT2)
                if x.fract() == 0.0 && x.abs() < 9.0e15 =>
            {
                Param(Value::Int(*x as i64)).to_sql(ty, out)
            }
            (Value::Real(x), t) if is_text(t) => x.to_string().as_str().to_sql(ty, out),
            (Value::Text(s), t) if is_text(t) => s.as_ref().to_sql(ty, out),
            (Value::Text(s), &Type::DATE) => s.parse::<NaiveDate>()?.to_sql(ty, out),
            (Value::Text(s), &Type::JSONB) => {
                out.put_u8(JSONB_VERSION);
                out.put_slice(s.as_bytes());
                Ok(IsNull::No)
            }
            (Value::Text(s), &Type::JSON) => {
                out.put_slice(s.as_bytes());
                Ok(IsNull::No)
            }
            (Value::Blob(b), &Type::BYTEA) => b.as_ref().to_sql(ty, out),
            (other, ty) => Err(refuse(other, ty)),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked against the actual type in `to_sql`, where a mismatch names both.
        true
    }

    to_sql_checked!();
}

/// A column's value.
pub(super) struct Column<'a>(pub Value<'a>);

impl<'a> FromSql<'a> for Column<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Column(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::BYTEA => Value::Blob(Cow::Borrowed(raw)),
            Type::DATE => Value::Text(Cow::Owned(NaiveDate::from_sql(ty, raw)?.to_string())),
            Type::JSONB => match raw.split_first() {
                Some((&JSONB_VERSION, text)) => {
                    Value::Text(Cow::Borrowed(std::str::from_utf8(text)?))
                }
                _ => return Err("a JSONB value in an unknown format".into()),
            },
            Type::JSON => Value::Text(Cow::Borrowed(std::str::from_utf8(raw)?)),
            ref t if is_text(t) => Value::Text(Cow::Borrowed(<&str>::from_sql(ty, raw)?)),
            ref t => {
                return Err(format!(
                    "a column of type {t} has no SQLite class; cast it in the statement"
                )
                .into());
            }
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Column(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}
