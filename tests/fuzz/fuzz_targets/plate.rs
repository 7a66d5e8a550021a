//! Door-plate payloads and typed household codes from arbitrary bytes: never a panic, and a
//! payload that verifies always names a household code that parses back to itself.
#![no_main]

use fieldvisit_core::codes::HumanCode;
use fieldvisit_core::plate::{PlateAuthority, verify_plate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let keys = [PlateAuthority::from_secret(1, [7; 32]).public()];
    if let Ok(plate) = verify_plate(&text, &keys) {
        assert_eq!(HumanCode::parse(plate.code.as_str()).ok(), Some(plate.code));
    }
    if let Ok(code) = HumanCode::parse(&text) {
        assert_eq!(HumanCode::parse(&code.grouped()).ok(), Some(code));
    }
});
