//! fieldvisit-server: the county's sync server and tools. Phones push their signed journals
//! and pull what their cadre is responsible for (`sync`, `http`); admins import the registry
//! from CSV files (`import`), enroll and revoke phones and move households between cadres
//! (`admin`, `enroll`), retire phones and import a lost phone's exported work (`devices`), print and reissue door plates (`plates`), and every such action goes to
//! an append-only log (`admin_log`); the storage is a trait with an embedded SQLite backend
//! (`storage`); supervisors get coverage, visit-rate and anomaly-flag reports (`report`).

pub mod admin;
pub mod admin_log;
pub mod audit;
pub mod demo;
pub mod devices;
pub mod dictionary;
pub mod enroll;
pub mod error;
pub mod exit;
pub mod http;
pub mod import;
pub mod labels;
pub mod photos;
pub mod plates;
pub mod report;
pub mod storage;
pub mod sync;
pub mod visits;
pub mod web;

pub use error::{Error, Result};
