//! fieldvisit-ffi: the API the Android and iOS apps (and the `fieldvisit` command-line device)
//! call, exported through uniffi proc-macros to Kotlin, Swift and Python.
//!
//! - [`store`]: [`FieldvisitStore`], a thin wrapper holding an `Arc<fieldvisit_core::Store>`.
//! - [`records`]: the plain records that cross the boundary (no core type does).
//! - [`error`]: [`FieldvisitError`], the one public error, and its one conversion point.
//!
//! This crate holds no domain rule, no SQL and no protocol logic: those live in the core.
//! It must never panic on input from foreign code, and never put personal data into an error.
//! How the apps consume it: `docs/mobile.md`.

// uniffi's generated scaffolding is `extern "C"` code with raw pointers; it is the only
// unsafe code in this crate, and none is written by hand.
#![allow(unsafe_code)]

uniffi::setup_scaffolding!();

pub mod error;
pub mod photos;
pub mod records;
pub mod store;

pub use error::FieldvisitError;
pub use photos::*;
pub use records::*;
pub use store::{FieldvisitStore, new_draft};
