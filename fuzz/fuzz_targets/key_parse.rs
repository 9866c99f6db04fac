#![no_main]
//! Key parsing never panics, and what parses serializes back to a key that
//! parses to the same key.
use annex_core::key::Key;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = Key::parse(data) {
        let again = Key::parse(k.as_bytes()).expect("a serialized key parses");
        assert_eq!(k, again);
    }
});
