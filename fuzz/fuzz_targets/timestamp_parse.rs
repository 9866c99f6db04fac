#![no_main]
//! Log clocks (`1700000000.123s` in every log line): parsing never panics,
//! a whole-string parse agrees with the prefix parse, and what parses is
//! written to text that parses back to it.
use annex_core::timestamp::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let prefix = Timestamp::parse_prefix(data);
    match Timestamp::parse(data) {
        Ok(t) => {
            assert_eq!(prefix.map(|(p, n)| (p, n == data.len())), Some((t, true)));
            let mut out = Vec::new();
            t.write_to(&mut out);
            assert_eq!(Timestamp::parse(&out).ok(), Some(t), "written clock reads back");
        }
        Err(_) => assert!(prefix.is_none_or(|(_, n)| n != data.len())),
    }
});
