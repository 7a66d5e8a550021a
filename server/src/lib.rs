//! fieldvisit-server: the county's sync server and tools. Phones push their signed journals
//! and pull what their cadre is responsible for (`sync`, `http`); admins import the registry
//! from CSV files (`import`), enroll and revoke phones and move households between cadres
//! (`admin`, `enroll`), retire phones and import a lost phone's exported work (`devices`),
//! print and reissue door plates (`plates`), and every such action goes to an append-only log
//! (`admin_log`); the storage is a trait with embedded SQLite and PostgreSQL backends
//! (`storage`); supervisors get coverage, visit-rate and anomaly-flag reports (`report`) and a
//! dashboard (`web`).
//!
//! The modules form layers that only point down (checked by `tests/tests/module_layers.rs`):
//! - `error`, then `storage`;
//! - shared domain pieces: `admin_log`, `visits`, `reference` (one transaction's reference
//!   data), `feed` (which phones hear of a change), `token` (bearer-token hashing), `runtime`
//!   (blocking work from async code), `dictionary`;
//! - domain services: `sync`, `enroll`, `devices`, `exit`, `photos`, `report`, `admin`,
//!   `plates`, `import`, `audit` — plain functions answering [`Error`], classified
//!   ([`error::Class`]); none names axum, HTTP or `ApiError`;
//! - the HTTP face: `http` (the phones' API and the one error mapping) and `web` (the
//!   dashboard), siblings that never name each other's routes;
//! - `app`, which joins their routes and serves them; `demo` and the command line on top.

pub mod admin;
pub mod admin_log;
pub mod app;
pub mod audit;
pub mod demo;
pub mod devices;
pub mod dictionary;
pub mod enroll;
pub mod error;
pub mod exit;
pub mod feed;
pub mod http;
pub mod import;
pub mod labels;
pub mod photos;
pub mod plates;
pub mod reference;
pub mod report;
pub mod runtime;
pub mod storage;
pub mod sync;
pub mod token;
pub mod visits;
pub mod web;

pub use error::{Error, Result};
