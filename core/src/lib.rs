//! fieldvisit-core: the part of fieldvisit that runs on every phone (and in the command-line
//! device and the server's checks). Plain Rust over SQLite: no async runtime, no HTTP, no FFI,
//! so it builds for Android and iOS as it is.
//!
//! - [`domain`]: households, members, cadres, assignments, visits; code lists as data.
//! - [`store`]: the device's SQLite store, the facade an app holds.
//! - [`journal`]: signed, hash-chained operations — the truth that sync moves.
//! - [`protocol`]: the sync protocol's messages, shared by phones and the server; [`sync`]: the
//!   device's sync engine over them; [`report`]: what one sync did.
//! - [`plate`] and [`codes`]: signed door-plate QR payloads and typed codes with a check character.
//! - [`validate`]: field rules with typed, value-free errors.
//! - [`clock`]: wall time and the hybrid logical clock.
//! - `openapi` (feature `openapi`, for the server): the schemas of values whose JSON shape serde
//!   does not tell, for the protocol's `utoipa::ToSchema` derives.
//! - [`sql`]: one statement text and one row reader for every database fieldvisit keeps (the
//!   phone's SQLite, the server's SQLite and PostgreSQL); [`rows`]: the registry's rows and the
//!   scope rule over it; [`sqlite`]: the one SQLite migration mechanism.
//!
//! The modules' layers are in docs/architecture.md; `tests/tests/module_layers.rs` checks that
//! no two modules depend on each other.

pub mod clock;
pub mod codes;
pub mod domain;
pub mod error;
pub mod ids;
pub mod journal;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod plate;
pub mod protocol;
pub mod report;
pub mod rows;
pub mod sql;
pub mod sqlite;
pub mod store;
pub mod sync;
#[cfg(feature = "synth")]
pub mod synth;
pub mod validate;

pub use error::{Error, Result};
pub use store::Store;
