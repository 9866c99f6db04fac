#![no_main]
//! `remote.log` values (a peer's remote configurations): the words parse
//! without panicking, and escaping a value then unescaping it gives it
//! back, so a configuration written and read back is the same.
use annex_core::logs::format::Value;
use annex_core::logs::remote::{RemoteConfig, escape, unescape};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut escaped = Vec::new();
    escape(data, &mut escaped);
    assert_eq!(unescape(&escaped), data, "unescape(escape(v)) == v");
    let c = RemoteConfig::parse_words(data);
    let mut out = Vec::new();
    c.write_value(&mut out);
    assert_eq!(RemoteConfig::parse_words(&out), c, "written config reads back");
});
