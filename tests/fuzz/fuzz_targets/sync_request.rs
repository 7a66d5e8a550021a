//! The sync and enrollment request decoders from arbitrary bytes: never a panic; a decoded
//! request's operations rebuild and their bodies decode or fail with a typed error.
#![no_main]

use fieldvisit_core::protocol::{EnrollRequest, SyncRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<EnrollRequest>(data);
    if let Ok(req) = serde_json::from_slice::<SyncRequest>(data) {
        for pushed in req.push {
            let op = pushed.into_operation(req.device, [0; 32]);
            let _ = op.digest();
            let _ = op.body();
        }
    }
});
