#![no_main]
//! Key parsing never panics; what parses serializes back to a key that
//! parses to the same key; the parts read back are the parts put in.
use annex_core::key::Key;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = Key::parse(data) {
        let again = Key::parse(k.as_bytes()).expect("a serialized key parses");
        assert_eq!(k, again);
        assert_eq!(k.has_extension_variety(), k.variety().has_extension());
        let (chunk_size, chunk_num) = k.chunk();
        let rebuilt = Key::from_fields(
            k.backend_name(),
            k.name(),
            k.size(),
            k.mtime(),
            chunk_size,
            chunk_num,
        );
        assert_eq!(rebuilt, k);
        // Serializing only drops leading zeros of numbers.
        assert!(k.as_bytes().len() <= data.len());
    }
});
