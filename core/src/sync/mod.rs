//! Sync on the device side: the engine that builds requests from the store and applies
//! responses to it ([`engine`]), the photo upload that follows a sync's visits ([`photos`]),
//! how a sync runs ([`options`]) and what carries its calls ([`transport`]). The messages
//! themselves are the protocol's (`crate::protocol`). The engine holds no network code; a
//! [`Transport`] carries the messages (`http` is the phones' HTTP client).

#[cfg(feature = "http")]
pub mod codec;
pub mod engine;
#[cfg(feature = "http")]
pub mod http;
pub mod options;
pub mod photos;
pub mod transport;

pub use engine::{enroll, sync};
pub use options::{PhotoSync, SyncOptions};
pub use transport::{
    Exchange, NetworkKind, RetryPolicy, Sleeper, ThreadSleeper, Transport, TransportError,
};
