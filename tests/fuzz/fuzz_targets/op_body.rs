//! Operation bodies as the server decodes and validates them: arbitrary kind and payload
//! text never panic the decoder or the content checks behind it.
#![no_main]

use std::collections::HashSet;

use fieldvisit_core::domain::codelist;
use fieldvisit_core::journal::OpBody;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (kind, payload) = text.split_once('\n').unwrap_or(("visit.record", &text));
    let codes: HashSet<(String, String)> = codelist::seed().map(|e| (e.list, e.code)).collect();
    let day = fieldvisit_core::clock::WallTime(1_700_000_000_000).local_date();
    match OpBody::decode(kind, payload) {
        Ok(OpBody::VisitRecorded(v)) => {
            let _ = v.content.checked(&codes, day);
        }
        Ok(OpBody::VisitAmended(a)) => {
            let _ = a.checked(&codes, day);
        }
        _ => {}
    }
});
