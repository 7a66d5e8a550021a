//! Sync on the device side: the protocol's messages ([`protocol`]) and the engine that builds
//! requests from the store and applies responses to it ([`engine`]). The engine holds no
//! network code; a [`Transport`] carries the messages.

#[cfg(feature = "http")]
pub mod codec;
pub mod engine;
#[cfg(feature = "http")]
pub mod http;
pub mod photos;
pub mod protocol;

pub use engine::{
    Exchange, RetryPolicy, Sleeper, SyncOptions, SyncReport, ThreadSleeper, Transport,
    TransportError, enroll, sync,
};
pub use photos::{NetworkKind, PhotoStatus, PhotoSync};
