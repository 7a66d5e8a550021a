//! Device bearer tokens: granted at enrollment (`enroll`), presented on every call and
//! checked by `sync::authenticate`. The server stores only a token's SHA-256, so a copy of the
//! database grants no access.

use sha2::{Digest, Sha256};

/// The stored form of a bearer token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}
