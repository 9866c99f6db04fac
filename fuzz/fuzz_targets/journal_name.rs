#![no_main]
//! Journal file names (names found in `.git/annex/journal`, which anything
//! may put there): decoding never panics, and a valid branch path maps to
//! a name that maps back to it (except where `/` precedes `_`, which the
//! mapping cannot tell apart and git-annex never writes).
use annex_core::journal::{branch_path_of, discard_incomplete_append, is_valid_branch_path, journal_file_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = branch_path_of(data);
    let _ = discard_incomplete_append(data.to_vec());
    if is_valid_branch_path(data) && !data.windows(2).any(|w| w == b"/_") {
        assert_eq!(branch_path_of(&journal_file_name(data)), data);
    }
});
