#![no_main]
//! Sizes with units (`--largerthan`, `annex.diskreserve`, `maxsize`,
//! `largerthan=`): reading never panics, and a byte count shown with units
//! never panics either.
use annex_core::units::{STORAGE_UNITS, read_size, rough_size};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(n) = read_size(data) {
        let bytes = u128::try_from(n.max(0)).unwrap_or(0);
        let shown = rough_size(&STORAGE_UNITS, false, bytes);
        assert!(!shown.is_empty());
        let _ = rough_size(&STORAGE_UNITS, true, bytes);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = annex_core::transfer::parse_size(s);
    }
});
