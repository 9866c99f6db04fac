#![no_main]
//! Metadata (`KEY.log.met` lines a peer writes, and the value part alone):
//! parsing never panics; metadata written and read back is the same.
use annex_core::logs::format::Value;
use annex_core::logs::metadata::{self, MetaData};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let m = MetaData::deserialize(data);
    let mut out = Vec::new();
    m.write_value(&mut out);
    let again = MetaData::deserialize(&out);
    let mut out2 = Vec::new();
    again.write_value(&mut out2);
    // A field named like a value (`+x`, `-x`) reads back as a value of the
    // field before it, in git-annex as here: the format cannot hold it, and
    // git-annex never makes one (see log_compact).
    if !m.fields.values().any(|f| f.name.starts_with(['+', '-'])) {
        assert_eq!(out, out2, "written metadata reads back the same");
    }
    let log = metadata::parse(data);
    let _ = metadata::current(&log);
    let _ = metadata::current_with_lastchanged(&log);
    let _ = metadata::simplify(&log).serialize();
});
