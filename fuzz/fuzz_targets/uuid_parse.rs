#![no_main]
//! Repository UUIDs (from logs, config and the command line): parsing
//! never panics and what parses prints back to itself.
use annex_core::uuid::Uuid;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(u) = Uuid::parse(data) {
        let again = Uuid::parse(u.as_str().as_bytes()).expect("a printed UUID parses");
        assert_eq!(u, again);
    }
});
