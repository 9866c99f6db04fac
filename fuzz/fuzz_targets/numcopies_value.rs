#![no_main]
//! `numcopies.log`/`mincopies.log` (a peer's): reading never panics, and
//! setting a value (1 or more: git-annex ignores a numcopies below 1) on
//! top of any content makes it the current one.
use annex_core::logs::numcopies;
use annex_core::timestamp::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = numcopies::current(data);
    let n = data.first().map_or(1, |&b| i64::from(b).max(1));
    let Ok(t) = Timestamp::parse(b"1700000000s") else {
        return;
    };
    let set = numcopies::set(data, n, t);
    assert_eq!(numcopies::current(&set), Some(n), "the value set is current");
});
