//! Sync on the device side: the protocol's messages ([`protocol`]) and the engine that builds
//! requests from the store and applies responses to it. The engine holds no network code; a
//! [`Transport`] carries the messages.

pub mod protocol;
