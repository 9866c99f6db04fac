#![no_main]
//! Link targets: parsing never panics, and the target we make for a file
//! and a key parses back to that key.
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use annex_core::{key::Key, pointer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pointer::parse_link_target(data);
    // Split the input into a file path and a key.
    let (path, key) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let Ok(key) = Key::parse(key) else { return };
    // Files inside `.git` (reached by any spelling, `a/../.git/x` too) are
    // never annexed: git-annex refuses them, and from there the target
    // would not pass through `/annex/objects/`.
    if path.split(|&b| b == b'/').any(|c| c == b".git") {
        return;
    }
    let target = pointer::link_target(Path::new(OsStr::from_bytes(path)), &key);
    let bytes = target.as_os_str().as_bytes();
    assert!(pointer::is_link_to_annex(bytes));
    let name = key.as_bytes();
    if !name.contains(&b'\n') && !name.ends_with(b"\r") {
        assert_eq!(pointer::parse_link_target(bytes), Some(key));
    }
});
