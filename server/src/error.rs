//! The server's internal error. HTTP responses are made from it in exactly one place
//! (`http::error`), which decides the status code and what is logged; messages never carry
//! personal data.

use fieldvisit_core::validate::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Core(#[from] fieldvisit_core::Error),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("{0}")]
    NotFound(String),
    #[error("invalid input: {0}")]
    Invalid(#[from] Invalid),
    #[error("{0}")]
    Refused(String),
    #[error("the storage backend is unavailable: {0}")]
    Unavailable(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("encoding error: {0}")]
    Json(#[from] serde_json::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(postgres::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Core(e.into())
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        if e.is_closed() {
            Error::Unavailable(format!("the PostgreSQL connection closed: {e}"))
        } else {
            Error::Postgres(e)
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
